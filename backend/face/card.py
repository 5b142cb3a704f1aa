"""The ID card check: a live photo compared 1:1 with the photo on the resident ID card's chip, for
signing in at a kiosk; and a face reference enrolled from that chip photo, with the resident's
separate consent.

The chip photo is 102×126 pixels, so the face in it is 50–65 pixels wide — below the 80 pixels a
camera photo must show. It gets its own quality rules (`FacePolicy.card_pipeline`: a smaller minimum
face, a lower sharpness floor since a small face enlarged to 112×112 is soft) and its own threshold (`FacePolicy.card_threshold`; the evidence is in
docs/face-verification.md). The live photo keeps the ordinary rules.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import (
    Conflict,
    DomainError,
    FaceMismatch,
    FacePhotoTooLarge,
    FacePhotoUnusable,
    LivenessFailed,
    ValidationFailed,
)
from backend.face import repository
from backend.face.analysis import FaceAnalyser, analyse_all, check_sizes, quality_figures, unusable
from backend.face.attempts import FaceAttempts
from backend.face.capture import FaceClient
from backend.face.enrolment import CONSENT_WORDING
from backend.face.policy import TEMPLATE_MODEL, FacePolicy
from backend.face.reasons import with_reasons
from backend.face.schemas import FaceEnrolment, FaceQuality
from backend.face.templates import FaceDataCipher
from ml_models.pipeline import FaceAnalysis, cosine_similarity

KIOSK_SOURCE = "kiosk_chip_photo"


@dataclass(frozen=True, slots=True)
class CardMatch:
    """A live photo that matched the card's chip photo; the score stays in the audit log."""

    card_quality: dict[str, float]
    live_quality: dict[str, float]


class CardCheck:
    def __init__(self, db: Database, audit: AuditLog, cipher: FaceDataCipher, policy: FacePolicy,
                 analyser: FaceAnalyser, attempts: FaceAttempts) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher
        self.policy, self.analyser, self.attempts = policy, analyser, attempts

    async def _analyse(self, chip_photo: bytes, live_photo: bytes) -> tuple[FaceAnalysis, FaceAnalysis]:
        """Both photos on the pool, each under its own rules; an unusable one raises its problem."""
        card_config, live_config = self.policy.card_pipeline, self.policy.pipeline
        check_sizes([chip_photo], card_config.image, "#/chip_photo")
        check_sizes([live_photo], live_config.image, "#/photo")
        detector = self.analyser.attack_detector
        async with self.analyser.engine.reserve(2) as slot:
            card, live = await slot.run(lambda pipeline: [
                *analyse_all(pipeline, [chip_photo], card_config, burst=False, detector=detector),
                *analyse_all(pipeline, [live_photo], live_config, burst=False, detector=detector)])
        if card.analysis is None or card.analysis.problems:
            codes = [card.rejected or "not-an-image"] if card.analysis is None else card.analysis.problems
            raise with_reasons(unusable(codes, "#/chip_photo"), "card-photo-unusable")
        if live.analysis is None:
            raise unusable([live.rejected or "not-an-image"], "#/photo")
        if live.analysis.problems:
            raise unusable(live.analysis.problems, "#/photo")
        if self.analyser.attack_refusal([live.attack_score], {}):
            raise with_reasons(LivenessFailed("the photo looks like a presentation attack"), "presentation-attack")
        return card.analysis, live.analysis

    async def compare(self, actor: Actor, card: str, card_masked: str, chip_photo: bytes, live_photo: bytes,
                      client: FaceClient) -> CardMatch:
        """Compare the live photo with the chip photo of the card identified by `card` (its lookup hash).

        Every attempt is counted by the attempts room against the card (the person, not yet known by
        id), the kiosk and its address, and audited (scores, quality, capture provenance — never an image), a
        refusal in a transaction of its own so it survives the caller's rollback."""
        await self.attempts.count(actor, client, card, by="card")
        detail: dict[str, Any] = {"check": "id-card", "model": TEMPLATE_MODEL, "threshold": self.policy.card_threshold,
                                  "card": card_masked, "device": client.device, "capture": client.capture}
        failure: DomainError | None = None
        try:
            chip, live = await self._analyse(chip_photo, live_photo)
        except (FacePhotoUnusable, FacePhotoTooLarge, LivenessFailed) as exc:
            failure = exc
        else:
            detail |= {"card_quality": quality_figures(chip), "quality": quality_figures(live)}
            score = cosine_similarity(chip.embedding, live.embedding)  # type: ignore[arg-type]
            detail["score"] = round(score, 4)
            if score < self.policy.card_threshold:
                failure = with_reasons(FaceMismatch("the face does not match the photo on the ID card"),
                                       "card-mismatch")
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
            await self.audit.record_refusal(self.db, actor, "face.card_check_failed", "kiosk", actor.id,
                                            division=actor.division, detail=detail | {"decision": failure.slug})
            failure.extensions["attempts_left"] = await self.attempts.left(actor, card, by="card")
            raise failure
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.card_checked", "kiosk", actor.id, division=actor.division,
                                    detail=detail | {"decision": "match"})
        return CardMatch(card_quality=detail["card_quality"], live_quality=detail["quality"])

    async def enrol(self, actor: Actor, citizen_id: uuid.UUID, kiosk_id: uuid.UUID, chip_photo: bytes, *,
                    consent: bool) -> FaceEnrolment:
        """Enrol the resident's reference from their ID card's chip photo at a kiosk, with their separate
        consent. Only for a resident with no reference yet: a kiosk never replaces one taken at a window."""
        if not consent:
            raise ValidationFailed.field("consent", "the resident's separate consent to face verification is required")
        consented_at = dt.datetime.now(dt.UTC)
        check_sizes([chip_photo], self.policy.card_pipeline.image, "#/chip_photo")
        config, detector = self.policy.card_pipeline, self.analyser.attack_detector
        async with self.analyser.engine.reserve() as slot:
            (judged,) = await slot.run(lambda pipeline: analyse_all(pipeline, [chip_photo], config, burst=False,
                                                                    detector=detector))
        if judged.analysis is None or judged.analysis.problems:
            codes = [judged.rejected or "not-an-image"] if judged.analysis is None else judged.analysis.problems
            raise with_reasons(unusable(codes, "#/chip_photo"), "card-photo-unusable")
        analysis = judged.analysis
        quality = quality_figures(analysis)
        async with self.db.transaction() as conn:
            row = await repository.citizen_with_enrolment(conn, citizen_id)
            if row["template_enc"] is not None:
                raise Conflict("a face reference is already enrolled; a kiosk does not replace it")
            saved = await repository.save_kiosk_enrolment(
                conn, citizen_id, model=TEMPLATE_MODEL, quality=quality, kiosk_id=kiosk_id,
                template_enc=self.cipher.seal_template(analysis.embedding, citizen_id=str(citizen_id),  # type: ignore[arg-type]
                                                       model=TEMPLATE_MODEL))
            if saved is None:  # enrolled meanwhile
                raise Conflict("a face reference is already enrolled; a kiosk does not replace it")
            await self.audit.record(conn, actor, "face.enrolled", "citizen", str(citizen_id),
                                    division=row["home_division"],
                                    detail={"model": TEMPLATE_MODEL, "source": KIOSK_SOURCE, "quality": quality,
                                            "replaced": False, "kiosk": str(kiosk_id),
                                            "consent": {"given": True, "at": consented_at.isoformat(),
                                                        "wording": CONSENT_WORDING}})
        return FaceEnrolment(citizen_id=citizen_id, enrolled_at=saved["enrolled_at"], source=KIOSK_SOURCE,
                             model=TEMPLATE_MODEL, quality=FaceQuality(**quality), replaced=False)
