"""E-certificate use cases: authorities and key rotation, issuing, revocation, the signed trust and
revocation lists, online verification, and the holder's consented third-party checks."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates import render, repository
from backend.certificates.certificate_types import CERTIFICATE_TYPES, CertificateType, certificate_type
from backend.certificates.keys import KeyVault
from backend.certificates.qr_format import (
    MAX_QR_TEXT,
    CertificateClaim,
    Claims,
    QrRefused,
    key_id,
    open_message,
    sign,
)
from backend.certificates.schemas import (
    AuthorityCreate,
    AuthorityView,
    CertificateIssue,
    CertificateSummary,
    CertificateTypeView,
    CertificateView,
    CheckAnswer,
    CheckRecord,
    CheckRequest,
    CitizenHolder,
    ConsentCreate,
    ConsentIssued,
    ConsentView,
    HolderView,
    QrCode,
    RevocationRequest,
    SigningKeyView,
    Verification,
)
from backend.certificates.trust_lists import (
    AnchorSet,
    RevokedEntry,
    TrustList,
    TrustListDocument,
    anchor_jwk,
    b64url,
    revocation_list_document,
    sign_document,
    signing_key_jwk,
    trust_list_document,
)
from backend.certificates.verifier import unreadable, verify_message, verify_qr
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    CertificateKeyWithdrawn,
    CertificateRevoked,
    Conflict,
    ConsentExpired,
    ConsentUsedUp,
    ConsentWithdrawn,
    FieldError,
    Forbidden,
    NoSigningKey,
    NotFound,
    OutsideDivision,
    TrustListUnavailable,
    ValidationFailed,
)
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.identity.credit_code import InvalidCreditCode, normalise_credit_code
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.pii import PiiCipher

CHINA_TIME = dt.timezone(dt.timedelta(hours=8))
# Staff roles that issue and revoke, for authorities inside their division.
ISSUERS = frozenset({"handling_officer", "admin"})
CERTIFICATE_READERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})
KeyPurpose = Literal["certificate", "trust-anchor"]
# A certificate may record an older validity start (an e-certificate of a licence held for years) or
# start up to a year ahead, no further either way.
EARLIEST_VALID_FROM = dt.date(1949, 10, 1)
MAX_LEAD = dt.timedelta(days=366)
# The signed lists are served from Redis for up to this long. Every change to what they say (a key
# created, rotated or withdrawn; a certificate revoked) bumps a version, so a change shows at once; the
# time bound covers what changes with the clock alone (a retired key's last certificate expiring).
LIST_CACHE_SECONDS = 60
# Pictures cost tens of milliseconds of CPU each (a QR code, an A4 page): a person gets this many a minute.
RENDERS_PER_MINUTE = 30
# A certificate in one of these states is not shared: no new consent, and nothing disclosed on a check.
_UNSHAREABLE = frozenset({"revoked", "key-withdrawn"})

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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def _epoch(moment: dt.datetime) -> int:
    return int(moment.timestamp())


def _day_start(day: dt.date) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), CHINA_TIME).astimezone(dt.UTC)


def _status(row: asyncpg.Record, now: dt.datetime) -> str:
    if row["revoked_at"] is not None:
        return "revoked"
    if row["key_status"] == "withdrawn":
        return "key-withdrawn"
    if now < row["valid_from"]:
        return "not-yet-valid"
    return "expired" if now >= row["expires_at"] else "valid"


def _view(row: asyncpg.Record, now: dt.datetime | None = None) -> CertificateView:
    return CertificateView(
        id=row["id"], number=row["number"], certificate_type=row["certificate_type"],
        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_id=row["authority_id"],
        authority_name=row["authority_name"], division_code=row["division_code"],
        holder=HolderView(row["holder_kind"], row["holder_name"], row["holder_identifier"]), fields=row["fields"],
        issued_at=row["issued_at"], valid_from=row["valid_from"], expires_at=row["expires_at"],
        status=_status(row, now or _now()), kid=b64url(row["kid"]),  # type: ignore[arg-type]
        revoked_at=row["revoked_at"], revocation_reason=row["revocation_reason"])


def _summary(row: asyncpg.Record, now: dt.datetime) -> CertificateSummary:
    return CertificateSummary(
        id=row["id"], number=row["number"], certificate_type=row["certificate_type"],
        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_name=row["authority_name"],
        issued_at=row["issued_at"], expires_at=row["expires_at"], status=_status(row, now))  # type: ignore[arg-type]


def _key_view(row: asyncpg.Record) -> SigningKeyView:
    return SigningKeyView(
        id=row["id"], kid=b64url(row["kid"]), purpose=row["purpose"], authority_id=row["authority_id"],
        status=row["status"], created_at=row["created_at"], activated_at=row["activated_at"],
        retired_at=row["retired_at"], last_expiry=row["last_expiry"])


def _consent_view(row: asyncpg.Record, now: dt.datetime) -> ConsentView:
    if row["withdrawn_at"] is not None:
        status = "withdrawn"
    elif row["expires_at"] <= now:
        status = "expired"
    elif row["uses"] >= row["max_uses"]:
        status = "used-up"
    else:
        status = "active"
    return ConsentView(
        id=row["id"], certificate_id=row["certificate_id"], relying_party=row["relying_party"],
        scopes=list(row["scopes"]), purpose=row["purpose"], created_at=row["created_at"],
        expires_at=row["expires_at"], max_uses=row["max_uses"], uses=row["uses"], status=status,  # type: ignore[arg-type]
        withdrawn_at=row["withdrawn_at"])


def _shorten(excess_characters: int, holder: dict[str, Any], fields: dict[str, Any]) -> list[FieldError]:
    """The longest texts of an order whose QR text is `excess_characters` too long: as many as together
    make up the excess (Base45 writes 2 bytes as 3 characters; varied Chinese text hardly compresses)."""
    texts = {f"#/fields/{name}": value for name, value in fields.items() if isinstance(value, str)}
    if holder["kind"] == "organisation":
        texts["#/holder/name"] = holder["name"]
    excess_bytes = -(-excess_characters * 2 // 3)
    detail = (f"the certificate is {excess_characters} characters too long for a QR code (at most {MAX_QR_TEXT} "
              "at error-correction level Q); shorten this text")
    errors, covered = [], 0
    for pointer, text in sorted(texts.items(), key=lambda item: -len(item[1].encode())):
        errors.append(FieldError(pointer, detail))
        covered += len(text.encode())
        if covered >= excess_bytes:
            break
    return errors


def _order_fingerprint(order: CertificateIssue, kind: CertificateType, holder: dict[str, Any],
                       fields: dict[str, Any]) -> bytes:
    """A digest of what was ordered: type, the resolved holder, the canonical fields, the dates asked for."""
    ordered = {"type": kind.code, "holder": [holder["kind"], str(holder["citizen_id"] or holder["identifier"]),
                                             holder["name"]],
               "fields": fields, "valid_from": order.valid_from, "expires_on": order.expires_on,
               "case_id": order.case_id}
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, ensure_ascii=False, default=str).encode()).digest()


def _token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def _who(actor: Actor) -> str:
    return f"{actor.kind}:{actor.id or '-'}"


class CertificateService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher, vault: KeyVault, *,
                 trust_list_seconds: int, revocation_list_seconds: int) -> None:
        self.db, self.ephemeral, self.audit, self.cipher, self.vault = db, ephemeral, audit, cipher, vault
        self.trust_list_seconds, self.revocation_list_seconds = trust_list_seconds, revocation_list_seconds

    # -- authorities and keys (the `tongban certificates` commands) -----------------------------

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

    async def create_key(self, authority_id: str | None, actor: Actor) -> SigningKeyView:
        """A new key on standby (published before it signs). When no key is in service (a new authority,
        or after a withdrawal) the longest-published standby key is activated — the new one if it is the
        only one, whose first certificates then need verifiers to refresh their list."""
        purpose: KeyPurpose = "certificate" if authority_id else "trust-anchor"
        async with self.db.transaction() as conn:
            if authority_id and await repository.authority(conn, authority_id) is None:
                raise NotFound(f"no issuing authority {authority_id}")
            existing = await repository.lock_keys(conn, purpose, authority_id)
            row = await self._new_key(conn, purpose, authority_id)
            activated = None
            if not any(k["status"] == "active" for k in existing):
                oldest = next((k for k in existing if k["status"] == "standby"), row)
                activated = await repository.set_key_status(conn, oldest["id"], key_transition("standby", "activate"))
                if activated["id"] == row["id"]:
                    row = activated
            await self.audit.record(conn, actor, "certificate_key.created", "certificate_key", str(row["id"]),
                                    division=authority_id[:6] if authority_id else None,
                                    detail={"kid": b64url(row["kid"]), "purpose": purpose, "status": row["status"],
                                            "activated": b64url(activated["kid"]) if activated else None})
        await self._lists_changed()
        return _key_view(row)

    async def _new_key(self, conn: asyncpg.Connection, purpose: str, authority_id: str | None) -> asyncpg.Record:
        public, wrapped = self.vault.generate()
        kid = key_id(Ed25519PublicKey.from_public_bytes(public))
        return await repository.insert_key(conn, purpose, authority_id, kid, public, wrapped)

    async def rotate_key(self, authority_id: str | None, actor: Actor, *,
                         immediately: bool = False) -> list[SigningKeyView]:
        """Retire the key in service and activate the oldest standby key that verifiers already hold:
        one published for at least a trust-list period (they refresh their list that often).

        Without such a key the rotation is refused, unless `immediately` (the CLI's `--now`, for a
        compromise): then the oldest standby key, or a new one, is activated at once, and verifiers that
        have not refreshed their list cannot verify its certificates until they do. The retired key stays
        in the trust list until the last certificate it signed expires.
        """
        purpose: KeyPurpose = "certificate" if authority_id else "trust-anchor"
        async with self.db.transaction() as conn:
            if authority_id and await repository.authority(conn, authority_id) is None:
                raise NotFound(f"no issuing authority {authority_id}")
            existing = await repository.lock_keys(conn, purpose, authority_id)
            waiting = [k for k in existing if k["status"] == "standby"]
            held_since = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=self.trust_list_seconds)
            standby = next((k for k in waiting if k["created_at"] <= held_since), None)
            if standby is None and not immediately:
                raise Conflict(self._not_yet_held(waiting))
            if standby is None:
                standby = waiting[0] if waiting else await self._new_key(conn, purpose, authority_id)
            changed = []
            for key in existing:
                if key["status"] == "active":
                    changed.append(await repository.set_key_status(
                        conn, key["id"], key_transition(key["status"], "retire")))
            changed.append(await repository.set_key_status(
                conn, standby["id"], key_transition(standby["status"], "activate")))
            await self.audit.record(conn, actor, "certificate_key.rotated", "certificate_key", str(standby["id"]),
                                    division=authority_id[:6] if authority_id else None,
                                    detail={"purpose": purpose, "activated": b64url(standby["kid"]),
                                            "retired": [b64url(k["kid"]) for k in changed[:-1]],
                                            "immediately": immediately})
        await self._lists_changed()
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
                                    division=row["authority_id"][:6] if row["authority_id"] else None,
                                    detail={"kid": b64url(updated["kid"])})
        await self._lists_changed()
        return _key_view(updated)

    async def list_keys(self, authority_id: str | None = None) -> list[SigningKeyView]:
        async with self.db.connection() as conn:
            return [_key_view(row) for row in await repository.keys(conn, authority_id=authority_id)]

    # -- issuing ---------------------------------------------------------------------------------

    async def issue(self, order: CertificateIssue, actor: Actor) -> CertificateView:
        """Sign and store a certificate. Joins the caller's transaction when there is one (a case's
        decision), so the certificate exists exactly when the decision does. With `reference` set, a
        repeated call returns the certificate issued the first time."""
        kind = certificate_type(order.certificate_type)
        fields = kind.validate(order.fields)
        if actor.kind == "staff" and actor.role not in ISSUERS:
            raise Forbidden("your role may not issue certificates")
        if actor.kind not in ("staff", "system"):
            raise Forbidden("only staff or the system issue certificates")
        holder_kind = "citizen" if isinstance(order.holder, CitizenHolder) else "organisation"
        if holder_kind != kind.holder_kind:
            raise ValidationFailed.field("holder", f"a {kind.name} is held by a {kind.holder_kind}, not a {holder_kind}")
        async with self.db.transaction() as conn:
            authority = await repository.authority(conn, order.authority_id)
            if authority is None:
                raise ValidationFailed.field("authority_id", f"no issuing authority {order.authority_id}")
            if actor.kind == "staff" and not divisions.within(actor.division or "", authority["division_code"]):
                await self.audit.record_refusal(self.db, actor, "certificate.issue_refused", "certificate_authority",
                                                authority["id"], division=actor.division,
                                                detail={"certificate_type": kind.code})
                raise OutsideDivision("this issuing authority is outside your division")
            row = await self._issue(conn, order, kind, fields, authority, actor)
        return _view(row)

    async def _issue(self, conn: asyncpg.Connection, order: CertificateIssue, kind: CertificateType,
                     fields: dict[str, Any], authority: asyncpg.Record, actor: Actor) -> asyncpg.Record:
        if kind.code not in authority["certificate_types"]:
            raise ValidationFailed.field("certificate_type", f"{authority['name']} does not issue {kind.name}")
        holder = await self._holder(conn, order)
        fingerprint = _order_fingerprint(order, kind, holder, fields) if order.reference is not None else None
        if order.reference is not None:
            existing = await repository.certificate_by_reference(conn, authority["id"], order.reference)
            if existing is not None:
                return self._same_order(existing, order.reference, kind, fingerprint)
        issued_at = _now()
        valid_from, expires_at = self._validity(order, kind, issued_at)
        key = await repository.active_key(conn, "certificate", authority["id"])
        if key is None:
            raise NoSigningKey(f"{authority['id']} has no signing key in service; "
                               "run `tongban certificates create-key`")
        number = f"{authority['id']}-{issued_at.astimezone(CHINA_TIME).year}-{await repository.next_serial(conn):08d}"
        claims = Claims(
            issuer=authority["id"], issued_at=_epoch(issued_at), expires_at=_epoch(expires_at),
            not_before=_epoch(valid_from) if valid_from != issued_at else None,
            certificate=self._certificate_claim(number, kind, holder, fields))
        qr_text = sign(claims, self.vault.unwrap(key["public_key"], key["private_key_wrapped"]), key["kid"])
        self._check_signed(qr_text, claims, key, authority, holder, fields)
        certificate_id = await repository.insert_certificate(
            conn, number=number, certificate_type=kind.code, authority_id=authority["id"], signing_key_id=key["id"],
            holder_kind=holder["kind"], citizen_id=holder["citizen_id"], holder_name=holder["name"],
            holder_identifier=holder["identifier"], fields=fields, issued_at=issued_at, valid_from=valid_from,
            expires_at=expires_at, qr_text=qr_text, reference=order.reference, case_id=order.case_id,
            issued_by=_who(actor), order_fingerprint=fingerprint)
        if certificate_id is None:  # a concurrent call with the same reference issued first
            existing = await repository.certificate_by_reference(conn, authority["id"], order.reference or "")
            return self._same_order(existing, order.reference or "", kind, fingerprint)
        await self.audit.record(conn, actor, "certificate.issued", "certificate", str(certificate_id),
                                division=authority["division_code"],
                                detail={"number": number, "certificate_type": kind.code, "kid": b64url(key["kid"]),
                                        "holder_kind": holder["kind"], "case_id": str(order.case_id or "") or None})
        return await repository.certificate(conn, certificate_id)

    @staticmethod
    def _same_order(existing: asyncpg.Record, reference: str, kind: CertificateType,
                    fingerprint: bytes | None) -> asyncpg.Record:
        """The certificate issued earlier under `reference`, if it was issued for this very order."""
        if existing["order_fingerprint"] is None:  # issued before orders were fingerprinted
            same = existing["certificate_type"] == kind.code
        else:
            same = existing["order_fingerprint"] == fingerprint
        if not same:
            raise Conflict(f"reference {reference} was already used for a different order "
                           f"(certificate {existing['number']})")
        return existing

    @staticmethod
    def _certificate_claim(number: str, kind: CertificateType, holder: dict[str, Any],
                           fields: dict[str, Any]) -> CertificateClaim:
        """The private claim, built through msgspec so its constraints are checked (a constructor is not)."""
        try:
            return msgspec.convert({"v": 1, "no": number, "t": kind.code, "f": fields, "h": {
                "k": holder["kind"], "n": holder["name"], "id": holder["identifier"]}}, CertificateClaim)
        except msgspec.ValidationError as exc:
            raise ValidationFailed([FieldError("#", f"the certificate cannot be encoded: {exc}")]) from None

    @staticmethod
    def _check_signed(qr_text: str, claims: Claims, key: asyncpg.Record, authority: asyncpg.Record,
                      holder: dict[str, Any], fields: dict[str, Any]) -> None:
        """Our own verifier must accept what we sign, and its QR code must fit at level Q: else nothing
        is stored (a certificate that cannot be printed or verified is worse than none)."""
        if len(qr_text) > MAX_QR_TEXT:
            raise ValidationFailed(_shorten(len(qr_text) - MAX_QR_TEXT, holder, fields))
        public_key = Ed25519PublicKey.from_public_bytes(key["public_key"])
        own_key = signing_key_jwk(public_key, issuer=authority["id"], issuer_name=authority["name"],
                                  division=authority["division_code"], status="active", valid_from=claims.issued_at,
                                  certificate_types=list(authority["certificate_types"]))
        starts = max(claims.issued_at, claims.not_before or 0)
        result = verify_qr(qr_text, TrustList.of(trust_list_document([own_key], starts, starts + 60)), at=starts)
        if not result.valid:
            raise RuntimeError(f"a signed certificate fails verification ({result.reason}: {result.detail})")

    async def _holder(self, conn: asyncpg.Connection, order: CertificateIssue) -> dict[str, Any]:
        holder = order.holder
        if not isinstance(holder, CitizenHolder):
            try:
                code = normalise_credit_code(holder.credit_code)
            except InvalidCreditCode as exc:
                raise ValidationFailed([FieldError("#/holder/credit_code", str(exc))]) from None
            name = holder.name.strip()
            if not name:
                raise ValidationFailed([FieldError("#/holder/name", "must not be blank")])
            return {"kind": "organisation", "citizen_id": None, "name": name, "identifier": code}
        if (holder.citizen_id is None) == (holder.resident_id is None):
            raise ValidationFailed([FieldError("#/holder", "give exactly one of citizen_id and resident_id")])
        if holder.citizen_id is not None:
            row = await identity_repository.citizen_by(conn, "id", holder.citizen_id)
            pointer = "#/holder/citizen_id"
        else:
            try:
                number = normalise_resident_id(holder.resident_id or "")
            except InvalidResidentId as exc:
                raise ValidationFailed([FieldError("#/holder/resident_id", str(exc))]) from None
            row = await identity_repository.citizen_by(
                conn, "resident_id_hash", self.cipher.lookup_hash(number, purpose="resident_id"))
            pointer = "#/holder/resident_id"
        if row is None:
            raise ValidationFailed([FieldError(pointer, "no registered citizen matches")])
        return {"kind": "citizen", "citizen_id": row["id"], "name": row["name"],
                "identifier": row["resident_id_masked"]}

    @staticmethod
    def _validity(order: CertificateIssue, kind: CertificateType,
                  issued_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """(valid from, expires at): dates are whole days in China Standard Time."""
        today = issued_at.astimezone(CHINA_TIME).date()
        if order.valid_from is not None and not EARLIEST_VALID_FROM <= order.valid_from <= today + MAX_LEAD:
            raise ValidationFailed.field("valid_from", f"must lie between {EARLIEST_VALID_FROM} and a year from today")
        start_day = order.valid_from or today
        valid_from = _day_start(order.valid_from) if order.valid_from else issued_at
        last_day = order.expires_on or start_day + dt.timedelta(days=kind.default_days - 1)
        days = (last_day - start_day).days + 1
        if days > kind.max_days:
            raise ValidationFailed.field("expires_on", f"a {kind.name} is valid for at most {kind.max_days} days")
        expires_at = _day_start(last_day + dt.timedelta(days=1))
        if expires_at <= max(valid_from, issued_at):
            raise ValidationFailed.field("expires_on", "the certificate would never be valid")
        return valid_from, expires_at

    # -- revocation and staff reads --------------------------------------------------------------

    async def _staff_certificate(self, conn: asyncpg.Connection, certificate_id: uuid.UUID, actor: Actor,
                                 roles: frozenset[str], action: str, *, for_update: bool = False) -> asyncpg.Record:
        """The certificate if the staff member's role and division reach it; a refusal is audited."""
        if actor.role not in roles:
            raise Forbidden("your role may not do this")
        row = await repository.certificate(conn, certificate_id, for_update=for_update)
        if row is None:
            raise NotFound("no such certificate")
        if not divisions.within(actor.division or "", row["division_code"]):
            await self.audit.record_refusal(self.db, actor, f"{action}_refused", "certificate", str(certificate_id),
                                            division=actor.division)
            raise OutsideDivision("this certificate's issuing authority is outside your division")
        return row

    async def revoke(self, certificate_id: uuid.UUID, request: RevocationRequest, actor: Actor) -> CertificateView:
        """Revoke a certificate with a reason; only staff of the issuing authority's division."""
        async with self.db.transaction() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, ISSUERS, "certificate.revoked",
                                                for_update=True)
            if not await repository.revoke(conn, certificate_id, request.reason, request.note, _who(actor)):
                raise Conflict("the certificate is already revoked")
            await self.audit.record(conn, actor, "certificate.revoked", "certificate", str(certificate_id),
                                    division=row["division_code"],
                                    detail={"number": row["number"], "reason": request.reason})
            row = await repository.certificate(conn, certificate_id)
        await self._lists_changed()
        return _view(row)

    async def staff_certificate(self, certificate_id: uuid.UUID, actor: Actor) -> CertificateView:
        async with self.db.transaction() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, CERTIFICATE_READERS, "certificate.read")
            await self.audit.record(conn, actor, "certificate.read", "certificate", str(certificate_id),
                                    division=row["division_code"])
        return _view(row)

    async def staff_printout(self, certificate_id: uuid.UUID, actor: Actor, kind: Literal["png", "pdf"]) -> bytes:
        """The printable page, for handing a certificate over at a window (organisations included)."""
        await self._limit_renders(actor)
        async with self.db.transaction() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, CERTIFICATE_READERS,
                                                "certificate.printed")
            await self.audit.record(conn, actor, "certificate.printed", "certificate", str(certificate_id),
                                    division=row["division_code"], detail={"format": kind})
        return await self._render(row, kind)

    # -- the holder -------------------------------------------------------------------------------

    async def _own(self, conn: asyncpg.Connection, actor: Actor, certificate_id: uuid.UUID) -> asyncpg.Record:
        row = await repository.certificate(conn, certificate_id)
        # Someone else's certificate looks exactly like a missing one.
        if row is None or str(row["citizen_id"]) != actor.id:
            raise NotFound("no such certificate among yours")
        return row

    async def my_certificates(self, actor: Actor) -> list[CertificateSummary]:
        now = _now()
        async with self.db.transaction() as conn:
            rows = await repository.certificates_of_citizen(conn, uuid.UUID(actor.id))
            await self.audit.record(conn, actor, "certificate.listed", "citizen", actor.id,
                                    detail={"count": len(rows)})
        return [_summary(row, now) for row in rows]

    async def my_certificate(self, actor: Actor, certificate_id: uuid.UUID,
                             action: str = "certificate.read", **detail: str) -> asyncpg.Record:
        """The holder's own certificate row, the read audited under `action`."""
        async with self.db.transaction() as conn:
            row = await self._own(conn, actor, certificate_id)
            await self.audit.record(conn, actor, action, "certificate", str(certificate_id),
                                    division=row["division_code"], detail=detail or None)
        return row

    async def my_certificate_view(self, actor: Actor, certificate_id: uuid.UUID) -> CertificateView:
        return _view(await self.my_certificate(actor, certificate_id))

    async def my_qr(self, actor: Actor, certificate_id: uuid.UUID) -> QrCode:
        row = await self.my_certificate(actor, certificate_id, "certificate.qr_read")
        return QrCode(number=row["number"], qr_text=row["qr_text"], expires_at=row["expires_at"])

    async def my_qr_png(self, actor: Actor, certificate_id: uuid.UUID) -> bytes:
        await self._limit_renders(actor)
        row = await self.my_certificate(actor, certificate_id, "certificate.qr_read", format="png")
        return await asyncio.to_thread(render.qr_png, row["qr_text"])

    async def my_printout(self, actor: Actor, certificate_id: uuid.UUID, kind: Literal["png", "pdf"]) -> bytes:
        await self._limit_renders(actor)
        row = await self.my_certificate(actor, certificate_id, "certificate.printed", format=kind)
        return await self._render(row, kind)

    async def _limit_renders(self, actor: Actor) -> None:
        await self.ephemeral.limit("certificate-render", _who(actor), limit=RENDERS_PER_MINUTE, window_seconds=60,
                                   what="certificate images")

    async def _render(self, row: asyncpg.Record, kind: Literal["png", "pdf"]) -> bytes:
        draw = render.certificate_pdf if kind == "pdf" else render.certificate_png
        return await asyncio.to_thread(draw, _view(row), row["qr_text"])

    # -- consented third-party checks (证明证照查验) -----------------------------------------------

    async def create_consent(self, actor: Actor, certificate_id: uuid.UUID, form: ConsentCreate) -> ConsentIssued:
        """A token for one relying party to see the chosen fields, a bounded number of times."""
        relying_party = form.relying_party.strip()
        if not relying_party:
            raise ValidationFailed.field("relying_party", "must not be blank")
        async with self.db.transaction() as conn:
            row = await self._own(conn, actor, certificate_id)
            kind = CERTIFICATE_TYPES[row["certificate_type"]]
            allowed = set(kind.scopes)
            unknown = [FieldError(f"#/scopes/{i}", f"{s!r} is not one of: {', '.join(kind.scopes)}")
                       for i, s in enumerate(form.scopes) if s not in allowed]
            if unknown:
                raise ValidationFailed(unknown)
            if (status := _status(row, _now())) in _UNSHAREABLE:
                raise Conflict(f"a certificate whose status is {status} cannot be shared")
            token = "tbc_" + secrets.token_urlsafe(32)
            consent = await repository.insert_consent(
                conn, token_hash=_token_hash(token), certificate_id=certificate_id, citizen_id=uuid.UUID(actor.id),
                relying_party=relying_party, scopes=list(dict.fromkeys(form.scopes)),
                purpose=form.purpose, expires_at=_now() + dt.timedelta(minutes=form.valid_minutes),
                max_uses=form.max_uses)
            await self.audit.record(conn, actor, "certificate_consent.created", "certificate", str(certificate_id),
                                    division=row["division_code"],
                                    detail={"consent_id": str(consent["id"]), "relying_party": consent["relying_party"],
                                            "scopes": list(consent["scopes"]), "max_uses": form.max_uses})
        return ConsentIssued(consent=_consent_view(consent, _now()), token=token)

    async def my_consents(self, actor: Actor, certificate_id: uuid.UUID) -> list[ConsentView]:
        now = _now()
        async with self.db.connection() as conn:
            await self._own(conn, actor, certificate_id)
            return [_consent_view(row, now) for row in await repository.consents_of(conn, certificate_id)]

    async def withdraw_consent(self, actor: Actor, consent_id: uuid.UUID) -> ConsentView:
        async with self.db.transaction() as conn:
            row = await repository.withdraw_consent(conn, consent_id, uuid.UUID(actor.id))
            if row is None:
                raise NotFound("no such consent among yours")
            await self.audit.record(conn, actor, "certificate_consent.withdrawn", "certificate",
                                    str(row["certificate_id"]), detail={"consent_id": str(consent_id)})
        return _consent_view(row, _now())

    async def check(self, request: CheckRequest, client: str, actor: Actor) -> CheckAnswer:
        """A relying party presents a consent token and gets only the consented fields.

        Every presentation of a known token, answered or refused, lands in the holder's check log.
        """
        await self.ephemeral.limit("certificate-check", client, limit=60, window_seconds=60,
                                   what="certificate checks from this client")
        presented_by = request.presented_by.strip()
        if not presented_by:
            raise ValidationFailed.field("presented_by", "must not be blank")
        token_hash = _token_hash(request.token)
        now = _now()
        async with self.db.transaction() as conn:
            consent = await repository.use_consent(conn, token_hash)
            if consent is None:
                refused = await repository.consent_by_token(conn, token_hash)
                if refused is None:
                    raise NotFound("no consent matches this token")
                outcome, refusal = self._consent_refusal(refused)
            else:
                row = await repository.certificate(conn, consent["certificate_id"])
                status = _status(row, now)
                if status not in _UNSHAREABLE:
                    disclosed = self._disclose(row, list(consent["scopes"]))
                    await self._log_check(conn, consent, presented_by, client, actor, "answered", list(disclosed))
                    return CheckAnswer(
                        certificate_type=row["certificate_type"],
                        type_name=CERTIFICATE_TYPES[row["certificate_type"]].name, authority_id=row["authority_id"],
                        authority_name=row["authority_name"], status=status,  # type: ignore[arg-type]
                        issued_at=row["issued_at"], expires_at=row["expires_at"], disclosed=disclosed,
                        uses_left=consent["max_uses"] - consent["uses"], checked_at=now)
                refused, outcome, refusal = consent, status, self._certificate_refusal(status)
            # The refused attempt is logged for the holder on a transaction of its own; the refusal then
            # rolls this one back, so a use counted above is given back.
            async with self.db.separate_transaction() as own:
                await self._log_check(own, refused, presented_by, client, actor, outcome, [])
            raise refusal

    @staticmethod
    def _consent_refusal(consent: asyncpg.Record) -> tuple[str, Exception]:
        if consent["withdrawn_at"] is not None:
            return "withdrawn", ConsentWithdrawn("the holder withdrew this consent")
        if consent["uses"] >= consent["max_uses"]:
            return "used-up", ConsentUsedUp(f"this consent allowed {consent['max_uses']} check(s), all used")
        return "expired", ConsentExpired(f"this consent expired at {consent['expires_at'].isoformat()}")

    @staticmethod
    def _certificate_refusal(status: str) -> Exception:
        if status == "revoked":
            return CertificateRevoked("the issuing authority revoked this certificate")
        return CertificateKeyWithdrawn("the key that signed this certificate was withdrawn; ask the holder for a "
                                       "re-issued one")

    @staticmethod
    def _disclose(row: asyncpg.Record, scopes: list[str]) -> dict[str, Any]:
        holder = {"holder_name": row["holder_name"], "holder_identifier": row["holder_identifier"],
                  "number": row["number"]}
        fields = row["fields"]
        return {s: holder[s] if s in holder else fields[s] for s in scopes if s in holder or s in fields}

    async def _log_check(self, conn: asyncpg.Connection, consent: asyncpg.Record, presented_by: str,
                         client: str, actor: Actor, outcome: str, disclosed: list[str]) -> None:
        await repository.insert_check(
            conn, consent_id=consent["id"], certificate_id=consent["certificate_id"],
            citizen_id=consent["citizen_id"], presented_by=presented_by, client=client,
            outcome=outcome, disclosed=disclosed)
        action = "certificate.checked" if outcome == "answered" else "certificate.check_refused"
        await self.audit.record(conn, actor, action, "certificate", str(consent["certificate_id"]),
                                detail={"consent_id": str(consent["id"]), "relying_party": consent["relying_party"],
                                        "presented_by": presented_by, "outcome": outcome,
                                        "disclosed": disclosed})

    async def my_checks(self, actor: Actor, certificate_id: uuid.UUID | None = None) -> list[CheckRecord]:
        """Every check made on the holder's certificates: who, when, which fields, and the outcome."""
        async with self.db.transaction() as conn:
            if certificate_id is not None:
                await self._own(conn, actor, certificate_id)
            rows = await repository.checks_of_citizen(conn, uuid.UUID(actor.id), certificate_id)
            await self.audit.record(conn, actor, "certificate_checks.read", "citizen", actor.id)
        return [CheckRecord(**{**dict(row), "disclosed": list(row["disclosed"])}) for row in rows]

    # -- trust list, revocation list, online verification ----------------------------------------

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
                signing_until=_epoch(row["retired_at"]) if retired else None,
                listed_until=_epoch(row["last_expiry"]) if retired else None))
        return trust_list_document(keys, _epoch(now), _epoch(now) + self.trust_list_seconds)

    def _valid_from(self, key: asyncpg.Record) -> int:
        """From when a key's signatures count: its activation; for a standby key, the earliest moment a
        rotation may activate it (published one trust-list period), so that a verifier whose list still
        shows it on standby accepts what it signs once active — and nothing it signed before."""
        if key["status"] == "standby":
            return _epoch(key["created_at"]) + self.trust_list_seconds
        return _epoch(key["activated_at"])

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
        entries = [RevokedEntry(number=r["number"], issuer=r["authority_id"], revoked_at=_epoch(r["revoked_at"]),
                                reason=r["revocation_reason"], expires_at=_epoch(r["expires_at"])) for r in rows]
        document = revocation_list_document(entries, _epoch(now), _epoch(now) + self.revocation_list_seconds)
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
        token = await build(_now())
        await client.set(key, token, ex=LIST_CACHE_SECONDS)
        return token

    async def _lists_changed(self) -> None:
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
        now = _now()
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

    @staticmethod
    def certificate_types() -> list[CertificateTypeView]:
        return [CertificateTypeView(code=t.code, name=t.name, holder_kind=t.holder_kind,  # type: ignore[arg-type]
                                    default_validity_days=t.default_days, max_validity_days=t.max_days,
                                    scopes=t.scopes, fields_schema=t.json_schema())
                for t in CERTIFICATE_TYPES.values()]
