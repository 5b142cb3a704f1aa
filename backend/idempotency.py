"""Idempotent creation: the first answer to an (actor, Idempotency-Key) pair is stored in the same
transaction as what it created, and returned again for a retry of the same request."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import asyncpg

from backend.errors import IdempotencyKeyReused, ValidationFailed


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


def request_fingerprint(method: str, path: str, body: bytes) -> bytes:
    return hashlib.sha256(b"\x00".join((method.encode(), path.encode(), body))).digest()


# Visible ASCII: what a UUID, a ULID or any client-made token is written in, and safe in a header.
KEY_PATTERN = r"^[!-~]{1,255}$"
_KEY = re.compile(KEY_PATTERN)


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValidationFailed.field("Idempotency-Key", "must be 1–255 visible ASCII characters")
    return key


async def claim(
    conn: asyncpg.Connection, principal: str, key: str, fingerprint: bytes
) -> StoredAnswer | None:
    """Return the stored answer of an earlier identical request, or None to go ahead.

    A concurrent request with the same key waits on the row lock until the first one commits.
    """
    row = await conn.fetchrow(
        """INSERT INTO idempotency_keys (principal, key, request_hash, status, body)
           VALUES ($1, $2, $3, 0, '') ON CONFLICT DO NOTHING RETURNING key""",
        principal, key, fingerprint,
    )
    if row is not None:
        return None
    stored = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
        principal, key,
    )
    if stored["request_hash"] != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return StoredAnswer(stored["status"], stored["body"])


async def remember(conn: asyncpg.Connection, principal: str, key: str, answer: StoredAnswer) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE principal = $1 AND key = $2",
        principal, key, answer.status, answer.body,
    )
