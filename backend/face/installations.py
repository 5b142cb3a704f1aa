"""Attested phone installations: registered once with an Android Key Attestation or an Apple App
Attest attestation, then used to sign each liveness answer; revocable by the citizen (a lost phone)
and by an administrator. And the provenance of the capture behind a session's step-up, with the
per-use policy check other domains call (`require`)."""

from __future__ import annotations

import asyncio
import base64
import binascii
import dataclasses
import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.config import ConfigError, Settings
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    AttestationRejected,
    CaptureNotAccepted,
    CaptureNotVerified,
    Conflict,
    DomainError,
    NotFound,
    RateLimited,
    ValidationFailed,
)
from backend.face import repository
from backend.face.attestation import (
    APPLE_ROOT,
    GOOGLE_ROOTS,
    AndroidAppIdentity,
    AppleAppIdentity,
    AttestationRefused,
    Attested,
    capture_message,
    load_certificates,
    verify_android,
    verify_android_signature,
    verify_app_attest,
    verify_app_attest_assertion,
)
from backend.face.capture import UNATTESTED, CapturePolicies, FaceClient
from backend.face.reasons import with_reasons
from backend.face.schemas import InstallationNonce, InstallationRegistration, InstallationView
from backend.identity import divisions

REGISTRATIONS_PER_CITIZEN_HOUR = 10
INSTALLATION_REVOKERS = frozenset({"admin"})


def _listed(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True, slots=True)
class AttestationConfig:
    """Which apps may register, against which roots; None for a platform that is switched off."""

    android: AndroidAppIdentity | None
    apple: AppleAppIdentity | None
    nonce_seconds: int = 300

    @classmethod
    def from_settings(cls, settings: Settings) -> AttestationConfig:
        try:
            android = apple = None
            if _listed(settings.face_android_packages):
                android = AndroidAppIdentity(
                    packages=frozenset(_listed(settings.face_android_packages)),
                    signing_digests=frozenset(bytes.fromhex(d) for d in _listed(settings.face_android_signing_digests)),
                    roots=load_certificates(Path(settings.face_android_attestation_roots or GOOGLE_ROOTS)),
                    revoked_serials=frozenset(int(s, 16) for s in _listed(settings.face_android_revoked_serials)))
                if not android.signing_digests:
                    raise ValueError("TONGBAN_FACE_ANDROID_SIGNING_DIGESTS is empty")
            if _listed(settings.face_apple_app_ids):
                apple = AppleAppIdentity(
                    app_ids=frozenset(_listed(settings.face_apple_app_ids)),
                    root=load_certificates(Path(settings.face_app_attest_root or APPLE_ROOT))[0],
                    environments=frozenset(_listed(settings.face_app_attest_environments)))
        except (OSError, ValueError) as exc:
            raise ConfigError(f"face attestation settings: {exc}") from None
        return cls(android, apple, settings.face_installation_nonce_seconds)


@dataclass(frozen=True, slots=True)
class CaptureProof:
    """What a liveness answer from an attested installation carries: which installation, and its
    signature (Android) or App Attest assertion (Apple) over `capture_message`."""

    installation: uuid.UUID
    signature: bytes


def decode_base64(value: str, pointer: str) -> bytes:
    try:
        return base64.b64decode(value.replace("-", "+").replace("_", "/") + "=" * (-len(value) % 4), validate=True)
    except (binascii.Error, ValueError):
        raise ValidationFailed.field(pointer, "must be base64") from None


def view(row: asyncpg.Record) -> InstallationView:
    return InstallationView(id=row["id"], kind=row["kind"], app_id=row["app_id"], attested=row["attested"],
                            registered_at=row["registered_at"], last_used_at=row["last_used_at"],
                            revoked_at=row["revoked_at"], revocation_reason=row["revocation_reason"])


def _not_verified(code: str, detail: str) -> CaptureNotVerified:
    return with_reasons(CaptureNotVerified(detail), code)


class FaceInstallations:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, config: AttestationConfig,
                 policies: CapturePolicies) -> None:
        self.db, self.ephemeral, self.audit, self.config, self.policies = db, ephemeral, audit, config, policies

    # -- registration --------------------------------------------------------------------------------

    async def issue_nonce(self, actor: Actor) -> InstallationNonce:
        """A one-time nonce for this session, to be bound into the attestation."""
        try:
            await self.ephemeral.limit("face-install", actor.id or "", limit=REGISTRATIONS_PER_CITIZEN_HOUR,
                                       window_seconds=3600, what="phone registrations for this person")
        except RateLimited as exc:
            raise with_reasons(exc, "attempts-exhausted") from None
        nonce = secrets.token_urlsafe(32)
        seconds = self.config.nonce_seconds
        await self.ephemeral.client.set(self.ephemeral.key("face-install-nonce", actor.session_id or "", nonce),
                                        actor.id or "", ex=seconds)
        return InstallationNonce(nonce=nonce, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(seconds=seconds),
                                 expires_in=seconds)

    async def register(self, actor: Actor, form: InstallationRegistration) -> InstallationView:
        """Check the attestation made with our nonce and keep the attested public key."""
        chain = [decode_base64(c, f"certificate_chain/{i}") for i, c in enumerate(form.certificate_chain or [])]
        attestation = decode_base64(form.attestation_object, "attestation_object") if form.attestation_object else None
        key_id = decode_base64(form.key_id, "key_id") if form.key_id else None
        if form.kind == "android-key-attestation" and not chain:
            raise ValidationFailed.field("certificate_chain", "an Android registration sends the key's certificate chain")
        if form.kind == "app-attest" and (attestation is None or key_id is None):
            raise ValidationFailed.field("attestation_object", "an App Attest registration sends the attestation "
                                                               "object and the key id")
        taken = await self.ephemeral.take_once("face-install-nonce", actor.session_id or "", form.nonce)
        citizen_id = uuid.UUID(actor.id)
        try:
            if taken is None or taken.decode() != actor.id:
                raise AttestationRefused("nonce-expired", "the nonce expired, was used, or was issued to another session")
            attested = await asyncio.to_thread(self._verify, form.kind, chain, attestation, key_id,
                                               base64.urlsafe_b64decode(form.nonce + "="))
        except AttestationRefused as refused:
            await self.audit.record_refusal(self.db, actor, "face.installation_refused", "citizen", actor.id,
                                            detail={"kind": form.kind, "reason": refused.code})
            raise with_reasons(AttestationRejected(refused.detail), refused.code) from None
        async with self.db.transaction() as conn:
            row = await repository.add_installation(
                conn, uuid.uuid4(), citizen_id, kind=attested.kind, key_id=attested.key_id,
                public_key=attested.public_key, app_id=attested.app_id, attested=attested.facts)
            if row is None:
                raise Conflict("this key is already registered; make a new key to register again")
            await self.audit.record(conn, actor, "face.installation_registered", "face_installation", str(row["id"]),
                                    detail={"kind": attested.kind, "app_id": attested.app_id,
                                            "attested": attested.facts})
        return view(row)

    def _verify(self, kind: str, chain: list[bytes], attestation: bytes | None, key_id: bytes | None,
                nonce: bytes) -> Attested:
        now = dt.datetime.now(dt.UTC)
        if kind == "android-key-attestation":
            if self.config.android is None:
                raise AttestationRefused("attestation-unavailable", "Android attestation is not configured")
            return verify_android(chain, nonce, self.config.android, now)
        if self.config.apple is None:
            raise AttestationRefused("attestation-unavailable", "App Attest is not configured")
        assert attestation is not None and key_id is not None
        return verify_app_attest(attestation, key_id, nonce, self.config.apple, now)

    # -- reading and revoking ------------------------------------------------------------------------

    async def mine(self, actor: Actor) -> list[InstallationView]:
        async with self.db.connection() as conn:
            return [view(row) for row in await repository.installations_of(conn, uuid.UUID(actor.id))]

    async def revoke_own(self, actor: Actor, installation_id: uuid.UUID) -> None:
        """The citizen blocks one of their installations (a lost or sold phone)."""
        async with self.db.transaction() as conn:
            row = await repository.installation(conn, installation_id)
            if row is None or str(row["citizen_id"]) != actor.id:
                raise NotFound("no such installation among yours")
            revoked = await repository.revoke_installation(conn, installation_id, f"citizen:{actor.id}",
                                                           "revoked by the citizen")
            if revoked is not None:
                await self.audit.record(conn, actor, "face.installation_revoked", "face_installation",
                                        str(installation_id), detail={"by": "citizen"})

    async def revoke(self, actor: Actor, installation_id: uuid.UUID, reason: str) -> InstallationView:
        """An administrator whose division covers the citizen's home division blocks an installation."""
        async with self.db.transaction() as conn:
            row = await repository.installation(conn, installation_id)
            owner = await repository.citizen_with_enrolment(conn, row["citizen_id"]) if row else None
            home = owner["home_division"] if owner else None
            if row is not None and divisions.within(actor.division or "", home or ""):
                revoked = await repository.revoke_installation(conn, installation_id, f"staff:{actor.id}", reason)
                if revoked is None:
                    raise Conflict("this installation is already revoked")
                await self.audit.record(conn, actor, "face.installation_revoked", "face_installation",
                                        str(installation_id), division=home, detail={"by": "staff", "reason": reason})
                return view(revoked)
        await self.audit.record_refusal(self.db, actor, "face.installation_revoke_refused", "face_installation",
                                        str(installation_id), division=actor.division)
        raise NotFound("no such installation")

    # -- each answer ---------------------------------------------------------------------------------

    async def verify_answer(self, actor: Actor, proof: CaptureProof, challenge_id: str,
                            frames: list[bytes]) -> tuple[str, uuid.UUID]:
        """The provenance an attested answer proves, or `CaptureNotVerified` with a reason."""
        async with self.db.connection() as conn:
            row = await repository.installation(conn, proof.installation)
        if row is None or str(row["citizen_id"]) != actor.id:
            raise _not_verified("installation-unknown", "no such installation among yours")
        if row["revoked_at"] is not None:
            raise _not_verified("installation-revoked", "this installation was revoked")
        message = capture_message(challenge_id, frames)
        try:
            counter = await asyncio.to_thread(self._check_signature, row, message, proof.signature)
        except AttestationRefused as refused:
            raise _not_verified(refused.code, refused.detail) from None
        async with self.db.transaction() as conn:
            if not await repository.use_installation(conn, row["id"], counter):
                raise _not_verified("capture-replayed", "this assertion was already used, or the installation "
                                                        "was revoked meanwhile")
        return row["kind"], row["id"]

    @staticmethod
    def _check_signature(row: asyncpg.Record, message: bytes, signature: bytes) -> int | None:
        if row["kind"] == "android-key-attestation":
            verify_android_signature(row["public_key"], message, signature)
            return None
        return verify_app_attest_assertion(row["public_key"], row["app_id"], row["counter"], message, signature)

    # -- what other uses ask -------------------------------------------------------------------------

    async def session_capture(self, actor: Actor, level: str = "L3") -> str:
        """The provenance of the capture behind this session's face step-up to `level`: `unattested`
        when none is recorded, or when the installation that made it has been revoked since."""
        if actor.session_id is None:
            return UNATTESTED
        async with self.db.connection() as conn:
            row = await repository.session_capture(conn, uuid.UUID(actor.session_id), level)
        if row is None or row["revoked_at"] is not None:
            return UNATTESTED
        return str(row["capture"])

    async def require(self, actor: Actor, use: str, level: str = "L3") -> str:
        """Refuse (`capture-not-accepted`, 403) unless the capture behind this session's step-up to
        `level` is one `use` accepts; return the capture. The caller checks the level itself."""
        capture = await self.session_capture(actor, level)
        refusal = self.refuse_unaccepted(use, capture)
        if refusal is not None:
            raise refusal
        return capture

    async def attest_answer(self, actor: Actor, proof: CaptureProof | None, challenge_id: str, frames: list[bytes],
                            client: FaceClient, detail: dict[str, Any]) -> tuple[FaceClient, DomainError | None]:
        """The client with the provenance this answer proves (unchanged without a proof), or the
        refusal; `detail` records the capture and the installation."""
        if proof is None:
            return client, None
        detail["installation"] = str(proof.installation)
        try:
            capture, _ = await self.verify_answer(actor, proof, challenge_id, frames)
        except CaptureNotVerified as exc:
            return client, exc
        detail["capture"] = capture
        return dataclasses.replace(client, capture=capture), None

    def refuse_unaccepted(self, use: str, capture: str) -> DomainError | None:
        """`capture-not-accepted` when `use` does not accept `capture`, else None."""
        if self.policies.accepts(use, capture):
            return None
        accepted = self.policies.accepted(use)
        return with_reasons(CaptureNotAccepted(
            f"{use} accepts face checks from {', '.join(accepted)} captures; this one was {capture}",
            accepted=accepted, capture=capture), "capture-not-accepted")
