"""Annual obligations: staff register a subject's obligation of a kind; a filer sees the obligations
they may file for, period by period; staff in scope see, for a kind and a period, which obligations
are due, filed, late or missing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import asyncpg

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.catalogue.service import CatalogueService
from backend.db import Database
from backend.errors import Conflict, FieldError, NotFound, OutsideDivision, ValidationFailed
from backend.filings import repository
from backend.filings.kinds import OBLIGATION_KINDS, ObligationKind
from backend.filings.organisations import FILING_READERS, REGISTRARS, citizen_by_resident_id, credit_code, require_staff
from backend.filings.schemas import (
    KindView,
    ObligationCreate,
    ObligationPeriods,
    ObligationView,
    Overview,
    OverviewRow,
    PeriodStatus,
    PeriodView,
    SubjectView,
)
from backend.identity import divisions
from backend.security.pii import PiiCipher

# A filer's view shows the periods whose window has opened, back this many years.
PERIODS_SHOWN = 5


def obligation_kind(code: str, pointer: str = "#/kind") -> ObligationKind:
    kind = OBLIGATION_KINDS.get(code)
    if kind is None:
        raise ValidationFailed([FieldError(pointer, f"not an obligation kind; one of: {', '.join(OBLIGATION_KINDS)}")])
    return kind


def subject_view(row: asyncpg.Record) -> SubjectView:
    return SubjectView(kind="organisation" if row["organisation_id"] else "citizen", name=row["subject_name"],
                       identifier=row["subject_identifier"])


def obligation_view(row: asyncpg.Record) -> ObligationView:
    return ObligationView(
        id=row["id"], kind=row["kind"], kind_name=OBLIGATION_KINDS[row["kind"]].name, subject=subject_view(row),
        division_code=row["division_code"], first_period=row["first_period"], created_at=row["created_at"],
        reference=row["reference"], anchor_date=row["anchor_date"], last_period=row["last_period"])


def overview_window(kind: ObligationKind, period: int, scope_prefix: str, today: dt.date) -> dict[str, object]:
    """The overview query's arguments for a kind's period: a fixed window, or the days from each
    obligation's anniversary."""
    window: dict[str, object] = {"kind": kind.code, "period": period, "scope_prefix": scope_prefix, "today": today,
                                 "opens": None, "closes": None, "opens_days": None, "closes_days": None}
    if kind.window.needs_anchor:
        return window | {"opens_days": kind.window.opens, "closes_days": kind.window.closes}
    fixed = kind.window.window(period)
    return window | {"opens": fixed.opens, "closes": fixed.closes}


class ObligationService:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, catalogue: CatalogueService,
                 today: Callable[[], dt.date]) -> None:
        self.db, self.audit, self.cipher, self.catalogue, self.today = db, audit, cipher, catalogue, today

    async def kinds(self) -> list[KindView]:
        """Every kind with its window rule, bound fields and the form schema its filings meet."""
        return [KindView(
            code=k.code, name=k.name, subject=k.subject, basis=k.basis, window_rule=k.window.rule,
            item_code=k.item_code, bound_fields=list(k.bound), form_schema=await self.form_schema(k, None))
            for k in OBLIGATION_KINDS.values()]

    async def form_schema(self, kind: ObligationKind, division: str | None) -> dict:
        """The kind's own schema, or its catalogue item's as the receiving division's province has it."""
        if kind.form_schema is not None:
            return kind.form_schema
        return await self.catalogue.form_schema(kind.item_code or "", handling_division=division)

    # -- staff ----------------------------------------------------------------------------------------

    async def register(self, form: ObligationCreate, actor: Actor) -> ObligationView:
        scope = require_staff(actor, REGISTRARS)
        kind = obligation_kind(form.kind)
        problems = []
        if (form.credit_code is None) == (form.resident_id is None):
            problems.append(FieldError("#", "name the subject by exactly one of credit_code and resident_id"))
        elif (form.credit_code is None) != (kind.subject == "citizen"):
            field = "resident_id" if kind.subject == "citizen" else "credit_code"
            problems.append(FieldError(f"#/{field}", f"a {kind.name} binds a{'' if field == 'resident_id' else 'n'} "
                                                     f"{kind.subject}: give {field}"))
        if kind.window.needs_anchor and form.anchor_date is None:
            problems.append(FieldError("#/anchor_date", f"a {kind.name}'s window counts from this date; give it"))
        if kind.needs_reference and form.reference is None:
            problems.append(FieldError("#/reference", f"a {kind.name} needs the licence's or benefit's own number"))
        if form.last_period is not None and form.last_period < form.first_period:
            problems.append(FieldError("#/last_period", "must not come before first_period"))
        if form.division_code is None and kind.subject == "citizen":
            problems.append(FieldError("#/division_code", "give the receiving authority's division"))
        if problems:
            raise ValidationFailed(problems)
        if form.division_code is not None:
            # Before anyone is looked up: a registrar learns nothing of subjects outside their division.
            await self._check_receiving(actor, scope, form.division_code)
        async with self.db.transaction() as conn:
            organisation_id = citizen_id = None
            if form.credit_code is not None:
                code = credit_code(form.credit_code, "#/credit_code")
                organisation = await repository.organisation_by_code(conn, code)
                if organisation is None:
                    raise ValidationFailed.field("credit_code", "no registered organisation has this code; register it")
                organisation_id, division = organisation["id"], form.division_code or organisation["division_code"]
                if form.division_code is None:  # the registration's division, checked now it is known
                    await self._check_receiving(actor, scope, division)
            else:
                citizen_id = (await citizen_by_resident_id(conn, self.cipher, form.resident_id or "", "#/resident_id"))["id"]
                division = form.division_code or ""
            obligation_id = await repository.insert_obligation(
                conn, kind=kind.code, organisation_id=organisation_id, citizen_id=citizen_id, division=division,
                reference=form.reference, anchor_date=form.anchor_date if kind.window.needs_anchor else None,
                first_period=form.first_period, last_period=form.last_period, registered_by=who(actor))
            if obligation_id is None:
                raise Conflict(f"this subject already has a {kind.name} obligation"
                               + (f" for {form.reference}" if form.reference else ""))
            row = await repository.obligation(conn, obligation_id)
            await self.audit.record(conn, actor, "filing_obligation.registered", "filing_obligation",
                                    str(obligation_id), division=division,
                                    detail={"kind": kind.code, "first_period": form.first_period})
        return obligation_view(row)

    async def _check_receiving(self, actor: Actor, scope: str, division: str) -> None:
        """The receiving division is a real one within the registrar's scope; an attempt outside is audited."""
        try:
            divisions.check_division(division)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division_code", str(exc)) from None
        if not divisions.within(scope, division):
            await self.audit.record_refusal(self.db, actor, "filing_obligation.register_refused", "filing_obligation",
                                            None, division=actor.division,
                                            detail={"reason": "out-of-reach", "division": division})
            raise OutsideDivision("the receiving division is outside your division")

    async def overview(self, actor: Actor, *, kind: str, period: int, status: PeriodStatus | None = None,
                       division: str | None = None, after: uuid.UUID | None = None, limit: int = 100) -> Overview:
        """Obligations of `kind` in the caller's division (or a division inside it) with the status of
        `period` today. Reading it (names, masked IDs) is audited."""
        scope = require_staff(actor, FILING_READERS)
        spec = obligation_kind(kind, "kind")
        if division is not None:
            if not divisions.within(scope, division):
                raise OutsideDivision("that division is outside yours")
            scope = division
        today = self.today()
        window = overview_window(spec, period, divisions.scope_prefix(scope), today)
        async with self.db.connection() as conn:
            counts = await repository.overview_counts(conn, **window)
            rows = await repository.overview(conn, status=status, after=after, limit=limit, **window)
        await self.audit.record_read(actor, "filing_overview.read", "filing_obligation", None, division=scope,
                                     detail={"kind": kind, "period": period, "status": status, "rows": len(rows)})
        return Overview(
            kind=kind, period=period, as_of=today,
            counts={s: counts.get(s, 0) for s in ("not-open", "due", "filed", "late", "missing")},
            rows=[OverviewRow(obligation_id=r["id"], subject=subject_view(r), division_code=r["division_code"],
                              window_opens=r["opens"], window_closes=r["closes"], status=r["status"],
                              reference=r["reference"], filing_id=r["current_id"], receipt_number=r["receipt_number"],
                              filed_at=r["filed_at"]) for r in rows],
            next_after=rows[-1]["id"] if len(rows) == limit else None)

    # -- filers ---------------------------------------------------------------------------------------

    async def acting_for(self, conn: asyncpg.Connection, obligation_id: uuid.UUID, actor: Actor) -> asyncpg.Record:
        """The obligation, if the citizen may file for it: it binds them, or they act for its
        organisation now. Anyone else gets what a missing obligation gets; the refusal is audited."""
        row = await repository.obligation(conn, obligation_id)
        if row is not None and uuid.UUID(actor.id) in await repository.acting_citizens(conn, obligation_id):
            return row
        if row is not None:
            await self.audit.record_refusal(self.db, actor, "filing.refused", "filing_obligation", str(obligation_id),
                                            division=row["division_code"], detail={"reason": "no authority"})
        raise NotFound("no such obligation among those you may file for")

    def periods_of(self, row: asyncpg.Record) -> list[int]:
        """The periods a filer is shown, newest first: the next one (its window not open yet), then
        those whose window has opened, back `PERIODS_SHOWN` years, within the obligation's periods."""
        rule = OBLIGATION_KINDS[row["kind"]].window
        latest = rule.latest_opened_period(self.today(), row["anchor_date"])
        last = row["last_period"] if row["last_period"] is not None else latest + 1
        newest = min(max(latest + 1, row["first_period"]), last)
        oldest = min(max(row["first_period"], latest - PERIODS_SHOWN + 1), newest)
        return list(range(newest, oldest - 1, -1))

    async def period_views(self, conn: asyncpg.Connection,
                           wanted: list[tuple[asyncpg.Record, int]]) -> dict[tuple[uuid.UUID, int], PeriodView]:
        """The status of each (obligation, period) today."""
        windows = [(row["id"], period, *self._window(row, period)) for row, period in wanted]
        rows = await repository.period_statuses(conn, windows, self.today())
        return {(r["obligation_id"], r["period"]): PeriodView(
            period=r["period"], window_opens=r["opens"], window_closes=r["closes"], status=r["status"],
            filed_at=r["filed_at"], filing_id=r["current_id"], receipt_number=r["receipt_number"],
            draft_id=r["draft_id"]) for r in rows}

    @staticmethod
    def _window(row: asyncpg.Record, period: int) -> tuple[dt.date, dt.date]:
        window = OBLIGATION_KINDS[row["kind"]].window.window(period, row["anchor_date"])
        return window.opens, window.closes

    async def mine(self, actor: Actor) -> list[ObligationPeriods]:
        """Every obligation the citizen may file for, with the recent periods' status."""
        async with self.db.connection() as conn:
            rows = await repository.obligations_of(conn, uuid.UUID(actor.id))
            wanted = [(row, period) for row in rows for period in self.periods_of(row)]
            views = await self.period_views(conn, wanted)
        return [ObligationPeriods(obligation=obligation_view(row),
                                  periods=[views[(row["id"], p)] for p in self.periods_of(row)]) for row in rows]
