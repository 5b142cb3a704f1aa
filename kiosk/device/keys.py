"""The device's own Ed25519 key pair, made on the device and kept in a file only it can read; the
server only ever learns the public half. Every request the device sends is signed with it."""

from __future__ import annotations

import os
from collections.abc import Generator
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.kiosks.signatures import SignedMessage, key_fingerprint, public_key_text, sign_request


@dataclass
class DeviceKey:
    private_key: Ed25519PrivateKey
    key_id: str = ""  # the kiosk id the server gave at registration

    @classmethod
    def generate(cls) -> DeviceKey:
        return cls(Ed25519PrivateKey.generate())

    @classmethod
    def load_or_create(cls, path: Path) -> DeviceKey:
        """The key pair in `path` (PKCS#8 PEM, mode 0600), made there first if missing."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            pem = Ed25519PrivateKey.generate().private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as sink:
                sink.write(pem)
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise ValueError(f"{path} does not hold an Ed25519 private key")
        return cls(key)

    @property
    def public_bytes(self) -> bytes:
        return self.private_key.public_key().public_bytes_raw()

    @property
    def public_key(self) -> str:
        """What the admin registers: the public key as unpadded base64url."""
        return public_key_text(self.public_bytes)

    @property
    def fingerprint(self) -> str:
        return key_fingerprint(self.public_bytes)

    def sign(self, method: str, raw_target: bytes, headers: list[tuple[str, str]], body: bytes,
             **options: object) -> list[tuple[str, str]]:
        """The header lines of a signed request for `raw_target` (path and query as sent)."""
        path, _, query = raw_target.decode("latin-1").partition("?")
        return sign_request(SignedMessage(method, path, query, headers, body), self.private_key, self.key_id,
                            **options)  # type: ignore[arg-type]


class KioskSignature(httpx.Auth):
    """httpx authentication that signs every request with the device key (RFC 9421)."""

    requires_request_body = True

    def __init__(self, key: DeviceKey) -> None:
        self.key = key

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        lines = [(k, v) for k, v in request.headers.multi_items()
                 if k.lower() not in ("content-digest", "signature", "signature-input")]
        signed = self.key.sign(request.method, request.url.raw_path, lines, request.content)
        for name in ("Content-Digest", "Signature-Input", "Signature"):
            request.headers[name] = next(v for k, v in signed if k == name)
        yield request
