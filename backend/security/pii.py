"""Personal data at rest: AES-GCM encryption plus a keyed hash (HMAC-SHA256) for exact lookup.

Ciphertexts carry a one-byte key version so keys can be rotated without a flag day; the associated
data binds each ciphertext to its column, so a value copied into another column does not decrypt.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
from typing import Any

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from backend.identity.resident_id import mask_resident_id

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


def mask_name(name: str) -> str:
    """`陈静` → `陈*`: the family name and a star per other character."""
    return name[:1] + "*" * (len(name) - 1)


_RESIDENT_ID = re.compile(r"[0-9]{17}[0-9Xx]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")


def masked_form(value: Any, name: str = "") -> Any:
    """A form (any JSON value) as answers show it: every resident ID and phone number in it masked, at any
    depth — a member named so (`resident_id`, `partner_resident_id`, `phone`, `contact_phone`, …) or a
    value shaped so, whatever its name (the forms of the catalogue and its local variants name them as
    they please)."""
    if isinstance(value, dict):
        return {key: masked_form(item, key) for key, item in value.items()}
    if isinstance(value, list):
        return [masked_form(item, name) for item in value]
    if not isinstance(value, str):
        return value
    if name.endswith("resident_id") or _RESIDENT_ID.fullmatch(value):
        return mask_resident_id(value)
    if name.endswith("phone") or _MOBILE.fullmatch(value):
        return mask_phone(value)
    return value


def mask_middle(value: str, keep_start: int, keep_end: int) -> str:
    """Keep the first `keep_start` and last `keep_end` characters, star the rest:
    `6222021234567890123` → `6222***********0123` with 4 and 4."""
    if len(value) <= keep_start + keep_end:
        return "*" * len(value)
    return value[:keep_start] + "*" * (len(value) - keep_start - keep_end) + value[len(value) - keep_end:]
