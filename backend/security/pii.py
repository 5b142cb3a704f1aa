"""Personal data at rest: AES-GCM encryption plus a keyed hash (HMAC-SHA256) for exact lookup.

Ciphertexts carry a one-byte key version so keys can be rotated without a flag day; the associated
data binds each ciphertext to its column, so a value copied into another column does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

_KEY_VERSION = 1


class PiiCipher:
    """Encrypts, decrypts and blind-indexes personal data with keys from the settings."""

    def __init__(self, encryption_key: bytes, hash_key: bytes) -> None:
        self._aead = AESGCM(encryption_key)
        self._hash_key = hash_key

    def encrypt(self, plaintext: str, *, purpose: str) -> bytes:
        return self.seal(plaintext.encode(), purpose=purpose)

    def decrypt(self, blob: bytes, *, purpose: str) -> str:
        return self.open(blob, purpose=purpose).decode()

    def seal(self, plaintext: bytes, *, purpose: str) -> bytes:
        """Encrypt bytes (a file, a document); `purpose` is bound as associated data."""
        nonce = os.urandom(12)
        return bytes([_KEY_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, purpose.encode())

    def open(self, blob: bytes, *, purpose: str) -> bytes:
        if not blob or blob[0] != _KEY_VERSION:
            raise ValueError("unknown key version")
        return self._aead.decrypt(blob[1:13], blob[13:], purpose.encode())

    def lookup_hash(self, value: str, *, purpose: str) -> bytes:
        """A deterministic keyed hash: equal values give equal hashes, without revealing them."""
        return hmac.new(self._hash_key, f"{purpose}\x00{value}".encode(), hashlib.sha256).digest()


def mask_phone(phone: str) -> str:
    """`13812345678` → `138****5678`."""
    return phone[:3] + "****" + phone[-4:] if len(phone) >= 7 else "*" * len(phone)


def mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    """Keep the first `keep_start` and last `keep_end` characters, star the rest:
    `6222021234567890123` → `6222***********0123` with 4 and 4."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]
