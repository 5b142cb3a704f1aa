"""The material store the cases call inside their own transactions: `store` checks and cleans an
upload and keeps it (encrypted, in PostgreSQL); `get` answers what a material is; `read` its bytes.

Neither access control nor auditing happens here: the caller (a case's use case) decides who may
upload or download and audits it in the same transaction.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import os
import uuid
from collections.abc import Sequence
from pathlib import PurePosixPath

import asyncpg
import msgspec

from backend.blobs import BlobStore
from backend.errors import MaterialRefused, NotFound
from backend.materials.checks import CheckedFile, MaterialLimits, check_file


class Material(msgspec.Struct, frozen=True, kw_only=True):
    id: uuid.UUID
    owner_citizen_id: uuid.UUID
    name: str  # the file's name as sent
    kind: str | None  # the receipt standard's material name it was uploaded as, if said
    content_type: str  # image/png, image/jpeg or application/pdf, by content
    size: int  # bytes as stored (metadata removed)
    digest: bytes  # SHA-256 of the stored bytes
    pages: int | None
    width: int | None
    height: int | None
    created_at: dt.datetime


_COLUMNS = "id, owner_citizen_id, name, kind, content_type, size, digest, pages, width, height, created_at"


class MaterialStore:
    def __init__(self, blobs: BlobStore, limits: MaterialLimits, *, checks_at_once: int | None = None) -> None:
        self.blobs = blobs
        self.limits = limits
        # Decoding a large picture takes memory and a core: a few at once, the rest wait their turn.
        self._checking = asyncio.Semaphore(checks_at_once or os.cpu_count() or 1)

    async def check(self, data: bytes, declared_name: str, declared_type: str | None = None) -> CheckedFile:
        """The upload as it would be stored, or `MaterialRefused` (a thread does the work)."""
        async with self._checking:
            return await asyncio.to_thread(check_file, data, declared_name, declared_type, self.limits)

    async def store(self, conn: asyncpg.Connection, owner_citizen_id: uuid.UUID | str, data: bytes,
                    declared_name: str, *, kind: str | None = None, declared_type: str | None = None) -> Material:
        """Check, clean and keep one upload of the citizen in the caller's transaction. The same file
        uploaded again by the same citizen is the same material (its first name and kind stay)."""
        name = _file_name(declared_name)
        if kind is not None and not 1 <= len(kind) <= 100:
            raise MaterialRefused("kind", "a material's kind has 1 to 100 characters", "#/kind")
        checked = await self.check(data, name, declared_type)
        digest = hashlib.sha256(checked.data).digest()
        owner = str(owner_citizen_id)
        address = await self.blobs.put(conn, owner, checked.data, digest)
        row = await conn.fetchrow(
            f"""INSERT INTO materials (owner_citizen_id, name, kind, content_type, size, digest, pages, width,
                                       height, blob_address)
                VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)
                ON CONFLICT (owner_citizen_id, blob_address) DO NOTHING RETURNING {_COLUMNS}""",
            uuid.UUID(owner), name, kind, checked.content_type, len(checked.data), digest, checked.pages,
            checked.width, checked.height, address)
        if row is None:
            row = await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM materials WHERE owner_citizen_id = $1 AND blob_address = $2",
                uuid.UUID(owner), address)
        return _material(row)

    async def get(self, conn: asyncpg.Connection, material_id: uuid.UUID | str) -> Material | None:
        row = await conn.fetchrow(f"SELECT {_COLUMNS} FROM materials WHERE id = $1", _uuid(material_id))
        return None if row is None else _material(row)

    async def get_many(self, conn: asyncpg.Connection, material_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Material]:
        """The materials of these ids that exist, by id."""
        rows = await conn.fetch(f"SELECT {_COLUMNS} FROM materials WHERE id = ANY ($1::uuid[])", list(material_ids))
        return {r["id"]: _material(r) for r in rows}

    async def read(self, conn: asyncpg.Connection, material_id: uuid.UUID | str) -> bytes:
        """The material's bytes (as stored: metadata removed)."""
        address = await conn.fetchval("SELECT blob_address FROM materials WHERE id = $1", _uuid(material_id))
        data = None if address is None else await self.blobs.get(conn, address)
        if data is None:
            raise NotFound("no such material")
        return data


def _uuid(value: uuid.UUID | str) -> uuid.UUID | None:
    try:
        return value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    except ValueError:
        return None


def _file_name(declared_name: str) -> str:
    """The name's last path component, without control characters (it is shown to staff)."""
    name = PurePosixPath(declared_name.replace("\\", "/")).name
    name = "".join(c for c in name if c.isprintable()).strip()
    if not 1 <= len(name) <= 200:
        raise MaterialRefused("name", "a file name has 1 to 200 characters", "#/name")
    return name


def _material(row: asyncpg.Record) -> Material:
    return Material(**dict(row))
