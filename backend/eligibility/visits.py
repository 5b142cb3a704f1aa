"""Booking an assisted or home visit (after face checks fail, or instead of them), and the visits the
residence division's staff see and complete."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.china_time import today as china_today
from backend.db import Database
from backend.eligibility import repository
from backend.eligibility.recognition import booking_view
from backend.eligibility.roster import RESIDENCE_ROLES
from backend.eligibility.schemas import BookingCreate, BookingView
from backend.errors import Conflict, Forbidden, ValidationFailed
from backend.identity import divisions

# Slots may be booked from tomorrow up to this many days ahead.
BOOKING_HORIZON_DAYS = 60


class Visits:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    async def book(self, conn: asyncpg.Connection, actor: Actor, entry: asyncpg.Record, form: BookingCreate,
                   today: dt.date | None = None) -> BookingView:
        """Book a slot with the residence division's staff, in the caller's transaction (the pensioner or
        an authorised relative; the caller has checked which)."""
        today = today or china_today()
        if not today < form.slot_date <= today + dt.timedelta(days=BOOKING_HORIZON_DAYS):
            raise ValidationFailed.field("slot_date", f"choose a day from tomorrow to {BOOKING_HORIZON_DAYS} days ahead")
        if entry["status"] == "stopped":
            raise Conflict("the pension is stopped; no recognition is needed")
        booking_id = await repository.insert_booking(
            conn, entry["id"], form.kind, entry["residence_division"], form.slot_date, form.slot_part,
            form.note.strip() if form.note else None, actor.kind, actor.id or "")
        if booking_id is None:
            raise Conflict("a visit is already booked; it is shown on the status page")
        await self.audit.record(conn, actor, "pension.visit_booked", "pension_roster_entry", str(entry["id"]),
                                division=entry["residence_division"],
                                detail={"booking": str(booking_id), "kind": form.kind,
                                        "slot": f"{form.slot_date.isoformat()} {form.slot_part}"})
        return booking_view(await repository.booking(conn, booking_id))  # type: ignore[return-value]

    async def for_staff(self, actor: Actor) -> list[BookingView]:
        """Visits booked in the staff member's division (pensioners living there, paid from anywhere)."""
        if actor.role not in RESIDENCE_ROLES:
            raise Forbidden("visits are seen by window staff of the residence division")
        async with self.db.connection() as conn:
            rows = await repository.bookings_in(conn, divisions.scope_prefix(actor.division or ""), china_today())
        await self.audit.record_read(actor, "pension.visits_read", "visit_booking", None,
                                     division=actor.division, detail={"bookings": len(rows)})
        return [booking_view(r) for r in rows]  # type: ignore[misc]

    async def booking_for_completion(self, conn: asyncpg.Connection, booking_id: uuid.UUID) -> asyncpg.Record | None:
        return await repository.booking(conn, booking_id)

    async def complete(self, conn: asyncpg.Connection, booking_id: uuid.UUID, recognition_id: uuid.UUID,
                       staff_id: uuid.UUID) -> None:
        await repository.complete_booking(conn, booking_id, recognition_id, staff_id)
