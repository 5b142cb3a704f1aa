"""Kiosk request signatures: HTTP Message Signatures (RFC 9421) with Ed25519 over the method, the path,
the query, the body's `Content-Digest` (RFC 9530, SHA-256), a creation time and a nonce.

The cryptography and the signature-base rules are the `http-message-signatures` package's; what is ours
is the policy — which components must be covered, the tag, the nonce's form, the time window — and
the split of failures into the problems a kiosk is told. No database and no HTTP here: the registry
looks up the key and keeps the nonces.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field

import http_sf
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from http_message_signatures import (
    HTTPMessageSignaturesException,
    HTTPMessageSigner,
    HTTPMessageVerifier,
    HTTPSignatureKeyResolver,
    InvalidSignature,
    algorithms,
)

from backend.errors import KioskSignatureInvalid, KioskSignatureMissing, KioskSignatureStale

# Every kiosk signature covers these, carries this tag, and a nonce of this form.
COVERED = ("@method", "@path", "@query", "content-digest")
TAG = "tongban-kiosk"
LABEL = "kiosk"
NONCE = re.compile(r"[A-Za-z0-9_-]{16,64}")
# Only the components above are resolved: the base URL is a fixed stand-in, so proxies that rewrite
# the host or the scheme do not break signatures (neither is covered).
_BASE = "https://kiosk.invalid"


@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A request as the signature sees it: method, raw path, raw query, header lines, body."""

    method: str
    path: str
    query: str
    headers: list[tuple[str, str]]
    body: bytes = b""

    @property
    def url(self) -> str:
        return _BASE + self.path + (f"?{self.query}" if self.query else "")


class _Headers:
    """The header interface the library reads and writes (repeated lines kept in order)."""

    def __init__(self, lines: list[tuple[str, str]]) -> None:
        self.lines = lines

    def items(self) -> list[tuple[str, str]]:
        return list(self.lines)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(dict.fromkeys(name for name, _ in self.lines))

    def __contains__(self, name: object) -> bool:
        return any(line.lower() == str(name).lower() for line, _ in self.lines)

    def __setitem__(self, name: str, value: str) -> None:
        self.__delitem__(name)
        self.lines.append((name, value))

    def __delitem__(self, name: str) -> None:
        self.lines[:] = [(n, v) for n, v in self.lines if n.lower() != name.lower()]


@dataclass
class _LibraryMessage:
    method: str
    url: str
    headers: _Headers


class _OneKey(HTTPSignatureKeyResolver):
    def __init__(self, key_id: str, public_key: Ed25519PublicKey | None = None,
                 private_key: Ed25519PrivateKey | None = None) -> None:
        self.key_id, self.public_key, self.private_key = key_id, public_key, private_key

    def resolve_public_key(self, key_id: str) -> Ed25519PublicKey | None:
        return self.public_key if key_id == self.key_id else None

    def resolve_private_key(self, key_id: str) -> Ed25519PrivateKey | None:
        return self.private_key if key_id == self.key_id else None


class _Verifier(HTTPMessageVerifier):
    # The time window is checked by `verify` below, against the clock it is given (so that a stale
    # signature gets its own problem); the library's own comparison with the wall clock is switched off.
    max_clock_skew = dt.timedelta(days=365 * 100)


def public_key_text(public_key: bytes) -> str:
    """A raw Ed25519 public key as unpadded base64url (JWK `x`), the form the API and CLI use."""
    return base64.urlsafe_b64encode(public_key).rstrip(b"=").decode()


def key_fingerprint(public_key: bytes) -> str:
    """Short fingerprint staff can compare with what the device shows: SHA-256, first 8 bytes, hex."""
    return hashlib.sha256(public_key).hexdigest()[:16]


def sign_request(message: SignedMessage, private_key: Ed25519PrivateKey, key_id: str, *,
                 created: float | None = None, nonce: str | None = None) -> list[tuple[str, str]]:
    """The message's header lines plus `Content-Digest`, `Signature-Input` and `Signature`: what the
    kiosk device sends."""
    headers = _Headers([(n, v) for n, v in message.headers
                        if n.lower() not in ("content-digest", "signature", "signature-input")])
    signer = HTTPMessageSigner(signature_algorithm=algorithms.ED25519,
                               key_resolver=_OneKey(key_id, private_key=private_key))
    signer.sign(_LibraryMessage(message.method, message.url, headers), key_id=key_id, label=LABEL, tag=TAG,
                created=dt.datetime.fromtimestamp(time.time() if created is None else created, dt.UTC),
                nonce=nonce or secrets.token_urlsafe(24), covered_component_ids=COVERED, body=message.body)
    return headers.lines


@dataclass(frozen=True, slots=True)
class SignatureInput:
    """The parameters of a request's one kiosk signature, read before anything is verified."""

    key_id: str
    created: int
    nonce: str
    parameters: dict[str, object] = field(default_factory=dict)


def read_signature_input(headers: list[tuple[str, str]]) -> SignatureInput:
    """The key id, creation time and nonce the request claims; refuses unsigned or malformed requests."""
    names = {name.lower() for name, _ in headers}
    if "signature" not in names or "signature-input" not in names:
        raise KioskSignatureMissing("sign every kiosk request (RFC 9421): Signature-Input and Signature "
                                    "headers are required")
    value = ", ".join(v for n, v in headers if n.lower() == "signature-input")
    try:
        parsed = http_sf.parse(value.encode(), tltype="dictionary")
    except (ValueError, TypeError):
        raise KioskSignatureInvalid("the Signature-Input header is not a structured-field dictionary") from None
    if len(parsed) != 1:
        raise KioskSignatureInvalid("send exactly one signature")
    ((_, (_, params)),) = parsed.items()
    key_id, created, nonce = params.get("keyid"), params.get("created"), params.get("nonce")
    if params.get("tag") != TAG:
        raise KioskSignatureInvalid(f'the signature must carry tag="{TAG}"')
    if not isinstance(key_id, str) or not key_id:
        raise KioskSignatureInvalid("the signature names no keyid")
    if type(created) is not int:
        raise KioskSignatureInvalid("the signature has no integer created time")
    if not isinstance(nonce, str) or not NONCE.fullmatch(nonce):
        raise KioskSignatureInvalid("the signature needs a nonce of 16–64 characters [A-Za-z0-9_-]")
    return SignatureInput(key_id, created, nonce, dict(params))


def verify(message: SignedMessage, claimed: SignatureInput, public_key: bytes, *, now: float,
           window_seconds: int) -> None:
    """Check the signature cryptographically, its coverage, the body's digest and its age.

    Raises `KioskSignatureInvalid` or `KioskSignatureStale`; the nonce's freshness is the caller's."""
    verifier = _Verifier(signature_algorithm=algorithms.ED25519, key_resolver=_OneKey(
        claimed.key_id, public_key=Ed25519PublicKey.from_public_bytes(public_key)))
    try:
        verifier.verify(_LibraryMessage(message.method, message.url, _Headers(list(message.headers))),
                        max_age=None, expect_tag=TAG, require_components=COVERED, body=message.body)
    except (InvalidSignature, HTTPMessageSignaturesException) as exc:
        raise KioskSignatureInvalid(f"the signature does not verify: {exc}") from None
    if abs(now - claimed.created) > window_seconds:
        raise KioskSignatureStale(
            f"the signature was created {int(now - claimed.created)} s from the server's clock; at most "
            f"{window_seconds} s either way are accepted — check the kiosk's clock", server_time=int(now))
