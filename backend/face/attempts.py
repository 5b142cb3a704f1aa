"""Face check attempts: counted against hourly limits before any work, and each one concluded the
same way — recorded in the audit log with what was measured and the capture's provenance (never an
image), the session raised on success, the refusal answered with attempts left and alternatives."""

from __future__ import annotations

import uuid
from typing import Any, Literal

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import DomainError, FaceAttemptsExhausted, RateLimited
from backend.face import repository
from backend.face.analysis import FaceAnalyser
from backend.face.capture import FaceClient, capture_class
from backend.face.policy import TEMPLATE_MODEL, FacePolicy
from backend.face.reasons import ALTERNATIVES, with_reasons
from backend.face.retention import PhotoRetention
from backend.face.schemas import FaceChecks, FaceVerified
from backend.identity.service import IdentityService

PersonKind = Literal["citizen", "card"]
# Whose checks a limit counts → (rate-limit bucket, what the refusal names). The daily bucket is
# `<bucket>-day`.
PERSON_BUCKETS: dict[PersonKind, tuple[str, str]] = {
    "citizen": ("face-citizen", "face checks for this person"),
    "card": ("face-card", "face checks with this ID card"),
}


class FaceAttempts:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, identity: IdentityService,
                 policy: FacePolicy, analyser: FaceAnalyser, retention: PhotoRetention) -> None:
        self.db, self.ephemeral, self.audit, self.identity = db, ephemeral, audit, identity
        self.policy, self.analyser, self.retention = policy, analyser, retention

    async def count(self, actor: Actor, client: FaceClient, person: str | None = None, *,
                    by: PersonKind = "citizen") -> None:
        """One more face check of `person` (default: the actor) — a citizen by id, or at a kiosk
        sign-in, before the person is known, an ID card by its lookup hash (`by="card"`); refuse past
        the person's hourly and daily caps, the session's, the address's and the device's. Per person
        and per session are the controls; per address is set high (many people share one address
        behind a NAT) and per device only counts when the client names one. An actor without a
        session (a kiosk acting for a resident) has no per-session limit: its device's limit stands in."""
        subject = person or actor.id or ""
        bucket, what = PERSON_BUCKETS[by]
        limits = [(bucket, subject, self.policy.attempts_per_citizen_hour, 3600, what),
                  (f"{bucket}-day", subject, self.policy.attempts_per_citizen_day, 86400, f"{what} today"),
                  ("face-address", client.address, self.policy.attempts_per_address_hour, 3600,
                   "face checks from this network address")]
        if actor.session_id:
            limits.insert(0, ("face-session", actor.session_id, self.policy.attempts_per_session_hour, 3600,
                              "face checks in this session"))
        if capture_class(client.capture) == "kiosk":
            # A registered kiosk (its credential checked) serves one resident after another: a phone's limit
            # would lock a township's kiosk for an hour after thirty checks, anyone's.
            limits.append(("face-kiosk", client.device or client.capture, self.policy.attempts_per_kiosk_hour, 3600,
                           "face checks at this kiosk"))
        elif client.device is not None:
            limits.append(("face-device", client.device, self.policy.attempts_per_device_hour, 3600,
                           "face checks from this device"))
        try:
            for name, subject, limit, window, what in limits:
                await self.ephemeral.limit(name, subject, limit=limit, window_seconds=window, what=what)
        except RateLimited as exc:
            raise with_reasons(FaceAttemptsExhausted(exc.detail, exc.retry_after, alternatives=ALTERNATIVES),
                               "attempts-exhausted") from None

    async def left(self, actor: Actor, person: str, *, by: PersonKind = "citizen") -> int:
        """Attempts left now: the smallest of what the person has left this hour and today, and what
        this session has left."""
        bucket, _ = PERSON_BUCKETS[by]
        left = min(await self.ephemeral.remaining(bucket, person, limit=self.policy.attempts_per_citizen_hour),
                   await self.left_today(person, by=by))
        if actor.kind == "citizen" and actor.session_id:
            left = min(left, await self.ephemeral.remaining("face-session", actor.session_id,
                                                            limit=self.policy.attempts_per_session_hour))
        return left

    async def left_today(self, person: str, *, by: PersonKind = "citizen") -> int:
        bucket, _ = PERSON_BUCKETS[by]
        return await self.ephemeral.remaining(f"{bucket}-day", person, limit=self.policy.attempts_per_citizen_day)

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
