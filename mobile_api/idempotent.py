"""`Idempotency-Key` support for endpoints that create things."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.params import HeaderParameter

from backend.actors import Actor
from backend.container import Services
from backend.errors import ValidationFailed
from backend.idempotency import (
    KEY_PATTERN,
    StoredAnswer,
    check_key,
    claim,
    remember,
    request_fingerprint,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_PARAM = HeaderParameter(
    name=IDEMPOTENCY_HEADER, required=False, pattern=KEY_PATTERN, examples=None,
    description="Makes the request safe to retry: a retry by the same caller with the same key within 24 h "
                "returns the first result and creates nothing new. 1–255 visible ASCII characters, e.g. a UUID. "
                "Only for signed-in callers.",
)


async def idempotent_create(
    request: Request[Any, Any, Any], services: Services, actor: Actor,
    create: Callable[[], Awaitable[msgspec.Struct]], status: int = 201, content: bytes | None = None,
) -> Response[Any]:
    """Run `create` once per (caller, key); a retry gets the first answer and creates nothing.

    The key, the created records and the stored answer commit in one transaction. A handler whose body
    the framework has already parsed as a form (multipart) passes what identifies the request as `content`.
    """
    key = request.headers.get(IDEMPOTENCY_HEADER)
    if key is None:
        return Response(await create(), status_code=status)
    key = check_key(key)
    if actor.id is None:
        # Nothing tells two anonymous clients apart: a shared key would hand one the other's answer.
        raise ValidationFailed.field(IDEMPOTENCY_HEADER, "only a signed-in caller can use an Idempotency-Key; "
                                                         "send the request without one")
    fingerprint = request_fingerprint(request.method, request.url.path, request.url.query,
                                      content if content is not None else await request.body())
    principal = f"{actor.kind}:{actor.id or '-'}"
    async with services.db.transaction() as conn:
        stored = await claim(conn, services.cipher, principal, key, fingerprint)
        if stored is not None:
            return Response(stored.body, status_code=stored.status, media_type="application/json",
                            headers={"Idempotent-Replayed": "true"})
        body = msgspec.json.encode(await create())
        await remember(conn, services.cipher, principal, key, StoredAnswer(status, body))
    return Response(body, status_code=status, media_type="application/json")
