"""Annual filings (年审年报), as the rest of Tongban reaches them: one object whose parts each hold one
group of use cases.

- `organisations`: organisations (GB 32100 code), their legal representative and authorised filers;
- `obligations`: subjects' annual obligations, the filer's periods and the staff overview;
- `filings`: drafts, submission (published as an event), amendments, receipts;
- `reminders`: inbox reminders before a window closes (a scheduled job).

Every date decision (is the window open, is a submission late, what is due) asks `today()`: China's
date by default.
"""

from __future__ import annotations

import datetime as dt

from backend import china_time
from backend.audit.service import AuditLog
from backend.catalogue.service import CatalogueService
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.events.service import EventService
from backend.filings.filings import FilingService
from backend.filings.obligations import ObligationService
from backend.filings.organisations import OrganisationService
from backend.filings.reminders import FilingReminders
from backend.notifications.service import NotificationService
from backend.security.pii import PiiCipher


class AnnualFilings:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher,
                 catalogue: CatalogueService, notifications: NotificationService, events: EventService) -> None:
        self.organisations = OrganisationService(db, audit, cipher)
        self.obligations = ObligationService(db, audit, cipher, catalogue, lambda: self.today())
        self.filings = FilingService(db, ephemeral, audit, cipher, self.obligations, events,
                                     lambda: self.today())
        self.reminders = FilingReminders(db, audit, notifications, lambda: self.today())

    def today(self) -> dt.date:
        """Today in China, the day every window is counted in."""
        return china_time.today()
