"""好差评: the applicant rates a case (1–5, with a comment) once its result is out — decided and
delivered, rejected, refused, or closed. A rating of 1 or 2 opens a follow-up for the supervisors of the
handling division (and of the divisions above it), who close it with a note of what was done; for a case
the receiving place refused at receipt, of the receiving division (`answerable_division`).

Who may rate is the case's own rule (`Workflow.citizen_case`: someone else's case looks missing);
supervisors see follow-ups only within their division, and one outside it looks missing too."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.cases.workflow import Workflow
from backend.db import Database
from backend.errors import AlreadyRated, Forbidden, InvalidTransition, NotFound, RatingNotOpen
from backend.identity import divisions
from backend.monitoring import metrics
from backend.ratings import repository
from backend.ratings.schemas import FollowUpClosure, FollowUpPage, FollowUpState, FollowUpView, RatingCreate, RatingView

# States in which the case's result is out (or the case ended without one the applicant asked for).
RATEABLE_STATES = frozenset({"delivered", "rejected", "refused", "closed"})
POOR = 2  # a score at or below opens a follow-up
FOLLOW_UP_ROLES = frozenset({"supervisor"})
NO_FOLLOW_UP = "no such follow-up in your divisions"


def answerable_division(case: Mapping[str, Any]) -> str:
    """The division that answers for a poor rating: the receiving place for a case it refused at receipt
    (the case never left it: `refuse_receipt` is the only refusal of a proxy or joint case before
    `receive`), else the handling place."""
    refused_at_receipt = case["state"] == "refused" and case["mode"] != "online" and case["received_at"] is None
    return case["receiving_division"] if refused_at_receipt else case["handling_division"]


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
            row = await repository.insert_rating(conn, case_id, case["citizen_id"], form.score, form.comment,
                                                 case["handling_division"])
            if row is None:
                raise AlreadyRated("you have rated this case already")
            follow_up = None
            if form.score <= POOR:
                await repository.open_follow_up(conn, case_id, answerable_division(case))
                follow_up = "open"
            await self.audit.record(conn, actor, "case.rated", "case", str(case_id),
                                    division=answerable_division(case),
                                    detail={"score": form.score, "follow_up": follow_up is not None})
        metrics.case_rated(form.score)
        return RatingView(case_id, form.score, form.comment, row["rated_at"], follow_up)  # type: ignore[arg-type]

    async def my_rating(self, case_id: uuid.UUID, actor: Actor) -> RatingView:
        """My rating of one of my cases. Audited as a read (group commit), rated or not; someone else's
        case and a missing one answer alike (`Workflow.citizen_case`, the refusal audited)."""
        async with self.db.connection() as conn:
            case = await self.workflow.citizen_case(conn, case_id, actor)
            row = await repository.rating(conn, case_id)
        await self.audit.record_read(actor, "case.rating_read", "case", str(case_id),
                                     division=answerable_division(case), detail={"rated": row is not None})
        if row is None:
            raise NotFound("the case is not rated")
        return RatingView(**dict(row))

    async def follow_ups(self, actor: Actor, *, state: FollowUpState | None = None, limit: int = 50,
                         offset: int = 0) -> FollowUpPage:
        """Follow-ups of poor ratings in the supervisor's divisions, oldest open first. Audited (the
        comments are the applicants' own words)."""
        prefix = divisions.scope_prefix(_supervisor_scope(actor))
        async with self.db.connection() as conn:
            rows, total = await repository.follow_ups(conn, prefix, state, limit, offset)
        await self.audit.record_read(actor, "rating_follow_up.listed", "rating_follow_up", None,
                                     division=actor.division, detail={"state": state, "shown": len(rows)})
        return FollowUpPage([FollowUpView(**dict(r)) for r in rows], total)

    async def close(self, follow_up_id: uuid.UUID, form: FollowUpClosure, actor: Actor) -> FollowUpView:
        """Close a follow-up with a note of what was done (once)."""
        scope = _supervisor_scope(actor)
        async with self.db.transaction() as conn:
            row = await repository.follow_up(conn, follow_up_id, for_update=True)
            if row is None or not divisions.within(scope, row["division_code"]):
                if row is not None:
                    await self.audit.record_refusal(self.db, actor, "rating_follow_up.access_refused",
                                                    "rating_follow_up", str(follow_up_id), division=actor.division)
                raise NotFound(NO_FOLLOW_UP)
            if row["state"] != "open":
                raise InvalidTransition("the follow-up is closed already", state=row["state"])
            closed = await repository.close_follow_up(conn, follow_up_id, form.note, who(actor))
            await self.audit.record(conn, actor, "rating_follow_up.closed", "rating_follow_up", str(follow_up_id),
                                    division=row["division_code"], detail={"case_id": str(row["case_id"])})
        return FollowUpView(**dict(closed))


def _supervisor_scope(actor: Actor) -> str:
    if actor.kind != "staff" or actor.role not in FOLLOW_UP_ROLES:
        raise Forbidden("only supervisors follow up ratings")
    return actor.division or ""
