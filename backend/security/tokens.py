"""Short-lived access tokens (JWT, HS256) and opaque refresh tokens."""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from typing import Literal

import jwt
import msgspec

PrincipalKind = Literal["citizen", "staff", "kiosk"]
AssuranceLevel = Literal["L1", "L2", "L3"]
LEVELS: tuple[AssuranceLevel, ...] = ("L1", "L2", "L3")

_ISSUER = "tongban"


class AccessClaims(msgspec.Struct, frozen=True):
    """What an access token asserts about its bearer."""

    sub: str
    kind: PrincipalKind
    session_id: str
    acr: AssuranceLevel = "L1"
    role: str | None = None
    division: str | None = None


class InvalidToken(Exception):
    """Expired, malformed or wrongly signed."""


class TokenCodec:
    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        self._secret = secret
        self.lifetime = lifetime_seconds

    def issue(self, claims: AccessClaims) -> str:
        now = int(time.time())
        payload = msgspec.to_builtins(claims) | {
            "iss": _ISSUER,
            "iat": now,
            "exp": now + self.lifetime,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(payload, self._secret, algorithm="HS256")

    def read(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token, self._secret, algorithms=["HS256"], issuer=_ISSUER,
                options={"require": ["exp", "iat", "sub"]},
            )
            return msgspec.convert(payload, AccessClaims)
        except (jwt.PyJWTError, msgspec.ValidationError) as exc:
            raise InvalidToken(str(exc)) from exc


def new_opaque_token(prefix: str = "") -> tuple[str, bytes]:
    """A random bearer secret (a refresh token, a consent token) and the hash under which the server
    stores it: the secret itself is shown once and never kept."""
    token = prefix + secrets.token_urlsafe(32)
    return token, opaque_token_hash(token)


def opaque_token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def level_at_least(current: str, required: str) -> bool:
    return LEVELS.index(current) >= LEVELS.index(required)  # type: ignore[arg-type]
