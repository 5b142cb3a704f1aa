"""SQL of cross-province cases: the case row and its state table, timeline, materials, 补正 requests,
liaison messages, coordination tasks and result authorities."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg

from backend.db import carried

CASE_COLUMNS = """c.id, c.number, c.item_code, c.item_name, c.mode, c.citizen_id, c.receiving_division,
    c.handling_division, c.state, c.form_enc, c.form_digest, c.form_schema_source, c.result_kind,
    c.e_certificate_type, c.supplement_count, c.time_limit_days, c.deadline, c.calendar_estimated, c.paused_since,
    c.decision, c.decision_reasons, c.decided_at, c.certificate_id, c.delivery, c.handover_seconds,
    c.review_seconds, c.delivery_seconds, c.received_at, c.accepted_at, c.version, c.created_at, c.updated_at"""
# Columns a transition may set besides the state.
_UPDATABLE = frozenset({
    "supplement_count", "deadline", "calendar_estimated", "paused_since", "decision", "decision_reasons",
    "decided_at", "certificate_id", "delivery", "handover_seconds", "review_seconds", "delivery_seconds",
    "received_at", "accepted_at",
})

# The child rows of a case, as `details` reads them (a jsonb column travels as text, decoded here).
EVENT_FIELDS = ("id", "action", "from_state", "to_state", "division_code", "actor_role", "detail", "at")
MATERIAL_FIELDS = ("id", "name", "material_id", "certificate_id", "digest", "state", "supplement_request_id",
                   "created_at")
REQUEST_FIELDS = ("id", "round", "items", "requested_at", "answered_at")
MESSAGE_FIELDS = ("id", "division_code", "actor_role", "body", "created_at")
TASK_FIELDS = ("id", "division_code", "state", "request", "note", "opened_at", "done_at")
DATA_REQUEST_FIELDS = ("id", "provider_id", "purpose", "state", "requester_division", "created_at")
_JSON_FIELDS = frozenset({"detail", "items"})


def _record(fields: Sequence[str]) -> str:
    """A row of `fields` as an anonymous record (asyncpg decodes it with each column's own type)."""
    return "(" + ", ".join(f"{f}::text" if f in _JSON_FIELDS else f for f in fields) + ")"


def _rows(fields: Sequence[str], records: Sequence[tuple[Any, ...]]) -> list[dict[str, Any]]:
    rows = [dict(zip(fields, r, strict=True)) for r in records]
    for row in rows:
        for name in _JSON_FIELDS.intersection(row):
            row[name] = json.loads(row[name])
    return rows


class CaseDetails(NamedTuple):
    """What a case view shows besides the case row; the staff-only parts are empty for the applicant."""

    events: list[dict[str, Any]]
    materials: list[dict[str, Any]]
    supplement_requests: list[dict[str, Any]]
    messages: list[dict[str, Any]] = []
    tasks: list[dict[str, Any]] = []
    data_requests: list[dict[str, Any]] = []
    applicant: dict[str, Any] | None = None


# -- the state table ---------------------------------------------------------------------------------

async def state_table(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT from_state, action, to_state, roles, modes FROM case_transitions ORDER BY from_state, action")


# -- cases --------------------------------------------------------------------------------------------

async def insert_case(conn: asyncpg.Connection, number_prefix: str, values: dict[str, Any],
                      materials: Sequence[tuple[Any, ...]], event: tuple[str | None, str, str]) -> tuple[asyncpg.Record, CaseDetails]:
    """A new case, its number `<number_prefix>-<national serial, at least 6 digits>`, its materials
    (rows of name, material id, certificate id, digest) and its first timeline step `event` (division,
    actor role, actor) in one statement."""
    names = list(values)
    given = list(zip(*materials, strict=True)) if materials else [[], [], [], []]
    n = len(names)
    row = await conn.fetchrow(
        f"""WITH serial AS (SELECT nextval('case_number_seq')::text AS s),
            c AS (
                INSERT INTO cases AS c (number, {", ".join(names)})
                SELECT ${n + 1} || '-' || lpad(s, greatest(6, length(s)), '0'), {", ".join(f"${i + 1}" for i in range(n))}
                FROM serial
                RETURNING {CASE_COLUMNS}),
            m AS (
                INSERT INTO case_materials (case_id, name, material_id, certificate_id, digest)
                SELECT c.id, g.name, g.material_id, g.certificate_id, g.digest
                FROM c, unnest(${n + 2}::text[], ${n + 3}::uuid[], ${n + 4}::uuid[], ${n + 5}::bytea[])
                        AS g (name, material_id, certificate_id, digest)
                RETURNING {", ".join(MATERIAL_FIELDS)}),
            e AS (
                INSERT INTO case_events (case_id, action, from_state, to_state, division_code, actor_role, actor_ref)
                SELECT c.id, 'apply', NULL, c.state, ${n + 6}, ${n + 7}, ${n + 8} FROM c
                RETURNING {", ".join(EVENT_FIELDS)})
            SELECT c.*, ARRAY(SELECT {_record(MATERIAL_FIELDS)} FROM m ORDER BY m.name) AS given_materials,
                   ARRAY(SELECT {_record(EVENT_FIELDS)} FROM e) AS first_events
            FROM c""",
        *values.values(), number_prefix, *map(list, given), *event)
    return row, CaseDetails(_rows(EVENT_FIELDS, row["first_events"]), _rows(MATERIAL_FIELDS, row["given_materials"]), [])


async def case(conn: asyncpg.Connection, case_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = "FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {CASE_COLUMNS} FROM cases c WHERE c.id = $1 {lock}", case_id)


async def case_id_by_number(conn: asyncpg.Connection, number: str) -> uuid.UUID | None:
    """The id of the case with this national number."""
    return await conn.fetchval("SELECT id FROM cases WHERE number = $1", number)


async def move(conn: asyncpg.Connection, case_id: uuid.UUID, action: str, from_state: str, to_state: str,
               changes: dict[str, Any], event: tuple[str | None, str, str, dict[str, Any]]) -> asyncpg.Record:
    """Set the case's state (and the other columns a transition changes), bump its version and add the
    timeline step `event` (division, actor role, actor, detail), in one statement; the case row comes
    back with the step's id as `event_id`."""
    unknown = set(changes) - _UPDATABLE
    if unknown:
        raise ValueError(f"a transition cannot set {sorted(unknown)}")
    names = list(changes)
    sets = "".join(f", {name} = ${i + 9}" for i, name in enumerate(names))
    return await conn.fetchrow(
        f"""WITH c AS (
                UPDATE cases AS c SET state = $4, version = version + 1, updated_at = now(){sets}
                WHERE c.id = $1 RETURNING {CASE_COLUMNS}),
            e AS (
                INSERT INTO case_events (case_id, action, from_state, to_state, division_code, actor_role, actor_ref, detail)
                SELECT c.id, $2, $3, c.state, $5, $6, $7, $8 FROM c RETURNING id)
            SELECT c.*, e.id AS event_id FROM c, e""",
        case_id, action, from_state, to_state, *event, *changes.values())


async def set_certificate(conn: asyncpg.Connection, case_id: uuid.UUID, certificate_id: uuid.UUID) -> asyncpg.Record:
    return await conn.fetchrow(f"UPDATE cases c SET certificate_id = $2 WHERE c.id = $1 RETURNING {CASE_COLUMNS}",
                               case_id, certificate_id)


async def citizen_cases(conn: asyncpg.Connection, citizen_id: uuid.UUID, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {CASE_COLUMNS} FROM cases c WHERE c.citizen_id = $1
            ORDER BY c.created_at DESC, c.id LIMIT $2 OFFSET $3""", citizen_id, limit, offset)


async def citizen_case_count(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> int:
    return await conn.fetchval("SELECT count(*) FROM cases WHERE citizen_id = $1", citizen_id)


async def staff_cases(conn: asyncpg.Connection, prefix: str, states: Sequence[str] | None, limit: int,
                      offset: int) -> tuple[list[asyncpg.Record], int]:
    """Cases whose receiving or handling division, or a coordination task's, lies under `prefix`."""
    where = """(c.receiving_division LIKE $1 || '%' OR c.handling_division LIKE $1 || '%'
                OR EXISTS (SELECT 1 FROM case_coordination_tasks t
                           WHERE t.case_id = c.id AND t.division_code LIKE $1 || '%'))
               AND ($2::text[] IS NULL OR c.state = ANY ($2))"""
    rows = await conn.fetch(
        # Newest first, by when the case was made: a case acted on meanwhile does not move between pages.
        f"SELECT {CASE_COLUMNS} FROM cases c WHERE {where} ORDER BY c.created_at DESC, c.id LIMIT $3 OFFSET $4",
        prefix, list(states) if states else None, limit, offset)
    total = await conn.fetchval(f"SELECT count(*) FROM cases c WHERE {where}", prefix,
                                list(states) if states else None)
    return rows, total



async def due_cases(conn: asyncpg.Connection, prefix: str, until: dt.date) -> list[asyncpg.Record]:
    """Cases handled under `prefix` whose clock runs and whose deadline falls on or before `until`."""
    return await conn.fetch(
        f"""SELECT {CASE_COLUMNS} FROM cases c
            WHERE c.handling_division LIKE $1 || '%' AND c.deadline <= $2 AND c.paused_since IS NULL
              AND c.state IN ('accepted', 'in_review', 'supplemented')
            ORDER BY c.deadline, c.number""", prefix, until)


# -- timeline -----------------------------------------------------------------------------------------

async def insert_event(conn: asyncpg.Connection, case_id: uuid.UUID, action: str, from_state: str | None,
                       to_state: str, division: str | None, role: str, actor_ref: str,
                       detail: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO case_events (case_id, action, from_state, to_state, division_code, actor_role, actor_ref, detail)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id, at""",
        case_id, action, from_state, to_state, division, role, actor_ref, detail)


async def details(conn: asyncpg.Connection, case_id: uuid.UUID, *, staff_prefix: str | None = None) -> CaseDetails:
    """The case's timeline, materials and 补正 requests — and, for staff (`staff_prefix`: the division-code
    prefix of their scope, `divisions.scope_prefix`), its liaison messages, coordination tasks, applicant and
    the data requests divisions in their scope made for it — in one round trip, which carries the writes
    waiting in the transaction (the change's notification, text message and event: nothing this view shows)."""
    staff_parts = f""",
        ARRAY(SELECT {_record(MESSAGE_FIELDS)} FROM case_messages WHERE case_id = $1 ORDER BY created_at, id) AS messages,
        ARRAY(SELECT {_record(TASK_FIELDS)} FROM case_coordination_tasks WHERE case_id = $1
              ORDER BY opened_at, division_code) AS tasks,
        ARRAY(SELECT {_record(DATA_REQUEST_FIELDS)} FROM data_requests
              WHERE case_id = $1 AND starts_with(requester_division, $2) ORDER BY created_at, id) AS data_requests,
        (SELECT (name, resident_id_masked) FROM citizens WHERE id = (SELECT citizen_id FROM cases WHERE id = $1))
            AS applicant""" if staff_prefix is not None else ""
    row = await carried(
        conn, "fetchrow",
        f"""SELECT
            ARRAY(SELECT {_record(EVENT_FIELDS)} FROM case_events WHERE case_id = $1 ORDER BY id) AS events,
            ARRAY(SELECT {_record(MATERIAL_FIELDS)} FROM case_materials WHERE case_id = $1 ORDER BY created_at, name)
                AS materials,
            ARRAY(SELECT {_record(REQUEST_FIELDS)} FROM case_supplement_requests WHERE case_id = $1 ORDER BY round)
                AS supplement_requests{staff_parts}""", case_id, *([staff_prefix] if staff_prefix is not None else []))
    found = CaseDetails(_rows(EVENT_FIELDS, row["events"]), _rows(MATERIAL_FIELDS, row["materials"]),
                        _rows(REQUEST_FIELDS, row["supplement_requests"]))
    if staff_prefix is None:
        return found
    applicant = row["applicant"]
    return found._replace(messages=_rows(MESSAGE_FIELDS, row["messages"]), tasks=_rows(TASK_FIELDS, row["tasks"]),
                          data_requests=_rows(DATA_REQUEST_FIELDS, row["data_requests"]),
                          applicant={"name": applicant[0], "resident_id_masked": applicant[1]} if applicant else None)


# -- materials ----------------------------------------------------------------------------------------

async def insert_materials(conn: asyncpg.Connection, case_id: uuid.UUID, rows: Sequence[tuple[Any, ...]],
                           supplement_request_id: uuid.UUID | None = None) -> None:
    """Rows of (name, material_id, certificate_id, digest)."""
    if rows:
        await conn.executemany(
            """INSERT INTO case_materials (case_id, name, material_id, certificate_id, digest, supplement_request_id)
               VALUES ($1, $2, $3, $4, $5, $6)""",
            [(case_id, *row, supplement_request_id) for row in rows])


async def materials(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, name, material_id, certificate_id, digest, state, supplement_request_id, created_at
           FROM case_materials WHERE case_id = $1 ORDER BY created_at, name""", case_id)


async def set_material_states(conn: asyncpg.Connection, case_id: uuid.UUID, names: Sequence[str], state: str,
                              *, among: str = "submitted") -> None:
    await conn.execute(
        "UPDATE case_materials SET state = $3 WHERE case_id = $1 AND name = ANY ($2) AND state = $4",
        case_id, list(names), state, among)


async def accept_materials_except(conn: asyncpg.Connection, case_id: uuid.UUID, names: Sequence[str]) -> None:
    await conn.execute(
        "UPDATE case_materials SET state = 'accepted' WHERE case_id = $1 AND state = 'submitted' AND NOT name = ANY ($2)",
        case_id, list(names))


async def case_material(conn: asyncpg.Connection, case_id: uuid.UUID, case_material_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, name, material_id, certificate_id, digest, state FROM case_materials WHERE case_id = $1 AND id = $2",
        case_id, case_material_id)


# -- 补正 -----------------------------------------------------------------------------------------------

async def insert_supplement_request(conn: asyncpg.Connection, case_id: uuid.UUID, round_: int, items: list[dict[str, str]],
                                    division: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO case_supplement_requests (case_id, round, items, division_code) VALUES ($1, $2, $3, $4)
           RETURNING id, round, items, requested_at, answered_at""", case_id, round_, items, division)


async def supplement_requests(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, round, items, requested_at, answered_at FROM case_supplement_requests
           WHERE case_id = $1 ORDER BY round""", case_id)


async def answer_supplement_request(conn: asyncpg.Connection, request_id: uuid.UUID) -> None:
    await conn.execute("UPDATE case_supplement_requests SET answered_at = now() WHERE id = $1", request_id)


# -- liaison and coordination -------------------------------------------------------------------------

async def insert_message(conn: asyncpg.Connection, case_id: uuid.UUID, division: str, role: str, actor_ref: str,
                         body: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO case_messages (case_id, division_code, actor_role, actor_ref, body) VALUES ($1, $2, $3, $4, $5)
           RETURNING id, division_code, actor_role, body, created_at""", case_id, division, role, actor_ref, body)



async def insert_tasks(conn: asyncpg.Connection, case_id: uuid.UUID, divisions: Sequence[str], request: str | None) -> None:
    await conn.executemany(
        "INSERT INTO case_coordination_tasks (case_id, division_code, request) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
        [(case_id, d, request) for d in divisions])


async def tasks(conn: asyncpg.Connection, case_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, division_code, state, request, note, opened_at, done_at FROM case_coordination_tasks
           WHERE case_id = $1 ORDER BY opened_at, division_code""", case_id)


async def complete_task(conn: asyncpg.Connection, case_id: uuid.UUID, task_id: uuid.UUID, note: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE case_coordination_tasks SET state = 'done', note = $3, done_at = now()
           WHERE case_id = $1 AND id = $2 AND state = 'open'
           RETURNING id, division_code, state, request, note, opened_at, done_at""", case_id, task_id, note)


async def cancel_open_tasks(conn: asyncpg.Connection, case_id: uuid.UUID) -> None:
    """The case ended before its decision: its open coordination tasks end with it."""
    await conn.execute("""UPDATE case_coordination_tasks SET state = 'cancelled', done_at = now()
                          WHERE case_id = $1 AND state = 'open'""", case_id)


# -- result authorities --------------------------------------------------------------------------------

async def result_authority(conn: asyncpg.Connection, item_code: str, handling_division: str) -> str | None:
    """The authority of the most specific mapped division containing `handling_division`."""
    return await conn.fetchval(
        """SELECT authority_id FROM case_result_authorities
           WHERE item_code = $1 AND division_code IN ($2::text, left($2::text, 4) || '00', left($2::text, 2) || '0000', '000000')
           ORDER BY length(rtrim(division_code, '0')) DESC LIMIT 1""",
        item_code, handling_division)


async def put_result_authority(conn: asyncpg.Connection, item_code: str, division: str, authority_id: str) -> None:
    await conn.execute(
        """INSERT INTO case_result_authorities (item_code, division_code, authority_id) VALUES ($1, $2, $3)
           ON CONFLICT (item_code, division_code) DO UPDATE SET authority_id = excluded.authority_id""",
        item_code, division, authority_id)
