"""The signed lists an offline verifier needs: the trust list and the revocation list.

The trust list is a JWK Set (RFC 7517) of every issuing authority's Ed25519 keys, in every province;
the revocation list names revoked certificates that have not yet expired. Each is published as a
compact JWS (RFC 7515, EdDSA) signed by a trust-anchor key, with its issue time and the time of the
next update, so a verifier can take an updated copy from anywhere (a USB stick, a peer) and still
trust it. Pure functions, no database.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Annotated, Literal, TypeVar

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.certificates.qr_format import key_id, raw_public_key
from backend.identifiers import DIVISION, TYPE_CODE

TRUST_LIST_TYPE = "tongban-trust-list"
REVOCATION_LIST_TYPE = "tongban-revocation-list"
PUBLISHER = "tongban"
MAX_LIST_BYTES = 8 * 1024 * 1024

NumericDate = Annotated[int, msgspec.Meta(ge=0, description="seconds since 1970-01-01T00:00:00Z")]
KeyStatus = Literal["standby", "active", "retired"]
RevocationReason = Literal["superseded", "withdrawn", "issued-in-error", "holder-request", "fraud", "other"]


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def from_b64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class ListRefused(Exception):
    """A trust or revocation list that must not be used: bad signature, unknown anchor, wrong shape."""


# -- the documents --------------------------------------------------------------------------------

class SigningKeyJwk(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """One issuer key as a JWK (OKP / Ed25519) plus whom it belongs to, what and when it may sign."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: Annotated[str, msgspec.Meta(description="the raw 32-byte public key, base64url")]
    kid: Annotated[str, msgspec.Meta(description="base64url of the first 8 bytes of SHA-256(DER SPKI)")]
    use: Literal["sig"]
    alg: Literal["EdDSA"]
    issuer: Annotated[str, msgspec.Meta(description="the `iss` claim of certificates this key signs")]
    issuer_name: str
    division: Annotated[str, msgspec.Meta(pattern=DIVISION, description="GB/T 2260 code of the issuer")]
    status: KeyStatus
    valid_from: NumericDate
    certificate_types: Annotated[list[Annotated[str, msgspec.Meta(pattern=TYPE_CODE)]], msgspec.Meta(
        description="the certificate types (`t` in the QR) this key may sign: its authority's")]
    signing_until: NumericDate | None = None
    listed_until: NumericDate | None = None
    purpose: Annotated[Literal["certificate", "case-exchange"], msgspec.Meta(
        description="what the key signs: certificates, or a province's case hand-over records (then `issuer` "
                    "and `division` are the province's code and `certificate_types` is empty)")] = "certificate"


class TrustListDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """The payload of the signed trust list: a JWK Set with a header of its own."""

    type: Literal["tongban-trust-list"]
    iss: str
    iat: NumericDate
    next_update: NumericDate
    keys: list[SigningKeyJwk]


class RevokedEntry(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    number: str
    issuer: str
    revoked_at: NumericDate
    reason: RevocationReason
    expires_at: NumericDate


class RevocationListDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Literal["tongban-revocation-list"]
    iss: str
    iat: NumericDate
    next_update: NumericDate
    revoked: list[RevokedEntry]


ListDocument = TypeVar("ListDocument", TrustListDocument, RevocationListDocument)


class AnchorJwk(msgspec.Struct, frozen=True):
    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: str
    kid: str
    use: Literal["sig"] = "sig"
    alg: Literal["EdDSA"] = "EdDSA"


class AnchorSet(msgspec.Struct, frozen=True):
    keys: list[AnchorJwk]


def signing_key_jwk(public_key: Ed25519PublicKey, **members: object) -> SigningKeyJwk:
    return SigningKeyJwk(kty="OKP", crv="Ed25519", x=b64url(raw_public_key(public_key)),
                         kid=b64url(key_id(public_key)), use="sig", alg="EdDSA", **members)  # type: ignore[arg-type]


def anchor_jwk(public_key: Ed25519PublicKey) -> AnchorJwk:
    return AnchorJwk(kty="OKP", crv="Ed25519", x=b64url(raw_public_key(public_key)), kid=b64url(key_id(public_key)))


# -- signing and reading --------------------------------------------------------------------------

def sign_document(document: TrustListDocument | RevocationListDocument, anchor: Ed25519PrivateKey) -> str:
    """A compact JWS of the document, signed with EdDSA by a trust-anchor key."""
    kid = b64url(key_id(anchor.public_key()))
    return jwt.PyJWS().encode(msgspec.json.encode(document), anchor, algorithm="EdDSA",
                              headers={"kid": kid, "typ": document.type})


def anchors_from_jwks(jwks: bytes | str) -> dict[bytes, Ed25519PublicKey]:
    """Trust-anchor public keys from a JWK Set, each checked against its `kid`."""
    try:
        anchor_set = msgspec.json.decode(jwks, type=AnchorSet)
        return dict(_public_key(k.x, k.kid) for k in anchor_set.keys)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ListRefused(f"the trust-anchor set is not a JWK Set of Ed25519 keys: {exc}") from None


def _public_key(x: str, kid: str) -> tuple[bytes, Ed25519PublicKey]:
    try:
        public_key = Ed25519PublicKey.from_public_bytes(from_b64url(x))
    except (ValueError, binascii.Error):
        raise ListRefused(f"key {kid}: x is not a base64url Ed25519 public key") from None
    derived = key_id(public_key)
    if b64url(derived) != kid:
        raise ListRefused(f"key {kid}: kid does not match the key (expected {b64url(derived)})")
    return derived, public_key


def _open(token: str | bytes, expected_type: str, anchors: Mapping[bytes, Ed25519PublicKey]) -> bytes:
    if len(token) > MAX_LIST_BYTES:
        raise ListRefused(f"the list is larger than {MAX_LIST_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise ListRefused(f"not a compact JWS: {exc}") from None
    if header.get("alg") != "EdDSA":
        raise ListRefused(f"the list is signed with {header.get('alg')!r}; only EdDSA is accepted")
    if header.get("typ") != expected_type:
        raise ListRefused(f"expected a {expected_type}, got {header.get('typ')!r}")
    try:
        anchor = anchors[from_b64url(str(header.get("kid", "")))]
    except (KeyError, binascii.Error, ValueError):
        raise ListRefused(f"the list is signed by an unknown trust anchor {header.get('kid')!r}") from None
    try:
        return jwt.PyJWS().decode_complete(token, anchor, algorithms=["EdDSA"])["payload"]
    except jwt.PyJWTError as exc:
        raise ListRefused(f"the list's signature does not verify: {exc}") from None


@dataclass(frozen=True, slots=True)
class TrustedKey:
    kid: bytes
    public_key: Ed25519PublicKey
    jwk: SigningKeyJwk


@dataclass(frozen=True)
class TrustList:
    """A trust list ready for verification: keys grouped by `kid` (which several keys may share)."""

    document: TrustListDocument
    by_kid: dict[bytes, list[TrustedKey]] = field(default_factory=dict)

    @classmethod
    def of(cls, document: TrustListDocument) -> TrustList:
        by_kid: dict[bytes, list[TrustedKey]] = {}
        for jwk in document.keys:
            kid, public_key = _public_key(jwk.x, jwk.kid)
            by_kid.setdefault(kid, []).append(TrustedKey(kid, public_key, jwk))
        return cls(document, by_kid)

    def candidates(self, kid: bytes) -> list[TrustedKey]:
        return self.by_kid.get(kid, [])


@dataclass(frozen=True)
class RevocationList:
    document: RevocationListDocument
    by_number: dict[str, RevokedEntry] = field(default_factory=dict)

    @classmethod
    def of(cls, document: RevocationListDocument) -> RevocationList:
        return cls(document, {entry.number: entry for entry in document.revoked})


def _read(token: str | bytes, document_type: type[ListDocument], anchors: Mapping[bytes, Ed25519PublicKey],
          not_older_than: int | None) -> ListDocument:
    kind = TRUST_LIST_TYPE if document_type is TrustListDocument else REVOCATION_LIST_TYPE
    try:
        document = msgspec.json.decode(_open(token, kind, anchors), type=document_type)
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise ListRefused(f"the {kind} is malformed: {exc}") from None
    if not_older_than is not None and document.iat < not_older_than:
        raise ListRefused(f"the {kind} is older than the copy already held")
    return document


def read_trust_list(token: str | bytes, anchors: Mapping[bytes, Ed25519PublicKey], *,
                    not_older_than: int | None = None) -> TrustList:
    """Check a signed trust list against the pinned anchors and parse it.

    `not_older_than` is the `iat` of the copy the verifier already holds: an older list is refused,
    so nobody can roll a verifier back to a list that still trusts a withdrawn key.
    """
    return TrustList.of(_read(token, TrustListDocument, anchors, not_older_than))


def read_revocation_list(token: str | bytes, anchors: Mapping[bytes, Ed25519PublicKey], *,
                         not_older_than: int | None = None) -> RevocationList:
    """Check a signed revocation list against the pinned anchors and parse it."""
    return RevocationList.of(_read(token, RevocationListDocument, anchors, not_older_than))


def trust_list_document(keys: Iterable[SigningKeyJwk], issued_at: int, next_update: int) -> TrustListDocument:
    return TrustListDocument(type=TRUST_LIST_TYPE, iss=PUBLISHER, iat=issued_at, next_update=next_update,
                             keys=list(keys))


def revocation_list_document(entries: Iterable[RevokedEntry], issued_at: int, next_update: int) -> RevocationListDocument:
    return RevocationListDocument(type=REVOCATION_LIST_TYPE, iss=PUBLISHER, iat=issued_at,
                                  next_update=next_update, revoked=list(entries))
