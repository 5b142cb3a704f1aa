"""Paying agencies and their rosters: who may run a roster, who may serve a pensioner, the agency's
due / due-soon / overdue views, and its suspension decisions.

Two scopes meet here. A roster is run by **pension officers** (`pension_officer`) whose division
covers the paying agency's. A pensioner is served — helped at a window, visited at home, their visits
seen — by window staff (`receiving_officer`, `handling_officer`) whose division covers the pensioner's
**residence** division, whichever province pays: a 四川 pensioner living in 杭州 is served in 杭州.
"""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates import repository as certificate_repository
from backend.china_time import today as china_today
from backend.db import Database
from backend.eligibility import repository, rules
from backend.eligibility.schemas import (
    AgencySettings,
    AgencyView,
    DecisionView,
    DivisionSummary,
    RosterEntryCreate,
    RosterEntryUpdate,
    RosterEntryView,
    Standing,
    Status,
    SuspensionRequest,
)
from backend.errors import Conflict, Forbidden, NotFound, ValidationFailed
from backend.identity import divisions
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.pii import PiiCipher
from backend.security.reach import reachable

ROSTER_ROLES = frozenset({"pension_officer"})
AGENCY_ROLES = frozenset({"pension_officer", "admin"})
RESIDENCE_ROLES = frozenset({"receiving_officer", "handling_officer"})


def runs_roster(actor: Actor, entry: asyncpg.Record) -> bool:
    """A pension officer of the paying agency's division (or above it)."""
    return actor.kind == "staff" and actor.role in ROSTER_ROLES and divisions.within(
        actor.division or "", entry["agency_division"])


def serves_residence(actor: Actor, entry: asyncpg.Record) -> bool:
    """Window staff of the pensioner's residence division (or above it), whichever province pays."""
    return actor.kind == "staff" and actor.role in RESIDENCE_ROLES and divisions.within(
        actor.division or "", entry["residence_division"])


def entry_standing(entry: asyncpg.Record, today: dt.date) -> Standing:
    return rules.standing(today, entry["next_due"], opens_days_before=entry["opens_days_before"],
                          due_soon_days=entry["due_soon_days"])


def entry_view(entry: asyncpg.Record, today: dt.date) -> RosterEntryView:
    return RosterEntryView(
        id=entry["id"], agency_division=entry["agency_division"], agency_name=entry["agency_name"],
        citizen_id=entry["citizen_id"], name=entry["name"], resident_id_masked=entry["resident_id_masked"],
        residence_division=entry["residence_division"], scheme=entry["scheme"], status=entry["status"],
        stop_reason=entry["stop_reason"], last_recognised_on=entry["last_recognised_on"], next_due=entry["next_due"],
        standing=entry_standing(entry, today), data_issue=entry["data_issue"])


def decision_view(row: asyncpg.Record) -> DecisionView:
    return DecisionView(id=row["id"], decision=row["decision"], reason=row["reason"],
                        suspended_from=row["suspended_from"], back_pay_from=row["back_pay_from"],
                        back_pay_to=row["back_pay_to"], recognition_id=row["recognition_id"],
                        decided_at=row["decided_at"])


def known_division(code: str, field: str) -> str:
    """`code` if the GB/T 2260 table knows it; else a 422 problem at the top-level `field`."""
    try:
        return divisions.check_known_division(code)
    except divisions.InvalidDivision as exc:
        raise ValidationFailed.field(field, str(exc)) from None


class Rosters:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher

    async def entry_for_staff(self, conn: asyncpg.Connection, actor: Actor, entry_id: uuid.UUID, *,
                              residence: bool, roster: bool, for_update: bool = False) -> asyncpg.Record:
        """The entry, if the staff member runs its roster (`roster`) or serves its residence
        (`residence`); else exactly the answer a missing entry gets, with the refusal audited."""
        entry = await repository.entry(conn, entry_id, for_update=for_update)
        allowed = entry is not None and ((roster and runs_roster(actor, entry)) or
                                         (residence and serves_residence(actor, entry)))
        return await reachable(self.audit, self.db, actor, entry, allowed, refused="pension_roster.refused",
                               record_type="pension_roster_entry", record_id=str(entry_id),
                               missing="no such roster entry")

    # -- agencies --------------------------------------------------------------------------------

    async def set_agency(self, actor: Actor, division: str, form: AgencySettings) -> AgencyView:
        """Create or change a paying agency's settings (its window, when recognition opens, silent signals)."""
        known_division(division, "division")
        if actor.kind == "staff" and (actor.role not in AGENCY_ROLES or not divisions.within(actor.division or "", division)):
            await self.audit.record_refusal(self.db, actor, "pension_agency.set_refused", "pension_agency", division,
                                            division=actor.division, detail={"reason": "out-of-reach"})
            raise Forbidden("only a pension officer or admin of this division sets its agency")
        async with self.db.transaction() as conn:
            if form.authority_id is not None:
                authority = await certificate_repository.authority(conn, form.authority_id)
                if authority is None or "pension_eligibility_record" not in authority["certificate_types"]:
                    raise ValidationFailed.field("authority_id", "no issuing authority of pension-eligibility "
                                                                 f"certificates is named {form.authority_id}")
            row = await repository.upsert_agency(conn, division, {
                "name": form.name.strip(), "authority_id": form.authority_id, "window_months": form.window_months,
                "opens_days_before": form.opens_days_before, "due_soon_days": form.due_soon_days,
                "silent_signal_kinds": sorted(set(form.silent_signal_kinds)),
                "silent_max_age_days": form.silent_max_age_days, "unattested_in_a_row": form.unattested_in_a_row})
            await self.audit.record(conn, actor, "pension_agency.set", "pension_agency", division, division=division,
                                    detail={"window_months": form.window_months, "authority_id": form.authority_id,
                                            "silent_signal_kinds": row["silent_signal_kinds"],
                                            "unattested_in_a_row": form.unattested_in_a_row})
        return AgencyView(**dict(row))

    async def agency(self, division: str) -> AgencyView:
        async with self.db.connection() as conn:
            row = await repository.agency(conn, division)
        if row is None:
            raise NotFound(f"no paying agency at {division}")
        return AgencyView(**dict(row))

    # -- the roster -------------------------------------------------------------------------------

    async def add_entry(self, actor: Actor, agency_division: str, form: RosterEntryCreate) -> RosterEntryView:
        """Put a pensioner on the agency's roster (pension officers of the agency's division)."""
        if actor.kind == "staff" and (actor.role not in ROSTER_ROLES or
                                      not divisions.within(actor.division or "", agency_division)):
            # The answer a missing agency gets, asked before anything is looked up.
            await self.audit.record_refusal(self.db, actor, "pension_roster.add_refused", "pension_agency",
                                            agency_division, division=actor.division, detail={"reason": "out-of-reach"})
            raise NotFound(f"no paying agency at {agency_division}")
        try:
            resident_id = normalise_resident_id(form.resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("resident_id", str(exc)) from None
        known_division(form.residence_division, "residence_division")
        today = china_today()
        if form.last_recognised_on is not None and form.last_recognised_on > today:
            raise ValidationFailed.field("last_recognised_on", f"{form.last_recognised_on} is after today ({today}): "
                                                               "give the day of a recognition that took place")
        async with self.db.transaction() as conn:
            agency = await repository.agency(conn, agency_division)
            if agency is None:
                raise NotFound(f"no paying agency at {agency_division}")
            # Never later than a recognition today would make it: a date beyond hides the pensioner for years.
            latest = rules.next_due_after(today, agency["window_months"])
            if form.next_due is not None and form.next_due > latest:
                raise ValidationFailed.field("next_due", f"{form.next_due} is later than a recognition today would "
                                                         f"make it due ({latest})")
            citizen = await repository.citizen_by_resident_hash(
                conn, self.cipher.lookup_hash(resident_id, purpose="resident_id"))
            if citizen is None:
                raise ValidationFailed.field("resident_id", "no citizen with this resident ID is registered; they "
                                                            "register on the app or at a window first")
            next_due = form.next_due or (rules.next_due_after(form.last_recognised_on, agency["window_months"])
                                         if form.last_recognised_on else today)
            entry_id = await repository.insert_entry(
                conn, agency_division=agency_division, citizen_id=citizen["id"],
                residence_division=form.residence_division, scheme=form.scheme,
                last_recognised_on=form.last_recognised_on, next_due=next_due)
            if entry_id is None:
                raise Conflict("this pensioner is already on the agency's roster")
            await self.audit.record(conn, actor, "pension_roster.added", "pension_roster_entry", str(entry_id),
                                    division=agency_division,
                                    detail={"citizen": str(citizen["id"]), "residence_division": form.residence_division,
                                            "next_due": next_due.isoformat()})
            entry = await repository.entry(conn, entry_id)
        return entry_view(entry, today)

    async def roster(self, actor: Actor, *, standing: Standing | None = None, status: Status | None = None,
                     residence_division: str | None = None, limit: int = 100, offset: int = 0) -> list[RosterEntryView]:
        """The pension officer's roster(s), soonest due first; overdue pensioners are flagged by `standing`."""
        today = china_today()
        prefix = divisions.scope_prefix(actor.division or "")
        residence = divisions.scope_prefix(residence_division) if residence_division else None
        async with self.db.connection() as conn:
            rows = await repository.roster(conn, today=today, agency_prefix=prefix, residence_prefix=residence,
                                           standing=standing, status=status, limit=limit, offset=offset)
        await self.audit.record_read(actor, "pension_roster.read", "pension_roster", actor.division,
                                     division=actor.division,
                                     detail={"standing": standing, "status": status, "entries": len(rows)})
        return [entry_view(r, today) for r in rows]

    async def summary(self, actor: Actor) -> list[DivisionSummary]:
        """Due, due soon, overdue and suspended per residence division, for the officer's agencies."""
        async with self.db.connection() as conn:
            rows = await repository.summary(conn, divisions.scope_prefix(actor.division or ""), china_today())
        return [DivisionSummary(**dict(r)) for r in rows]

    async def staff_entry(self, actor: Actor, entry_id: uuid.UUID) -> RosterEntryView:
        async with self.db.connection() as conn:
            entry = await self.entry_for_staff(conn, actor, entry_id, residence=True, roster=True)
        await self.audit.record_read(actor, "pension_roster.entry_read", "pension_roster_entry", str(entry_id),
                                     division=entry["agency_division"])
        return entry_view(entry, china_today())

    async def update_entry(self, actor: Actor, entry_id: uuid.UUID, form: RosterEntryUpdate) -> RosterEntryView:
        """Residence moved, pension stopped (with the reason), or roster data flagged / cleared."""
        if form.residence_division is not None:
            known_division(form.residence_division, "residence_division")
        issue = form.data_issue.strip() if form.data_issue is not None else None
        async with self.db.transaction() as conn:
            entry = await self.entry_for_staff(conn, actor, entry_id, residence=False, roster=True, for_update=True)
            if form.stop_reason is not None and entry["status"] == "stopped":
                raise Conflict("the pension is already stopped")
            await repository.update_entry(conn, entry_id, residence_division=form.residence_division,
                                          stop_reason=form.stop_reason, data_issue=issue or None,
                                          clear_issue=issue == "")
            await self.audit.record(conn, actor, "pension_roster.updated", "pension_roster_entry", str(entry_id),
                                    division=entry["agency_division"],
                                    detail={"residence_division": form.residence_division, "stop_reason": form.stop_reason,
                                            "data_issue": "cleared" if issue == "" else ("set" if issue else None)})
            entry = await repository.entry(conn, entry_id)
        return entry_view(entry, china_today())

    # -- decisions --------------------------------------------------------------------------------

    async def suspend(self, actor: Actor, entry_id: uuid.UUID, form: SuspensionRequest) -> DecisionView:
        """The agency officer's recorded decision to suspend an overdue pensioner's payment (never automatic)."""
        today = china_today()
        async with self.db.transaction() as conn:
            entry = await self.entry_for_staff(conn, actor, entry_id, residence=False, roster=True, for_update=True)
            if entry["status"] != "paying":
                raise Conflict(f"the pension is {entry['status']}; only a paying one can be suspended")
            if entry_standing(entry, today) != "overdue":
                raise Conflict(f"recognition is due by {entry['next_due']}; only an overdue pensioner is suspended")
            since = form.suspended_from or entry["next_due"] + dt.timedelta(days=1)
            if since <= entry["next_due"]:
                raise ValidationFailed.field("suspended_from", "a suspension starts after the due date")
            await repository.set_status(conn, entry_id, "suspended")
            row = await repository.insert_decision(conn, entry_id, "suspended", form.reason.strip(),
                                                   suspended_from=since, decided_by=uuid.UUID(actor.id))
            await self.audit.record(conn, actor, "pension.suspended", "pension_roster_entry", str(entry_id),
                                    division=entry["agency_division"], detail={"suspended_from": since.isoformat()})
        return decision_view(row)

    async def decisions(self, actor: Actor, entry_id: uuid.UUID) -> list[DecisionView]:
        async with self.db.connection() as conn:
            await self.entry_for_staff(conn, actor, entry_id, residence=False, roster=True)
            return [decision_view(r) for r in await repository.decisions(conn, entry_id)]
