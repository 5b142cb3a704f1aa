"""Wire shapes of the notification inbox."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import msgspec

Order = Literal["newest", "unread_first"]


class Text(msgspec.Struct, frozen=True):
    """One message in Chinese and in English; a client shows the one its user reads."""

    zh: str
    en: str


class Subject(msgspec.Struct, frozen=True):
    """What a notification is about, for a client to link to: e.g. `case` and the case's id."""

    type: str
    id: str


class NotificationView(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    kind: str
    title: Text
    body: Text
    subject: Subject | None
    # Whether the same message also went out as a text message.
    sms: bool
    created_at: dt.datetime
    read_at: dt.datetime | None


class NotificationPage(msgspec.Struct, kw_only=True):
    items: list[NotificationView]
    # How many notifications the filter matches, and how many of all the citizen's are unread.
    total: int
    unread: int
    limit: int
    offset: int


class ReadAll(msgspec.Struct, kw_only=True):
    marked: int
    unread: int
