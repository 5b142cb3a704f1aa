"""Phones for the tests: certificate chains built here with the structure of the real ones — a root,
an intermediate, an attestation certificate and the key's leaf with Android's KeyDescription
extension; Apple's root, intermediate and credential certificate with its nonce extension, inside a
CBOR attestation object — so every check can be made to fail one at a time. The real published
samples are in `attestation_samples.json` (see `test_attestation.py`)."""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass, field
from pathlib import Path

import cbor2
from asn1crypto import core
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from backend.face.attestation import ANDROID_KEY_DESCRIPTION, APPLE_NONCE

NOW = dt.datetime.now(dt.UTC)
PACKAGE = "cn.gov.tongban.app"
SIGNING_DIGEST = hashlib.sha256(b"tongban app signing certificate (test)").digest()
APP_ID = "ABCDE12345.cn.gov.tongban.app"


class _SecurityLevel(core.Enumerated):
    _map = {0: "software", 1: "trusted_environment", 2: "strongbox"}


class _BootState(core.Enumerated):
    _map = {0: "verified", 1: "self_signed", 2: "unverified", 3: "failed"}


class _RootOfTrust(core.Sequence):
    _fields = [("verified_boot_key", core.OctetString), ("device_locked", core.Boolean),
               ("verified_boot_state", _BootState), ("verified_boot_hash", core.OctetString)]


class _PackageInfo(core.Sequence):
    _fields = [("package_name", core.OctetString), ("version", core.Integer)]


class _PackageInfos(core.SetOf):
    _child_spec = _PackageInfo


class _Digests(core.SetOf):
    _child_spec = core.OctetString


class _ApplicationId(core.Sequence):
    _fields = [("package_infos", _PackageInfos), ("signature_digests", _Digests)]


class _AuthorizationList(core.Sequence):
    _fields = [("root_of_trust", _RootOfTrust, {"explicit": 704, "optional": True}),
               ("os_version", core.Integer, {"explicit": 705, "optional": True}),
               ("os_patch_level", core.Integer, {"explicit": 706, "optional": True}),
               ("attestation_application_id", core.OctetString, {"explicit": 709, "optional": True})]


class _KeyDescription(core.Sequence):
    _fields = [("attestation_version", core.Integer), ("attestation_security_level", _SecurityLevel),
               ("keymint_version", core.Integer), ("keymint_security_level", _SecurityLevel),
               ("attestation_challenge", core.OctetString), ("unique_id", core.OctetString),
               ("software_enforced", _AuthorizationList), ("hardware_enforced", _AuthorizationList)]


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Tongban tests"),
                      x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(subject: str, key, issuer: str, issuer_key, *, ca: bool,  # type: ignore[no-untyped-def]
                 not_before: dt.datetime, not_after: dt.datetime,
                 extensions: list[x509.ExtensionType] = (), serial: int | None = None) -> x509.Certificate:
    builder = (x509.CertificateBuilder().subject_name(_name(subject)).issuer_name(_name(issuer))
               .public_key(key.public_key()).serial_number(serial or x509.random_serial_number())
               .not_valid_before(not_before).not_valid_after(not_after)
               .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
    for extension in extensions:
        builder = builder.add_extension(extension, critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


@dataclass
class CertificateAuthority:
    """A root and an intermediate, like Google's hardware-attestation roots or Apple's App Attestation CA."""

    name: str
    root_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP384R1()))
    intermediate_expires: dt.datetime = NOW + dt.timedelta(days=90)
    intermediate_serial: int | None = None

    def __post_init__(self) -> None:
        year = dt.timedelta(days=365)
        self.root = _certificate(f"{self.name} Root", self.root_key, f"{self.name} Root", self.root_key, ca=True,
                                 not_before=NOW - year, not_after=NOW + 10 * year)
        self.intermediate = _certificate(f"{self.name} CA", self.intermediate_key, f"{self.name} Root",
                                         self.root_key, ca=True, not_before=NOW - year,
                                         not_after=self.intermediate_expires, serial=self.intermediate_serial)

    def write_root(self, folder: Path) -> Path:
        path = folder / f"{self.name.replace(' ', '_')}_root.pem"
        path.write_bytes(self.root.public_bytes(serialization.Encoding.PEM))
        return path


@dataclass
class AndroidPhone:
    """A phone whose keystore makes attested keys, with the flaws a test may give it."""

    authority: CertificateAuthority
    package: str = PACKAGE
    signing_digest: bytes = SIGNING_DIGEST
    security_level: int = 1
    device_locked: bool = True
    boot_state: int = 0
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))

    def chain(self, challenge: bytes) -> list[bytes]:
        """The key's certificate chain, leaf first, as DER: leaf, attestation certificate, intermediate, root."""
        application = _ApplicationId({
            "package_infos": [{"package_name": self.package.encode(), "version": 42}],
            "signature_digests": [self.signing_digest]}).dump()
        description = _KeyDescription({
            "attestation_version": 300, "attestation_security_level": self.security_level, "keymint_version": 300,
            "keymint_security_level": self.security_level, "attestation_challenge": challenge, "unique_id": b"",
            "software_enforced": {"attestation_application_id": application},
            "hardware_enforced": {"root_of_trust": {"verified_boot_key": bytes(32),
                                                    "device_locked": self.device_locked,
                                                    "verified_boot_state": self.boot_state,
                                                    "verified_boot_hash": bytes(32)},
                                  "os_version": 150000, "os_patch_level": 202611}}).dump()
        batch_key = ec.generate_private_key(ec.SECP256R1())
        batch = _certificate("TEE", batch_key, f"{self.authority.name} CA", self.authority.intermediate_key, ca=True,
                             not_before=NOW - dt.timedelta(days=30), not_after=NOW + dt.timedelta(days=30))
        leaf = _certificate("Android Keystore Key", self.key, "TEE", batch_key, ca=False,
                            not_before=dt.datetime(1970, 1, 1, tzinfo=dt.UTC),
                            not_after=dt.datetime(2048, 1, 1, tzinfo=dt.UTC),
                            extensions=[x509.UnrecognizedExtension(ANDROID_KEY_DESCRIPTION, description)])
        return [c.public_bytes(serialization.Encoding.DER)
                for c in (leaf, batch, self.authority.intermediate, self.authority.root)]

    def sign(self, message: bytes) -> bytes:
        return self.key.sign(message, ec.ECDSA(hashes.SHA256()))


@dataclass
class IPhone:
    """A phone whose Secure Enclave makes App Attest keys; its assertions count up."""

    authority: CertificateAuthority
    app_id: str = APP_ID
    development: bool = False
    key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    counter: int = 0

    @property
    def key_id(self) -> bytes:
        point = self.key.public_key().public_bytes(serialization.Encoding.X962,
                                                   serialization.PublicFormat.UncompressedPoint)
        return hashlib.sha256(point).digest()

    def attestation(self, nonce: bytes) -> bytes:
        aaguid = b"appattestdevelop" if self.development else b"appattest" + bytes(7)
        auth_data = (hashlib.sha256(self.app_id.encode()).digest() + b"\x40" + (0).to_bytes(4, "big") + aaguid
                     + len(self.key_id).to_bytes(2, "big") + self.key_id + cbor2.dumps({1: 2, 3: -7}))
        expected = hashlib.sha256(auth_data + hashlib.sha256(nonce).digest()).digest()
        extension = core.Sequence.load(
            bytes([0x30, len(expected) + 4, 0xA1, len(expected) + 2, 0x04, len(expected)]) + expected).dump()
        leaf = _certificate("credential", self.key, f"{self.authority.name} CA", self.authority.intermediate_key,
                            ca=False, not_before=NOW - dt.timedelta(days=1), not_after=NOW + dt.timedelta(days=2),
                            extensions=[x509.UnrecognizedExtension(APPLE_NONCE, extension)])
        chain = [c.public_bytes(serialization.Encoding.DER) for c in (leaf, self.authority.intermediate)]
        return cbor2.dumps({"fmt": "apple-appattest", "attStmt": {"x5c": chain, "receipt": b""},
                            "authData": auth_data})

    def assertion(self, message: bytes, counter: int | None = None) -> bytes:
        self.counter = self.counter + 1 if counter is None else counter
        auth_data = hashlib.sha256(self.app_id.encode()).digest() + b"\x40" + self.counter.to_bytes(4, "big")
        nonce = hashlib.sha256(auth_data + hashlib.sha256(message).digest()).digest()
        return cbor2.dumps({"signature": self.key.sign(nonce, ec.ECDSA(hashes.SHA256())),
                            "authenticatorData": auth_data})
