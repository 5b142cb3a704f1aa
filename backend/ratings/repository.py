"""SQL of ratings (好差评) and their follow-ups (`case_ratings`, `rating_follow_ups`, migration 024)."""

from __future__ import annotations

import uuid

import asyncpg

_FOLLOW_UP = """
    SELECT f.id, f.case_id, c.number AS case_number, c.item_code, c.item_name, c.handling_division,
           f.division_code AS division, r.score,
           r.comment, r.rated_at, f.state, f.note, f.opened_at, f.closed_at
      FROM rating_follow_ups f JOIN case_ratings r USING (case_id) JOIN cases c ON c.id = f.case_id"""


async def insert_rating(conn: asyncpg.Connection, case_id: uuid.UUID, citizen_id: uuid.UUID, score: int,
                        comment: str | None, handling_division: str) -> asyncpg.Record | None:
    """The new rating's time, or None when the case is rated already (the first rating stands)."""
    return await conn.fetchrow(
        """INSERT INTO case_ratings (case_id, citizen_id, score, comment, handling_division)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO NOTHING RETURNING rated_at""",
        case_id, citizen_id, score, comment, handling_division)


async def open_follow_up(conn: asyncpg.Connection, case_id: uuid.UUID, division: str) -> None:
    await conn.execute("INSERT INTO rating_follow_ups (case_id, division_code) VALUES ($1, $2)", case_id, division)


async def rating(conn: asyncpg.Connection, case_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT r.case_id, r.score, r.comment, r.rated_at, f.state AS follow_up
             FROM case_ratings r LEFT JOIN rating_follow_ups f USING (case_id) WHERE r.case_id = $1""", case_id)


async def follow_ups(conn: asyncpg.Connection, prefix: str, state: str | None, limit: int,
                     offset: int) -> tuple[list[asyncpg.Record], int]:
    """Follow-ups of divisions under `prefix`, open first and oldest first, with their total."""
    rows = await conn.fetch(
        f"""{_FOLLOW_UP} WHERE f.division_code LIKE $1 || '%' AND ($2::text IS NULL OR f.state = $2)
            ORDER BY f.state = 'closed', f.opened_at LIMIT $3 OFFSET $4""", prefix, state, limit, offset)
    total = await conn.fetchval(
        "SELECT count(*) FROM rating_follow_ups WHERE division_code LIKE $1 || '%' AND ($2::text IS NULL OR state = $2)",
        prefix, state)
    return rows, total


async def follow_up(conn: asyncpg.Connection, follow_up_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, case_id, division_code, state FROM rating_follow_ups WHERE id = $1"
        + (" FOR UPDATE" if for_update else ""), follow_up_id)


async def close_follow_up(conn: asyncpg.Connection, follow_up_id: uuid.UUID, note: str, closed_by: str) -> asyncpg.Record:
    """Close it with the note and answer it as supervisors see it."""
    await conn.execute(
        "UPDATE rating_follow_ups SET state = 'closed', note = $2, closed_by = $3, closed_at = now() WHERE id = $1",
        follow_up_id, note, closed_by)
    return await conn.fetchrow(f"{_FOLLOW_UP} WHERE f.id = $1", follow_up_id)
