"""Webhook signatures in the Standard Webhooks format (standardwebhooks.com), so that a receiver can
check them with that project's libraries or with these few lines.

A delivery carries three headers:

- `webhook-id`: the event id; the same on every retry of the event, so a receiver de-duplicates on it;
- `webhook-timestamp`: seconds since the epoch when this attempt was signed;
- `webhook-signature`: `v1,<base64 HMAC-SHA256>` over `<id>.<timestamp>.<body>` with the subscriber's
  secret; during a secret rotation, two of them separated by a space (either one verifying is enough).

Secrets are written `whsec_<base64 of 32 random bytes>`. Pure functions, no database: receivers and
the tests use `verify` as it is.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time

SECRET_PREFIX = "whsec_"
# A receiver refuses a signature older (or newer) than this: a captured delivery cannot be replayed later.
TOLERANCE_SECONDS = 5 * 60


class SignatureInvalid(ValueError):
    """The delivery was not signed with the secret, or too long ago."""


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def _key(secret: str) -> bytes:
    if not secret.startswith(SECRET_PREFIX):
        raise ValueError(f"a webhook secret starts with {SECRET_PREFIX}")
    return base64.b64decode(secret[len(SECRET_PREFIX):])


def signature(secret: str, event_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64>`: the HMAC-SHA256 of `<id>.<timestamp>.<body>` under `secret`."""
    mac = hmac.new(_key(secret), f"{event_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def headers(secrets_in_use: list[str], event_id: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The signing headers of one attempt, signed with every secret in use (two during a rotation)."""
    timestamp = int(time.time()) if timestamp is None else timestamp
    return {"webhook-id": event_id, "webhook-timestamp": str(timestamp),
            "webhook-signature": " ".join(signature(s, event_id, timestamp, body) for s in secrets_in_use)}


def verify(secret: str, received: dict[str, str], body: bytes, *, now: float | None = None,
           tolerance: int = TOLERANCE_SECONDS) -> str:
    """Check a delivery's headers (names in lower case) and body; return the event id, or raise
    `SignatureInvalid`."""
    try:
        event_id, timestamp = received["webhook-id"], int(received["webhook-timestamp"])
        offered = received["webhook-signature"].split()
    except (KeyError, ValueError):
        raise SignatureInvalid("missing or malformed webhook headers") from None
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        raise SignatureInvalid("the timestamp is outside the tolerance")
    expected = signature(secret, event_id, timestamp, body)
    if not any(hmac.compare_digest(expected, candidate) for candidate in offered):
        raise SignatureInvalid("no signature matches")
    return event_id
