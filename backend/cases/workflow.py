"""The case state machine, applied: `case_transitions` is the table of (from, action, to, roles,
modes); `Workflow.transit` is the one function that moves a case along it. The table is read once per
process (a migration is the only thing that changes it). Who may touch a case at all (scope) is
decided here too, once: staff whose division contains the case's receiving or handling division, or
one of its coordination tasks' divisions; the applicant for their own case. Anyone else gets the same
answer as for a case that does not exist, and the refusal is audited."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, NamedTuple, Protocol

import asyncpg

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.cases import repository
from backend.db import Database
from backend.errors import Forbidden, InvalidTransition, OutsideDivision
from backend.events.service import EventService
from backend.identity import divisions
from backend.monitoring import metrics
from backend.notifications.schemas import Subject, Text
from backend.notifications.service import NotificationService
from backend.security.reach import reachable

# The division a staff role acts for on a case: the receiving place's officers receive and hand over,
# the handling place's officers accept, review and decide.
SIDE_OF_ROLE = {"receiving_officer": "receiving_division", "handling_officer": "handling_division"}
CASE_READERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})
NOT_FOUND = "no such case in your divisions"

# What the applicant is told, by action (kind, title, body); with SMS for the four moments the
# issue names (received, 补正 requested, decided, result ready) and for a refusal.
NOTICES: dict[str, tuple[str, Text, Text]] = {
    "receive": ("case.received", Text("办件已收件", "Your application was received"),
                Text("您的办件 {number}（{item}）已由收件地核验材料并收件。", "Case {number} ({item}): materials checked and received.")),
    "accept": ("case.received", Text("办件已受理", "Your application was accepted"),
               Text("您的办件 {number}（{item}）已由办理地受理。", "Case {number} ({item}) was accepted by the handling place.")),
    "refuse_receipt": ("case.refused", Text("办件不予收件", "Your application was not received"),
                       Text("您的办件 {number}（{item}）不予收件：{reasons}", "Case {number} ({item}) was not received: {reasons}")),
    "refuse": ("case.refused", Text("办件不予受理", "Your application was not accepted"),
               Text("您的办件 {number}（{item}）不予受理：{reasons}", "Case {number} ({item}) was not accepted: {reasons}")),
    "request_supplement": ("case.supplement_requested", Text("请补正材料", "Please supplement your materials"),
                           Text("您的办件 {number}（{item}）需要补正：{reasons}。请一次提交全部补正材料。",
                                "Case {number} ({item}) needs: {reasons}. Send all of it in one answer.")),
    "approve": ("case.decided", Text("办件准予办理", "Your application was approved"),
                Text("您的办件 {number}（{item}）已审批通过。", "Case {number} ({item}) was approved.")),
    "reject": ("case.decided", Text("办件不予办理", "Your application was rejected"),
               Text("您的办件 {number}（{item}）不予办理：{reasons}", "Case {number} ({item}) was rejected: {reasons}")),
    "deliver": ("case.result_ready", Text("办理结果已送达", "Your result is ready"),
                Text("您的办件 {number}（{item}）办理结果：{delivery}", "Case {number} ({item}) result: {delivery}")),
}


class Move(NamedTuple):
    """A row of the state table."""

    from_state: str
    action: str
    to_state: str
    roles: tuple[str, ...]
    modes: tuple[str, ...]


class StateTable:
    """`case_transitions`, held in memory."""

    def __init__(self, rows: Sequence[asyncpg.Record]) -> None:
        self.moves = [Move(r["from_state"], r["action"], r["to_state"], tuple(r["roles"]), tuple(r["modes"]))
                      for r in rows]
        self._by_step = {(m.from_state, m.action): m for m in self.moves}

    def move(self, state: str, action: str, mode: str) -> Move | None:
        move = self._by_step.get((state, action))
        return move if move is not None and mode in move.modes else None

    def actions_from(self, state: str, mode: str) -> list[Move]:
        return sorted((m for m in self.moves if m.from_state == state and mode in m.modes), key=lambda m: m.action)


def changes_hands(action: str, from_state: str) -> bool:
    """Whether the move takes the case, or its result, from one division to another or answers such a
    hand-over: what the signed exchange records cover (in proxy and joint cases)."""
    return (action in ("hand_over", "accept", "refuse", "send_result")
            or (action == "deliver" and from_state == "result_sent"))


class HandOverHook(Protocol):
    """Where the signed exchange records are written (`backend/cases/exchanges.py`): called for the moves
    that `changes_hands` names in proxy and joint cases, inside the transition's transaction, with the
    case as moved (and its materials, for `hand_over`)."""

    async def on_transition(self, conn: asyncpg.Connection, case: asyncpg.Record, event_id: int, action: str,
                            actor: Actor, materials: list[asyncpg.Record]) -> None: ...


def role_of(actor: Actor) -> str:
    return "citizen" if actor.kind == "citizen" else (actor.role or actor.kind)


def staff_scope(actor: Actor) -> str:
    if actor.kind == "system":
        return divisions.NATIONAL
    if actor.kind != "staff" or actor.role not in CASE_READERS:
        raise Forbidden("your role may not see cases")
    return actor.division or ""


def in_scope(scope: str, case: asyncpg.Record, task_divisions: list[str]) -> bool:
    return any(divisions.within(scope, code)
               for code in (case["receiving_division"], case["handling_division"], *task_divisions))


class Workflow:
    def __init__(self, db: Database, audit: AuditLog, notifications: NotificationService, events: EventService,
                 hand_over: HandOverHook | None = None) -> None:
        self.db, self.audit, self.notifications, self.events = db, audit, notifications, events
        self.hand_over = hand_over
        self._table: StateTable | None = None

    async def table(self, conn: asyncpg.Connection) -> StateTable:
        """The state table (read on first use)."""
        if self._table is None:
            self._table = StateTable(await repository.state_table(conn))
        return self._table

    # -- who may touch a case ---------------------------------------------------------------------------

    async def staff_case(self, conn: asyncpg.Connection, case_id: uuid.UUID, actor: Actor, *,
                         for_update: bool = False, refusal: str = "case.access_refused") -> asyncpg.Record:
        """The case, for staff in scope; `NotFound` alike for a missing case and one outside the caller's
        divisions, both refusals audited."""
        scope = staff_scope(actor)
        row = await repository.case(conn, case_id, for_update=for_update)
        # Only a 多地联办 case has coordination tasks, and they matter only when the case's own places are not in scope.
        tasks = ([t["division_code"] for t in await repository.tasks(conn, case_id)]
                 if row is not None and row["mode"] == "joint" and not in_scope(scope, row, []) else [])
        return await reachable(self.audit, self.db, actor, row, row is not None and in_scope(scope, row, tasks),
                               refused=refusal, record_type="case", record_id=str(case_id), missing=NOT_FOUND)

    async def citizen_case(self, conn: asyncpg.Connection, case_id: uuid.UUID, actor: Actor, *,
                           for_update: bool = False, refusal: str = "case.access_refused") -> asyncpg.Record:
        """The applicant's own case; someone else's looks like a missing one (both refusals audited)."""
        row = await repository.case(conn, case_id, for_update=for_update)
        return await reachable(self.audit, self.db, actor, row, row is not None and str(row["citizen_id"]) == actor.id,
                               refused=refusal, record_type="case", record_id=str(case_id),
                               missing="no such case among yours")

    async def allowed_actions(self, conn: asyncpg.Connection, case: asyncpg.Record, actor: Actor) -> list[str]:
        """The actions the caller may take on the case now (as the state table and their side say)."""
        role = role_of(actor)
        return [m.action for m in (await self.table(conn)).actions_from(case["state"], case["mode"])
                if role in m.roles and self._on_side(actor, case)]

    @staticmethod
    def _on_side(actor: Actor, case: asyncpg.Record) -> bool:
        side = SIDE_OF_ROLE.get(actor.role or "") if actor.kind == "staff" else None
        return side is None or divisions.within(actor.division or "", case[side])

    async def check(self, conn: asyncpg.Connection, case: asyncpg.Record, action: str, actor: Actor) -> Move:
        """The state table's move for `action` from the case's state: 409 `invalid-transition` (naming the
        actions the caller may take) when there is none, 403 when the caller's role or side may not."""
        move = (await self.table(conn)).move(case["state"], action, case["mode"])
        if move is None:
            allowed = await self.allowed_actions(conn, case, actor)
            raise InvalidTransition(f"a {case['mode']} case that is {case['state']} cannot take the action {action}",
                                    state=case["state"], allowed=allowed)
        if role_of(actor) not in move.roles and actor.kind != "system":
            raise Forbidden(f"{action} is for: {', '.join(move.roles)}")
        if not self._on_side(actor, case):
            side = SIDE_OF_ROLE[actor.role or ""]
            raise OutsideDivision(f"{action} is for the {side.replace('_', ' ')} ({case[side]}), outside your division")
        return move

    # -- the one function that moves a case --------------------------------------------------------------

    async def transit(
        self, conn: asyncpg.Connection, case: asyncpg.Record, action: str, actor: Actor, *,
        changes: dict[str, Any] | None = None, detail: dict[str, Any] | None = None,
        before_audit: Callable[[asyncpg.Record, int], Awaitable[None]] | None = None,
        notice: dict[str, str] | None = None,
    ) -> asyncpg.Record:
        """Move the (locked) case along `action`: 409 when the state table has no such move from its
        state in its mode, 403 when the caller's role or side may not make it. Writes the new state, the
        timeline event, the exchange record (for the moves `changes_hands` names), the event for other
        systems, the citizen's notification and the audit entry, all in the caller's transaction."""
        move = await self.check(conn, case, action, actor)
        division = self.acting_division(actor, case)
        updated = await repository.move(conn, case["id"], action, case["state"], move.to_state, changes or {},
                                        (division, role_of(actor), who(actor), detail or {}))
        if self.hand_over is not None and case["mode"] != "online" and changes_hands(action, case["state"]):
            materials = await repository.materials(conn, case["id"]) if action == "hand_over" else []
            await self.hand_over.on_transition(conn, updated, updated["event_id"], action, actor, materials)
        if before_audit is not None:
            await before_audit(updated, updated["event_id"])
        await self._notify(conn, updated, action, notice or {})
        await self.events.publish(conn, kind=f"case.{move.to_state}", subject_type="case",
                                  subject_id=str(case["id"]), division=updated["handling_division"],
                                  payload={"number": updated["number"], "item_code": updated["item_code"],
                                           "mode": updated["mode"], "action": action, "state": move.to_state})
        await self.audit.record(conn, actor, f"case.{action}", "case", str(case["id"]), division=division,
                                detail={"number": case["number"], "from": case["state"], "to": move.to_state,
                                        **(detail or {})})
        metrics.case_transition(action)
        return updated

    @staticmethod
    def acting_division(actor: Actor, case: asyncpg.Record) -> str | None:
        """The division a step is shown at: the citizen acts at the receiving place; staff at their side's
        division (or their own, for a task)."""
        if actor.kind == "citizen":
            return case["receiving_division"]
        side = SIDE_OF_ROLE.get(actor.role or "")
        if side is not None and divisions.within(actor.division or "", case[side]):
            return case[side]
        return actor.division if actor.division and actor.division != divisions.NATIONAL else None

    async def _notify(self, conn: asyncpg.Connection, case: asyncpg.Record, action: str, values: dict[str, str]) -> None:
        if action not in NOTICES:
            return
        kind, title, body = NOTICES[action]
        fill = {"number": case["number"], "item": case["item_name"], "reasons": "；".join(case["decision_reasons"] or []),
                "delivery": "", **values}
        await self.notifications.notify(conn, case["citizen_id"], kind, title=title,
                                        body=Text(body.zh.format(**fill), body.en.format(**fill)),
                                        subject=Subject("case", str(case["id"])), sms=True)


def seconds_between(start: dt.datetime | None, end: dt.datetime) -> int | None:
    return None if start is None else max(0, int((end - start).total_seconds()))
