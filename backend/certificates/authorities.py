"""Issuing authorities and their signing keys — the `tongban certificates` commands: register an
authority, create, rotate and withdraw keys, list them. Trust-anchor keys (which sign the published
lists) live the same life."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Literal

import asyncpg
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates import repository
from backend.certificates.certificate_types import certificate_type
from backend.certificates.keys import KeyVault
from backend.certificates.published import PublishedLists
from backend.certificates.qr_format import key_id
from backend.certificates.schemas import AuthorityCreate, AuthorityView, SigningKeyView
from backend.certificates.trust_lists import b64url
from backend.db import Database
from backend.errors import Conflict, NotFound, ValidationFailed
from backend.identity import divisions

KeyPurpose = Literal["certificate", "trust-anchor", "case-exchange"]

# The life of a signing key, as data: (status, event) → new status.
KEY_TRANSITIONS: dict[tuple[str, str], str] = {
    ("standby", "activate"): "active",
    ("active", "retire"): "retired",
    ("standby", "withdraw"): "withdrawn",
    ("active", "withdraw"): "withdrawn",
    ("retired", "withdraw"): "withdrawn",
}


def key_transition(status: str, event: str) -> str:
    """The status a key moves to on `event`, or `Conflict` when the move is not allowed."""
    try:
        return KEY_TRANSITIONS[(status, event)]
    except KeyError:
        raise Conflict(f"a {status} key cannot {event}") from None


def _key_view(row: asyncpg.Record) -> SigningKeyView:
    return SigningKeyView(
        id=row["id"], kid=b64url(row["kid"]), purpose=row["purpose"], authority_id=row["authority_id"],
        status=row["status"], created_at=row["created_at"], activated_at=row["activated_at"],
        retired_at=row["retired_at"], last_expiry=row["last_expiry"], province=row["province"])


def key_owner(authority_id: str | None, exchange_province: str | None) -> tuple[KeyPurpose, str | None]:
    """Whose key: an issuing authority's (certificates), a province's (case hand-over records, see
    backend/cases/exchanges.py) or, with neither, the trust anchor's. Returns (purpose, province)."""
    if exchange_province is None:
        return ("certificate" if authority_id else "trust-anchor"), None
    if authority_id is not None:
        raise ValidationFailed.field("province", "a key belongs to an authority or to a province, not both")
    try:
        divisions.check_division(exchange_province)
    except divisions.InvalidDivision as exc:
        raise ValidationFailed.field("province", str(exc)) from None
    if divisions.province_of(exchange_province) != exchange_province:
        raise ValidationFailed.field("province", f"{exchange_province} is not a provincial-level division")
    return "case-exchange", exchange_province


class AuthorityService:
    def __init__(self, db: Database, audit: AuditLog, vault: KeyVault, lists: PublishedLists, *,
                 trust_list_seconds: int) -> None:
        self.db, self.audit, self.vault, self.lists = db, audit, vault, lists
        self.trust_list_seconds = trust_list_seconds

    async def create_authority(self, form: AuthorityCreate, actor: Actor) -> AuthorityView:
        division = form.id[:6]
        try:
            divisions.check_division(division)
        except divisions.InvalidDivision as exc:
            raise ValidationFailed.field("id", str(exc)) from None
        for index, code in enumerate(form.certificate_types):
            certificate_type(code, f"certificate_types/{index}")
        async with self.db.transaction() as conn:
            row = await repository.insert_authority(conn, form.id, form.name, division, form.certificate_types)
            if row is None:
                raise Conflict(f"authority {form.id} exists")
            await self.audit.record(conn, actor, "certificate_authority.created", "certificate_authority", form.id,
                                    division=division, detail={"types": form.certificate_types})
        return AuthorityView(row["id"], row["name"], row["division_code"], list(row["certificate_types"]))

    async def create_key(self, authority_id: str | None, actor: Actor, *,
                         exchange_province: str | None = None) -> SigningKeyView:
        """A new key on standby (published before it signs). When no key is in service (a new authority,
        or after a withdrawal) the longest-published standby key is activated — the new one if it is the
        only one, whose first certificates then need verifiers to refresh their list.

        With `exchange_province` (and no authority) the key is that province's case-exchange key."""
        purpose, province = key_owner(authority_id, exchange_province)
        async with self.db.transaction() as conn:
            if authority_id and await repository.authority(conn, authority_id) is None:
                raise NotFound(f"no issuing authority {authority_id}")
            existing = await repository.lock_keys(conn, purpose, authority_id, province)
            row = await self._new_key(conn, purpose, authority_id, province)
            activated = None
            if not any(k["status"] == "active" for k in existing):
                oldest = next((k for k in existing if k["status"] == "standby"), row)
                activated = await repository.set_key_status(conn, oldest["id"], key_transition("standby", "activate"))
                if activated["id"] == row["id"]:
                    row = activated
            await self.audit.record(conn, actor, "certificate_key.created", "certificate_key", str(row["id"]),
                                    division=authority_id[:6] if authority_id else province,
                                    detail={"kid": b64url(row["kid"]), "purpose": purpose, "status": row["status"],
                                            "activated": b64url(activated["kid"]) if activated else None})
        await self.db.after_commit(self.lists.changed)
        return _key_view(row)

    async def _new_key(self, conn: asyncpg.Connection, purpose: str, authority_id: str | None,
                       province: str | None = None) -> asyncpg.Record:
        public, wrapped = self.vault.generate()
        kid = key_id(Ed25519PublicKey.from_public_bytes(public))
        return await repository.insert_key(conn, purpose, authority_id, kid, public, wrapped, province)

    async def rotate_key(self, authority_id: str | None, actor: Actor, *, immediately: bool = False,
                         exchange_province: str | None = None) -> list[SigningKeyView]:
        """Retire the key in service and activate the oldest standby key that verifiers already hold:
        one published for at least a trust-list period (they refresh their list that often).

        Without such a key the rotation is refused, unless `immediately` (the CLI's `--now`, for a
        compromise): then the oldest standby key, or a new one, is activated at once, and verifiers that
        have not refreshed their list cannot verify its certificates until they do. The retired key stays
        in the trust list until the last certificate it signed expires.
        """
        purpose, province = key_owner(authority_id, exchange_province)
        async with self.db.transaction() as conn:
            if authority_id and await repository.authority(conn, authority_id) is None:
                raise NotFound(f"no issuing authority {authority_id}")
            existing = await repository.lock_keys(conn, purpose, authority_id, province)
            waiting = [k for k in existing if k["status"] == "standby"]
            held_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.trust_list_seconds)
            standby = next((k for k in waiting if k["created_at"] <= held_since), None)
            if standby is None and not immediately:
                raise Conflict(self._not_yet_held(waiting))
            if standby is None:
                standby = waiting[0] if waiting else await self._new_key(conn, purpose, authority_id, province)
            changed = []
            for key in existing:
                if key["status"] == "active":
                    changed.append(await repository.set_key_status(
                        conn, key["id"], key_transition(key["status"], "retire")))
            changed.append(await repository.set_key_status(
                conn, standby["id"], key_transition(standby["status"], "activate")))
            await self.audit.record(conn, actor, "certificate_key.rotated", "certificate_key", str(standby["id"]),
                                    division=authority_id[:6] if authority_id else province,
                                    detail={"purpose": purpose, "activated": b64url(standby["kid"]),
                                            "retired": [b64url(k["kid"]) for k in changed[:-1]],
                                            "immediately": immediately})
        await self.db.after_commit(self.lists.changed)
        return [_key_view(k) for k in changed]

    def _not_yet_held(self, waiting: list[asyncpg.Record]) -> str:
        if not waiting:
            return ("no standby key to activate: create one with `create-key`, and rotate once it has been "
                    f"published for {self.trust_list_seconds} s (or now with `--now`)")
        ready = waiting[0]["created_at"] + dt.timedelta(seconds=self.trust_list_seconds)
        return (f"the standby key {b64url(waiting[0]['kid'])} has been published for less than "
                f"{self.trust_list_seconds} s, so verifiers may not hold it yet: rotate after {ready.isoformat()}, "
                "or now with `--now`")

    async def withdraw_key(self, key_id_: uuid.UUID, actor: Actor) -> SigningKeyView:
        """Take a compromised key out of every list at once; what it signed stops verifying."""
        async with self.db.transaction() as conn:
            row = await repository.lock_key(conn, key_id_)
            if row is None:
                raise NotFound("no such key")
            updated = await repository.set_key_status(conn, key_id_, key_transition(row["status"], "withdraw"))
            await self.audit.record(conn, actor, "certificate_key.withdrawn", "certificate_key", str(key_id_),
                                    division=row["authority_id"][:6] if row["authority_id"] else row["province"],
                                    detail={"kid": b64url(updated["kid"])})
        await self.db.after_commit(self.lists.changed)
        return _key_view(updated)

    async def list_keys(self, authority_id: str | None = None) -> list[SigningKeyView]:
        async with self.db.connection() as conn:
            return [_key_view(row) for row in await repository.keys(conn, authority_id=authority_id)]
