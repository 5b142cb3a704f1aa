"""The single-photo check (L2): one photo compared with the citizen's enrolled reference."""

from __future__ import annotations

from typing import Any

import numpy as np

from backend.actors import Actor
from backend.db import Database
from backend.errors import DomainError, FaceMismatch, FacePhotoTooLarge, FacePhotoUnusable, LivenessFailed
from backend.face.analysis import FaceAnalyser, quality_figures, unusable
from backend.face.attempts import FaceAttempts
from backend.face.capture import FaceClient
from backend.face.engine import PoolSlot
from backend.face.reasons import with_reasons
from backend.face.references import References, not_enrolled
from backend.face.schemas import FaceVerified
from ml_models.pipeline import cosine_similarity


class PhotoCheck:
    def __init__(self, db: Database, references: References, analyser: FaceAnalyser, attempts: FaceAttempts) -> None:
        self.db, self.references, self.analyser, self.attempts = db, references, analyser, attempts

    async def verify(self, actor: Actor, photo: bytes, client: FaceClient) -> FaceVerified:
        """Compare one photo with the citizen's reference; a match raises the session to L2.

        Room on the pool is reserved first: a busy pool (503) costs the person no attempt."""
        detail = self.attempts.detail("photo", client)
        async with self.analyser.engine.reserve() as slot:
            await self.attempts.count(actor, client)
            async with self.db.connection() as conn:
                row = await self.references.own(conn, actor)
            reference = self.references.template(row)
            failure = not_enrolled() if reference is None else await self.judge(slot, reference, photo, detail)
        return await self.attempts.conclude(actor, row, "photo", [photo], detail, failure, "L2")

    async def judge(self, slot: PoolSlot, reference: np.ndarray, photo: bytes,
                    detail: dict[str, Any]) -> DomainError | None:
        """The refusal for this photo against `reference`, or None when it matches; fills `detail`."""
        try:
            analysis, attack_score = await self.analyser.photo(slot, photo, "#/photo")
        except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
            return exc
        detail |= {"quality": quality_figures(analysis), "timings_ms": analysis.timings_ms}
        if analysis.problems:
            return unusable(analysis.problems, "#/photo")
        if self.analyser.attack_refusal([attack_score], detail):
            return with_reasons(LivenessFailed("the photo looks like a presentation attack"), "presentation-attack")
        score = cosine_similarity(analysis.embedding, reference)  # type: ignore[arg-type]
        detail["score"] = round(score, 4)
        if score < self.analyser.policy.threshold:
            return with_reasons(FaceMismatch("the face does not match the enrolled reference"), "mismatch")
        return None
