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
    await conn.executemany(
        """INSERT INTO face_retained_photos (citizen_id, request_id, check_kind, frame, photo_enc, retain_until)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        [(citizen_id, request_id, kind, frame, photo, retain_until) for frame, photo in enumerate(photos_enc)],
    )


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
