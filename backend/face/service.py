"""Face verification, as the rest of Tongban reaches it: one object whose rooms each hold one concern.

Staff enrol a citizen's reference photo at a service window; the citizen steps up to L2 with one
photo, or to L3 with a liveness challenge; each can see or withdraw the enrolment. Every attempt is
rate-limited and audited with its scores, reasons and capture provenance, never images.

- `policy`: the tunable rules (`FacePolicy`) and the model folder;
- `capture`: where an attempt comes from (`FaceClient`: address, device, capture provenance);
- `analysis`: photos measured on the inference pool, problems a person can act on, passive detector;
- `references`: whose enrolled reference a check compares with, and whether the actor may reach it;
- `attempts`: hourly limits, and each attempt concluded (audit, step-up, attempts left);
- `enrolment`: enrol, read status, withdraw;
- `checks`: the single-photo check (L2);
- `challenges`: the liveness challenge and its answer (L3);
- `retention`: photos kept for disputes, and their purge;
- `card`: a live photo against the resident ID card's chip photo (kiosk sign-in), and enrolment from
  that chip photo at a kiosk;
- `on_behalf`: a named person's liveness check run by an authorised actor, returning the decision
  with who captured it.
"""

from __future__ import annotations

import uuid

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.config import ConfigError, Settings
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.face.analysis import FaceAnalyser
from backend.face.attempts import FaceAttempts
from backend.face.capture import CapturePolicies, FaceClient
from backend.face.card import CardCheck, CardMatch
from backend.face.challenges import LivenessChallenges
from backend.face.checks import PhotoCheck
from backend.face.engine import FaceEngine
from backend.face.installations import AttestationConfig, CaptureProof, FaceInstallations
from backend.face.on_behalf import OnBehalfChecks
from backend.face.enrolment import FaceEnrolments
from backend.face.policy import FacePolicy, model_dir
from backend.face.references import References
from backend.face.retention import PhotoRetention
from backend.face.schemas import (
    FaceDecision,
    FaceEnrolment,
    FaceEnrolmentStatus,
    FaceVerified,
    LivenessChallenge,
    Movement,
)
from backend.face.templates import FaceDataCipher
from backend.identity.service import IdentityService
from ml_models.liveness import PresentationAttackDetector

__all__ = ["FaceClient", "FacePolicy", "FaceService", "model_dir"]


class FaceService:
    def __init__(
        self, db: Database, ephemeral: Ephemeral, audit: AuditLog, identity: IdentityService,
        engine: FaceEngine, cipher: FaceDataCipher, policy: FacePolicy,
        attack_detector: PresentationAttackDetector | None = None,
        attestation: AttestationConfig | None = None, capture_policies: CapturePolicies | None = None,
    ) -> None:
        self.db, self.ephemeral, self.audit, self.identity = db, ephemeral, audit, identity
        self.engine, self.cipher, self.policy = engine, cipher, policy
        self.analyser = FaceAnalyser(engine, policy, attack_detector)
        self.references = References(db, audit, cipher)
        self.retention = PhotoRetention(db, audit, cipher, policy)
        self.attempts = FaceAttempts(db, ephemeral, audit, identity, policy, self.analyser, self.retention)
        self.enrolments = FaceEnrolments(db, audit, cipher, self.references, self.analyser, self.attempts,
                                         self.retention)
        self.photo_check = PhotoCheck(db, self.references, self.analyser, self.attempts)
        self.installations = FaceInstallations(
            db, ephemeral, audit, attestation or AttestationConfig(None, None),
            capture_policies or CapturePolicies.parse(Settings().face_capture_policies))
        self.challenges = LivenessChallenges(db, ephemeral, audit, self.references, self.analyser, self.attempts,
                                             self.installations)
        self.card = CardCheck(db, audit, cipher, policy, self.analyser, self.attempts)
        self.on_behalf = OnBehalfChecks(db, audit, self.references, self.analyser, self.attempts, self.challenges,
                                        self.retention)

    @classmethod
    def from_settings(cls, settings: Settings, db: Database, ephemeral: Ephemeral, audit: AuditLog,
                      identity: IdentityService) -> FaceService:
        engine = FaceEngine(model_dir(settings), workers=settings.face_workers,
                            onnx_threads=settings.face_onnx_threads, queue=settings.face_queue)
        try:
            policies = CapturePolicies.parse(settings.face_capture_policies)
        except ValueError as exc:
            raise ConfigError(f"TONGBAN_FACE_CAPTURE_POLICIES: {exc}") from None
        return cls(db, ephemeral, audit, identity, engine, FaceDataCipher(settings.secret_bytes("pii_key")),
                   FacePolicy.from_settings(settings), attestation=AttestationConfig.from_settings(settings),
                   capture_policies=policies)

    @property
    def attack_detector(self) -> PresentationAttackDetector:
        """The passive presentation-attack detector every check runs (`not-present` by default)."""
        return self.analyser.attack_detector

    @attack_detector.setter
    def attack_detector(self, detector: PresentationAttackDetector) -> None:
        self.analyser.attack_detector = detector

    async def start(self) -> None:
        """Load the models in this process now rather than on the first request."""
        await self.engine.start()

    def close(self) -> None:
        self.engine.close()

    async def enrol(self, actor: Actor, citizen_id: uuid.UUID, photo: bytes, *, consent: bool,
                    source: str = "service_window") -> FaceEnrolment:
        return await self.enrolments.enrol(actor, citizen_id, photo, consent=consent, source=source)

    async def my_enrolment(self, actor: Actor) -> FaceEnrolmentStatus:
        return await self.enrolments.mine(actor)

    async def staff_enrolment(self, actor: Actor, citizen_id: uuid.UUID) -> FaceEnrolmentStatus:
        return await self.enrolments.for_staff(actor, citizen_id)

    async def withdraw(self, actor: Actor) -> None:
        await self.enrolments.withdraw(actor)

    async def verify(self, actor: Actor, photo: bytes, client: FaceClient) -> FaceVerified:
        return await self.photo_check.verify(actor, photo, client)

    async def issue_challenge(self, actor: Actor, movement: Movement, client: FaceClient) -> LivenessChallenge:
        return await self.challenges.issue(actor, movement, client)

    async def answer_challenge(self, actor: Actor, challenge_id: str, frames: list[bytes],
                               client: FaceClient, proof: CaptureProof | None = None) -> FaceVerified:
        return await self.challenges.answer(actor, challenge_id, frames, client, proof)

    async def compare_with_card(self, actor: Actor, card: str, card_masked: str, chip_photo: bytes,
                                live_photo: bytes, client: FaceClient) -> CardMatch:
        return await self.card.compare(actor, card, card_masked, chip_photo, live_photo, client)

    async def enrol_from_card(self, actor: Actor, citizen_id: uuid.UUID, kiosk_id: uuid.UUID, chip_photo: bytes, *,
                              consent: bool) -> FaceEnrolment:
        return await self.card.enrol(actor, citizen_id, kiosk_id, chip_photo, consent=consent)

    async def issue_challenge_for(self, actor: Actor, citizen_id: uuid.UUID, movement: Movement,
                                  client: FaceClient) -> LivenessChallenge:
        """A liveness challenge of the named person, for an actor the caller has authorised to act for them."""
        return await self.on_behalf.issue(actor, citizen_id, movement, client)

    async def check_for(self, actor: Actor, citizen_id: uuid.UUID, challenge_id: str, frames: list[bytes],
                        client: FaceClient, proof: CaptureProof | None = None, *, use: str) -> FaceDecision:
        """The named person's liveness check, decided without raising the actor's session; its capture
        (signed by the actor's attested installation with `proof`) must be one `use` accepts."""
        return await self.on_behalf.answer(actor, citizen_id, challenge_id, frames, client, proof, use=use)

    async def attempts_left(self, actor: Actor, citizen_id: uuid.UUID) -> tuple[int, int]:
        """(left now, left today) of a person's face checks."""
        person = str(citizen_id)
        return await self.attempts.left(actor, person), await self.attempts.left_today(person)

    async def purge_retained_photos(self) -> int:
        return await self.retention.purge()
