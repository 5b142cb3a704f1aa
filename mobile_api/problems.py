"""Every error leaves the service as RFC 9457 problem details (`application/problem+json`).

Domain errors carry their own slug, title and status; framework errors (validation, unknown routes,
wrong methods, oversized or malformed bodies) are translated here, once.
"""

from __future__ import annotations

import logging
import re
from typing import Any

import asyncpg
from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    MethodNotAllowedException,
    NotFoundException,
    ValidationException,
)
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.status_codes import HTTP_500_INTERNAL_SERVER_ERROR

from backend.errors import DomainError, RateLimited, ServiceBusy, ValidationFailed
from backend.logs import request_id_var

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
log = logging.getLogger("tongban.errors")

_AT_PATH = re.compile(r" - at `\$((?:\.\w+|\[\d+\])*)`$")
_NAMED_FIELD = re.compile(r"(?:unknown|missing required) field `([^`]+)`")
_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']+)'")

# Framework failures that are not domain errors: slug and title per status.
HTTP_PROBLEMS = {
    400: ("malformed-request", "The request could not be read"),
    401: ("unauthenticated", "Sign-in required"),
    403: ("forbidden", "Not allowed"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("body-too-large", "The request body is too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("rate-limited", "Too many requests"),
    # Not sent to anyone: the access log's and the metrics' name (nginx's) for a client that left.
    499: ("client-closed-request", "The client closed the connection before its request was read"),
    500: ("internal-error", "Internal error"),
    503: ("service-busy", "The service is busy; retry shortly"),
}


def problem(
    request: Request, status: int, slug: str, title: str, detail: str, headers: dict[str, str] | None = None,
    **extensions: Any,
) -> Response:
    body = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail,
            "instance": request.url.path, **extensions}
    request_id = request_id_var.get()
    if request_id:
        body["request_id"] = request_id
    return Response(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def _pointer(item: dict[str, Any]) -> dict[str, str]:
    """Turn one Litestar/msgspec validation message into an RFC 9457 `errors` member."""
    message, key, source = item.get("message", ""), item.get("key") or "", item.get("source") or "body"
    if source != "body":
        return {"parameter": key, "in": source, "detail": message}
    path = ""
    if (m := _AT_PATH.search(message)) is not None:
        message, path = message[: m.start()], m[1]
    elif (m := _NAMED_FIELD.search(message)) is not None:
        path = "." + m[1]
    elif key and key != "data":
        path = "." + key
    pointer = "#" + re.sub(r"\.(\w+)|\[(\d+)\]", lambda g: "/" + (g[1] or g[2]), path)
    return {"pointer": pointer if pointer != "#" else "#/", "detail": message}


def handle_domain_error(request: Request, exc: DomainError) -> Response:
    headers = None
    if isinstance(exc, RateLimited | ServiceBusy):
        headers = {"Retry-After": str(exc.retry_after)}
    extensions = dict(exc.extensions)
    if isinstance(exc, ValidationFailed):
        extensions["errors"] = [{"pointer": e.pointer, "detail": e.detail} for e in exc.errors]
    return problem(request, exc.status, exc.slug, exc.title, exc.detail, headers, **extensions)


def handle_validation(request: Request, exc: ValidationException) -> Response:
    errors = [_pointer(item) for item in (exc.extra or []) if isinstance(item, dict)]
    if not errors and (m := _MISSING_PARAMETER.search(str(exc.detail))) is not None:
        # Litestar names a missing parameter only in its message.
        errors = [{"parameter": m[2], "in": m[1], "detail": f"missing required {m[1]} parameter"}]
    detail = "; ".join(f"{e.get('pointer') or e.get('parameter')}: {e['detail']}" for e in errors)
    return problem(request, 422, "validation-error", "The request has invalid fields",
                   detail or str(exc.detail), errors=errors)


# Litestar's only sign that the client hung up while its body was being read: a 500 with this detail.
_CLIENT_LEFT = "client disconnected prematurely"


def handle_http(request: Request, exc: HTTPException) -> Response:
    status = 499 if exc.status_code == 500 and exc.detail == _CLIENT_LEFT else exc.status_code
    slug, title = HTTP_PROBLEMS.get(status, ("http-error", "Request failed"))
    detail = str(exc.detail)
    if isinstance(exc, NotFoundException) and detail == "Not Found":
        detail = f"no resource at {request.url.path}"
    elif isinstance(exc, MethodNotAllowedException):
        detail = f"{request.method} is not allowed on {request.url.path}"
    elif isinstance(exc, RequestEntityTooLarge):
        detail = f"the body exceeds the limit of {request.app.request_max_body_size} bytes"
    if status >= 500:
        log.error("http error %s on %s: %s", status, request.url.path, detail)
        detail = "the service failed to answer; the request id identifies it in the logs"
    return problem(request, status, slug, title, detail, dict(exc.headers or {}) or None)


def handle_recursion(request: Request, exc: RecursionError) -> Response:
    """msgspec refuses JSON nested deeper than the interpreter's recursion limit: the client's fault."""
    if "deserializing" in str(exc):
        return problem(request, 400, "malformed-request", "The request could not be read",
                       "the JSON body is nested too deeply")
    return handle_unexpected(request, exc)


def handle_contention(request: Request, exc: Exception) -> Response:
    """PostgreSQL undid this request's transaction to break a deadlock or keep transactions serial:
    nothing was written, and the same request sent again goes through."""
    log.warning("%s on %s %s: answered 503, to be sent again", type(exc).__name__, request.method, request.url.path)
    return problem(request, 503, *HTTP_PROBLEMS[503], "the request met another at the same moment and was "
                   "undone; nothing was written: send it again", {"Retry-After": "1"})


def handle_unexpected(request: Request, exc: Exception) -> Response:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return problem(request, HTTP_500_INTERNAL_SERVER_ERROR, "internal-error", "Internal error",
                   "the service failed to answer; the request id identifies it in the logs")


EXCEPTION_HANDLERS = {
    DomainError: handle_domain_error,
    ValidationException: handle_validation,
    HTTPException: handle_http,
    RecursionError: handle_recursion,
    asyncpg.exceptions.DeadlockDetectedError: handle_contention,
    asyncpg.exceptions.SerializationError: handle_contention,
    Exception: handle_unexpected,
}
