"""Enrolment: window staff enrol a citizen's reference with their separate consent; the citizen and
staff in scope read its status; the citizen withdraws it."""

from __future__ import annotations

import datetime as dt
import uuid

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import DomainError, FacePhotoTooLarge, FacePhotoUnusable, Forbidden, ValidationFailed
from backend.face import repository
from backend.face.analysis import FaceAnalyser, quality_figures, unusable
from backend.face.attempts import FaceAttempts
from backend.face.policy import TEMPLATE_MODEL
from backend.face.reasons import ALTERNATIVES
from backend.face.references import References, not_enrolled
from backend.face.retention import PhotoRetention
from backend.face.schemas import FaceEnrolment, FaceEnrolmentStatus, FaceQuality
from backend.face.templates import FaceDataCipher
from backend.identity.service import CITIZEN_READERS
from ml_models.pipeline import FaceAnalysis

ENROLLING_ROLES = frozenset({"receiving_officer", "handling_officer"})
# Which wording of the consent the window officer read out; recorded with each enrolment.
CONSENT_WORDING = "face-verification-consent/1"


class FaceEnrolments:
    def __init__(self, db: Database, audit: AuditLog, cipher: FaceDataCipher, references: References,
                 analyser: FaceAnalyser, attempts: FaceAttempts, retention: PhotoRetention) -> None:
        self.db, self.audit, self.cipher, self.references = db, audit, cipher, references
        self.analyser, self.attempts, self.retention = analyser, attempts, retention

    async def enrol(self, actor: Actor, citizen_id: uuid.UUID, photo: bytes, *, consent: bool,
                    source: str = "service_window") -> FaceEnrolment:
        """Staff at a service window enrol (or replace) a citizen's reference from a photo taken there."""
        if actor.role not in ENROLLING_ROLES:
            raise Forbidden("only receiving or handling officers enrol face references")
        if not consent:
            # Face data needs the person's separate consent, and face is never the only route.
            raise ValidationFailed.field("consent", "the citizen's separate consent to face verification is required")
        consented_at = dt.datetime.now(dt.UTC)
        row = await self.references.in_scope(actor, citizen_id, "face.enrol_refused")
        analysis: FaceAnalysis | None = None
        failure: DomainError | None = None
        try:
            async with self.analyser.engine.reserve() as slot:
                analysis, _ = await self.analyser.photo(slot, photo, "#/photo")
            if analysis.problems:
                failure = unusable(analysis.problems, "#/photo")
        except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
            failure = exc
        quality = quality_figures(analysis) if analysis else {}
        replaced = row["template_enc"] is not None
        async with self.db.transaction() as conn:
            if failure is not None:
                await self.audit.record(conn, actor, "face.enrolment_rejected", "citizen", str(citizen_id),
                                        division=row["home_division"],
                                        detail={"reasons": [r["code"] for r in failure.extensions["reasons"]],
                                                "quality": quality})
            else:
                assert analysis is not None and analysis.embedding is not None
                saved = await repository.save_enrolment(
                    conn, citizen_id, model=TEMPLATE_MODEL, source=source, quality=quality,
                    template_enc=self.cipher.seal_template(analysis.embedding, citizen_id=str(citizen_id),
                                                           model=TEMPLATE_MODEL),
                    staff_id=uuid.UUID(actor.id), division=actor.division or "")
                consent_record = {"given": True, "at": consented_at.isoformat(), "wording": CONSENT_WORDING}
                await self.audit.record(conn, actor, "face.enrolled", "citizen", str(citizen_id),
                                        division=row["home_division"],
                                        detail={"model": TEMPLATE_MODEL, "source": source, "quality": quality,
                                                "replaced": replaced, "consent": consent_record})
        if failure is not None:
            raise failure
        return FaceEnrolment(citizen_id=citizen_id, enrolled_at=saved["enrolled_at"], source=source,  # type: ignore[arg-type]
                             model=TEMPLATE_MODEL, quality=FaceQuality(**quality), replaced=replaced)

    async def _status(self, actor: Actor, row: asyncpg.Record) -> FaceEnrolmentStatus:
        if row["template_enc"] is None:
            return FaceEnrolmentStatus(enrolled=False, alternatives=ALTERNATIVES)
        left = await self.attempts.left(actor, str(row["id"]))
        return FaceEnrolmentStatus(
            enrolled=True, enrolled_at=row["enrolled_at"], source=row["source"], model=row["model"],
            last_verified_at=row["last_verified_at"], last_verified_level=row["last_verified_level"],
            attempts_left=left, alternatives=ALTERNATIVES if left == 0 else [])

    async def mine(self, actor: Actor) -> FaceEnrolmentStatus:
        async with self.db.connection() as conn:
            row = await self.references.own(conn, actor)
        await self.audit.record_read(actor, "face.enrolment_read", "citizen", actor.id, division=row["home_division"])
        return await self._status(actor, row)

    async def for_staff(self, actor: Actor, citizen_id: uuid.UUID) -> FaceEnrolmentStatus:
        if actor.role not in CITIZEN_READERS:
            raise Forbidden("your role may not read citizens' records")
        row = await self.references.in_scope(actor, citizen_id, "face.enrolment_read_refused")
        await self.audit.record_read(actor, "face.enrolment_read", "citizen", str(citizen_id),
                                     division=row["home_division"])
        return await self._status(actor, row)

    async def withdraw(self, actor: Actor) -> None:
        """The citizen withdraws consent: the reference and any retained photos are deleted."""
        citizen_id = uuid.UUID(actor.id)
        async with self.db.transaction() as conn:
            row = await self.references.own(conn, actor)
            if row["template_enc"] is None:
                raise not_enrolled()
            await repository.delete_enrolment(conn, citizen_id)
            deleted_photos = await self.retention.forget(conn, citizen_id)
            await self.audit.record(conn, actor, "face.enrolment_withdrawn", "citizen", actor.id,
                                    division=row["home_division"], detail={"retained_photos_deleted": deleted_photos})
