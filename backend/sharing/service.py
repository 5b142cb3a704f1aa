"""The data-sharing gateway (信息查询, clause 五(二)), as the rest of Tongban reaches it:

- `gateway`: providers and purposes, a citizen's own query, an agency's request, the agency's view;
- `previews`: the citizen's previews, decisions, log and consents, and the expiry job.
"""

from __future__ import annotations

from backend.audit.service import AuditLog
from backend.cases.workflow import Workflow
from backend.config import Settings
from backend.db import Database
from backend.notifications.service import NotificationService
from backend.security.pii import PiiCipher
from backend.sharing.adapters import ProviderPool
from backend.sharing.gateway import Gateway
from backend.sharing.previews import Previews


class DataSharing:
    def __init__(self, settings: Settings, db: Database, audit: AuditLog, cipher: PiiCipher,
                 notifications: NotificationService, cases: Workflow) -> None:
        # The demo providers' tables live in the service's own database, behind a pool of their own.
        self.pool = ProviderPool(settings.database_url or "")
        self.gateway = Gateway(db, audit, cipher, notifications, self.pool, cases,
                               timeout_seconds=settings.provider_timeout_seconds,
                               preview_seconds=settings.preview_seconds)
        self.previews = Previews(db, audit, cipher, shared_evidence_days=settings.shared_evidence_days)

    async def close(self) -> None:
        await self.pool.close()
