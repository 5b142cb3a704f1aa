"""Records a caller may not reach look exactly like records that do not exist.

A 403 for a record outside the caller's division and a 404 for a missing one would tell any staff
member anywhere whether, say, a resident ID is registered. So both get the same 404 with the same
body, and both are audited as a refusal (with the reason, for the auditors' eyes only), in a
transaction of their own that the refusal's rollback cannot undo."""

from __future__ import annotations

from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import NotFound


async def reachable(
    audit: AuditLog, db: Database, actor: Actor, row: asyncpg.Record | None, reaches: bool, *,
    refused: str, record_type: str, record_id: str | None, missing: str, division: str | None = None,
    detail: dict[str, Any] | None = None,
) -> asyncpg.Record:
    """`row` if it exists and `reaches` (the caller's scope covers it); otherwise `NotFound(missing)`,
    the same either way, after auditing `refused` against `record_id` (the id asked for)."""
    if row is not None and reaches:
        return row
    reason = "missing" if row is None else "out-of-reach"
    await audit.record_refusal(db, actor, refused, record_type, record_id, division=division or actor.division,
                               detail={**(detail or {}), "reason": reason})
    raise NotFound(missing)
