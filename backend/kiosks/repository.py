"""SQL of kiosks, the residents' sessions at them, and their print jobs."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

KIOSK_COLUMNS = """id, division_code, address, capabilities, public_key, key_version, status, configuration,
                   health, last_heartbeat_at, registered_at, revoked_at, revoked_reason"""


async def insert_kiosk(conn: asyncpg.Connection, *, division_code: str, address: str, capabilities: list[str],
                       public_key: bytes, configuration: dict[str, Any], registered_by: str) -> asyncpg.Record | None:
    """None when the public key is already registered."""
    return await conn.fetchrow(
        f"""INSERT INTO kiosks (division_code, address, capabilities, public_key, configuration, registered_by)
            VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (public_key) DO NOTHING RETURNING {KIOSK_COLUMNS}""",
        division_code, address, capabilities, public_key, configuration, registered_by)


async def kiosk(conn: asyncpg.Connection, kiosk_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {KIOSK_COLUMNS} FROM kiosks WHERE id = $1{lock}", kiosk_id)


async def kiosks_within(conn: asyncpg.Connection, prefix: str) -> list[asyncpg.Record]:
    """Kiosks whose division starts with `prefix` (a scope's prefix), silent ones first."""
    return await conn.fetch(
        f"""SELECT {KIOSK_COLUMNS} FROM kiosks WHERE division_code LIKE $1 || '%'
            ORDER BY status, last_heartbeat_at NULLS FIRST, registered_at""", prefix)


async def revoke(conn: asyncpg.Connection, kiosk_id: uuid.UUID, reason: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE kiosks SET status = 'revoked', revoked_at = now(), revoked_reason = $2
            WHERE id = $1 AND status = 'active' RETURNING {KIOSK_COLUMNS}""", kiosk_id, reason)


async def rekey(conn: asyncpg.Connection, kiosk_id: uuid.UUID, public_key: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE kiosks SET public_key = $2, key_version = key_version + 1, rekeyed_at = now()
            WHERE id = $1 AND status = 'active' RETURNING {KIOSK_COLUMNS}""", kiosk_id, public_key)


async def public_key_taken(conn: asyncpg.Connection, public_key: bytes) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM kiosks WHERE public_key = $1", public_key))


async def configure(conn: asyncpg.Connection, kiosk_id: uuid.UUID, configuration: dict[str, Any]) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"UPDATE kiosks SET configuration = $2 WHERE id = $1 RETURNING {KIOSK_COLUMNS}", kiosk_id, configuration)


async def record_heartbeat(conn: asyncpg.Connection, kiosk_id: uuid.UUID, health: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE kiosks SET health = $2, last_heartbeat_at = now() WHERE id = $1 RETURNING {KIOSK_COLUMNS}""",
        kiosk_id, health)


async def pending_print_jobs(conn: asyncpg.Connection, kiosk_id: uuid.UUID) -> int:
    return await conn.fetchval(
        "SELECT count(*) FROM kiosk_print_jobs WHERE kiosk_id = $1 AND status IN ('queued', 'printing', 'waiting')",
        kiosk_id)


async def end_sessions_of_kiosk(conn: asyncpg.Connection, kiosk_id: uuid.UUID, reason: str) -> list[uuid.UUID]:
    """End every open resident session at the kiosk (and its auth session); return their ids. The kiosk's
    row is locked first, so a sign-in at the kiosk meanwhile waits and then ends this one's session."""
    await conn.execute("SELECT 1 FROM kiosks WHERE id = $1 FOR NO KEY UPDATE", kiosk_id)
    rows = await conn.fetch(
        """UPDATE kiosk_sessions SET ended_at = now(), end_reason = $2
           WHERE kiosk_id = $1 AND ended_at IS NULL RETURNING session_id""", kiosk_id, reason)
    ids = [r["session_id"] for r in rows]
    await _sessions_ended(conn, ids, reason)
    return ids


async def insert_kiosk_session(conn: asyncpg.Connection, session_id: uuid.UUID, kiosk_id: uuid.UUID,
                               citizen_id: uuid.UUID, card_hash: bytes) -> None:
    await conn.execute(
        "INSERT INTO kiosk_sessions (session_id, kiosk_id, citizen_id, card_hash) VALUES ($1, $2, $3, $4)",
        session_id, kiosk_id, citizen_id, card_hash)


async def kiosk_session(conn: asyncpg.Connection, session_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    """The session, with `assistant_active`: whether its staff assistant's account is active now (NULL
    without a staff assistant; false for an account disabled or deleted)."""
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(
        f"""SELECT session_id, kiosk_id, citizen_id, card_hash, assistant_kind, assistant_id, started_at,
                   last_activity_at, ended_at, end_reason, now() AS now,
                   CASE WHEN assistant_kind = 'staff' THEN coalesce(
                       (SELECT active FROM staff WHERE staff.id = kiosk_sessions.assistant_id), false) END
                       AS assistant_active
            FROM kiosk_sessions WHERE session_id = $1{lock}""", session_id)


async def touch_kiosk_session(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    await conn.execute("UPDATE kiosk_sessions SET last_activity_at = now() WHERE session_id = $1", session_id)


async def end_kiosk_session(conn: asyncpg.Connection, session_id: uuid.UUID, reason: str) -> bool:
    """End one open session and revoke its auth session; False when it had ended already."""
    ended = await conn.fetchval(
        """UPDATE kiosk_sessions SET ended_at = now(), end_reason = $2
           WHERE session_id = $1 AND ended_at IS NULL RETURNING session_id""", session_id, reason)
    if ended is None:
        return False
    await _sessions_ended(conn, [session_id], reason)
    return True


async def _sessions_ended(conn: asyncpg.Connection, session_ids: list[uuid.UUID], reason: str) -> None:
    """What ends with resident sessions: their auth sessions, and their print jobs not yet printed — a page
    waiting for paper must not come out for the next resident."""
    if not session_ids:
        return
    await conn.execute("""UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
                          WHERE id = ANY($1::uuid[]) AND revoked_at IS NULL""",
                       session_ids, f"kiosk session ended: {reason}")
    await conn.execute("""UPDATE kiosk_print_jobs SET status = 'cancelled', waiting_reason = NULL, updated_at = now()
                          WHERE session_id = ANY($1::uuid[]) AND status IN ('queued', 'waiting')""", session_ids)


async def set_assistant(conn: asyncpg.Connection, session_id: uuid.UUID, kind: str, assistant_id: uuid.UUID) -> None:
    await conn.execute("UPDATE kiosk_sessions SET assistant_kind = $2, assistant_id = $3 WHERE session_id = $1",
                       session_id, kind, assistant_id)


async def clear_assistant(conn: asyncpg.Connection, session_id: uuid.UUID) -> asyncpg.Record | None:
    """End the assistance of an open session: the assistant it had (kind, id), None when nobody assisted."""
    return await conn.fetchrow(
        """UPDATE kiosk_sessions AS s SET assistant_kind = NULL, assistant_id = NULL
           FROM (SELECT session_id, assistant_kind, assistant_id FROM kiosk_sessions
                 WHERE session_id = $1 AND ended_at IS NULL AND assistant_kind IS NOT NULL FOR UPDATE) AS before
           WHERE s.session_id = before.session_id
           RETURNING before.assistant_kind, before.assistant_id""", session_id)


async def face_enrolled(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM face_enrolments WHERE citizen_id = $1", citizen_id))


PRINT_COLUMNS = """id, kiosk_id, citizen_id, session_id, idempotency_key, document_kind, document_id, copies, status,
                   waiting_reason, attempts, created_at, printed_at"""


async def insert_print_job(conn: asyncpg.Connection, *, kiosk_id: uuid.UUID, citizen_id: uuid.UUID,
                           session_id: uuid.UUID, key: str, document_kind: str, document_id: str,
                           copies: int) -> tuple[asyncpg.Record, bool]:
    """The job asked for under (kiosk, key), created now or found: (row, created)."""
    row = await conn.fetchrow(
        f"""INSERT INTO kiosk_print_jobs (kiosk_id, citizen_id, session_id, idempotency_key, document_kind,
                                          document_id, copies)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (kiosk_id, idempotency_key) DO NOTHING
            RETURNING {PRINT_COLUMNS}""", kiosk_id, citizen_id, session_id, key, document_kind, document_id, copies)
    if row is not None:
        return row, True
    return await conn.fetchrow(f"SELECT {PRINT_COLUMNS} FROM kiosk_print_jobs WHERE kiosk_id = $1 "
                               "AND idempotency_key = $2", kiosk_id, key), False


async def print_job(conn: asyncpg.Connection, kiosk_id: uuid.UUID, job_id: uuid.UUID,
                    *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {PRINT_COLUMNS} FROM kiosk_print_jobs WHERE id = $1 AND kiosk_id = $2{lock}",
                               job_id, kiosk_id)


async def take_print_job(conn: asyncpg.Connection, kiosk_id: uuid.UUID) -> asyncpg.Record | None:
    """The oldest job waiting for this kiosk's printer whose resident is still signed in there, marked
    printing (one taker wins)."""
    return await conn.fetchrow(
        f"""UPDATE kiosk_print_jobs SET status = 'printing', waiting_reason = NULL, attempts = attempts + 1,
                                        updated_at = now()
            WHERE id = (SELECT j.id FROM kiosk_print_jobs j
                        JOIN kiosk_sessions s ON s.session_id = j.session_id AND s.ended_at IS NULL
                        WHERE j.kiosk_id = $1 AND j.status IN ('queued', 'waiting')
                        ORDER BY j.created_at LIMIT 1 FOR UPDATE OF j SKIP LOCKED)
            RETURNING {PRINT_COLUMNS}""", kiosk_id)


async def finish_print_job(conn: asyncpg.Connection, job_id: uuid.UUID, status: str,
                           waiting_reason: str | None) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""UPDATE kiosk_print_jobs SET status = $2, waiting_reason = $3, updated_at = now(),
                   printed_at = CASE WHEN $2 = 'printed' THEN now() END
            WHERE id = $1 RETURNING {PRINT_COLUMNS}""", job_id, status, waiting_reason)
