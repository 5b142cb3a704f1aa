"""Signing keys at rest: Ed25519 private keys wrapped with AES-GCM under the `signing_key_kek` setting.

The associated data binds each wrapped key to its own public key, so a wrapped private key copied
onto another key's row does not unwrap. A leading byte names the wrapping-key version for rotation.
Private keys leave this module only as `Ed25519PrivateKey` objects handed to a signer; they are never
returned in a response nor written to a log.
"""

from __future__ import annotations

import os

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_WRAP_VERSION = 1


class KeyVault:
    def __init__(self, key_encryption_key: bytes) -> None:
        self._aead = AESGCM(key_encryption_key)

    @staticmethod
    def _aad(public_key: bytes) -> bytes:
        return b"tongban.certificate-signing-key\x00" + public_key

    def wrap(self, private_key: Ed25519PrivateKey) -> tuple[bytes, bytes]:
        """(raw public key, wrapped private key) for storage."""
        public = private_key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        secret = private_key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                                           serialization.NoEncryption())
        nonce = os.urandom(12)
        return public, bytes([_WRAP_VERSION]) + nonce + self._aead.encrypt(nonce, secret, self._aad(public))

    def unwrap(self, public_key: bytes, wrapped: bytes) -> Ed25519PrivateKey:
        if not wrapped or wrapped[0] != _WRAP_VERSION:
            raise ValueError("unknown key-wrap version")
        secret = self._aead.decrypt(wrapped[1:13], wrapped[13:], self._aad(public_key))
        return Ed25519PrivateKey.from_private_bytes(secret)

    def generate(self) -> tuple[bytes, bytes]:
        """A fresh key pair, as (raw public key, wrapped private key)."""
        return self.wrap(Ed25519PrivateKey.generate())
