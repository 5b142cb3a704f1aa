"""The running service's parts, built once from the settings and shared by every request."""

from __future__ import annotations

from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.audit.service import AuditLog
from backend.blobs import BlobStore
from backend.calendar.service import CalendarService
from backend.cases.exchanges import CaseExchanges
from backend.cases.service import CaseService
from backend.catalogue.service import CatalogueService
from backend.certificates.keys import KeyVault
from backend.certificates.service import CertificateService
from backend.config import Settings
from backend.db import Database
from backend.eligibility.service import EligibilityService
from backend.ephemeral import Ephemeral
from backend.events.service import DeliveryPolicy, EventService
from backend.face.service import FaceService
from backend.filings.service import AnnualFilings
from backend.information.service import InformationService
from backend.sharing.service import DataSharing
from backend.identity.service import CodeLimits, IdentityService
from backend.identity.sms import OutboxGateway
from backend.kiosks.service import KioskService
from backend.materials.checks import MaterialLimits
from backend.materials.store import MaterialStore
from backend.monitoring.service import MonitoringService
from backend.notifications.service import NotificationService
from backend.ratings.service import RatingService
from backend.security.pii import PiiCipher
from backend.security.tokens import TokenCodec


@dataclass
class Services:
    settings: Settings
    db: Database
    ephemeral: Ephemeral
    audit: AuditLog
    cipher: PiiCipher
    tokens: TokenCodec
    identity: IdentityService
    catalogue: CatalogueService
    certificates: CertificateService
    face: FaceService
    notifications: NotificationService
    kiosks: KioskService
    events: EventService
    filings: AnnualFilings
    information: InformationService
    eligibility: EligibilityService
    sharing: DataSharing
    calendar: CalendarService
    materials: MaterialStore
    cases: CaseService
    ratings: RatingService
    monitoring: MonitoringService

    @classmethod
    async def start(cls, settings: Settings) -> Services:
        assert settings.database_url and settings.redis_url, "resolve embedded services first"
        db = await Database.connect(settings.database_url, min_size=settings.db_pool_min,
                                    max_size=settings.db_pool_max)
        ephemeral = Ephemeral.connect(settings.redis_url, settings.redis_prefix)
        audit = AuditLog(settings.secret_bytes("audit_key"),
                         Ed25519PrivateKey.from_private_bytes(settings.secret_bytes("audit_checkpoint_key")), db,
                         [Ed25519PublicKey.from_public_bytes(k) for k in settings.retired_checkpoint_keys()])
        cipher = PiiCipher(settings.secret_bytes("pii_key"), settings.secret_bytes("pii_hash_key"))
        tokens = TokenCodec(settings.jwt_secret, settings.access_token_seconds)
        sms = OutboxGateway(log_texts=not settings.is_production)
        identity = IdentityService(
            db, ephemeral, cipher, tokens, audit, sms,
            refresh_seconds=settings.refresh_token_seconds, otp_seconds=settings.otp_seconds,
            limits=CodeLimits(resend_seconds=settings.code_resend_seconds),
        )
        certificates = CertificateService(
            db, ephemeral, audit, cipher, KeyVault(settings.secret_bytes("signing_key_kek")),
            trust_list_seconds=settings.trust_list_seconds, revocation_list_seconds=settings.revocation_list_seconds,
        )
        catalogue = CatalogueService(db, audit)
        await catalogue.sync_reference_data()
        face = FaceService.from_settings(settings, db, ephemeral, audit, identity)
        events = EventService(db, audit, cipher, DeliveryPolicy.from_settings(settings), production=settings.is_production)
        notifications = NotificationService(db, audit, sms)
        calendar = CalendarService(db, audit)
        materials = MaterialStore(BlobStore(cipher), MaterialLimits.from_settings(settings))
        cases = CaseService(db, audit, cipher, catalogue, certificates, notifications, events, calendar, materials,
                            CaseExchanges(db, audit, certificates.vault, certificates.lists))
        kiosks = KioskService(db, ephemeral, audit, cipher, identity, face, certificates, catalogue, cases,
                              signature_window_seconds=settings.kiosk_signature_window_seconds)
        filings = AnnualFilings(db, ephemeral, audit, cipher, catalogue, notifications, events)
        return cls(settings, db, ephemeral, audit, cipher, tokens, identity, catalogue, certificates, face,
                   notifications, kiosks, events, filings, InformationService(db, audit, cipher, events, face.installations),
                   EligibilityService(db, ephemeral, audit, cipher, certificates, events, face, notifications),
                   DataSharing(settings, db, audit, cipher, notifications, cases.workflow), calendar, materials, cases,
                   RatingService(db, audit, cases.workflow), MonitoringService(db, audit))

    async def close(self) -> None:
        self.face.close()
        await self.sharing.close()
        await self.ephemeral.close()
        await self.db.close()
