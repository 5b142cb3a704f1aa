"""Filings: a filer starts a draft for an obligation's period once its window has opened, saves it as
often as they like, and submits it — checked against the kind's form schema with the bound fields
filled in from the record. A submission after the window closed is accepted and marked late. A
submitted filing never changes: an amendment is a new filing that, once submitted, supersedes it.
Each submission has a receipt (PDF) and is published on the shared events outbox (`filing.submitted`,
or `filing.amended` for an amendment's submission) in the same transaction, for the agencies that
subscribe; the event carries the filing's facts and the form's digest, never the form."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import asyncpg

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.catalogue.forms import checked_form
from backend.catalogue.schemas import FormProblem
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.events.service import EventService
from backend.errors import (
    Conflict,
    FilingExists,
    FilingWindowNotOpen,
    InvalidTransition,
    NotFound,
    ValidationFailed,
)
from backend.filings import forms, repository
from backend.filings.kinds import OBLIGATION_KINDS, ObligationKind, Window
from backend.filings.obligations import ObligationService, subject_view
from backend.filings.organisations import FILING_READERS, require_staff
from backend.filings.receipt import ReceiptContent, receipt_pdf
from backend.filings.schemas import AmendmentCreate, DraftChange, DraftCreate, FilingSummary, FilingView
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.security.pii import PiiCipher, masked_form

# The filing state machine: (state, action) → the state it leads to. Discarding deletes a draft; an
# amendment opens a new draft and leaves the filing current until that draft is submitted, which
# supersedes it.
FILING_TRANSITIONS: dict[tuple[str, str], str] = {
    ("draft", "edit"): "draft",
    ("draft", "discard"): "discarded",
    ("draft", "submit"): "submitted",
    ("submitted", "amend"): "submitted",
    ("submitted", "supersede"): "amended",
    ("submitted", "print"): "submitted",
    ("amended", "print"): "amended",
}
_DONE = {"edit": "changed", "discard": "discarded", "submit": "submitted", "amend": "amended",
         "supersede": "superseded", "print": "printed"}
RECEIPTS_PER_MINUTE = 30
# The events a submission publishes, about the subject `filing` / the filing's id.
SUBJECT_TYPE = "filing"


def apply(state: str, action: str) -> str:
    """The state `action` takes a filing in `state` to; the one place the state machine is applied."""
    to_state = FILING_TRANSITIONS.get((state, action))
    if to_state is None:
        raise InvalidTransition(f"a {state} filing cannot be {_DONE[action]}", state=state)
    return to_state


def event_payload(row: asyncpg.Record, obligation: asyncpg.Record) -> dict[str, Any]:
    """What agencies are told of a submission: which obligation and period, when, late or not, its
    receipt number and the form's SHA-256 — an organisation by its unified social credit code and name
    (public registration facts), a citizen by Tongban id only (no resident ID, no name: the events
    platform's rule). Staff in scope read the form itself (`GET /staff/filings/{id}`)."""
    subject: dict[str, Any] = (
        {"kind": "organisation", "credit_code": obligation["subject_identifier"], "name": obligation["subject_name"]}
        if obligation["organisation_id"] else {"kind": "citizen", "citizen_id": str(obligation["citizen_id"])})
    return {"filing_id": str(row["id"]), "obligation_id": str(obligation["id"]), "kind": obligation["kind"],
            "reference": obligation["reference"], "subject": subject, "period": row["period"],
            "receipt_number": row["receipt_number"], "late": row["late"], "submitted_at": row["submitted_at"],
            "form_digest": bytes(row["form_digest"]).hex(), "amends": str(row["amends"]) if row["amends"] else None}


class FilingService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher,
                 obligations: ObligationService, events: EventService, today: Callable[[], dt.date]) -> None:
        self.db, self.ephemeral, self.audit, self.cipher = db, ephemeral, audit, cipher
        self.obligations, self.events, self.today = obligations, events, today

    # -- helpers --------------------------------------------------------------------------------------

    @staticmethod
    def _window(kind: ObligationKind, obligation: asyncpg.Record, period: int) -> Window:
        return kind.window.window(period, obligation["anchor_date"])

    async def _sources(self, conn: asyncpg.Connection, kind: ObligationKind, obligation: asyncpg.Record,
                       period: int) -> dict[str, Any]:
        """The record's values the kind binds, decrypting a citizen's identifiers only when bound."""
        sources: dict[str, Any] = {"period": period, "obligation.reference": obligation["reference"]}
        if obligation["organisation_id"] is not None:
            sources |= {"organisation.name": obligation["subject_name"],
                        "organisation.credit_code": obligation["subject_identifier"]}
            return sources
        wanted = set(kind.bound.values())
        citizen = await repository.subject_citizen(conn, obligation["citizen_id"])
        sources["citizen.name"] = citizen["name"]
        if "citizen.resident_id" in wanted:
            sources["citizen.resident_id"] = self.cipher.decrypt(citizen["resident_id_enc"], purpose="citizen.resident_id")
        if "citizen.phone" in wanted:
            sources["citizen.phone"] = self.cipher.decrypt(citizen["phone_enc"], purpose="citizen.phone")
        return sources

    async def _view(self, conn: asyncpg.Connection, row: asyncpg.Record, obligation: asyncpg.Record,
                    problems: list[FormProblem] | None = None) -> FilingView:
        kind = OBLIGATION_KINDS[obligation["kind"]]
        stored = forms.unseal(self.cipher, row["form_enc"])
        if row["state"] == "draft":
            form = stored
            bound = {k: v for k, v in forms.compose(kind, {}, await self._sources(conn, kind, obligation,
                                                                                 row["period"])).items()}
        else:
            form = {k: v for k, v in stored.items() if k not in kind.bound}
            bound = {k: v for k, v in stored.items() if k in kind.bound}
        window = self._window(kind, obligation, row["period"])
        return FilingView(
            id=row["id"], obligation_id=row["obligation_id"], kind=kind.code, kind_name=kind.name,
            subject=subject_view(obligation), period=row["period"], state=row["state"], window_opens=window.opens,
            window_closes=window.closes, form=masked_form(form), bound=masked_form(bound),
            created_at=row["created_at"], updated_at=row["updated_at"], amends=row["amends"],
            amended_by=row["amended_by"], receipt_number=row["receipt_number"], late=row["late"],
            submitted_at=row["submitted_at"], amended_at=row["amended_at"],
            form_digest=row["form_digest"].hex() if row["form_digest"] else None, problems=problems or [],
            deliveries=[] if row["state"] == "draft" else await self.events.delivered_to(conn, SUBJECT_TYPE,
                                                                                         str(row["id"])))

    async def _problems(self, conn: asyncpg.Connection, kind: ObligationKind, obligation: asyncpg.Record,
                        period: int, form: dict[str, Any]) -> list[FormProblem]:
        """What submitting `form` now would be refused for."""
        whole = forms.compose(kind, form, await self._sources(conn, kind, obligation, period))
        schema = await self.obligations.form_schema(kind, obligation["division_code"])
        return [FormProblem(p.pointer, p.detail) for p in await checked_form(schema, whole)]

    async def _mine(self, conn: asyncpg.Connection, filing_id: uuid.UUID, actor: Actor,
                    for_update: bool = False) -> tuple[asyncpg.Record, asyncpg.Record]:
        """A filing of an obligation the citizen may file for, with the obligation; anything else is
        not found (and audited as refused)."""
        row = await repository.filing(conn, filing_id, for_update=for_update)
        if row is None:
            raise NotFound("no such filing among yours")
        try:
            obligation = await self.obligations.acting_for(conn, row["obligation_id"], actor)
        except NotFound:
            raise NotFound("no such filing among yours") from None
        return row, obligation

    def _period_open(self, kind: ObligationKind, obligation: asyncpg.Record, period: int) -> Window:
        """The period's window, once it has opened; before, the filing is refused."""
        if period < obligation["first_period"] or (obligation["last_period"] or period) < period:
            raise ValidationFailed.field("period", f"not a period of this obligation (from {obligation['first_period']}"
                                         + (f" to {obligation['last_period']})" if obligation["last_period"] else ")"))
        window = self._window(kind, obligation, period)
        if self.today() < window.opens:
            raise FilingWindowNotOpen(f"the window for {period} opens on {window.opens.isoformat()} and closes on "
                                      f"{window.closes.isoformat()}", window_opens=window.opens.isoformat(),
                                      window_closes=window.closes.isoformat())
        return window

    # -- drafts ---------------------------------------------------------------------------------------

    async def create_draft(self, order: DraftCreate, actor: Actor) -> FilingView:
        async with self.db.transaction() as conn:
            obligation = await self.obligations.acting_for(conn, order.obligation_id, actor)
            kind = OBLIGATION_KINDS[obligation["kind"]]
            self._period_open(kind, obligation, order.period)
            if (current := await repository.current_submission(conn, obligation["id"], order.period)) is not None:
                raise FilingExists(f"{order.period} was filed already; amend that filing instead",
                                   filing_id=str(current))
            if problems := forms.filer_problems(kind, order.form):
                raise ValidationFailed(problems)
            filing_id = await repository.insert_draft(conn, obligation["id"], order.period,
                                                      forms.seal(self.cipher, order.form), uuid.UUID(actor.id))
            if filing_id is None:
                draft = next(f for f in await repository.filings_of(conn, obligation["id"], order.period)
                              if f["state"] == "draft")
                raise Conflict(f"a draft for {order.period} exists; continue it", draft_id=str(draft["id"]))
            await self.audit.record(conn, actor, "filing.draft_created", "filing", str(filing_id),
                                    division=obligation["division_code"],
                                    detail={"obligation": str(obligation["id"]), "period": order.period})
            row = await repository.filing(conn, filing_id)
            return await self._view(conn, row, obligation,
                                    await self._problems(conn, kind, obligation, order.period, order.form))

    async def change_draft(self, filing_id: uuid.UUID, change: DraftChange, actor: Actor) -> FilingView:
        async with self.db.transaction() as conn:
            row, obligation = await self._mine(conn, filing_id, actor, for_update=True)
            apply(row["state"], "edit")
            kind = OBLIGATION_KINDS[obligation["kind"]]
            form = forms.merge_patch(forms.unseal(self.cipher, row["form_enc"]), change.form)
            if problems := forms.filer_problems(kind, form):
                raise ValidationFailed(problems)
            await repository.update_draft(conn, filing_id, forms.seal(self.cipher, form))
            await self.audit.record(conn, actor, "filing.draft_saved", "filing", str(filing_id),
                                    division=obligation["division_code"], detail={"fields": sorted(change.form)})
            row = await repository.filing(conn, filing_id)
            return await self._view(conn, row, obligation, await self._problems(conn, kind, obligation, row["period"], form))

    async def discard_draft(self, filing_id: uuid.UUID, actor: Actor) -> None:
        async with self.db.transaction() as conn:
            row, obligation = await self._mine(conn, filing_id, actor, for_update=True)
            apply(row["state"], "discard")
            await repository.delete_draft(conn, filing_id)
            await self.audit.record(conn, actor, "filing.draft_discarded", "filing", str(filing_id),
                                    division=obligation["division_code"])

    async def amend(self, filing_id: uuid.UUID, order: AmendmentCreate, actor: Actor) -> FilingView:
        """Open an amendment of a submitted filing: a draft holding its fields, changed by `order.form`."""
        async with self.db.transaction() as conn:
            row, obligation = await self._mine(conn, filing_id, actor, for_update=True)
            apply(row["state"], "amend")
            kind = OBLIGATION_KINDS[obligation["kind"]]
            original = {k: v for k, v in forms.unseal(self.cipher, row["form_enc"]).items() if k not in kind.bound}
            form = forms.merge_patch(original, order.form)
            if problems := forms.filer_problems(kind, form):
                raise ValidationFailed(problems)
            draft_id = await repository.insert_draft(conn, obligation["id"], row["period"], forms.seal(self.cipher, form),
                                                     uuid.UUID(actor.id), amends=filing_id)
            if draft_id is None:
                draft = next(f for f in await repository.filings_of(conn, obligation["id"], row["period"])
                             if f["state"] == "draft")
                raise Conflict("an amendment of this filing is open already; continue it", draft_id=str(draft["id"]))
            await self.audit.record(conn, actor, "filing.amendment_started", "filing", str(draft_id),
                                    division=obligation["division_code"], detail={"amends": str(filing_id)})
            draft = await repository.filing(conn, draft_id)
            return await self._view(conn, draft, obligation,
                                    await self._problems(conn, kind, obligation, row["period"], form))

    # -- submission -----------------------------------------------------------------------------------

    async def submit(self, filing_id: uuid.UUID, actor: Actor) -> FilingView:
        async with self.db.transaction() as conn:
            row, obligation = await self._mine(conn, filing_id, actor, for_update=True)
            apply(row["state"], "submit")
            kind = OBLIGATION_KINDS[obligation["kind"]]
            window = self._period_open(kind, obligation, row["period"])
            form = forms.compose(kind, forms.unseal(self.cipher, row["form_enc"]),
                                 await self._sources(conn, kind, obligation, row["period"]))
            schema = await self.obligations.form_schema(kind, obligation["division_code"])
            if problems := await checked_form(schema, form):
                raise ValidationFailed(problems, "the form does not meet the kind's form schema: "
                                                 + "; ".join(f"{p.pointer}: {p.detail}" for p in problems[:5]))
            current = await repository.current_submission(conn, obligation["id"], row["period"])
            if row["amends"] is None and current is not None:
                raise FilingExists(f"{row['period']} was filed already; amend that filing instead",
                                   filing_id=str(current))
            if row["amends"] is not None:
                if current != row["amends"]:
                    raise Conflict("the filing this amends is no longer the current one; start from the current one",
                                   filing_id=str(current))
                original = await repository.filing(conn, row["amends"], for_update=True)
                apply(original["state"], "supersede")
                await repository.mark_amended(conn, row["amends"])
            late = self.today() > window.closes
            await repository.submit(conn, filing_id, form_enc=forms.seal(self.cipher, form), digest=forms.digest(form),
                                    division=obligation["division_code"], late=late, submitted_by=uuid.UUID(actor.id))
            row = await repository.filing(conn, filing_id)
            event_id = await self.events.publish(
                conn, kind="filing.amended" if row["amends"] else "filing.submitted", subject_type=SUBJECT_TYPE,
                subject_id=str(filing_id), division=obligation["division_code"], payload=event_payload(row, obligation))
            await self.audit.record(conn, actor, "filing.submitted", "filing", str(filing_id),
                                    division=obligation["division_code"],
                                    detail={"obligation": str(obligation["id"]), "kind": kind.code,
                                            "period": row["period"], "receipt_number": row["receipt_number"],
                                            "late": late, "amends": str(row["amends"]) if row["amends"] else None,
                                            "event": str(event_id)})
            return await self._view(conn, row, obligation)

    # -- reading --------------------------------------------------------------------------------------

    async def my_filing(self, filing_id: uuid.UUID, actor: Actor) -> FilingView:
        async with self.db.connection() as conn:
            row, obligation = await self._mine(conn, filing_id, actor)
            kind = OBLIGATION_KINDS[obligation["kind"]]
            problems = (await self._problems(conn, kind, obligation, row["period"],
                                             forms.unseal(self.cipher, row["form_enc"]))
                        if row["state"] == "draft" else None)
            view = await self._view(conn, row, obligation, problems)
        await self.audit.record_read(actor, "filing.read", "filing", str(filing_id), division=obligation["division_code"])
        return view

    async def filings_of(self, obligation_id: uuid.UUID, actor: Actor) -> list[FilingSummary]:
        """Every filing of an obligation the citizen may file for, newest period first."""
        async with self.db.connection() as conn:
            await self.obligations.acting_for(conn, obligation_id, actor)
            rows = await repository.filings_of(conn, obligation_id)
        return [FilingSummary(id=r["id"], period=r["period"], state=r["state"], created_at=r["created_at"],
                              amends=r["amends"], receipt_number=r["receipt_number"], late=r["late"],
                              submitted_at=r["submitted_at"]) for r in rows]

    async def staff_filing(self, filing_id: uuid.UUID, actor: Actor) -> FilingView:
        """A submitted filing, for staff whose division covers the receiving division; drafts are the
        filer's own. Audited."""
        scope = require_staff(actor, FILING_READERS)
        async with self.db.connection() as conn:
            row = await repository.filing(conn, filing_id)
            obligation = await repository.obligation(conn, row["obligation_id"]) if row else None
            if row is None or row["state"] == "draft" or obligation is None:
                raise NotFound("no such filing")
            if not divisions.within(scope, obligation["division_code"]):
                await self.audit.record_refusal(self.db, actor, "filing.read_refused", "filing", str(filing_id),
                                                division=actor.division)
                raise NotFound("no such filing")
            view = await self._view(conn, row, obligation)
        await self.audit.record_read(actor, "filing.read", "filing", str(filing_id), division=obligation["division_code"])
        return view

    async def receipt(self, filing_id: uuid.UUID, actor: Actor) -> bytes:
        """The receipt of a submitted filing, as a PDF."""
        await self.ephemeral.limit("filing-receipt", who(actor), limit=RECEIPTS_PER_MINUTE, window_seconds=60,
                                   what="filing receipts")
        async with self.db.transaction() as conn:
            row, obligation = await self._mine(conn, filing_id, actor)
            apply(row["state"], "print")
            kind = OBLIGATION_KINDS[obligation["kind"]]
            submitter = await identity_repository.citizen_by(conn, "id", row["submitted_by"])
            amended = await repository.filing(conn, row["amends"]) if row["amends"] else None
            window = self._window(kind, obligation, row["period"])
            content = ReceiptContent(
                receipt_number=row["receipt_number"], kind_name=kind.name, subject_kind=subject_view(obligation).kind,
                subject_name=obligation["subject_name"], subject_identifier=obligation["subject_identifier"],
                period=row["period"], window_opens=window.opens, window_closes=window.closes,
                submitted_at=row["submitted_at"], submitted_by=submitter["name"], late=row["late"],
                amends_receipt=amended["receipt_number"] if amended else None, amended=row["state"] == "amended",
                form=masked_form(forms.unseal(self.cipher, row["form_enc"])),
                schema=await self.obligations.form_schema(kind, obligation["division_code"]),
                digest_hex=row["form_digest"].hex(), division_code=obligation["division_code"])
            await self.audit.record(conn, actor, "filing.receipt_printed", "filing", str(filing_id),
                                    division=obligation["division_code"])
        return await asyncio.to_thread(receipt_pdf, content)
