"""App attestation, checked without a database or a network: a phone proves once per installation that
its key lives in secure hardware and belongs to our genuine app, and then signs each liveness answer
with that key.

- **Android Key Attestation**: the app makes a key in the phone's keystore with our one-time nonce as
  the attestation challenge and sends the key's certificate chain. The chain must end at one of the
  configured Google hardware-attestation roots (compared by public key, as Google advises), every
  certificate be in date and not on the revocation list, and the leaf's attestation extension
  (`KeyDescription`, OID 1.3.6.1.4.1.11129.2.1.17) must say: our nonce; attested by a trusted
  environment or StrongBox, not software; the bootloader locked and the boot verified; our package
  name, signed with our signing certificate.
- **Apple App Attest**: the app attests a Secure Enclave key with the SHA-256 of our nonce as client
  data and sends the CBOR attestation object and the key's id. The chain must end at Apple's App
  Attestation root; the credential certificate's nonce extension (1.2.840.113635.100.8.2) must be
  SHA-256(authenticator data ‖ SHA-256(our nonce)); the key id the SHA-256 of the public key; the
  authenticator data name our app id, count zero, and come from a permitted environment.

Each liveness answer is then signed over `capture_message(challenge id, frames)`: an ECDSA or RSA
signature (Android) or an App Attest assertion (Apple, whose counter must rise every time).

Pure functions with the time passed in, so the tests and any other verifier reproduce them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cbor2
from asn1crypto import parser
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

ANDROID_KEY_DESCRIPTION = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.1.17")
APPLE_NONCE = x509.ObjectIdentifier("1.2.840.113635.100.8.2")
DATA = Path(__file__).parent / "data"
GOOGLE_ROOTS = DATA / "google_hardware_attestation_roots.pem"
APPLE_ROOT = DATA / "apple_app_attestation_root_ca.pem"

SECURITY_LEVELS = {0: "software", 1: "trusted-environment", 2: "strongbox"}
BOOT_STATES = {0: "verified", 1: "self-signed", 2: "unverified", 3: "failed"}
APP_ATTEST_ENVIRONMENTS = {b"appattestdevelop": "development", b"appattest" + bytes(7): "production"}
# AuthorizationList tags (Android's keymaster/keymint `Tag` numbers) read here.
_ROOT_OF_TRUST, _OS_VERSION, _OS_PATCH_LEVEL, _APPLICATION_ID = 704, 705, 706, 709
MESSAGE_PREFIX = b"tongban-face-capture/1\n"


class AttestationRefused(ValueError):
    """The attestation or signature does not prove what it must; `code` is a stable reason code."""

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code, self.detail = code, detail


@dataclass(frozen=True, slots=True)
class AndroidAppIdentity:
    """What an Android installation must be: our package, signed with our certificate, on hardware."""

    packages: frozenset[str]
    signing_digests: frozenset[bytes]  # SHA-256 of the app's signing certificate(s)
    roots: tuple[x509.Certificate, ...]
    revoked_serials: frozenset[int] = frozenset()
    min_security_level: int = 1  # trusted environment; 2 would demand StrongBox


@dataclass(frozen=True, slots=True)
class AppleAppIdentity:
    """What an iOS installation must be: our app id (team id + bundle id) in a permitted environment."""

    app_ids: frozenset[str]
    root: x509.Certificate
    environments: frozenset[str] = frozenset({"production"})


@dataclass(frozen=True, slots=True)
class Attested:
    """A verified installation: its key and what the attestation said about the phone and the app."""

    kind: str  # "android-key-attestation" or "app-attest"
    key_id: bytes
    public_key: bytes  # DER SubjectPublicKeyInfo
    app_id: str
    facts: dict[str, Any] = field(default_factory=dict)


def load_certificates(path: Path) -> tuple[x509.Certificate, ...]:
    """The certificates in a PEM bundle (the configured roots)."""
    return tuple(x509.load_pem_x509_certificates(path.read_bytes()))


def _spki(certificate: x509.Certificate) -> bytes:
    return certificate.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)


def _has_extension(certificate: x509.Certificate, oid: x509.ObjectIdentifier) -> bool:
    try:
        certificate.extensions.get_extension_for_oid(oid)
    except x509.ExtensionNotFound:
        return False
    return True


def _declares_end_entity(certificate: x509.Certificate) -> bool:
    try:
        return not certificate.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    except x509.ExtensionNotFound:
        return False


def verify_chain(chain: list[x509.Certificate], roots: tuple[x509.Certificate, ...], at: dt.datetime,
                 revoked_serials: frozenset[int] = frozenset()) -> None:
    """Leaf first: each certificate issued and signed by the next, all in date at `at`, none revoked,
    and the last either one of `roots` (same public key) or signed by one."""
    if not chain:
        raise AttestationRefused("attestation-chain-invalid", "the certificate chain is empty")
    for certificate in chain:
        if not certificate.not_valid_before_utc <= at <= certificate.not_valid_after_utc:
            raise AttestationRefused("attestation-chain-invalid",
                                     f"certificate {certificate.subject.rfc4514_string()} is not valid now")
        if certificate.serial_number in revoked_serials:
            raise AttestationRefused("attestation-revoked",
                                     f"certificate serial {certificate.serial_number:x} is revoked")
    for issuer in chain[1:]:
        # A genuine attested key can sign anything, a certificate too: only certificate authorities
        # may issue, and the attestation extension may stand in the key's own certificate only.
        if _declares_end_entity(issuer) or _has_extension(issuer, ANDROID_KEY_DESCRIPTION):
            raise AttestationRefused("attestation-chain-invalid",
                                     f"{issuer.subject.rfc4514_string()} is not a certificate authority")
    try:
        for child, issuer in zip(chain, chain[1:]):
            child.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        raise AttestationRefused("attestation-chain-invalid", "a certificate is not signed by the next one") from None
    top, root_keys = chain[-1], {_spki(root) for root in roots}
    if _spki(top) in root_keys:
        return
    for root in roots:
        try:
            top.verify_directly_issued_by(root)
            return
        except (ValueError, TypeError, InvalidSignature):
            continue
    raise AttestationRefused("attestation-untrusted-root", "the chain does not end at a configured root")


# -- DER reading: the attestation extensions are read element by element --------------------------

@dataclass(frozen=True, slots=True)
class _Element:
    """One DER element: its class (0 universal, 2 context-specific), tag, contents and whole encoding."""

    class_: int
    tag: int
    contents: bytes
    der: bytes


def _element(der: bytes) -> _Element:
    try:
        class_, _, tag, _, contents, _ = parser.parse(der, strict=True)
    except ValueError as exc:
        raise AttestationRefused("attestation-malformed", f"malformed attestation data: {exc}") from None
    return _Element(class_, tag, contents, der)


def _elements(der: bytes) -> list[_Element]:
    """The elements inside a DER SEQUENCE or SET (or inside an explicit tag)."""
    data, found = _element(der).contents, []
    try:
        while data:
            length = parser.peek(data)
            found.append(_element(data[:length]))
            data = data[length:]
    except ValueError as exc:
        raise AttestationRefused("attestation-malformed", f"malformed attestation data: {exc}") from None
    return found


def _integer(element: _Element) -> int:
    return int.from_bytes(element.contents, "big", signed=True)


def _tagged(elements: list[_Element]) -> dict[int, bytes]:
    """Context-specific explicitly tagged fields (an AuthorizationList), by tag, as the inner DER."""
    return {element.tag: element.contents for element in elements if element.class_ == 2}


@dataclass(frozen=True, slots=True)
class KeyDescription:
    attestation_version: int
    attestation_security_level: int
    keymint_security_level: int
    challenge: bytes
    software: dict[int, bytes]
    hardware: dict[int, bytes]


def key_description(certificate: x509.Certificate) -> KeyDescription:
    """The Android attestation extension of a leaf certificate."""
    try:
        value = certificate.extensions.get_extension_for_oid(ANDROID_KEY_DESCRIPTION).value
    except x509.ExtensionNotFound:
        raise AttestationRefused("attestation-malformed", "the key certificate has no attestation extension") from None
    items = _elements(value.value)  # type: ignore[attr-defined]
    if len(items) < 8:
        raise AttestationRefused("attestation-malformed", "the attestation extension is incomplete")
    return KeyDescription(_integer(items[0]), _integer(items[1]), _integer(items[3]), items[4].contents,
                          _tagged(_elements(items[6].der)), _tagged(_elements(items[7].der)))


def _application(software: dict[int, bytes], hardware: dict[int, bytes]) -> tuple[list[str], list[bytes]]:
    """Package names and signing-certificate digests from `attestationApplicationId`."""
    wrapped = software.get(_APPLICATION_ID) or hardware.get(_APPLICATION_ID)
    if wrapped is None:
        raise AttestationRefused("attestation-app-mismatch", "the attestation names no application")
    packages_set, digests_set = _elements(_element(wrapped).contents)[:2]
    packages = [_elements(info.der)[0].contents.decode("utf-8", "replace") for info in _elements(packages_set.der)]
    digests = [digest.contents for digest in _elements(digests_set.der)]
    return packages, digests


def verify_android(chain_der: list[bytes], nonce: bytes, identity: AndroidAppIdentity, at: dt.datetime) -> Attested:
    """Check an Android Key Attestation chain (leaf first) made with `nonce` as its challenge."""
    try:
        chain = [x509.load_der_x509_certificate(der) for der in chain_der]
    except ValueError:
        raise AttestationRefused("attestation-malformed", "a certificate of the chain cannot be read") from None
    verify_chain(chain, identity.roots, at, identity.revoked_serials)
    description = key_description(chain[0])
    if description.challenge != nonce:
        raise AttestationRefused("attestation-nonce-mismatch", "the attestation was not made for this nonce")
    levels = (description.attestation_security_level, description.keymint_security_level)
    if min(levels) < identity.min_security_level:
        raise AttestationRefused("attestation-not-hardware",
                                 f"the key is kept by {SECURITY_LEVELS.get(min(levels), 'unknown')}, not secure hardware")
    if _ROOT_OF_TRUST not in description.hardware:
        raise AttestationRefused("attestation-boot-unverified", "the attestation carries no hardware root of trust")
    root_of_trust = _elements(description.hardware[_ROOT_OF_TRUST])
    locked, boot_state = root_of_trust[1].contents != b"\x00", _integer(root_of_trust[2])
    if not locked or boot_state != 0:
        raise AttestationRefused("attestation-boot-unverified",
                                 f"the phone's bootloader is {'locked' if locked else 'unlocked'} and its boot "
                                 f"{BOOT_STATES.get(boot_state, 'unknown')}; a verified boot is required")
    packages, digests = _application(description.software, description.hardware)
    package = next((p for p in packages if p in identity.packages), None)
    if package is None or not identity.signing_digests.intersection(digests):
        raise AttestationRefused("attestation-app-mismatch",
                                 "the key does not belong to our app signed with our certificate")
    leaf = chain[0]
    public_key = _spki(leaf)
    facts = {"attestation_version": description.attestation_version,
             "security_level": SECURITY_LEVELS.get(description.attestation_security_level, "unknown"),
             "keymint_security_level": SECURITY_LEVELS.get(description.keymint_security_level, "unknown"),
             "verified_boot": BOOT_STATES[boot_state], "device_locked": locked,
             "os_version": _optional_integer(description.hardware, _OS_VERSION),
             "os_patch_level": _optional_integer(description.hardware, _OS_PATCH_LEVEL),
             "chain_serials": [f"{c.serial_number:x}" for c in chain]}
    return Attested("android-key-attestation", hashlib.sha256(public_key).digest(), public_key, package, facts)


def _optional_integer(fields: dict[int, bytes], tag: int) -> int | None:
    return _integer(_element(fields[tag])) if tag in fields else None


# -- Apple App Attest --------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class AuthenticatorData:
    rp_id_hash: bytes
    counter: int
    aaguid: bytes
    credential_id: bytes

    @classmethod
    def parse(cls, data: bytes, *, attested: bool) -> AuthenticatorData:
        if len(data) < 37 or (attested and len(data) < 55):
            raise AttestationRefused("attestation-malformed", "the authenticator data is too short")
        counter = int.from_bytes(data[33:37], "big")
        if not attested:
            return cls(data[:32], counter, b"", b"")
        length = int.from_bytes(data[53:55], "big")
        return cls(data[:32], counter, data[37:53], data[55:55 + length])


def _apple_public_key(certificate: x509.Certificate) -> tuple[bytes, bytes]:
    """The credential key as SubjectPublicKeyInfo, and its App Attest key id (SHA-256 of the point)."""
    key = certificate.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        raise AttestationRefused("attestation-malformed", "the credential key is not an elliptic-curve key")
    point = key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return _spki(certificate), hashlib.sha256(point).digest()


def verify_app_attest(attestation_object: bytes, key_id: bytes, nonce: bytes, identity: AppleAppIdentity,
                      at: dt.datetime) -> Attested:
    """Check an App Attest attestation of key `key_id` made with SHA-256(`nonce`) as client data."""
    try:
        decoded = cbor2.loads(attestation_object)
        statement, auth_data = decoded["attStmt"], decoded["authData"]
        chain = [x509.load_der_x509_certificate(der) for der in statement["x5c"]]
        fmt = decoded["fmt"]
    except (cbor2.CBORDecodeError, KeyError, TypeError, ValueError):
        raise AttestationRefused("attestation-malformed", "the attestation object cannot be read") from None
    if fmt != "apple-appattest" or not isinstance(auth_data, bytes):
        raise AttestationRefused("attestation-malformed", "this is not an App Attest attestation object")
    verify_chain(chain, (identity.root,), at)
    expected = hashlib.sha256(auth_data + hashlib.sha256(nonce).digest()).digest()
    try:
        extension = chain[0].extensions.get_extension_for_oid(APPLE_NONCE).value.value  # type: ignore[attr-defined]
    except x509.ExtensionNotFound:
        raise AttestationRefused("attestation-malformed", "the credential certificate carries no nonce") from None
    (wrapper,) = _elements(extension)[:1]
    if _element(wrapper.contents).contents != expected:
        raise AttestationRefused("attestation-nonce-mismatch", "the attestation was not made for this nonce")
    public_key, computed_key_id = _apple_public_key(chain[0])
    if computed_key_id != key_id:
        raise AttestationRefused("attestation-malformed", "the key id is not the attested key's")
    data = AuthenticatorData.parse(auth_data, attested=True)
    app_id = next((a for a in identity.app_ids if hashlib.sha256(a.encode()).digest() == data.rp_id_hash), None)
    if app_id is None:
        raise AttestationRefused("attestation-app-mismatch", "the attestation is not for our app")
    environment = APP_ATTEST_ENVIRONMENTS.get(data.aaguid)
    if environment not in identity.environments:
        raise AttestationRefused("attestation-app-mismatch", f"App Attest environment {environment} is not accepted")
    if data.counter != 0 or data.credential_id != key_id:
        raise AttestationRefused("attestation-malformed", "the authenticator data does not describe a new key")
    facts = {"environment": environment, "chain_serials": [f"{c.serial_number:x}" for c in chain]}
    return Attested("app-attest", key_id, public_key, app_id, facts)


# -- each answer -------------------------------------------------------------------------------------

def frames_digest(frames: list[bytes]) -> bytes:
    """SHA-256 over the SHA-256 of each frame, in order."""
    return hashlib.sha256(b"".join(hashlib.sha256(frame).digest() for frame in frames)).digest()


def capture_message(challenge_id: str, frames: list[bytes]) -> bytes:
    """What the attested key signs for one liveness answer: the challenge and exactly these frames."""
    return MESSAGE_PREFIX + challenge_id.encode("ascii") + b"\n" + frames_digest(frames).hex().encode("ascii")


def verify_android_signature(public_key: bytes, message: bytes, signature: bytes) -> None:
    """An ECDSA (DER) or RSA PKCS#1 v1.5 signature with SHA-256 by the attested key."""
    key = serialization.load_der_public_key(public_key)
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
        elif isinstance(key, rsa.RSAPublicKey):
            key.verify(signature, message, padding.PKCS1v15(), hashes.SHA256())
        else:
            raise AttestationRefused("capture-signature-invalid", "the attested key's type is not supported")
    except InvalidSignature:
        raise AttestationRefused("capture-signature-invalid", "the capture's signature does not verify") from None


def verify_app_attest_assertion(public_key: bytes, app_id: str, counter: int, message: bytes,
                                assertion: bytes) -> int:
    """An App Attest assertion over `message` by the attested key; returns its counter, which must be
    above the last one seen (`counter`)."""
    try:
        decoded = cbor2.loads(assertion)
        signature, auth_data = decoded["signature"], decoded["authenticatorData"]
    except (cbor2.CBORDecodeError, KeyError, TypeError, ValueError):
        raise AttestationRefused("capture-signature-invalid", "the assertion cannot be read") from None
    if not isinstance(signature, bytes) or not isinstance(auth_data, bytes):
        raise AttestationRefused("capture-signature-invalid", "the assertion cannot be read")
    nonce = hashlib.sha256(auth_data + hashlib.sha256(message).digest()).digest()
    key = serialization.load_der_public_key(public_key)
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(signature, nonce, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise AttestationRefused("capture-signature-invalid", "the assertion's signature does not verify") from None
    data = AuthenticatorData.parse(auth_data, attested=False)
    if data.rp_id_hash != hashlib.sha256(app_id.encode()).digest():
        raise AttestationRefused("capture-signature-invalid", "the assertion is not for our app")
    if data.counter <= counter:
        raise AttestationRefused("capture-replayed", "the assertion's counter did not rise: a replayed assertion")
    return data.counter

