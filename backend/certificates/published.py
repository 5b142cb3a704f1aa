"""What verifiers rely on: the signed trust list and revocation list (cached, since they are public),
the trust anchors, and online verification against the registry."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.certificates import clock, repository
from backend.certificates.keys import KeyVault
from backend.certificates.qr_format import QrRefused, open_message
from backend.certificates.schemas import Verification
from backend.certificates.trust_lists import (
    AnchorSet,
    RevokedEntry,
    TrustList,
    TrustListDocument,
    anchor_jwk,
    revocation_list_document,
    sign_document,
    signing_key_jwk,
    trust_list_document,
)
from backend.certificates.verifier import unreadable, verify_message
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import TrustListUnavailable
from backend.identity import divisions

# The signed lists are served from Redis for up to this long. Every change to what they say (a key
# created, rotated or withdrawn; a certificate revoked) bumps a version, so a change shows at once; the
# time bound covers what changes with the clock alone (a retired key's last certificate expiring).
LIST_CACHE_SECONDS = 60


class PublishedLists:
    def __init__(self, db: Database, ephemeral: Ephemeral, vault: KeyVault, *, trust_list_seconds: int,
                 revocation_list_seconds: int) -> None:
        self.db, self.ephemeral, self.vault = db, ephemeral, vault
        self.trust_list_seconds, self.revocation_list_seconds = trust_list_seconds, revocation_list_seconds

    async def _trust_document(self, conn: asyncpg.Connection, now: dt.datetime,
                              kid: bytes | None = None) -> TrustListDocument:
        keys = []
        for row in await repository.published_keys(conn, kid):
            retired = row["status"] == "retired"
            if retired and (row["last_expiry"] is None or row["last_expiry"] <= now):
                continue  # nothing it signed is still valid: it leaves the list
            keys.append(signing_key_jwk(
                Ed25519PublicKey.from_public_bytes(row["public_key"]), issuer=row["authority_id"],
                issuer_name=row["authority_name"], division=row["division_code"], status=row["status"],
                valid_from=self._valid_from(row), certificate_types=list(row["certificate_types"]),
                signing_until=clock.epoch(row["retired_at"]) if retired else None,
                listed_until=clock.epoch(row["last_expiry"]) if retired else None))
        for row in await repository.published_exchange_keys(conn, kid):
            keys.append(signing_key_jwk(
                Ed25519PublicKey.from_public_bytes(row["public_key"]), purpose="case-exchange",
                issuer=row["province"], issuer_name=divisions.division_table().lookup(row["province"]).name or "",
                division=row["province"], status=row["status"], valid_from=self._valid_from(row),
                certificate_types=[],
                signing_until=clock.epoch(row["retired_at"]) if row["status"] == "retired" else None))
        return trust_list_document(keys, clock.epoch(now), clock.epoch(now) + self.trust_list_seconds)

    def _valid_from(self, key: asyncpg.Record) -> int:
        """From when a key's signatures count: its activation; for a standby key, the earliest moment a
        rotation may activate it (published one trust-list period), so that a verifier whose list still
        shows it on standby accepts what it signs once active — and nothing it signed before."""
        if key["status"] == "standby":
            return clock.epoch(key["created_at"]) + self.trust_list_seconds
        return clock.epoch(key["activated_at"])

    async def _anchor(self, conn: asyncpg.Connection) -> Any:
        key = await repository.active_key(conn, "trust-anchor", None)
        if key is None:
            raise TrustListUnavailable("no trust-anchor key; run `tongban certificates create-key --trust-anchor`")
        return self.vault.unwrap(key["public_key"], key["private_key_wrapped"])

    async def signed_trust_list(self, at: dt.datetime | None = None) -> str:
        """The trust list as a compact JWS signed by the trust anchor in service: the cached copy, or
        (with `at`) one built for that moment."""
        if at is not None:
            return await self._signed_trust_list(at)
        return await self._cached("trust-list", self._signed_trust_list)

    async def _signed_trust_list(self, now: dt.datetime) -> str:
        async with self.db.transaction() as conn:
            document = await self._trust_document(conn, now)
            anchor = await self._anchor(conn)
        return await asyncio.to_thread(sign_document, document, anchor)

    async def signed_revocation_list(self, at: dt.datetime | None = None) -> str:
        """Revoked certificates not yet expired, as a compact JWS signed by the trust anchor: the cached
        copy, or (with `at`) one built for that moment."""
        if at is not None:
            return await self._signed_revocation_list(at)
        return await self._cached("revocation-list", self._signed_revocation_list)

    async def _signed_revocation_list(self, now: dt.datetime) -> str:
        async with self.db.transaction() as conn:
            rows = await repository.revoked_unexpired(conn, now)
            anchor = await self._anchor(conn)
        entries = [RevokedEntry(number=r["number"], issuer=r["authority_id"], revoked_at=clock.epoch(r["revoked_at"]),
                                reason=r["revocation_reason"], expires_at=clock.epoch(r["expires_at"])) for r in rows]
        document = revocation_list_document(entries, clock.epoch(now), clock.epoch(now) + self.revocation_list_seconds)
        return await asyncio.to_thread(sign_document, document, anchor)

    async def _cached(self, name: str, build: Callable[[dt.datetime], Awaitable[str]]) -> str:
        """A signed list from Redis, built and stored on a miss under the current version."""
        client = self.ephemeral.client
        version = await client.get(self.ephemeral.key("certificate-lists", "version")) or b"0"
        key = self.ephemeral.key("certificate-lists", name, version.decode())
        if (cached := await client.get(key)) is not None:
            return cached.decode()
        # The version was read before the database: a list built from older data than a concurrent
        # change can only land under the version that change has already left behind.
        token = await build(clock.now())
        await client.set(key, token, ex=LIST_CACHE_SECONDS)
        return token

    async def changed(self) -> None:
        """Say that what the lists publish has changed: the next request builds them afresh."""
        await self.ephemeral.client.incr(self.ephemeral.key("certificate-lists", "version"))

    async def trust_anchors(self) -> AnchorSet:
        async with self.db.connection() as conn:
            rows = await repository.anchor_keys(conn)
        return AnchorSet([anchor_jwk(Ed25519PublicKey.from_public_bytes(r["public_key"])) for r in rows])

    async def verify(self, qr_text: str, client: str) -> Verification:
        """Online verification: the offline checks against the current trust list, then the registry —
        the certificate must be one we issued, exactly as issued — and its live revocation status."""
        await self.ephemeral.limit("certificate-verify", client, limit=600, window_seconds=60,
                                   what="verifications from this client")
        now = clock.now()
        try:
            message = open_message(qr_text)
        except QrRefused as exc:
            return unreadable(exc, now)
        async with self.db.connection() as conn:
            # Only the keys sharing the kid: the same answer as the whole list, without parsing it.
            trust = TrustList.of(await self._trust_document(conn, now, message.kid))
            result = verify_message(message, trust, at=now)
            if result.certificate is None or result.issuer is None:
                return result
            row = await repository.registered(conn, result.certificate.number)
        # A valid signature is not enough online: with a leaked key anyone can sign. The registry knows
        # what was issued, so a number it never issued, or other content under a known number, is refused.
        if row is None or row["authority_id"] != result.issuer.id:
            return msgspec.structs.replace(result, valid=False, reason="not-in-registry",
                                           detail="no certificate with this number was issued by this authority")
        issued = open_message(row["qr_text"])
        if (issued.protected, issued.payload) != (message.protected, message.payload):
            return msgspec.structs.replace(result, valid=False, reason="not-in-registry",
                                           detail="the certificate issued under this number says something else")
        if row["revoked_at"] is not None:
            return msgspec.structs.replace(
                result, valid=False, reason="revoked", revocation="revoked",
                detail=f"revoked ({row['revocation_reason']}) at {row['revoked_at'].isoformat()}")
        return msgspec.structs.replace(result, revocation="not-revoked")
