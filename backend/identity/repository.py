"""SQL of citizens, staff, sessions and refresh tokens."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.db import Write

CITIZEN_COLUMNS = "id, name, resident_id_masked, phone_masked, home_division, birth_date"


async def insert_citizen(conn: asyncpg.Connection, **values: object) -> asyncpg.Record | None:
    """Insert a citizen; None when the resident ID or phone is already registered."""
    return await conn.fetchrow(
        f"""INSERT INTO citizens (resident_id_enc, resident_id_hash, resident_id_masked, name,
                                  phone_enc, phone_hash, phone_masked, home_division, birth_date)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT DO NOTHING RETURNING {CITIZEN_COLUMNS}""",
        values["resident_id_enc"], values["resident_id_hash"], values["resident_id_masked"],
        values["name"], values["phone_enc"], values["phone_hash"], values["phone_masked"],
        values["home_division"], values["birth_date"],
    )


async def citizen_by(conn: asyncpg.Connection, column: str, value: object) -> asyncpg.Record | None:
    assert column in ("id", "phone_hash", "resident_id_hash")
    return await conn.fetchrow(f"SELECT {CITIZEN_COLUMNS} FROM citizens WHERE {column} = $1", value)


async def update_citizen_phone(
    conn: asyncpg.Connection, citizen_id: uuid.UUID, phone_enc: bytes, phone_hash: bytes, masked: str
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE citizens SET phone_enc = $2, phone_hash = $3, phone_masked = $4, updated_at = now()
            WHERE id = $1 RETURNING {CITIZEN_COLUMNS}""",
        citizen_id, phone_enc, phone_hash, masked,
    )


async def phone_taken(conn: asyncpg.Connection, phone_hash: bytes) -> bool:
    return bool(await conn.fetchval("SELECT 1 FROM citizens WHERE phone_hash = $1", phone_hash))


async def insert_staff(conn: asyncpg.Connection, **values: object) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """INSERT INTO staff (username, display_name, password_hash, role, division_code)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING
           RETURNING id, username, display_name, role, division_code, active""",
        values["username"], values["display_name"], values["password_hash"], values["role"],
        values["division_code"],
    )


async def staff_by_username(conn: asyncpg.Connection, username: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, username, password_hash, role, division_code, active FROM staff WHERE username = $1",
        username,
    )


async def staff_by_id(conn: asyncpg.Connection, staff_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, username, display_name, role, division_code, active FROM staff WHERE id = $1", staff_id
    )


async def insert_session(
    conn: asyncpg.Connection, kind: str, principal_id: uuid.UUID, level: str
) -> uuid.UUID:
    return await conn.fetchval(
        """INSERT INTO auth_sessions (principal_kind, principal_id, assurance_level, elevated_at)
           VALUES ($1, $2, $3, CASE WHEN $3 = 'L1' THEN NULL ELSE now() END) RETURNING id""",
        kind, principal_id, level,
    )


async def insert_refresh_token(
    conn: asyncpg.Connection, token_hash: bytes, session_id: uuid.UUID, expires_at: dt.datetime
) -> None:
    await conn.execute(
        "INSERT INTO refresh_tokens (token_hash, session_id, expires_at) VALUES ($1, $2, $3)",
        token_hash, session_id, expires_at,
    )


async def take_refresh_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """The token with its session, row-locked so two refreshes with one token cannot both win."""
    return await conn.fetchrow(
        """SELECT t.session_id, t.expires_at, t.used_at, s.principal_kind, s.principal_id,
                  s.assurance_level, s.elevated_at, s.revoked_at
           FROM refresh_tokens t JOIN auth_sessions s ON s.id = t.session_id
           WHERE t.token_hash = $1 FOR UPDATE OF t, s""",
        token_hash,
    )


async def mark_refresh_token_used(conn: asyncpg.Connection, token_hash: bytes) -> None:
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE token_hash = $1", token_hash)


async def disable_staff(conn: asyncpg.Connection, staff_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(
        """UPDATE staff SET active = false WHERE id = $1
           RETURNING id, username, display_name, role, division_code, active""", staff_id)


async def revoke_sessions_of(conn: asyncpg.Connection, kind: str, principal_id: uuid.UUID,
                             reason: str) -> list[uuid.UUID]:
    """Revoke every open session of a principal; the ids of those revoked now."""
    rows = await conn.fetch(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $3
           WHERE principal_kind = $1 AND principal_id = $2 AND revoked_at IS NULL RETURNING id""",
        kind, principal_id, reason)
    return [row["id"] for row in rows]


async def revoke_session(conn: asyncpg.Connection, session_id: uuid.UUID, reason: str) -> bool:
    status = await conn.execute(
        """UPDATE auth_sessions SET revoked_at = now(), revoked_reason = $2
           WHERE id = $1 AND revoked_at IS NULL""",
        session_id, reason,
    )
    return status.endswith(" 1")


async def elevate_session(conn: asyncpg.Connection, session_id: uuid.UUID, level: str,
                         window_seconds: int) -> asyncpg.Record | None:
    """Raise the session to `level`, unless it holds a higher level still inside its step-up window.

    Levels compare as text ('L1' < 'L2' < 'L3'); SET expressions read the row as it was.
    """
    return await conn.fetchrow(
        """UPDATE auth_sessions SET
               assurance_level = CASE WHEN assurance_level > $2
                                       AND elevated_at > now() - make_interval(secs => $3)
                                      THEN assurance_level ELSE $2 END,
               elevated_at = CASE WHEN assurance_level > $2
                                   AND elevated_at > now() - make_interval(secs => $3)
                                  THEN elevated_at ELSE now() END
           WHERE id = $1 AND revoked_at IS NULL
           RETURNING id, principal_kind, principal_id, assurance_level""",
        session_id, level, float(window_seconds),
    )


async def retire_refresh_tokens(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    """Mark the session's unused refresh tokens used: presenting one later counts as reuse."""
    await conn.execute("UPDATE refresh_tokens SET used_at = now() WHERE session_id = $1 AND used_at IS NULL",
                       session_id)


async def insert_sms(conn: asyncpg.Connection, phone_hash: bytes, phone_masked: str, body: str) -> None:
    await conn.execute(
        "INSERT INTO sms_outbox (phone_hash, phone_masked, body) VALUES ($1, $2, $3)",
        phone_hash, phone_masked, body,
    )


def sms_to_citizen(citizen_id: uuid.UUID, body: str, *, name: str) -> Write:
    """Queue a text message to the citizen's phone on record: a row, or none for a resident without a
    phone (signed in with an ID card at a kiosk)."""
    return Write("""INSERT INTO sms_outbox (phone_hash, phone_masked, body)
                    SELECT phone_hash, phone_masked, $2 FROM citizens WHERE id = $1 AND phone_hash IS NOT NULL
                    RETURNING id""", (citizen_id, body), name)
