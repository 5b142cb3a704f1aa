"""Signed checkpoints of the audit chain: every chain's head (seq and MAC) at one moment, signed with
the audit checkpoint key (Ed25519) as a compact JWS (RFC 7515, EdDSA, `typ: tongban-audit-checkpoint`).

A checkpoint kept outside the database (downloaded from the well-known URL, mailed to an auditor)
proves that the chain had reached those heads: a database later rolled back to an older state shows a
head behind the checkpoint's, or another entry at the checkpoint's place. Pure functions, no database.

The key can be rotated: each checkpoint names its key in the JWS header (`kid`, as certificate keys'
kids are made), the published JWK Set holds the active key and the retired ones still vouching for
older checkpoints, and a checkpoint opens against whichever key of a set its `kid` names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

import jwt
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from backend.certificates.qr_format import key_id, raw_public_key
from backend.certificates.trust_lists import (
    PUBLISHER,
    ListRefused,
    NumericDate,
    anchors_from_jwks,
    b64url,
    from_b64url,
)

CHECKPOINT_TYPE = "tongban-audit-checkpoint"
MAX_CHECKPOINT_BYTES = 64 * 1024


class CheckpointRefused(Exception):
    """Not a checkpoint of ours: bad signature, a key not in the set, wrong shape."""


# kid (base64url) -> public key: the keys a checkpoint may be signed with.
CheckpointKeys = Mapping[str, Ed25519PublicKey]


class CheckpointKeyJwk(msgspec.Struct, frozen=True):
    """A checkpoint key as a JWK (OKP / Ed25519), with whether it signs checkpoints now."""

    kty: Literal["OKP"]
    crv: Literal["Ed25519"]
    x: Annotated[str, msgspec.Meta(description="the raw 32-byte public key, base64url")]
    kid: Annotated[str, msgspec.Meta(description="base64url of the first 8 bytes of SHA-256(DER SPKI); "
                                                 "a checkpoint names its key by this in its JWS header")]
    status: Annotated[Literal["active", "retired"], msgspec.Meta(
        description="`active` signs new checkpoints; a `retired` key signed earlier ones, which still verify")]
    use: Literal["sig"] = "sig"
    alg: Literal["EdDSA"] = "EdDSA"


class CheckpointKeySet(msgspec.Struct, frozen=True):
    keys: list[CheckpointKeyJwk]


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


def key_set(public_keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    """The keys by kid, first of a kid kept."""
    keys: dict[str, Ed25519PublicKey] = {}
    for public_key in public_keys:
        keys.setdefault(kid(public_key), public_key)
    return keys


def keys_from_jwks(jwks: bytes | str) -> dict[str, Ed25519PublicKey]:
    """The keys of a JWK Set as published at /.well-known/tongban/audit-checkpoint-keys, each checked
    against its kid."""
    try:
        return {b64url(k): public_key for k, public_key in anchors_from_jwks(jwks).items()}
    except ListRefused as exc:
        raise CheckpointRefused(f"not a set of checkpoint keys: {exc}") from None


def open_checkpoint(token: str, keys: CheckpointKeys) -> CheckpointDocument:
    """The checkpoint in `token`, once its signature verifies with the key of `keys` its kid names."""
    token = token.strip()
    if len(token) > MAX_CHECKPOINT_BYTES:
        raise CheckpointRefused(f"larger than {MAX_CHECKPOINT_BYTES} bytes")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise CheckpointRefused(f"not a compact JWS: {exc}") from None
    if header.get("alg") != "EdDSA" or header.get("typ") != CHECKPOINT_TYPE:
        raise CheckpointRefused(f"expected an EdDSA {CHECKPOINT_TYPE}, got {header.get('alg')!r} {header.get('typ')!r}")
    public_key = keys.get(str(header.get("kid")))
    if public_key is None:
        raise CheckpointRefused(f"signed by key {header.get('kid')!r}, which is not among the checkpoint keys "
                                f"({', '.join(keys) or 'none'})")
    try:
        payload = jwt.PyJWS().decode_complete(token, public_key, algorithms=["EdDSA"])["payload"]
        return msgspec.json.decode(payload, type=CheckpointDocument)
    except jwt.PyJWTError as exc:
        raise CheckpointRefused(f"the signature does not verify: {exc}") from None
    except (msgspec.ValidationError, msgspec.DecodeError) as exc:
        raise CheckpointRefused(f"not a checkpoint document: {exc}") from None


def public_keys(active: Ed25519PublicKey, retired: Iterable[Ed25519PublicKey]) -> CheckpointKeySet:
    """The JWK Set to publish beside the checkpoints: the active key first, then the retired ones."""
    listed = key_set([active, *retired])  # the active key first, and a retired copy of it dropped
    return CheckpointKeySet([
        CheckpointKeyJwk(kty="OKP", crv="Ed25519", x=b64url(raw_public_key(public_key)), kid=k,
                         status="retired" if n else "active")
        for n, (k, public_key) in enumerate(listed.items())])


def heads_of(checkpoint: CheckpointDocument) -> dict[int, tuple[int, bytes]]:
    return {h.chain: (h.seq, from_b64url(h.mac)) for h in checkpoint.chains}
