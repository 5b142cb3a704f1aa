"""Face data at rest: AES-GCM under a key of its own, derived from the personal-data key.

A face template is more sensitive than a name: it is kept under its own HKDF-derived key, and each
ciphertext is bound by associated data to its purpose, the citizen and the model, so a template
copied to another citizen's row, or read as another model's, does not decrypt.
"""

from __future__ import annotations

import os

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_KEY_VERSION = 1


class FaceDataCipher:
    def __init__(self, pii_key: bytes) -> None:
        key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"tongban face data v1").derive(pii_key)
        self._aead = AESGCM(key)

    def seal(self, plaintext: bytes, *, purpose: str, citizen_id: str, model: str = "") -> bytes:
        nonce = os.urandom(12)
        context = f"{purpose}\x00{citizen_id}\x00{model}".encode()
        return bytes([_KEY_VERSION]) + nonce + self._aead.encrypt(nonce, plaintext, context)

    def open(self, blob: bytes, *, purpose: str, citizen_id: str, model: str = "") -> bytes:
        if not blob or blob[0] != _KEY_VERSION:
            raise ValueError("unknown key version")
        context = f"{purpose}\x00{citizen_id}\x00{model}".encode()
        return self._aead.decrypt(blob[1:13], blob[13:], context)

    def seal_template(self, embedding: np.ndarray, *, citizen_id: str, model: str) -> bytes:
        return self.seal(embedding.astype("<f4").tobytes(), purpose="face.template", citizen_id=citizen_id,
                         model=model)

    def open_template(self, blob: bytes, *, citizen_id: str, model: str) -> np.ndarray:
        raw = self.open(blob, purpose="face.template", citizen_id=citizen_id, model=model)
        return np.frombuffer(raw, dtype="<f4")
