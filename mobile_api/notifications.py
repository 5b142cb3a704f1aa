"""The citizen's notification inbox over HTTP."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, QueryParameter

from backend.actors import Actor
from backend.container import Services
from backend.notifications.schemas import NotificationPage, NotificationView, Order, ReadAll
from mobile_api.context import citizen_guard
from mobile_api.identity import BEARER


class NotificationController(Controller):
    path = "/me/notifications"
    tags = ["notifications"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/", operation_id="listMyNotifications", summary="My notifications",
         description="The signed-in citizen's inbox a page at a time — unread first (default) or newest first — "
                     "with the number of unread ones. Each message is in Chinese and English and names its "
                     "subject (e.g. `case` and its id). Audited.")
    async def inbox(
        self, services: NamedDependency[Services], actor: NamedDependency[Actor],
        order: Annotated[Order, QueryParameter(description="`unread_first` or `newest`")] = "unread_first",
        unread_only: Annotated[bool, QueryParameter(description="Only unread notifications")] = False,
        limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
        offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0,
    ) -> NotificationPage:
        return await services.notifications.inbox(actor, order=order, unread_only=unread_only, limit=limit,
                                                  offset=offset)

    @post("/{notification_id:uuid}/read", operation_id="markMyNotificationRead", summary="Mark a notification read",
          description="Marking it again keeps the first reading time. Someone else's notification is answered as "
                      "a missing one.", status_code=200)
    async def mark_read(self, notification_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> NotificationView:
        return await services.notifications.mark_read(actor, notification_id)

    @post("/read-all", operation_id="markAllMyNotificationsRead", summary="Mark every notification read",
          description="Marks every unread notification read; answers how many were marked.", status_code=200)
    async def mark_all_read(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> ReadAll:
        return await services.notifications.mark_all_read(actor)


NOTIFICATION_CONTROLLERS = [NotificationController]
