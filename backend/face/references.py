"""Whose enrolled reference a check compares with, and whether the actor may reach it."""

from __future__ import annotations

import uuid

import asyncpg
import numpy as np

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import FaceNotEnrolled, NotFound
from backend.face import repository
from backend.face.reasons import with_reasons
from backend.face.templates import FaceDataCipher
from backend.identity import divisions
from backend.security.reach import reachable


def not_enrolled() -> FaceNotEnrolled:
    return with_reasons(FaceNotEnrolled("no face reference is enrolled; enrol at a service window first"),
                        "not-enrolled")


class References:
    def __init__(self, db: Database, audit: AuditLog, cipher: FaceDataCipher) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher

    def template(self, row: asyncpg.Record | None) -> np.ndarray | None:
        """The decrypted reference embedding of a citizen row with enrolment, or None when not enrolled."""
        if row is None or row["template_enc"] is None:
            return None
        return self.cipher.open_template(row["template_enc"], citizen_id=str(row["id"]), model=row["model"])

    async def own(self, conn: asyncpg.Connection, actor: Actor) -> asyncpg.Record:
        """The signed-in citizen's row with enrolment."""
        row = await repository.citizen_with_enrolment(conn, uuid.UUID(actor.id))
        if row is None:
            raise NotFound("citizen not found")
        return row

    async def named(self, conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record:
        """A named citizen's row with enrolment, for a check run on their behalf (the caller has
        established that the actor may act for them)."""
        row = await repository.citizen_with_enrolment(conn, citizen_id)
        if row is None:
            raise NotFound("no such citizen")
        return row

    async def in_scope(self, actor: Actor, citizen_id: uuid.UUID, refused: str) -> asyncpg.Record:
        """The citizen's row with enrolment, if inside the staff member's division; outside it looks
        exactly like a missing citizen (both refusals audited)."""
        async with self.db.connection() as conn:
            row = await repository.citizen_with_enrolment(conn, citizen_id)
        return await reachable(self.audit, self.db, actor, row,
                               row is not None and divisions.within(actor.division or "", row["home_division"]),
                               refused=refused, record_type="citizen", record_id=str(citizen_id),
                               missing="no such citizen")
