"""The liveness challenge (L3): a random sequence of head movements issued once per session, and the
burst of frames answering it judged against the challenge and the reference."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from typing import Any

import asyncpg
import numpy as np

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    ChallengeExpired,
    ChallengeUsed,
    DomainError,
    FaceMismatch,
    FacePhotoTooLarge,
    FacePhotoUnusable,
    LivenessFailed,
    ValidationFailed,
)
from backend.face.analysis import FaceAnalyser, builtins, check_sizes, unusable_listed
from backend.face.attempts import FaceAttempts
from backend.face.capture import FaceClient
from backend.face.engine import PoolSlot
from backend.face.installations import CaptureProof, FaceInstallations
from backend.face.policy import MOVEMENTS
from backend.face.reasons import reasons, step, with_reasons
from backend.face.references import References, not_enrolled
from backend.face.schemas import FaceReason, FaceVerified, LivenessChallenge, Movement
from ml_models.liveness import Action, FrameGeometry, continuity, follows_challenge, one_still_picture, pose_labels
from ml_models.pipeline import cosine_similarity

# Challenge ids are `secrets.token_urlsafe(24)`; anything else was never issued.
CHALLENGE_ID = re.compile(r"[A-Za-z0-9_-]{32}")


def holder(actor: Actor) -> str:
    """Who holds a challenge: the actor's session, or for an actor acting without one (a kiosk
    device acting for the resident in front of it) the actor itself — never one holder shared by all
    of them, where each kiosk's new challenge replaced every other kiosk's open one."""
    return actor.session_id or who(actor)


def _neighbours(index: int, frontal: list[int]) -> list[int]:
    """The frontal frames just before and just after `index` (itself excluded)."""
    before = [j for j in frontal if j < index]
    after = [j for j in frontal if j > index]
    return ([before[-1]] if before else []) + ([after[0]] if after else [])


class LivenessChallenges:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, references: References,
                 analyser: FaceAnalyser, attempts: FaceAttempts, installations: FaceInstallations) -> None:
        self.db, self.ephemeral, self.audit, self.references = db, ephemeral, audit, references
        self.analyser, self.attempts, self.policy = analyser, attempts, analyser.policy
        self.installations = installations

    async def issue(self, actor: Actor, movement: Movement, client: FaceClient,
                    citizen_id: uuid.UUID | None = None) -> LivenessChallenge:
        """A random sequence of head movements, single-use, valid for a short time, for the actor's own
        face or (`citizen_id`, see `on_behalf`) for a named person's.

        Each challenge counts as an attempt of the person checked (asking for challenges until one fits
        a prepared burst costs attempts), and a session (a kiosk, for a kiosk acting without one) has one open challenge: a new one
        replaces the last."""
        await self.attempts.count(actor, client, str(citizen_id) if citizen_id else None)
        async with self.db.connection() as conn:
            row = await (self.references.own(conn, actor) if citizen_id is None
                         else self.references.named(conn, citizen_id))
        if row["template_enc"] is None:
            raise not_enrolled()
        choices = MOVEMENTS[movement]
        chooser = secrets.SystemRandom()
        # Independent choices: a movement may repeat, since the person returns to frontal in between.
        actions: list[Action] = [chooser.choice(choices) for _ in range(self.policy.challenge_steps)]
        challenge_id = secrets.token_urlsafe(24)
        seconds = self.policy.challenge_seconds
        state = {"citizen": str(row["id"]), "actions": actions}
        session = holder(actor)
        replaced = await self.ephemeral.client.set(self.ephemeral.key("face-challenge-open", session), challenge_id,
                                                   ex=seconds, get=True)
        if replaced is not None:
            await self.ephemeral.client.delete(self._key(session, replaced.decode()))
        await self.ephemeral.client.set(self._key(session, challenge_id), json.dumps(state), ex=seconds)
        async with self.db.transaction() as conn:
            await self.audit.record(conn, actor, "face.challenge_issued", "citizen", str(row["id"]),
                                    division=row["home_division"],
                                    detail={"challenge": challenge_id, "actions": actions, "movement": movement,
                                            "replaced": replaced is not None, "capture": client.capture,
                                            "on_behalf": citizen_id is not None})
        return LivenessChallenge(
            challenge_id=challenge_id, steps=[step(a) for a in actions],
            expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds), expires_in=seconds,
            min_frames=self.policy.min_frames, max_frames=self.policy.max_frames)

    def _key(self, session: str, challenge_id: str) -> str:
        return self.ephemeral.key("face-challenge", session, challenge_id)

    async def take(self, actor: Actor, challenge_id: str, citizen_id: str | None = None) -> list[Action]:
        """The challenge's actions, consumed: a second answer, a late one, one from another session,
        one issued for another person than `citizen_id` (default: the actor), or one to a challenge
        since replaced, is refused."""
        session = holder(actor)
        state = await self.ephemeral.take_once("face-challenge", session, challenge_id)
        if state is None:
            if await self.ephemeral.client.exists(self.ephemeral.key("face-challenge-used", session, challenge_id)):
                raise with_reasons(ChallengeUsed("this challenge was already answered; request a new one"),
                                   "challenge-used")
            raise with_reasons(ChallengeExpired("this challenge has expired, was replaced by a newer one, or was "
                                                "not issued to this session; request a new one"),
                               "challenge-expired")
        await self.ephemeral.client.set(self.ephemeral.key("face-challenge-used", session, challenge_id), 1,
                                        ex=24 * 3600)
        issued = json.loads(state)
        if issued["citizen"] != (citizen_id or actor.id):
            raise with_reasons(ChallengeExpired("this challenge was issued to someone else; request a new one"),
                               "challenge-expired")
        return issued["actions"]

    def check_answer_shape(self, challenge_id: str, frames: list[bytes]) -> None:
        """Refuse an id never issued, or a burst of the wrong length, before anything is spent."""
        if not CHALLENGE_ID.fullmatch(challenge_id):
            raise with_reasons(ChallengeExpired("no challenge has this id; request a new one"), "challenge-expired")
        if not self.policy.min_frames <= len(frames) <= self.policy.max_frames:
            error = ValidationFailed.field(
                "frames", f"send between {self.policy.min_frames} and {self.policy.max_frames} frames")
            raise with_reasons(error, "frame-count")

    async def answer(self, actor: Actor, challenge_id: str, frames: list[bytes], client: FaceClient,
                     proof: CaptureProof | None = None) -> FaceVerified:
        """Check a burst of frames against the challenge and the reference; success raises the session to L3.

        With a `proof` the answer's provenance is what the attested installation's signature proves
        (refused when it does not verify); the `face-l3` capture policy must accept the provenance.
        The attempt was counted when the challenge was issued. Room on the pool is reserved before the
        challenge is used up, so a busy pool (503) leaves the challenge open for a retry."""
        self.check_answer_shape(challenge_id, frames)
        detail = self.attempts.detail("liveness", client) | {"challenge": challenge_id, "frames": len(frames)}
        failure: DomainError | None = None
        async with self.analyser.engine.reserve(len(frames)) as slot:
            async with self.db.connection() as conn:
                row = await self.references.own(conn, actor)
            try:
                actions = await self.take(actor, challenge_id)
            except (ChallengeExpired, ChallengeUsed) as exc:
                failure = exc
            else:
                detail["actions"] = actions
                client, failure = await self.installations.attest_answer(actor, proof, challenge_id, frames, client,
                                                                         detail)
                failure = failure or await self.judge_burst(slot, row, actions, frames, detail)
                failure = failure or self.installations.refuse_unaccepted("face-l3", client.capture)
        return await self.attempts.conclude(actor, row, "liveness", frames, detail, failure, "L3")

    async def judge_burst(self, slot: PoolSlot, row: asyncpg.Record, actions: list[Action], frames: list[bytes],
                          detail: dict[str, Any]) -> DomainError | None:
        """The refusal for this burst, or None when it passes; fills `detail` with what was measured."""
        reference = self.references.template(row)
        if reference is None:
            return not_enrolled()
        return await judge_frames(self.analyser, slot, reference, actions, frames, detail)


async def judge_frames(analyser: FaceAnalyser, slot: PoolSlot, reference: np.ndarray, actions: list[Action],
                   frames: list[bytes], detail: dict[str, Any]) -> DomainError | None:
    """The whole check of a burst's frames against a challenge's `actions` and a `reference`
    embedding: usable frames, the movements, one continuous capture, one person, the match."""
    try:
        check_sizes(frames, analyser.policy.frame_pipeline.image, "#/frames")
    except (FacePhotoUnusable, FacePhotoTooLarge) as exc:
        return exc
    judged = await analyser.burst(slot, frames)
    listed: list[FaceReason] = []
    for index, result in enumerate(judged):
        codes = [result.rejected] if result.analysis is None else result.analysis.problems
        listed.extend(reasons(codes, index))  # type: ignore[arg-type]
    if listed:
        return unusable_listed(listed)
    analyses = [j.analysis for j in judged]
    poses = [a.quality.pose for a in analyses]  # type: ignore[union-attr]
    labels = pose_labels(poses)
    still = one_still_picture([a.face.landmarks for a in analyses],  # type: ignore[union-attr]
                              [hashlib.sha256(frame).digest() for frame in frames])
    flow = continuity([FrameGeometry(a.image_size, a.face.box, a.scene)  # type: ignore[union-attr, arg-type]
                       for a in analyses], analyser.policy.continuity)
    # Every frontal frame (the first, and each return) must be the enrolled person; every frame
    # must be the same person as the frontal frames around it.
    frontal = [i for i, label in enumerate(labels) if label == "frontal"] or [0]
    scores = [round(cosine_similarity(analyses[i].embedding, reference), 4) for i in frontal]  # type: ignore[union-attr, arg-type]
    consistency = [round(min([cosine_similarity(a.embedding, analyses[j].embedding)  # type: ignore[union-attr, arg-type]
                              for j in _neighbours(i, frontal)], default=1.0), 4)
                   for i, a in enumerate(analyses)]
    detail |= {"score": min(scores), "frontal_scores": scores, "labels": labels, "consistency": consistency,
               "still_picture": still, "continuity": {"same_size": flow.same_size, "shift": flow.shift,
                                                      "scale": flow.scale, "background": flow.background},
               "poses": [[p.yaw, p.pitch] for p in poses]}
    codes = []
    if still:
        codes.append("frames-identical")
    if not follows_challenge(labels, actions):
        codes.append("pose-wrong")
    if not flow.within(analyser.policy.continuity):
        codes.append("frames-discontinuous")
    if min(consistency) < analyser.policy.burst_threshold:
        codes.append("person-changed")
    if analyser.attack_refusal([j.attack_score for j in judged], detail):
        codes.append("presentation-attack")
    if codes:
        listed = reasons(codes)
        return LivenessFailed("; ".join(r.en for r in listed), reasons=builtins(listed))
    if min(scores) < analyser.policy.threshold:
        return with_reasons(FaceMismatch("the face does not match the enrolled reference"), "mismatch")
    return None
