"""Photos kept for disputes: only when a retention is configured, encrypted, deleted when it ends
or when the citizen withdraws their enrolment."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.face import repository
from backend.face.policy import FacePolicy
from backend.face.templates import FaceDataCipher


class PhotoRetention:
    def __init__(self, db: Database, audit: AuditLog, cipher: FaceDataCipher, policy: FacePolicy) -> None:
        self.db, self.audit, self.cipher, self.policy = db, audit, cipher, policy

    async def retain(self, conn: asyncpg.Connection, citizen_id: uuid.UUID, kind: str, photos: list[bytes],
                     request_id: str | None) -> None:
        """Keep the photos of this attempt, encrypted, only if a dispute retention is configured."""
        if self.policy.retention_days <= 0:
            return
        sealed = [self.cipher.seal(photo, purpose="face.retained-photo", citizen_id=str(citizen_id))
                  for photo in photos]
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=self.policy.retention_days)
        await repository.retain_photos(conn, citizen_id, request_id, kind, sealed, until)

    async def forget(self, conn: asyncpg.Connection, citizen_id: uuid.UUID) -> int:
        """Delete every photo kept for the citizen (their enrolment is withdrawn); return how many."""
        return await repository.delete_retained_photos(conn, citizen_id)

    async def purge(self) -> int:
        """Delete retained photos whose retention has ended; return how many."""
        async with self.db.transaction() as conn:
            count = await repository.purge_retained_photos(conn)
            if count:
                await self.audit.record(conn, Actor.system(), "face.retained_photos_purged", "face_retained_photo",
                                        None, detail={"count": count})
        return count
