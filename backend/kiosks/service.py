"""The kiosks domain as the rest of Tongban reaches it: one object whose parts each hold one group of
use cases.

- `devices`: registration, revocation, re-keying and configuration of kiosks, heartbeats, the staff
  view, and the check of every signed kiosk request (RFC 9421, `signatures.py`).
"""

from __future__ import annotations

from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.kiosks.devices import KioskDevices


class KioskService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, *, signature_window_seconds: int) -> None:
        self.devices = KioskDevices(db, ephemeral, audit, signature_window_seconds=signature_window_seconds)
