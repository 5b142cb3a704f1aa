"""Baseline for a case transition: a bare Litestar + asyncpg + redis handler that writes the rows an
acceptance writes, in one transaction, without Tongban — decode the staff JWT, one Redis GET (the
revocation check), then lock the case, check it is submitted, set it accepted, add the timeline step,
the citizen's notification and text message, the event, a plain log row (no chain), read the timeline
back and answer with the case. Written the plain way: one statement per row. No scope, state table,
working days, signed records or view building. See bench/cases.py, which runs it beside the app.

Environment: DATABASE_URL, REDIS_URL, TONGBAN_JWT_SECRET (the app's), BENCH_POOL_MAX, BENCH_REDIS_PREFIX.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

from litestar import Litestar, Request, post
from litestar.exceptions import ClientException

from bench.bare_read_app import close, connect, signed_in, state

DEADLINE = dt.timedelta(days=28)


@post("/staff/cases/{case_id:uuid}/actions", status_code=200)
async def act(request: Request, case_id: uuid.UUID) -> dict[str, object]:
    claims = await signed_in(request)
    if (await request.json()).get("action") != "accept":
        raise ClientException("only accept")
    async with state["pool"].acquire() as conn, conn.transaction():  # type: ignore[attr-defined]
        case = await conn.fetchrow("SELECT * FROM cases WHERE id = $1 FOR UPDATE", case_id)
        if case is None or case["state"] != "submitted":
            raise ClientException("not a submitted case", status_code=409)
        now = dt.datetime.now(dt.UTC)
        case = await conn.fetchrow(
            """UPDATE cases SET state = 'accepted', version = version + 1, updated_at = now(), accepted_at = $2,
                   handover_seconds = $3, deadline = $4, calendar_estimated = false WHERE id = $1 RETURNING *""",
            case_id, now, int((now - case["created_at"]).total_seconds()), (now + DEADLINE).date())
        await conn.execute(
            """INSERT INTO case_events (case_id, action, from_state, to_state, division_code, actor_role, actor_ref,
                                        detail) VALUES ($1, 'accept', 'submitted', 'accepted', $2, $3, $4, $5)""",
            case_id, case["handling_division"], claims.get("role"), claims["sub"], "{}")
        text = f"您的办件 {case['number']}（{case['item_name']}）已由办理地受理。"
        await conn.execute(
            """INSERT INTO sms_outbox (phone_hash, phone_masked, body)
               SELECT phone_hash, phone_masked, $2 FROM citizens WHERE id = $1 AND phone_hash IS NOT NULL""",
            case["citizen_id"], text)
        await conn.execute(
            """INSERT INTO notifications (citizen_id, kind, title_zh, title_en, body_zh, body_en, subject_type,
                                          subject_id, sms)
               VALUES ($1, 'case.received', '办件已受理', 'Your application was accepted', $2, $3, 'case', $4, true)""",
            case["citizen_id"], text, f"Case {case['number']} was accepted.", str(case_id))
        await conn.execute(
            """INSERT INTO event_outbox (kind, subject_type, subject_id, division, payload)
               VALUES ('case.accepted', 'case', $1, $2, $3)""",
            str(case_id), case["handling_division"], json.dumps({"number": case["number"], "state": "accepted"}))
        await conn.execute(
            """INSERT INTO bench_reads (at, actor_kind, actor_id, action, record_type, record_id, division_code,
                                        request_id, detail) VALUES ($1, 'staff', $2, 'case.accept', 'case', $3, $4, $5, $6)""",
            now, claims["sub"], str(case_id), case["handling_division"], request.headers.get("x-request-id"),
            json.dumps({"number": case["number"], "from": "submitted", "to": "accepted"}))
        timeline = await conn.fetch("SELECT action, to_state, division_code, at FROM case_events WHERE case_id = $1 "
                                    "ORDER BY id", case_id)
    return {"id": str(case_id), "number": case["number"], "state": case["state"], "version": case["version"],
            "deadline": case["deadline"].isoformat(),
            "timeline": [{"action": t["action"], "state": t["to_state"], "division": t["division_code"],
                          "at": t["at"].isoformat()} for t in timeline]}


app = Litestar([act], on_startup=[connect], on_shutdown=[close])
