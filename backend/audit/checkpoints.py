"""Signed checkpoints of the audit chain: every chain's head (seq and MAC) at one moment, signed with
the audit checkpoint key (Ed25519) as a compact JWS (RFC 7515, EdDSA, `typ: tongban-audit-checkpoint`).

A checkpoint kept outside the database (downloaded from the well-known URL, mailed to an auditor)
proves that the chain had reached those heads: a database later rolled back to an older state shows a
head behind the checkpoint's, or another entry at the checkpoint's place. Pure functions, no database.
"""

from __future__ import annotations

from typing import Annotated, Literal

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.certificates.qr_format import key_id
from backend.certificates.trust_lists import PUBLISHER, AnchorSet, NumericDate, anchor_jwk, b64url, from_b64url

CHECKPOINT_TYPE = "tongban-audit-checkpoint"
MAX_CHECKPOINT_BYTES = 64 * 1024


class CheckpointRefused(Exception):
    """Not a checkpoint of ours: bad signature, another key, wrong shape."""


class ChainHead(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    chain: Annotated[int, msgspec.Meta(ge=0)]
    seq: Annotated[int, msgspec.Meta(ge=0, description="the chain's newest entry; 0 for a chain without entries")]
    mac: Annotated[str, msgspec.Meta(description="that entry's MAC (`hash`), base64url")]


class CheckpointDocument(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    type: Literal["tongban-audit-checkpoint"]
    iss: str
    iat: NumericDate
    chains: list[ChainHead]


def document(heads: dict[int, tuple[int, bytes]], at: int) -> CheckpointDocument:
    return CheckpointDocument(CHECKPOINT_TYPE, PUBLISHER, at,
                              [ChainHead(c, seq, b64url(mac)) for c, (seq, mac) in sorted(heads.items())])


def kid(public_key: Ed25519PublicKey) -> str:
    return b64url(key_id(public_key))


def sign(checkpoint: CheckpointDocument, key: Ed25519PrivateKey) -> str:
    return jwt.PyJWS().encode(msgspec.json.encode(checkpoint), key, algorithm="EdDSA",
                              headers={"kid": kid(key.public_key()), "typ": CHECKPOINT_TYPE})


def open_checkpoint(token: str, public_key: Ed25519PublicKey) -> CheckpointDocument:
    """The checkpoint in `token`, once its signature verifies with `public_key`."""
    token = token.strip()
    if len(token) > MAX_CHECKPOINT_BYTES:
        raise CheckpointRefused(f"larger than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise CheckpointRefused(f"not a compact JWS: {exc}") from None
    if header.get("alg") != "EdDSA" or header.get("typ") != CHECKPOINT_TYPE:
        raise CheckpointRefused(f"expected an EdDSA {CHECKPOINT_TYPE}, got {header.get('alg')!r} {header.get('typ')!r}")
    if header.get("kid") != kid(public_key):
        raise CheckpointRefused(f"signed by key {header.get('kid')!r}, not by this service's key {kid(public_key)}")
    try:
        payload = jwt.PyJWS().decode_complete(token, public_key, algorithms=["EdDSA"])["payload"]
        return msgspec.json.decode(payload, type=CheckpointDocument)
    except jwt.PyJWTError as exc:
        raise CheckpointRefused(f"the signature does not verify: {exc}") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CheckpointRefused(f"not a checkpoint document: {exc}") from None


def public_keys(public_key: Ed25519PublicKey) -> AnchorSet:
    """The JWK Set to publish beside the checkpoints."""
    return AnchorSet([anchor_jwk(public_key)])


def heads_of(checkpoint: CheckpointDocument) -> dict[int, tuple[int, bytes]]:
    return {h.chain: (h.seq, from_b64url(h.mac)) for h in checkpoint.chains}
