"""Printing at a kiosk: a print job is a record, asked for once per idempotency key (a retried request
finds the first job; a printed job is never handed out again), taken by the device, and printed there.
The document — a certificate page from the certificate renderer, or a case receipt — is rendered when
the device fetches it, never stored. Out of paper, the job waits and is handed out again once the
device has paper; the screen reads the job's state."""

from __future__ import annotations

import asyncio
import functools
import uuid
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.cases.service import CaseService
from backend.certificates.service import CertificateService
from backend.db import Database
from backend.errors import Conflict, IdempotencyKeyReused, KioskCapabilityMissing, NotFound, ValidationFailed
from backend.idempotency import check_key
from backend.kiosks import repository
from backend.kiosks.cases import case_receipt_png, place_name
from backend.kiosks.devices import Kiosk
from backend.kiosks.schemas import PrintJobView, PrintOutcome, PrintRequest

# The job states a device's report moves it to, from `printing`.
OUTCOMES = {"printed": ("printed", None), "out-of-paper": ("waiting", "out-of-paper"),
            "paper-jam": ("waiting", "paper-jam"), "printer-offline": ("waiting", "printer-offline"),
            "failed": ("failed", None)}


def _view(row: asyncpg.Record) -> PrintJobView:
    return PrintJobView(id=row["id"], document_kind=row["document_kind"], document_id=row["document_id"],
                        copies=row["copies"], status=row["status"], waiting_reason=row["waiting_reason"],
                        attempts=row["attempts"], created_at=row["created_at"], printed_at=row["printed_at"])


class KioskPrinting:
    def __init__(self, db: Database, audit: AuditLog, certificates: CertificateService, cases: CaseService) -> None:
        self.db, self.audit, self.certificates, self.cases = db, audit, certificates, cases

    async def request(self, kiosk: Kiosk, actor: Actor, key: str | None, form: PrintRequest) -> tuple[PrintJobView, bool]:
        """The resident asks for a document of theirs to be printed here; with the same key again, the
        same job (a different document under a used key is refused). Returns (job, created)."""
        if "printer" not in kiosk.capabilities:
            raise KioskCapabilityMissing("this kiosk has no printer")
        if key is None:
            raise ValidationFailed.field("Idempotency-Key", "print requests need an Idempotency-Key, so a retry "
                                                            "never prints twice")
        check_key(key)
        # The resident's own certificate or case (audited as read); anyone else's answers as missing.
        if form.document_kind == "case-receipt":
            await self.cases.my_case(form.document_id, actor)
        else:
            await self.certificates.registry.my_certificate(actor, form.document_id, "certificate.print_requested")
        async with self.db.transaction() as conn:
            row, created = await repository.insert_print_job(
                conn, kiosk_id=kiosk.id, citizen_id=uuid.UUID(actor.id or ""), session_id=uuid.UUID(actor.session_id or ""),
                key=key, document_kind=form.document_kind, document_id=str(form.document_id), copies=form.copies)
            if (row["document_kind"], row["document_id"], row["copies"], str(row["citizen_id"])) != (
                    form.document_kind, str(form.document_id), form.copies, actor.id):
                raise IdempotencyKeyReused("this Idempotency-Key was used for another print job")
            if created:
                await self.audit.record(conn, actor, "kiosk.print_requested", "kiosk_print_job", str(row["id"]),
                                        division=kiosk.division_code,
                                        detail={"document_kind": form.document_kind, "document_id": str(form.document_id)})
        return _view(row), created

    async def job(self, kiosk: Kiosk, actor: Actor, job_id: uuid.UUID) -> PrintJobView:
        """The resident's job at this kiosk, for the screen to follow."""
        async with self.db.connection() as conn:
            row = await repository.print_job(conn, kiosk.id, job_id)
        if row is None or str(row["citizen_id"]) != actor.id:
            raise NotFound("no such print job")
        return _view(row)

    async def take(self, kiosk: Kiosk, actor: Actor) -> PrintJobView | None:
        """The device takes the next job for its printer (queued, or waiting for paper): marked printing."""
        async with self.db.transaction() as conn:
            row = await repository.take_print_job(conn, kiosk.id)
            if row is not None:
                await self.audit.record(conn, actor, "kiosk.print_started", "kiosk_print_job", str(row["id"]),
                                        division=kiosk.division_code, detail={"attempt": row["attempts"]})
        return None if row is None else _view(row)

    async def document(self, kiosk: Kiosk, job_id: uuid.UUID) -> bytes:
        """The page to print, rendered now, for a job the device has taken."""
        async with self.db.connection() as conn:
            row = await repository.print_job(conn, kiosk.id, job_id)
        if row is None:
            raise NotFound("no such print job")
        if row["status"] != "printing":
            raise Conflict(f"the job is {row['status']}; take it first")
        holder = Actor(kind="citizen", id=str(row["citizen_id"]), device=str(kiosk.id),
                       session_id=str(row["session_id"]) if row["session_id"] else None)
        if row["document_kind"] == "case-receipt":
            case = await self.cases.my_case(uuid.UUID(row["document_id"]), holder)
            place = functools.partial(place_name, self.cases.places)
            return await asyncio.to_thread(case_receipt_png, case, self.cases.now(), place)
        return await self.certificates.registry.my_printout(holder, uuid.UUID(row["document_id"]), "png")

    async def report(self, kiosk: Kiosk, actor: Actor, job_id: uuid.UUID, outcome: PrintOutcome) -> PrintJobView:
        """What the printer did: printed (final), out of paper / jammed / offline (the job waits and is
        handed out again), or failed (final)."""
        status, reason = OUTCOMES[outcome.outcome]
        async with self.db.transaction() as conn:
            row = await repository.print_job(conn, kiosk.id, job_id, for_update=True)
            if row is None:
                raise NotFound("no such print job")
            if row["status"] != "printing":
                if row["status"] == status == "printed":
                    return _view(row)  # a repeated report of the same print
                raise Conflict(f"the job is {row['status']}, not printing")
            row = await repository.finish_print_job(conn, job_id, status, reason)
            detail: dict[str, Any] = {"outcome": outcome.outcome, "attempt": row["attempts"]}
            await self.audit.record(conn, actor, f"kiosk.print_{'done' if status == 'printed' else status}",
                                    "kiosk_print_job", str(job_id), division=kiosk.division_code, detail=detail)
        return _view(row)
