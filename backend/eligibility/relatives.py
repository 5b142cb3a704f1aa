"""Authorised relatives (亲情代办): a citizen authorises a relative to act for them — themselves at
assurance L3, or at a service window through staff — up to `MAX_RELATIVES`, revocable, audited.
The kiosk's assisted mode reuses the same authorisations (`require`)."""

from __future__ import annotations

import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.eligibility import repository
from backend.eligibility.schemas import RelativeAuthorise, RelativeView
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.identity import divisions
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.pii import PiiCipher

# A handful, as the national service does: enough for a family, few enough to notice misuse.
MAX_RELATIVES = 3
WINDOW_ROLES = frozenset({"receiving_officer", "handling_officer"})


def relative_view(row: asyncpg.Record) -> RelativeView:
    return RelativeView(**dict(row))


class Relatives:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher

    async def authorise(self, actor: Actor, citizen_id: uuid.UUID, form: RelativeAuthorise) -> RelativeView:
        """`citizen_id` authorises the relative named by resident ID. The actor is the citizen (the HTTP
        layer requires L3) or window staff whose division covers the citizen's home or residence."""
        try:
            relative_number = normalise_resident_id(form.relative_resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("relative_resident_id", str(exc)) from None
        via = "self-l3" if actor.kind == "citizen" else "service-window"
        async with self.db.transaction() as conn:
            if actor.kind == "staff":
                await self._in_window_scope(conn, actor, citizen_id)
            relative = await repository.citizen_by_resident_hash(
                conn, self.cipher.lookup_hash(relative_number, purpose="resident_id"))
            if relative is None:
                raise ValidationFailed.field("relative_resident_id", "the relative must have registered on the app "
                                                                     "(with their own phone) first")
            if relative["id"] == citizen_id:
                raise ValidationFailed.field("relative_resident_id", "a person cannot authorise themselves")
            active = await repository.active_relatives(conn, citizen_id, lock=True)
            if any(r["relative_id"] == relative["id"] for r in active):
                raise Conflict("this relative is already authorised")
            if len(active) >= MAX_RELATIVES:
                raise Conflict(f"at most {MAX_RELATIVES} relatives can be authorised; revoke one first",
                               max_relatives=MAX_RELATIVES)
            authorisation_id = await repository.insert_relative(
                conn, citizen_id, relative["id"], form.relationship, via,
                uuid.UUID(actor.id) if actor.kind == "staff" else None)
            await self.audit.record(conn, actor, "relative.authorised", "citizen", str(citizen_id),
                                    division=actor.division,
                                    detail={"authorisation": str(authorisation_id), "relative": str(relative["id"]),
                                            "relationship": form.relationship, "via": via})
            row = await repository.authorisation(conn, citizen_id, relative["id"])
        return relative_view(row)

    async def _in_window_scope(self, conn: asyncpg.Connection, actor: Actor, citizen_id: uuid.UUID) -> None:
        """Window staff serve the citizen's home division or, for a pensioner, their residence division."""
        citizen = await conn.fetchrow("SELECT home_division FROM citizens WHERE id = $1", citizen_id)
        places = [citizen["home_division"]] if citizen else []
        places += [e["residence_division"] for e in await repository.entries_of_citizen(conn, citizen_id)]
        if actor.role not in WINDOW_ROLES or not any(divisions.within(actor.division or "", p) for p in places):
            if citizen is not None:
                await self.audit.record_refusal(self.db, actor, "relative.authorise_refused", "citizen",
                                                str(citizen_id), division=actor.division)
            raise NotFound("no such citizen")

    async def of_citizen(self, actor: Actor, citizen_id: uuid.UUID) -> list[RelativeView]:
        async with self.db.connection() as conn:
            if actor.kind == "staff":
                await self._in_window_scope(conn, actor, citizen_id)
            rows = await repository.active_relatives(conn, citizen_id)
        await self.audit.record_read(actor, "relative.list_read", "citizen", str(citizen_id), division=actor.division)
        return [relative_view(r) for r in rows]

    async def acting_for(self, actor: Actor) -> list[RelativeView]:
        """Whom the signed-in citizen may act for."""
        async with self.db.connection() as conn:
            return [relative_view(r) for r in await repository.relatives_acting_for(conn, uuid.UUID(actor.id))]

    async def revoke(self, actor: Actor, citizen_id: uuid.UUID, authorisation_id: uuid.UUID) -> None:
        """The citizen (or window staff for them) revokes an authorisation: it stops working at once."""
        async with self.db.transaction() as conn:
            if actor.kind == "staff":
                await self._in_window_scope(conn, actor, citizen_id)
            row = await repository.revoke_relative(conn, authorisation_id, citizen_id)
            if row is None:
                raise NotFound("no such authorisation")
            await self.audit.record(conn, actor, "relative.revoked", "citizen", str(citizen_id),
                                    division=actor.division,
                                    detail={"authorisation": str(authorisation_id), "relative": str(row["relative_id"])})

    async def require(self, conn: asyncpg.Connection, actor: Actor, citizen_id: uuid.UUID) -> asyncpg.Record:
        """The active authorisation of the signed-in relative for `citizen_id`; without one, exactly
        the answer a missing person gets, with the refusal audited."""
        row = await repository.authorisation(conn, citizen_id, uuid.UUID(actor.id))
        if row is None:
            await self.audit.record_refusal(self.db, actor, "relative.refused", "citizen", str(citizen_id))
            raise NotFound("no such person")
        return row
