"""The QR text of an e-certificate, `TB1:` + Base45(zlib(COSE_Sign1(CWT claims))).

Pure functions, no database: the server uses them to sign, and any verifier (our own offline
function, the benchmark, a third party following `docs/certificate-format.md`) to read. The design
follows the EU Digital COVID Certificate: CBOR Web Token claims (RFC 8392) signed as a COSE_Sign1
message (RFC 9052) with EdDSA over Ed25519, compressed with zlib and encoded with Base45 (RFC 9285).

Reading is defensive: the text length is bounded before decoding, the decompressed size is bounded
while decompressing (a zlib bomb stops at the limit), CBOR tags other than COSE_Sign1's are refused
while decoding, and only the outer COSE structure and the protected header are parsed before the
signature has been checked. Refusal messages never quote what the text contains.
"""

from __future__ import annotations

import array
import hashlib
import re
import sys
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import base45
import cbor2
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.identifiers import FIELD_NAME, TYPE_CODE

PREFIX = "TB1:"
# Certificates are printed at error-correction level Q, where the largest QR code (version 40) holds
# 2,420 alphanumeric characters: issuing refuses anything longer, so no genuine text is longer.
MAX_QR_TEXT = 2420
# Base45 turns 2 bytes into 3 characters, so a full QR code carries under 2,900 compressed bytes;
# 16 KiB of decompressed COSE leaves room for any honest certificate and none for a bomb.
MAX_PAYLOAD_BYTES = 16 * 1024
_AT = re.compile(r" - at `([^`]{1,200})`$")
# Nesting of honest claims is three levels deep; the limit only stops pathological input.
MAX_CBOR_DEPTH = 16

COSE_SIGN1_TAG = 18
# NumericDates up to the last second of year 9999, so every accepted time is a calendar date.
MAX_NUMERIC_DATE = 253_402_300_799
HEADER_ALG, HEADER_CRIT, HEADER_KID = 1, 2, 4
ALG_EDDSA = -8
CLAIM_ISS, CLAIM_EXP, CLAIM_NBF, CLAIM_IAT = 1, 4, 5, 6
# RFC 8392 reserves integer claim keys below -65536 for private use; ours carries the certificate.
CLAIM_CERTIFICATE = -65537
CERTIFICATE_LAYOUT_VERSION = 1

Reason = Literal["bad-signature", "unknown-issuer", "expired", "not-yet-valid", "revoked", "malformed",
                 "wrong-prefix", "wrong-algorithm", "too-large", "not-in-registry", "trust-list-expired",
                 "revocation-list-expired"]


class QrRefused(Exception):
    """The QR text cannot be accepted; `reason` is the machine-readable cause."""

    def __init__(self, reason: Reason, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


# -- the certificate inside the CWT ---------------------------------------------------------------

FieldName = Annotated[str, msgspec.Meta(pattern=FIELD_NAME)]
# Field values are JSON scalars (dates as ISO 8601 text), so what a verifier decodes can always be
# shown or sent on as JSON.
FieldValue = str | int | bool

class HolderClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={
        "kind": "k", "name": "n", "identifier": "id"}):
    """Who holds the certificate: a citizen (resident ID masked) or an organisation (full GB 32100 code)."""

    kind: Literal["citizen", "organisation"]
    name: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    identifier: Annotated[str, msgspec.Meta(min_length=1, max_length=32)]


class CertificateClaim(msgspec.Struct, frozen=True, forbid_unknown_fields=True, rename={
        "version": "v", "number": "no", "certificate_type": "t", "holder": "h", "fields": "f"}):
    """The private claim: what the certificate says."""

    version: Literal[1]
    number: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    certificate_type: Annotated[str, msgspec.Meta(pattern=TYPE_CODE)]
    holder: HolderClaim
    fields: dict[FieldName, FieldValue]


@dataclass(frozen=True, slots=True)
class Claims:
    """The CWT claims set of one certificate; times are NumericDate (seconds since the epoch, UTC)."""

    issuer: str
    issued_at: int
    expires_at: int
    certificate: CertificateClaim
    not_before: int | None = None

    def to_cbor(self) -> bytes:
        claims: dict[int, Any] = {CLAIM_ISS: self.issuer, CLAIM_IAT: self.issued_at, CLAIM_EXP: self.expires_at,
                                  CLAIM_CERTIFICATE: msgspec.to_builtins(self.certificate)}
        if self.not_before is not None:
            claims[CLAIM_NBF] = self.not_before
        return cbor2.dumps(claims, canonical=True)


# -- keys -----------------------------------------------------------------------------------------

def key_id(public_key: Ed25519PublicKey) -> bytes:
    """The COSE `kid`: the first 8 bytes of SHA-256 over the DER SubjectPublicKeyInfo."""
    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).digest()[:8]


def raw_public_key(public_key: Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


# -- signing --------------------------------------------------------------------------------------

def sig_structure(protected: bytes, payload: bytes) -> bytes:
    """The bytes an EdDSA COSE_Sign1 signature covers (RFC 9052 §4.4), with empty external AAD."""
    return cbor2.dumps(["Signature1", protected, b"", payload])


def protected_header(kid: bytes) -> bytes:
    return cbor2.dumps({HEADER_ALG: ALG_EDDSA, HEADER_KID: kid}, canonical=True)


def sign(claims: Claims, private_key: Ed25519PrivateKey, kid: bytes) -> str:
    """The QR text of `claims` signed with `private_key` (whose `kid` the caller passes in)."""
    protected = protected_header(kid)
    payload = claims.to_cbor()
    signature = private_key.sign(sig_structure(protected, payload))
    message = cbor2.dumps(cbor2.CBORTag(COSE_SIGN1_TAG, [protected, {}, payload, signature]))
    return PREFIX + b45encode(zlib.compress(message, 9))


_BASE45 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ $%*+-./:"
# Every two-byte group's three characters (RFC 9285: n = a·256 + b → n mod 45, n div 45 mod 45, n div 2025).
_BASE45_PAIRS = [_BASE45[n % 45] + _BASE45[n // 45 % 45] + _BASE45[n // 2025] for n in range(65536)]


def b45encode(data: bytes) -> str:
    """Base45 (RFC 9285), the same text as the `base45` package writes, eight times faster: signing a
    certificate spent more time here than in the signature (bulk issuing, bench/recognition.py)."""
    even = len(data) & ~1
    groups = array.array("H", data[:even])
    if sys.byteorder == "little":
        groups.byteswap()  # each group is big-endian: first byte × 256 + second
    text = "".join(map(_BASE45_PAIRS.__getitem__, groups))
    if even != len(data):
        text += _BASE45[data[-1] % 45] + _BASE45[data[-1] // 45]
    return text


# -- reading --------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class SignedMessage:
    """A COSE_Sign1 whose structure has been read but whose signature is not yet checked."""

    protected: bytes
    kid: bytes
    payload: bytes
    signature: bytes

    def to_be_signed(self) -> bytes:
        return sig_structure(self.protected, self.payload)


class _TagRefused(ValueError):
    pass


def _refuse_tag(*_: object) -> Any:
    raise _TagRefused


class _OnlyTags(Mapping[int, Callable[..., Any]]):
    """cbor2 `semantic_decoders` that replace the decoder of every tag but `allowed` with a refusal.

    cbor2 would otherwise turn tag 2 into an integer of any size, tag 1 into a datetime, tag 35 into a
    compiled regular expression, tags 28/29 into shared (even cyclic) references, and so on.
    """

    def __init__(self, allowed: frozenset[int]) -> None:
        self.allowed = allowed

    def __getitem__(self, tag: int) -> Callable[..., Any]:
        if tag in self.allowed:
            raise KeyError(tag)
        return _refuse_tag

    def __iter__(self) -> Iterator[int]:
        return iter(())

    def __len__(self) -> int:
        return 0


_NO_TAGS, _COSE_TAG_ONLY = _OnlyTags(frozenset()), _OnlyTags(frozenset({COSE_SIGN1_TAG}))


def _cbor(data: bytes, what: str, tags: _OnlyTags = _NO_TAGS) -> Any:
    # The tag hook sees tags cbor2 has no decoder for; allowed ones stay `CBORTag`s.
    def tag_hook(tag: cbor2.CBORTag, _immutable: bool) -> Any:
        return tag if tag.tag in tags.allowed else _refuse_tag()

    try:
        return cbor2.loads(data, max_depth=MAX_CBOR_DEPTH, allow_duplicate_keys=False, semantic_decoders=tags,
                           tag_hook=tag_hook)
    except Exception as exc:  # cbor2 raises several types on hostile input; all mean the same here
        if isinstance(exc.__cause__, _TagRefused) or isinstance(exc, _TagRefused):
            raise QrRefused("malformed", f"{what} holds a CBOR tag; only COSE_Sign1 (18) is accepted") from None
        raise QrRefused("malformed", f"{what} is not valid CBOR ({type(exc).__name__})") from None


def _labels_are_plain(header: Mapping[Any, Any]) -> bool:
    """Map keys are integers or text; not 1.0 or True, which Python would take for the label 1."""
    return all(type(label) is int or type(label) is str for label in header)


def _numeric_date(value: object) -> bool:
    return type(value) is int and 0 <= value <= MAX_NUMERIC_DATE


def _inflate(compressed: bytes) -> bytes:
    inflater = zlib.decompressobj()
    try:
        data = inflater.decompress(compressed, MAX_PAYLOAD_BYTES)
    except zlib.error:
        raise QrRefused("malformed", "the payload is not a valid zlib stream") from None
    if inflater.unconsumed_tail:
        raise QrRefused("too-large", f"the payload decompresses to more than {MAX_PAYLOAD_BYTES} bytes")
    if not inflater.eof:
        raise QrRefused("malformed", "the zlib stream is truncated")
    if inflater.unused_data:
        raise QrRefused("malformed", "bytes follow the end of the zlib stream")
    return data


def open_message(text: str) -> SignedMessage:
    """Undo prefix, Base45 and zlib and read the COSE_Sign1 envelope; raise `QrRefused` on any fault."""
    if len(text) > MAX_QR_TEXT:
        raise QrRefused("too-large", f"the QR text is {len(text)} characters; at most {MAX_QR_TEXT} are accepted")
    if not text.startswith(PREFIX):
        raise QrRefused("wrong-prefix", f"the QR text must start with {PREFIX!r}")
    try:
        compressed = base45.b45decode(text[len(PREFIX):])
    except Exception:  # the base45 package raises ValueError or KeyError for characters outside its alphabet
        raise QrRefused("malformed", "the text after the prefix is not valid Base45") from None
    envelope = _cbor(_inflate(compressed), "the COSE message", _COSE_TAG_ONLY)
    if isinstance(envelope, cbor2.CBORTag):
        envelope = envelope.value
    # cbor2 decodes what sits inside a tag as immutable types (tuple, frozendict).
    if not isinstance(envelope, list | tuple) or len(envelope) != 4:
        raise QrRefused("malformed", "a COSE_Sign1 message is an array of four items")
    protected, unprotected, payload, signature = envelope
    if not (isinstance(protected, bytes) and isinstance(unprotected, Mapping) and isinstance(payload, bytes)
            and isinstance(signature, bytes)):
        raise QrRefused("malformed", "COSE_Sign1 items must be bstr, map, bstr, bstr")
    header = _cbor(protected, "the protected header") if protected else {}
    if not isinstance(header, Mapping) or not _labels_are_plain(header):
        raise QrRefused("malformed", "the protected header is not a map with integer or text labels")
    if HEADER_CRIT in header:
        raise QrRefused("malformed", "critical header parameters are not supported")
    alg = header.get(HEADER_ALG)
    if type(alg) is not int or alg != ALG_EDDSA:
        raise QrRefused("wrong-algorithm", "the protected header must name algorithm -8 (EdDSA), an integer")
    kid = header.get(HEADER_KID)
    if not isinstance(kid, bytes) or len(kid) != 8:
        raise QrRefused("malformed", "the protected header must carry an 8-byte kid")
    if len(signature) != 64:
        raise QrRefused("bad-signature", "an Ed25519 signature is 64 bytes")
    return SignedMessage(protected, kid, payload, signature)


def read_claims(payload: bytes) -> Claims:
    """Parse the CWT claims of a payload whose signature has already been checked."""
    claims = _cbor(payload, "the CWT claims")
    if not isinstance(claims, Mapping) or not _labels_are_plain(claims):
        raise QrRefused("malformed", "the CWT claims are not a map with integer or text keys")
    issuer, issued_at, expires_at = claims.get(CLAIM_ISS), claims.get(CLAIM_IAT), claims.get(CLAIM_EXP)
    not_before = claims.get(CLAIM_NBF)
    if not isinstance(issuer, str) or not all(_numeric_date(t) for t in (issued_at, expires_at)):
        raise QrRefused("malformed", f"the claims need iss (text), iat and exp (integers 0 to {MAX_NUMERIC_DATE})")
    if not_before is not None and not _numeric_date(not_before):
        raise QrRefused("malformed", f"nbf must be an integer 0 to {MAX_NUMERIC_DATE}")
    try:
        certificate = msgspec.convert(claims.get(CLAIM_CERTIFICATE), CertificateClaim)
    except msgspec.ValidationError as exc:
        # Name where it failed, not what was found there.
        where = _AT.search(str(exc))
        raise QrRefused("malformed", f"the certificate claim is not in layout {CERTIFICATE_LAYOUT_VERSION}"
                                     + (f" (at {where[1]})" if where else "")) from None
    return Claims(issuer, issued_at, expires_at, certificate, not_before)
