"""The kiosks domain as the rest of Tongban reaches it: one object whose parts each hold one group of
use cases.

- `devices`: registration, revocation, re-keying and configuration of kiosks, heartbeats, the staff
  view, and the check of every signed kiosk request (RFC 9421, `signatures.py`);
- `sessions`: residents signing in with the ID card and a face match against its chip photo, their
  sessions bound to the device, staff assistance, face enrolment from the chip photo;
- `printing`: print jobs as records, taken and printed by the device, waiting out of paper;
- `cases`: what a touch screen adds to the cases service (items fillable by touch, questions with
  choices, the form composed from the resident's record, the case receipt).
"""

from __future__ import annotations

from backend.audit.service import AuditLog
from backend.cases.service import CaseService
from backend.catalogue.service import CatalogueService
from backend.certificates.service import CertificateService
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.face.service import FaceService
from backend.identity.service import IdentityService
from backend.kiosks.cases import KioskCases
from backend.kiosks.devices import KioskDevices
from backend.kiosks.printing import KioskPrinting
from backend.kiosks.sessions import KioskSessions
from backend.security.pii import PiiCipher


class KioskService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher,
                 identity: IdentityService, face: FaceService, certificates: CertificateService,
                 catalogue: CatalogueService, cases: CaseService, *, signature_window_seconds: int) -> None:
        self.devices = KioskDevices(db, ephemeral, audit, signature_window_seconds=signature_window_seconds)
        self.sessions = KioskSessions(db, audit, cipher, identity, face)
        self.printing = KioskPrinting(db, audit, certificates, cases)
        self.cases = KioskCases(db, cipher, catalogue, certificates)
