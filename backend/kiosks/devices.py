"""Kiosk devices: registration of a device's public key, revocation and re-keying, remote configuration,
heartbeats, the staff view of kiosks in scope, and the check of each signed request."""

from __future__ import annotations

import base64
import datetime as dt
import time
import uuid
from dataclasses import dataclass
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    Conflict,
    Forbidden,
    KioskRequestReplayed,
    KioskRevoked,
    KioskUnknown,
    ValidationFailed,
)
from backend.identity import divisions
from backend.kiosks import repository, signatures
from backend.kiosks.schemas import (
    Heartbeat,
    HeartbeatAnswer,
    KioskConfiguration,
    KioskHealth,
    KioskRegistration,
    KioskRekey,
    KioskRevocation,
    KioskView,
)
from backend.security.reach import reachable

# Who registers, revokes, re-keys and configures kiosks; who sees them (all within their division).
KIOSK_ADMINS = frozenset({"admin"})
KIOSK_VIEWERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})
# A kiosk is silent after this many heartbeat intervals without one.
SILENT_AFTER_INTERVALS = 3


@dataclass(frozen=True, slots=True)
class Kiosk:
    """The device behind a verified request."""

    id: uuid.UUID
    division_code: str
    capabilities: tuple[str, ...]
    configuration: KioskConfiguration

    def actor(self, request_id: str | None) -> Actor:
        return Actor(kind="kiosk", id=str(self.id), request_id=request_id, division=self.division_code)


def _public_key(text: str) -> bytes:
    raw = base64.urlsafe_b64decode(text + "=")
    if len(raw) != 32:
        raise ValidationFailed.field("public_key", "an Ed25519 public key is 32 bytes")
    return raw


def _configuration(row: asyncpg.Record) -> KioskConfiguration:
    return msgspec.convert(row["configuration"], KioskConfiguration)


def _view(row: asyncpg.Record, now: dt.datetime) -> KioskView:
    configuration = _configuration(row)
    last = row["last_heartbeat_at"]
    silent = last is None or (now - last).total_seconds() > SILENT_AFTER_INTERVALS * configuration.heartbeat_seconds
    return KioskView(
        id=row["id"], key_id=str(row["id"]), division_code=row["division_code"], address=row["address"],
        capabilities=list(row["capabilities"]), status=row["status"],
        public_key=signatures.public_key_text(row["public_key"]),
        key_fingerprint=signatures.key_fingerprint(row["public_key"]), key_version=row["key_version"],
        configuration=configuration,
        health=msgspec.convert(row["health"], KioskHealth) if row["health"] else None,
        last_heartbeat_at=last, silent=silent and row["status"] == "active", registered_at=row["registered_at"],
        revoked_at=row["revoked_at"], revoked_reason=row["revoked_reason"])


def _health_summary(health: dict[str, Any]) -> dict[str, str]:
    """Each peripheral's state, the part of a heartbeat worth an audit entry when it changes."""
    return {"reader": health.get("reader", "absent"), "camera": health.get("camera", "absent"),
            "scanner": health.get("scanner", "absent"), "printer": (health.get("printer") or {}).get("status", "absent")}


class KioskDevices:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, *, signature_window_seconds: int) -> None:
        self.db, self.ephemeral, self.audit = db, ephemeral, audit
        self.window = signature_window_seconds

    # -- administration ---------------------------------------------------------------------------

    @staticmethod
    def _check_admin(actor: Actor) -> None:
        if actor.kind == "staff" and actor.role not in KIOSK_ADMINS:
            raise Forbidden("only admins manage kiosks")
        if actor.kind not in ("staff", "system"):
            raise Forbidden("only staff or the system manage kiosks")

    async def _in_scope(self, conn: asyncpg.Connection, actor: Actor, kiosk_id: uuid.UUID, action: str,
                        *, for_update: bool = False) -> asyncpg.Record:
        """The kiosk if the caller's division covers it; out of scope looks exactly like missing."""
        row = await repository.kiosk(conn, kiosk_id, for_update=for_update)
        reaches = row is not None and (actor.kind != "staff" or divisions.within(actor.division or "",
                                                                                 row["division_code"]))
        return await reachable(self.audit, self.db, actor, row, reaches, refused=f"{action}_refused",
                               record_type="kiosk", record_id=str(kiosk_id), missing="no such kiosk")

    async def register(self, form: KioskRegistration, actor: Actor) -> KioskView:
        """Register a device by its public key, inside the admin's division."""
        self._check_admin(actor)
        try:
            divisions.check_known_division(form.division_code)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("division_code", str(exc)) from None
        if actor.kind == "staff" and not divisions.within(actor.division or "", form.division_code):
            await self.audit.record_refusal(self.db, actor, "kiosk.register_refused", "kiosk", None,
                                            division=actor.division, detail={"division": form.division_code})
            raise ValidationFailed.field("division_code", "this division is outside your scope")
        capabilities = [c for c in ("reader", "camera", "printer", "scanner") if c in form.capabilities]
        configuration = form.configuration or KioskConfiguration()
        async with self.db.transaction() as conn:
            row = await repository.insert_kiosk(
                conn, division_code=form.division_code, address=form.address.strip(), capabilities=capabilities,
                public_key=_public_key(form.public_key), configuration=msgspec.to_builtins(configuration),
                registered_by=f"{actor.kind}:{actor.id}")
            if row is None:
                raise Conflict("this public key is already registered; every device makes its own key pair")
            await self.audit.record(conn, actor, "kiosk.registered", "kiosk", str(row["id"]),
                                    division=form.division_code,
                                    detail={"capabilities": capabilities,
                                            "key_fingerprint": signatures.key_fingerprint(row["public_key"])})
        return _view(row, dt.datetime.now(dt.UTC))

    async def revoke(self, kiosk_id: uuid.UUID, form: KioskRevocation, actor: Actor) -> KioskView:
        """Revoke a device: its requests are refused from now on and open resident sessions end."""
        self._check_admin(actor)
        async with self.db.transaction() as conn:
            await self._in_scope(conn, actor, kiosk_id, "kiosk.revoked", for_update=True)
            row = await repository.revoke(conn, kiosk_id, form.reason.strip())
            if row is None:
                raise Conflict("the kiosk is already revoked")
            ended = await repository.end_sessions_of_kiosk(conn, kiosk_id, "kiosk-revoked")
            await self.audit.record(conn, actor, "kiosk.revoked", "kiosk", str(kiosk_id), division=row["division_code"],
                                    detail={"reason": form.reason.strip(), "sessions_ended": len(ended)})
        return _view(row, dt.datetime.now(dt.UTC))

    async def rekey(self, kiosk_id: uuid.UUID, form: KioskRekey, actor: Actor) -> KioskView:
        """Replace the device's public key (a new key pair made on the device); the old one stops working."""
        self._check_admin(actor)
        public_key = _public_key(form.public_key)
        async with self.db.transaction() as conn:
            await self._in_scope(conn, actor, kiosk_id, "kiosk.rekeyed", for_update=True)
            if await repository.public_key_taken(conn, public_key):
                raise Conflict("this public key is already registered; make a new key pair on the device")
            row = await repository.rekey(conn, kiosk_id, public_key)
            if row is None:
                raise Conflict("a revoked kiosk cannot be re-keyed; register the device again")
            await self.audit.record(conn, actor, "kiosk.rekeyed", "kiosk", str(kiosk_id), division=row["division_code"],
                                    detail={"key_version": row["key_version"],
                                            "key_fingerprint": signatures.key_fingerprint(public_key)})
        return _view(row, dt.datetime.now(dt.UTC))

    async def configure(self, kiosk_id: uuid.UUID, configuration: KioskConfiguration, actor: Actor) -> KioskView:
        """Change the configuration the kiosk receives with its next heartbeat answer."""
        self._check_admin(actor)
        async with self.db.transaction() as conn:
            await self._in_scope(conn, actor, kiosk_id, "kiosk.configured", for_update=True)
            row = await repository.configure(conn, kiosk_id, msgspec.to_builtins(configuration))
            await self.audit.record(conn, actor, "kiosk.configured", "kiosk", str(kiosk_id),
                                    division=row["division_code"], detail=msgspec.to_builtins(configuration))
        return _view(row, dt.datetime.now(dt.UTC))

    async def kiosks_in_scope(self, actor: Actor, *, silent_only: bool = False) -> list[KioskView]:
        """Every kiosk inside the staff member's division, with the silent ones marked (listed first)."""
        if actor.role not in KIOSK_VIEWERS:
            raise Forbidden("your role may not see kiosks")
        async with self.db.connection() as conn:
            rows = await repository.kiosks_within(conn, divisions.scope_prefix(actor.division or ""))
        now = dt.datetime.now(dt.UTC)
        views = [_view(row, now) for row in rows]
        views.sort(key=lambda v: (v.status != "active", not v.silent))
        return [v for v in views if v.silent] if silent_only else views

    async def kiosk_view(self, kiosk_id: uuid.UUID, actor: Actor) -> KioskView:
        if actor.kind == "staff" and actor.role not in KIOSK_VIEWERS:
            raise Forbidden("your role may not see kiosks")
        async with self.db.connection() as conn:
            row = await self._in_scope(conn, actor, kiosk_id, "kiosk.read")
        return _view(row, dt.datetime.now(dt.UTC))

    # -- the device ---------------------------------------------------------------------------------

    async def authenticate(self, message: signatures.SignedMessage, *, now: float | None = None) -> Kiosk:
        """The registered, active kiosk that signed `message`, once: a replay of the same nonce is refused.

        Order matters: what a refusal reveals after the signature is verified (revoked, replayed) is
        only told to the key's holder; nonces are only spent by correctly signed requests."""
        claimed = signatures.read_signature_input(message.headers)
        try:
            kiosk_id = uuid.UUID(claimed.key_id)
        except ValueError:
            raise KioskUnknown("no kiosk is registered under this keyid") from None
        async with self.db.connection() as conn:
            row = await repository.kiosk(conn, kiosk_id)
        if row is None:
            raise KioskUnknown("no kiosk is registered under this keyid")
        signatures.verify(message, claimed, row["public_key"], now=time.time() if now is None else now,
                          window_seconds=self.window)
        if row["status"] != "active":
            raise KioskRevoked("this kiosk was revoked; ask the service centre to register it again")
        fresh = await self.ephemeral.client.set(self.ephemeral.key("kiosk-nonce", str(kiosk_id), claimed.nonce), 1,
                                                nx=True, ex=2 * self.window + 1)
        if not fresh:
            raise KioskRequestReplayed("this signed request was already received; sign each request with a new nonce")
        return Kiosk(id=kiosk_id, division_code=row["division_code"], capabilities=tuple(row["capabilities"]),
                     configuration=_configuration(row))

    async def heartbeat(self, kiosk: Kiosk, beat: Heartbeat, actor: Actor) -> HeartbeatAnswer:
        """Record the device's health; answer with its configuration. A change of any peripheral's state
        is audited (a heartbeat that changes nothing is not: it comes every minute)."""
        health = msgspec.to_builtins(beat.health)
        async with self.db.transaction() as conn:
            before = await repository.kiosk(conn, kiosk.id, for_update=True)
            row = await repository.record_heartbeat(conn, kiosk.id, health)
            pending = await repository.pending_print_jobs(conn, kiosk.id)
            old, new = _health_summary(before["health"] or {}), _health_summary(health)
            if old != new:
                await self.audit.record(conn, actor, "kiosk.health_changed", "kiosk", str(kiosk.id),
                                        division=kiosk.division_code, detail={"from": old, "to": new})
        return HeartbeatAnswer(kiosk_id=kiosk.id, status=row["status"], configuration=_configuration(row),
                               server_time=row["last_heartbeat_at"], pending_print_jobs=pending)
