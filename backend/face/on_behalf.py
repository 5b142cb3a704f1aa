"""Checks of a named citizen run by another actor: an authorised relative on their own phone, staff of
the residence division at a window or a home visit, a kiosk. The named person's face and liveness
are checked against the named person's reference; the decision is returned to the caller (which has
established that the actor may act for that person) and the actor's own session is not raised.
Both identities are recorded: the actor as the audit entry's actor, the person checked as its record.

Who captured is part of the decision: the actor who held the camera, who helped at a kiosk, and the
capture's provenance — a relative's attested phone signs the frames like the person's own would
(`CaptureProof`, verified against the relative's installation), a kiosk's is `kiosk:<id>`. The caller
names the use, whose capture policy must accept the provenance (e.g. `pension-recognition`).
"""

from __future__ import annotations

import uuid
from typing import Any

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import ChallengeExpired, ChallengeUsed, DomainError
from backend.face.analysis import FaceAnalyser
from backend.face.attempts import FaceAttempts
from backend.face.capture import FaceClient
from backend.face.challenges import LivenessChallenges
from backend.face.installations import CaptureProof
from backend.face.reasons import ALTERNATIVES
from backend.face.references import References
from backend.face.retention import PhotoRetention
from backend.face.schemas import FaceChecks, FaceDecision, LivenessChallenge, Movement


class OnBehalfChecks:
    def __init__(self, db: Database, audit: AuditLog, references: References, analyser: FaceAnalyser,
                 attempts: FaceAttempts, challenges: LivenessChallenges, retention: PhotoRetention) -> None:
        self.db, self.audit, self.references, self.analyser = db, audit, references, analyser
        self.attempts, self.challenges, self.retention = attempts, challenges, retention

    async def issue(self, actor: Actor, citizen_id: uuid.UUID, movement: Movement,
                    client: FaceClient) -> LivenessChallenge:
        """A liveness challenge for `citizen_id`, held by the actor's session; counted against the
        named person's limits."""
        return await self.challenges.issue(actor, movement, client, citizen_id)

    async def answer(self, actor: Actor, citizen_id: uuid.UUID, challenge_id: str, frames: list[bytes],
                     client: FaceClient, proof: CaptureProof | None = None, *, use: str) -> FaceDecision:
        """Judge the burst against the challenge issued for `citizen_id` and against their reference,
        and its capture against `use`'s policy; return the decision, or raise the same problems a
        person's own check raises (with a `proof` that does not verify: `capture-not-verified`)."""
        self.challenges.check_answer_shape(challenge_id, frames)
        detail = self.attempts.detail("liveness", client) | {
            "challenge": challenge_id, "frames": len(frames), "on_behalf": True, "use": use,
            "actor": {"kind": actor.kind, "id": actor.id, "role": actor.role, "division": actor.division},
            "captured_by": who(actor)}
        failure: DomainError | None = None
        async with self.analyser.engine.reserve(len(frames)) as slot:
            async with self.db.connection() as conn:
                row = await self.references.named(conn, citizen_id)
            try:
                actions = await self.challenges.take(actor, challenge_id, str(citizen_id))
            except (ChallengeExpired, ChallengeUsed) as exc:
                failure = exc
            else:
                detail["actions"] = actions
                installations = self.challenges.installations
                client, failure = await installations.attest_answer(actor, proof, challenge_id, frames, client, detail)
                failure = failure or await self.challenges.judge_burst(slot, row, actions, frames, detail)
                failure = failure or installations.refuse_unaccepted(use, client.capture)
        return await self._conclude(actor, row, frames, detail, failure)

    async def _conclude(self, actor: Actor, row: Any, frames: list[bytes], detail: dict[str, Any],
                        failure: DomainError | None) -> FaceDecision:
        citizen_id = row["id"]
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
        async with self.db.transaction() as conn:
            await self.retention.retain(conn, citizen_id, "liveness", frames, actor.request_id)
            action = "face.verified_for" if failure is None else "face.check_failed_for"
            await self.audit.record(conn, actor, action, "citizen", str(citizen_id), division=row["home_division"],
                                    detail=detail | {"decision": "match" if failure is None else failure.slug})
        if failure is not None:
            failure.extensions["attempts_left"] = await self.attempts.left(actor, str(citizen_id))
            if failure.extensions["attempts_left"] == 0:
                failure.extensions["alternatives"] = ALTERNATIVES
            raise failure
        return FaceDecision(
            decision="match", citizen_id=citizen_id, score=detail["score"], threshold=self.analyser.policy.threshold,
            checks=FaceChecks(match=True, liveness="active-challenge",
                              passive_anti_spoofing=self.analyser.attack_detector.name),
            capture=detail["capture"], challenge=detail["challenge"], captured_by=detail["captured_by"],
            assisted_by=actor.assisted_by,
            installation=uuid.UUID(detail["installation"]) if detail.get("installation") else None)
