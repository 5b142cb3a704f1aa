"""SQL of face verification: enrolled references and photos retained for disputes."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

ENROLMENT_COLUMNS = """citizen_id, template_enc, model, source, quality, enrolled_by, enrolled_division,
                       enrolled_at, last_verified_at, last_verified_level"""


async def save_enrolment(conn: asyncpg.Connection, citizen_id: uuid.UUID, *, template_enc: bytes, model: str,
                         source: str, quality: dict[str, Any], staff_id: uuid.UUID, division: str) -> asyncpg.Record:
    """Insert or replace the citizen's reference; a replaced one forgets its verification history."""
    return await conn.fetchrow(
        f"""INSERT INTO face_enrolments (citizen_id, template_enc, model, source, quality, enrolled_by,
                                         enrolled_division)
            VALUES ($1, $2, $3, $4, $5, $6, $7)
            ON CONFLICT (citizen_id) DO UPDATE SET
                template_enc = EXCLUDED.template_enc, model = EXCLUDED.model, source = EXCLUDED.source,
                quality = EXCLUDED.quality, enrolled_by = EXCLUDED.enrolled_by,
                enrolled_division = EXCLUDED.enrolled_division, enrolled_at = now(),
                last_verified_at = NULL, last_verified_level = NULL
            RETURNING {ENROLMENT_COLUMNS}""",
        citizen_id, template_enc, model, source, quality, staff_id, division,
    )


async def save_kiosk_enrolment(conn: asyncpg.Connection, citizen_id: uuid.UUID, *, template_enc: bytes, model: str,
                               quality: dict[str, Any], kiosk_id: uuid.UUID) -> asyncpg.Record | None:
    """Insert a reference enrolled at a kiosk from the ID card's chip photo; None if one exists already
    (a kiosk never replaces a reference)."""
    return await conn.fetchrow(
        f"""INSERT INTO face_enrolments (citizen_id, template_enc, model, source, quality, enrolled_kiosk,
                                         enrolled_division)
            SELECT $1, $2, $3, 'kiosk_chip_photo', $4, k.id, k.division_code FROM kiosks k WHERE k.id = $5
            ON CONFLICT (citizen_id) DO NOTHING
            RETURNING {ENROLMENT_COLUMNS}""",
        citizen_id, template_enc, model, quality, kiosk_id,
    )


async def delete_enrolment(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> bool:
    status = await conn.execute("DELETE FROM face_enrolments WHERE citizen_id = $1", citizen_id)
    return status.endswith(" 1")


async def mark_verified(conn: asyncpg.Connection, citizen_id: uuid.UUID, level: str) -> None:
    await conn.execute(
        "UPDATE face_enrolments SET last_verified_at = now(), last_verified_level = $2 WHERE citizen_id = $1",
        citizen_id, level,
    )


async def retain_photos(conn: asyncpg.Connection, citizen_id: uuid.UUID, request_id: str | None, kind: str,
                        photos_enc: list[bytes], retain_until: dt.datetime) -> None:
    """Keep the photos, only while the citizen is enrolled (their consent stands): none of someone who
    never enrolled or has withdrawn — the enrolment row is locked against a withdrawal meanwhile."""
    await conn.execute(
        """INSERT INTO face_retained_photos (citizen_id, request_id, check_kind, frame, photo_enc, retain_until)
           SELECT $1, $2, $3, p.frame - 1, p.photo, $5
           FROM (SELECT 1 FROM face_enrolments WHERE citizen_id = $1 FOR KEY SHARE) AS enrolled,
                unnest($4::bytea[]) WITH ORDINALITY AS p (photo, frame)""",
        citizen_id, request_id, kind, photos_enc, retain_until)


async def purge_retained_photos(conn: asyncpg.Connection) -> int:
    status = await conn.execute("DELETE FROM face_retained_photos WHERE retain_until <= now()")
    return int(status.split()[-1])


async def citizen_with_enrolment(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record | None:
    """The citizen's id and home division with their enrolment columns (NULL when not enrolled)."""
    return await conn.fetchrow(
        """SELECT c.id, c.home_division, e.template_enc, e.model, e.source, e.enrolled_at,
                  e.last_verified_at, e.last_verified_level
           FROM citizens c LEFT JOIN face_enrolments e ON e.citizen_id = c.id WHERE c.id = $1""",
        citizen_id,
    )


async def delete_retained_photos(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> int:
    status = await conn.execute("DELETE FROM face_retained_photos WHERE citizen_id = $1", citizen_id)
    return int(status.split()[-1])


# -- attested installations and the captures behind step-ups ------------------------------------

INSTALLATION_COLUMNS = """id, citizen_id, kind, key_id, public_key, app_id, attested, counter, registered_at,
                          last_used_at, revoked_at, revoked_by, revocation_reason"""


async def add_installation(conn: asyncpg.Connection, installation_id: uuid.UUID, citizen_id: uuid.UUID, *,
                           kind: str, key_id: bytes, public_key: bytes, app_id: str,
                           attested: dict[str, Any]) -> asyncpg.Record | None:
    """The new installation, or None when this key is already registered."""
    return await conn.fetchrow(
        f"""INSERT INTO face_installations (id, citizen_id, kind, key_id, public_key, app_id, attested)
            VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (key_id) DO NOTHING
            RETURNING {INSTALLATION_COLUMNS}""",
        installation_id, citizen_id, kind, key_id, public_key, app_id, attested)


async def installation(conn: asyncpg.Connection, installation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {INSTALLATION_COLUMNS} FROM face_installations WHERE id = $1",
                               installation_id)


async def installations_of(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {INSTALLATION_COLUMNS} FROM face_installations WHERE citizen_id = $1 ORDER BY registered_at DESC",
        citizen_id)


async def revoke_installation(conn: asyncpg.Connection, installation_id: uuid.UUID, by: str,
                              reason: str) -> asyncpg.Record | None:
    """Revoke once; None when it was already revoked (or does not exist)."""
    return await conn.fetchrow(
        f"""UPDATE face_installations SET revoked_at = now(), revoked_by = $2, revocation_reason = $3
            WHERE id = $1 AND revoked_at IS NULL RETURNING {INSTALLATION_COLUMNS}""",
        installation_id, by, reason)


async def use_installation(conn: asyncpg.Connection, installation_id: uuid.UUID, counter: int | None) -> bool:
    """Mark a signed answer's use; with an App Attest counter, only if it rose (one of two racing
    answers with the same assertion wins). False when revoked meanwhile or the counter did not rise."""
    status = await conn.execute(
        """UPDATE face_installations SET last_used_at = now(), counter = COALESCE($2, counter)
           WHERE id = $1 AND revoked_at IS NULL AND ($2::bigint IS NULL OR counter < $2)""",
        installation_id, counter)
    return status.endswith(" 1")


async def record_session_capture(conn: asyncpg.Connection, session_id: uuid.UUID, level: str, capture: str,
                                 installation_id: uuid.UUID | None) -> None:
    await conn.execute(
        """INSERT INTO face_session_captures (session_id, level, capture, installation_id) VALUES ($1, $2, $3, $4)
           ON CONFLICT (session_id, level) DO UPDATE SET capture = EXCLUDED.capture,
               installation_id = EXCLUDED.installation_id, verified_at = now()""",
        session_id, level, capture, installation_id)


async def session_capture(conn: asyncpg.Connection, session_id: uuid.UUID, level: str) -> asyncpg.Record | None:
    """The capture behind the session's step-up to `level`, unless its installation was revoked since."""
    return await conn.fetchrow(
        """SELECT s.capture, s.installation_id, s.verified_at, i.revoked_at
           FROM face_session_captures s LEFT JOIN face_installations i ON i.id = s.installation_id
           WHERE s.session_id = $1 AND s.level = $2""",
        session_id, level)
