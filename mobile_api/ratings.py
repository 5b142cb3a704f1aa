"""好差评 and case supervision over HTTP: the applicant rates a case; supervisors follow up poor ratings
and read the case figures of their divisions."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, QueryParameter

from backend.actors import Actor
from backend.catalogue.schemas import DivisionCode
from backend.container import Services
from backend.monitoring.schemas import CaseReport
from backend.ratings.schemas import FollowUpClosure, FollowUpPage, FollowUpState, FollowUpView, RatingCreate, RatingView
from mobile_api.context import citizen_guard, staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM


class MyCaseRatingController(Controller):
    path = "/me/cases/{case_id:uuid}/rating"
    tags = ["cases"]
    guards = [citizen_guard()]
    security = BEARER

    @post("/", operation_id="rateMyCase", summary="Rate a case (好差评)",
          description="1 (很不满意) to 5 (非常满意), with a comment, once the result is out (delivered, rejected, "
                      "refused or closed; `409 rating-not-open` before, `409 already-rated` the second time). A rating "
                      "of 1 or 2 opens a follow-up for a supervisor of the handling division. Audited; send an "
                      "`Idempotency-Key` for safe retries (a retry answers the first rating, not `already-rated`).")
    async def rate(self, request: Request[Any, Any, Any], case_id: FromPath[uuid.UUID], data: JSONBody[RatingCreate],
                   services: NamedDependency[Services], actor: NamedDependency[Actor],
                   idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RatingView]:
        return await idempotent_create(request, services, actor, lambda: services.ratings.rate(case_id, data, actor))

    @get("/", operation_id="getMyCaseRating", summary="My rating of a case",
         description="With whether its follow-up is open or closed. 404 when not rated. Audited.")
    async def mine(self, case_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                   actor: NamedDependency[Actor]) -> RatingView:
        return await services.ratings.my_rating(case_id, actor)


class RatingFollowUpController(Controller):
    path = "/staff/rating-follow-ups"
    tags = ["cases"]
    guards = [staff_guard("supervisor")]
    security = BEARER

    @get("/", operation_id="listRatingFollowUps", summary="Follow-ups of poor ratings in my divisions",
         description="Ratings of 1 or 2 on cases handled within your division, open ones first, with the "
                     "applicant's comment. Audited.")
    async def list_follow_ups(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                              follow_up_state: Annotated[FollowUpState | None, QueryParameter(name="state")] = None,
                              limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
                              offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> FollowUpPage:
        return await services.ratings.follow_ups(actor, state=follow_up_state, limit=limit, offset=offset)

    @post("/{follow_up_id:uuid}/closure", operation_id="closeRatingFollowUp", summary="Close a follow-up",
          description="With a note of what was done. One outside your division answers 404 as a missing one does; "
                      "`409 invalid-transition` when closed already. Audited.", status_code=200)
    async def close(self, follow_up_id: FromPath[uuid.UUID], data: JSONBody[FollowUpClosure],
                    services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FollowUpView:
        return await services.ratings.close(follow_up_id, data, actor)


class CaseMonitoringController(Controller):
    path = "/staff/monitoring"
    tags = ["cases"]
    guards = [staff_guard("supervisor", "admin")]
    security = BEARER

    @get("/cases", operation_id="caseFigures", summary="Case figures of my divisions (办件监管)",
         description="Cases created from `from` to `to` (China dates, at most 366 days) whose receiving or handling "
                     "division lies within `division` (default: yours; it must lie within yours): counts by item, "
                     "mode, division and state; the on-time rate; the 补正 rate and counts; p50/p90 of the hand-over, "
                     "review and delivery stages; the ratings given in those dates. Audited.")
    async def figures(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                      date_from: Annotated[dt.date, QueryParameter(name="from")],
                      date_to: Annotated[dt.date, QueryParameter(name="to")],
                      division: Annotated[DivisionCode | None, QueryParameter()] = None) -> CaseReport:
        return await services.monitoring.case_report(actor, date_from, date_to, division)


RATING_CONTROLLERS = [MyCaseRatingController, RatingFollowUpController, CaseMonitoringController]
