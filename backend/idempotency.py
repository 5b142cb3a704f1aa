"""Idempotent creation: the first answer to an (actor, Idempotency-Key) pair is stored in the same
transaction as what it created, and returned again for a retry of the same request.

Guarantees (docs/security.md): keys are scoped by the signed-in principal, so two callers never share
an answer, and an anonymous caller cannot use a key at all (nothing would tell two anonymous clients
apart); a stored answer is sealed with the PII key (it may hold tokens, credentials or personal data),
bound to its principal and key; a record lasts `RETENTION`, after which the key may be used afresh
(expired records are ignored on read and deleted by the `idempotency.purge` job)."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
from dataclasses import dataclass

import asyncpg

from backend.errors import IdempotencyKeyReused, ValidationFailed
from backend.identifiers import whole
from backend.security.pii import PiiCipher

RETENTION = dt.timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class StoredAnswer:
    status: int
    body: bytes


def request_fingerprint(method: str, path: str, query: str, body: bytes) -> bytes:
    """What one Idempotency-Key names: the method, the path, the query's parameters (in any order) and the
    body — a request differing in any of them is another request, refused under the same key."""
    parameters = "&".join(sorted(query.split("&"))) if query else ""
    return hashlib.sha256(b"\x00".join((method.encode(), path.encode(), parameters.encode(), body))).digest()


# Visible ASCII: what a UUID, a ULID or any client-made token is written in, and safe in a header.
KEY_PATTERN = whole(r"[!-~]{1,255}")
_KEY = re.compile(KEY_PATTERN)


def check_key(key: str) -> str:
    if not _KEY.fullmatch(key):
        raise ValidationFailed.field("Idempotency-Key", "must be 1–255 visible ASCII characters")
    return key


def _purpose(principal: str, key: str) -> str:
    return f"idempotency:{principal}:{key}"


async def claim(
    conn: asyncpg.Connection, cipher: PiiCipher, principal: str, key: str, fingerprint: bytes
) -> StoredAnswer | None:
    """Return the stored answer of an earlier identical request, or None to go ahead.

    A concurrent request with the same key waits on the row lock until the first one commits. A record
    older than `RETENTION` is taken over as if it were not there.
    """
    row = await conn.fetchrow(
        """INSERT INTO idempotency_keys (principal, key, request_hash, status, body)
           VALUES ($1, $2, $3, 0, '')
           ON CONFLICT (principal, key) DO UPDATE
               SET request_hash = EXCLUDED.request_hash, status = 0, body = '', created_at = now()
               WHERE idempotency_keys.created_at < now() - $4::interval
           RETURNING key""",
        principal, key, fingerprint, RETENTION,
    )
    if row is not None:
        return None
    stored = await conn.fetchrow(
        "SELECT request_hash, status, body FROM idempotency_keys WHERE principal = $1 AND key = $2",
        principal, key,
    )
    if stored["request_hash"] != fingerprint:
        raise IdempotencyKeyReused("this Idempotency-Key was used for a different request")
    return StoredAnswer(stored["status"], cipher.decrypt(stored["body"], purpose=_purpose(principal, key)).encode())


async def remember(conn: asyncpg.Connection, cipher: PiiCipher, principal: str, key: str, answer: StoredAnswer) -> None:
    await conn.execute(
        "UPDATE idempotency_keys SET status = $3, body = $4 WHERE principal = $1 AND key = $2",
        principal, key, answer.status, cipher.encrypt(answer.body.decode(), purpose=_purpose(principal, key)),
    )


async def purge(conn: asyncpg.Connection) -> int:
    """Delete the records past `RETENTION`; how many."""
    deleted = await conn.fetch("DELETE FROM idempotency_keys WHERE created_at < now() - $1::interval RETURNING 1",
                               RETENTION)
    return len(deleted)
