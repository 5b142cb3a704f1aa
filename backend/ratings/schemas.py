"""Wire shapes of ratings (好差评) and their follow-ups."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Literal

import msgspec

from backend.identifiers import VISIBLE

Score = Annotated[int, msgspec.Meta(ge=1, le=5, description="1 (很不满意) to 5 (非常满意)")]
FollowUpState = Literal["open", "closed"]


class RatingCreate(msgspec.Struct, forbid_unknown_fields=True):
    score: Score
    comment: Annotated[str, msgspec.Meta(max_length=500)] | None = None


class RatingView(msgspec.Struct):
    case_id: uuid.UUID
    score: int
    comment: str | None
    rated_at: dt.datetime
    # A poor rating (1 or 2) is followed up by a supervisor of the handling division.
    follow_up: FollowUpState | None


class FollowUpClosure(msgspec.Struct, forbid_unknown_fields=True):
    note: Annotated[str, msgspec.Meta(min_length=1, max_length=2000, pattern=VISIBLE)]


class FollowUpView(msgspec.Struct):
    id: uuid.UUID
    case_id: uuid.UUID
    case_number: str
    item_code: str
    item_name: str
    handling_division: str
    division: str  # the division that answers for it: the handling one, or the receiving one for a case refused at receipt
    score: int
    comment: str | None
    rated_at: dt.datetime
    state: FollowUpState
    note: str | None
    opened_at: dt.datetime
    closed_at: dt.datetime | None


class FollowUpPage(msgspec.Struct):
    items: list[FollowUpView]
    total: int
