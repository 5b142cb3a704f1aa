"""Face check attempts: counted against hourly limits before any work, and each one concluded the
same way — recorded in the audit log with what was measured and the capture's provenance (never an
image), the session raised on success, the refusal answered with attempts left and alternatives."""

from __future__ import annotations

import uuid
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import DomainError, FaceAttemptsExhausted, RateLimited
from backend.face import repository
from backend.face.analysis import FaceAnalyser
from backend.face.capture import FaceClient
from backend.face.policy import TEMPLATE_MODEL, FacePolicy
from backend.face.reasons import ALTERNATIVES, with_reasons
from backend.face.retention import PhotoRetention
from backend.face.schemas import FaceChecks, FaceVerified
from backend.identity.service import IdentityService


class FaceAttempts:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, identity: IdentityService,
                 policy: FacePolicy, analyser: FaceAnalyser, retention: PhotoRetention) -> None:
        self.db, self.ephemeral, self.audit, self.identity = db, ephemeral, audit, identity
        self.policy, self.analyser, self.retention = policy, analyser, retention

    async def count(self, actor: Actor, client: FaceClient, citizen_id: str | None = None) -> None:
        """One more face check of `citizen_id` (default: the actor); refuse past the hourly caps and
        the person's daily cap. Per person and per session are the controls; per address is set high
        (many people share one address behind a NAT) and per device only counts when the client names
        one."""
        person = citizen_id or actor.id or ""
        limits = [("face-session", actor.session_id or "", self.policy.attempts_per_session_hour, 3600,
                   "face checks in this session"),
                  ("face-citizen", person, self.policy.attempts_per_citizen_hour, 3600,
                   "face checks for this person"),
                  ("face-citizen-day", person, self.policy.attempts_per_citizen_day, 86400,
                   "face checks for this person today"),
                  ("face-address", client.address, self.policy.attempts_per_address_hour, 3600,
                   "face checks from this network address")]
        if client.device is not None:
            limits.append(("face-device", client.device, self.policy.attempts_per_device_hour, 3600,
                           "face checks from this device"))
        try:
            for name, subject, limit, window, what in limits:
                await self.ephemeral.limit(name, subject, limit=limit, window_seconds=window, what=what)
        except RateLimited as exc:
            raise with_reasons(FaceAttemptsExhausted(exc.detail, exc.retry_after, alternatives=ALTERNATIVES),
                               "attempts-exhausted") from None

    async def left(self, actor: Actor, citizen_id: str) -> int:
        """Attempts left now: the smallest of what the person has left this hour and today, and what
        this session has left."""
        left = min(await self.ephemeral.remaining("face-citizen", citizen_id, limit=self.policy.attempts_per_citizen_hour),
                   await self.left_today(citizen_id))
        if actor.kind == "citizen" and actor.session_id:
            left = min(left, await self.ephemeral.remaining("face-session", actor.session_id,
                                                            limit=self.policy.attempts_per_session_hour))
        return left

    async def left_today(self, citizen_id: str) -> int:
        return await self.ephemeral.remaining("face-citizen-day", citizen_id,
                                              limit=self.policy.attempts_per_citizen_day)

    def detail(self, kind: str, client: FaceClient) -> dict[str, Any]:
        """The audit detail every attempt starts from: what was checked, how, and from where."""
        return {"check": kind, "model": TEMPLATE_MODEL, "threshold": self.policy.threshold,
                "device": client.device, "address": client.address, "capture": client.capture,
                "passive_anti_spoofing": self.analyser.attack_detector.name}

    async def conclude(
        self, actor: Actor, row: asyncpg.Record, kind: str, photos: list[bytes], detail: dict[str, Any],
        failure: DomainError | None, level: str,
    ) -> FaceVerified:
        """Record the attempt; on success raise the session's assurance; then answer or refuse."""
        citizen_id = row["id"]
        method = "face-photo" if kind == "photo" else "face-liveness"
        if failure is not None:
            detail["reasons"] = [r["code"] for r in failure.extensions.get("reasons", [])]
        async with self.db.transaction() as conn:
            await self.retention.retain(conn, citizen_id, kind, photos, actor.request_id)
            if failure is None:
                await repository.mark_verified(conn, citizen_id, level)
                tokens = await self.identity.elevate(conn, actor, level, method)
                installation = detail.get("installation")
                await repository.record_session_capture(conn, uuid.UUID(actor.session_id or ""), level,
                                                        detail["capture"],
                                                        uuid.UUID(installation) if installation else None)
                await self.audit.record(conn, actor, "face.verified", "citizen", str(citizen_id),
                                        division=row["home_division"], detail=detail | {"decision": "match"})
            else:
                await self.audit.record(conn, actor, "face.check_failed", "citizen", str(citizen_id),
                                        division=row["home_division"], detail=detail | {"decision": failure.slug})
        if failure is not None:
            failure.extensions["attempts_left"] = await self.left(actor, str(citizen_id))
            if failure.extensions["attempts_left"] == 0:
                failure.extensions["alternatives"] = ALTERNATIVES
            raise failure
        checks = FaceChecks(match=True, liveness="active-challenge" if kind == "liveness" else "none",
                            passive_anti_spoofing=self.analyser.attack_detector.name)
        # A photo check on a session already at L3 leaves it at L3: report what the tokens carry.
        return FaceVerified(decision="match", assurance_level=tokens.assurance_level, checks=checks, tokens=tokens,
                            capture=detail["capture"])
