"""好差评: the applicant rates a case (1–5, with a comment) once its result is out — decided and
delivered, rejected, refused, or closed. A rating of 1 or 2 opens a follow-up for the supervisors of the
handling division (and of the divisions above it), who close it with a note of what was done.

Who may rate is the case's own rule (`Workflow.citizen_case`: someone else's case looks missing);
supervisors see follow-ups only within their division, and one outside it looks missing too."""

from __future__ import annotations

import uuid

import asyncpg

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.cases.workflow import Workflow
from backend.db import Database
from backend.errors import AlreadyRated, Forbidden, InvalidTransition, NotFound, RatingNotOpen
from backend.identity import divisions
from backend.monitoring import metrics
from backend.ratings.schemas import FollowUpClosure, FollowUpPage, FollowUpState, FollowUpView, RatingCreate, RatingView

# States in which the case's result is out (or the case ended without one the applicant asked for).
RATEABLE_STATES = frozenset({"delivered", "rejected", "refused", "closed"})
POOR = 2  # a score at or below opens a follow-up
FOLLOW_UP_ROLES = frozenset({"supervisor"})
NO_FOLLOW_UP = "no such follow-up in your divisions"

_FOLLOW_UP = """
    SELECT f.id, f.case_id, c.number AS case_number, c.item_code, c.item_name, c.handling_division, r.score,
           r.comment, r.rated_at, f.state, f.note, f.opened_at, f.closed_at
      FROM rating_follow_ups f JOIN case_ratings r USING (case_id) JOIN cases c ON c.id = f.case_id"""


class RatingService:
    def __init__(self, db: Database, audit: AuditLog, workflow: Workflow) -> None:
        self.db, self.audit, self.workflow = db, audit, workflow

    async def rate(self, case_id: uuid.UUID, form: RatingCreate, actor: Actor) -> RatingView:
        """Rate one of my cases, once, after its result."""
        async with self.db.transaction() as conn:
            case = await self.workflow.citizen_case(conn, case_id, actor, for_update=True,
                                                    refusal="case.rating_refused")
            if case["state"] not in RATEABLE_STATES:
                raise RatingNotOpen(f"the case is {case['state']}; it can be rated once its result is out",
                                    state=case["state"])
            row = await conn.fetchrow(
                """INSERT INTO case_ratings (case_id, citizen_id, score, comment, handling_division)
                   VALUES ($1, $2, $3, $4, $5) ON CONFLICT (case_id) DO NOTHING RETURNING rated_at""",
                case_id, case["citizen_id"], form.score, form.comment, case["handling_division"])
            if row is None:
                raise AlreadyRated("you have rated this case already")
            follow_up = None
            if form.score <= POOR:
                await conn.execute("INSERT INTO rating_follow_ups (case_id, division_code) VALUES ($1, $2)",
                                   case_id, case["handling_division"])
                follow_up = "open"
            await self.audit.record(conn, actor, "case.rated", "case", str(case_id),
                                    division=case["handling_division"],
                                    detail={"score": form.score, "follow_up": follow_up is not None})
        metrics.case_rated(form.score)
        return RatingView(case_id, form.score, form.comment, row["rated_at"], follow_up)  # type: ignore[arg-type]

    async def my_rating(self, case_id: uuid.UUID, actor: Actor) -> RatingView:
        async with self.db.transaction() as conn:
            await self.workflow.citizen_case(conn, case_id, actor)
            row = await conn.fetchrow(
                """SELECT r.case_id, r.score, r.comment, r.rated_at, f.state AS follow_up
                     FROM case_ratings r LEFT JOIN rating_follow_ups f USING (case_id) WHERE r.case_id = $1""",
                case_id)
        if row is None:
            raise NotFound("the case is not rated")
        return RatingView(**dict(row))

    async def follow_ups(self, actor: Actor, *, state: FollowUpState | None = None, limit: int = 50,
                         offset: int = 0) -> FollowUpPage:
        """Follow-ups of poor ratings in the supervisor's divisions, oldest open first. Audited (the
        comments are the applicants' own words)."""
        prefix = divisions.scope_prefix(_supervisor_scope(actor)) + "%"
        async with self.db.connection() as conn:
            rows = await conn.fetch(
                f"""{_FOLLOW_UP} WHERE f.division_code LIKE $1 AND ($2::text IS NULL OR f.state = $2)
                    ORDER BY f.state = 'closed', f.opened_at LIMIT $3 OFFSET $4""", prefix, state, limit, offset)
            total = await conn.fetchval(
                "SELECT count(*) FROM rating_follow_ups WHERE division_code LIKE $1 AND ($2::text IS NULL OR state = $2)",
                prefix, state)
        await self.audit.record_read(actor, "rating_follow_up.listed", "rating_follow_up", None,
                                     division=actor.division, detail={"state": state, "shown": len(rows)})
        return FollowUpPage([FollowUpView(**dict(r)) for r in rows], total)

    async def close(self, follow_up_id: uuid.UUID, form: FollowUpClosure, actor: Actor) -> FollowUpView:
        """Close a follow-up with a note of what was done (once)."""
        scope = _supervisor_scope(actor)
        async with self.db.transaction() as conn:
            row = await _follow_up(conn, follow_up_id, for_update=True)
            if row is None or not divisions.within(scope, row["division_code"]):
                if row is not None:
                    await self.audit.record_refusal(self.db, actor, "rating_follow_up.access_refused",
                                                    "rating_follow_up", str(follow_up_id), division=actor.division)
                raise NotFound(NO_FOLLOW_UP)
            if row["state"] != "open":
                raise InvalidTransition("the follow-up is closed already", state=row["state"])
            await conn.execute(
                """UPDATE rating_follow_ups SET state = 'closed', note = $2, closed_by = $3, closed_at = now()
                    WHERE id = $1""", follow_up_id, form.note, who(actor))
            await self.audit.record(conn, actor, "rating_follow_up.closed", "rating_follow_up", str(follow_up_id),
                                    division=row["division_code"], detail={"case_id": str(row["case_id"])})
            closed = await conn.fetchrow(f"{_FOLLOW_UP} WHERE f.id = $1", follow_up_id)
        return FollowUpView(**dict(closed))


def _supervisor_scope(actor: Actor) -> str:
    if actor.kind != "staff" or actor.role not in FOLLOW_UP_ROLES:
        raise Forbidden("only supervisors follow up ratings")
    return actor.division or ""


async def _follow_up(conn: asyncpg.Connection, follow_up_id: uuid.UUID, *, for_update: bool) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, case_id, division_code, state FROM rating_follow_ups WHERE id = $1"
        + (" FOR UPDATE" if for_update else ""), follow_up_id)
