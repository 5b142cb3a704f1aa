"""Per-request context: request id, access log, who is calling, and the guards built on it."""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import unquote_plus

import msgspec
from litestar import Request
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.exceptions import ClientException, ValidationException
from litestar.handlers import BaseRouteHandler
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from backend.actors import Actor
from backend.container import Services
from backend.errors import FieldError, Forbidden, StepUpRequired, Unauthenticated, ValidationFailed
from backend.logs import request_id_var
from backend.security.tokens import InvalidToken, level_at_least

access_log = logging.getLogger("tongban.access")
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
_ACTOR_KEY = "tongban.actor"
# PostgreSQL's text cannot hold NUL: a body's string or a parameter holding one is refused, naming it.
_NUL = "must not contain the NUL character (\\u0000)"
# No body of this API nests deeper (a form schema is refused past 32 levels, at its field): a deeper one is
# refused (400) before the walks below recurse further, well within Python's recursion limit.
MAX_BODY_DEPTH = 256


class InFlight:
    """The HTTP requests a worker is answering. Asked to stop, the server takes no new ones but goes on
    with these while the app shuts down: the app waits for them (`drained`) before it closes the pools
    they use, or they would fail half-way, their client's connection then closed without an answer."""

    def __init__(self) -> None:
        self.count = 0
        self._idle = asyncio.Event()
        self._idle.set()

    def started(self) -> None:
        self.count += 1
        self._idle.clear()

    def finished(self) -> None:
        self.count -= 1
        if not self.count:
            self._idle.set()

    async def drained(self, within: float) -> int:
        """Wait until no request is being answered, `within` seconds at most; answer how many still are."""
        try:
            await asyncio.wait_for(self._idle.wait(), within)
        except TimeoutError:
            pass
        return self.count


class RequestContextMiddleware:
    """Assign (or accept) a request id, echo it as `X-Request-ID`, log one line per request and count
    the requests being answered (`InFlight`)."""

    def __init__(self, app: ASGIApp, in_flight: InFlight) -> None:
        self.app = app
        self.in_flight = in_flight

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        request_id = given if _REQUEST_ID.fullmatch(given) else uuid.uuid4().hex
        token = request_id_var.set(request_id)
        started = time.perf_counter()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        self.in_flight.started()
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            self.in_flight.finished()
            access_log.info(
                "%s %s %s", scope["method"], scope["path"], status,
                extra={"method": scope["method"], "path": scope["path"],
                       "query": unquote_plus(scope.get("query_string", b"").decode("latin-1")), "status": status,
                       "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                       "client": (scope.get("client") or ("", 0))[0]},
            )
            request_id_var.reset(token)


class StrictJsonRequest(Request[Any, Any, Any]):
    """A request whose JSON body is held to its declared types exactly.

    Litestar converts the decoded body to the handler's type with msgspec's lax rules (`strict=False`,
    which path and query strings need), so `0` passed for `false` and `"3"` for `3` although the
    schema says boolean and integer. The body is converted strictly here first; what fails is a 422.
    JSON Schema counts `3.0` as an integer, so a whole float is taken as one.

    A string holding the NUL character (`\\u0000`) is refused too, naming it: PostgreSQL's text cannot hold
    one, so it would fail at the first write.
    """

    async def json(self) -> Any:
        value = await super().json()
        if b"\\u0000" in await self.body() and (pointer := _nul_at(value, "#")) is not None:
            raise ValidationFailed([FieldError(pointer, _NUL)])
        data = self.route_handler.parsed_fn_signature.parameters.get("data")
        if data is not None and value is not None:
            try:
                msgspec.convert(_whole_floats_as_ints(value), data.annotation, strict=True)
            except msgspec.ValidationError as exc:
                raise ValidationException(detail=str(exc), extra=[{"message": str(exc), "key": "data",
                                                                   "source": "body"}]) from None
        return value


async def refuse_nul_parameters(request: Request) -> None:
    """A path or query parameter holding the NUL character is refused, naming it (as a body's field is,
    see `StrictJsonRequest`): PostgreSQL's text cannot hold one."""
    scope = request.scope
    if "\x00" not in scope["path"] and b"%00" not in scope.get("query_string", b""):
        return
    given = [("path", name, value) for name, value in request.path_params.items()]
    given += [("query", name, value) for name, value in request.query_params.multi_items()]
    bad = [{"key": name, "source": source, "message": _NUL}
           for source, name, value in given if isinstance(value, str) and "\x00" in value]
    raise ValidationException(detail="a parameter holds the NUL character",
                              extra=bad or [{"key": "path", "source": "path", "message": _NUL}])


def _too_deep(depth: int) -> None:
    if depth > MAX_BODY_DEPTH:
        raise ClientException(f"the JSON body is nested deeper than {MAX_BODY_DEPTH} levels")


def _nul_at(value: Any, at: str, depth: int = 0) -> str | None:
    """The JSON pointer of the first string (value or member name) in `value` holding a NUL character."""
    _too_deep(depth)
    if isinstance(value, str):
        return at if "\x00" in value else None
    if isinstance(value, dict):
        for name, item in value.items():
            member = f"{at}/{name.replace('~', '~0').replace('/', '~1')}"
            if "\x00" in name:
                return member
            if (found := _nul_at(item, member, depth + 1)) is not None:
                return found
    if isinstance(value, list):
        for i, item in enumerate(value):
            if (found := _nul_at(item, f"{at}/{i}", depth + 1)) is not None:
                return found
    return None


def _whole_floats_as_ints(value: Any, depth: int = 0) -> Any:
    _too_deep(depth)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _whole_floats_as_ints(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_whole_floats_as_ints(v, depth + 1) for v in value]
    return value


class AllowHeaderMiddleware:
    """Answer `OPTIONS` with every method of the resource in `Allow`.

    Litestar 2 builds the automatic `OPTIONS` handler from the first handler registered on a path
    and so leaves out the others (litestar-org/litestar#4169, fixed only in 3.x).
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self._methods: dict[str, str] | None = None

    def _allow(self, scope: Scope) -> str | None:
        if self._methods is None:
            by_path: dict[str, set[str]] = {}
            for route in scope["litestar_app"].routes:
                by_path.setdefault(route.path_format, set()).update(getattr(route, "methods", ()))
            self._methods = {path: ", ".join(sorted(methods)) for path, methods in by_path.items()}
        return self._methods.get(scope.get("path_template", ""))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "OPTIONS":
            await self.app(scope, receive, send)
            return

        async def send_with_allow(message: Message) -> None:
            if message["type"] == "http.response.start" and (allow := self._allow(scope)):
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"allow"]
                message["headers"] = [*headers, (b"allow", allow.encode())]
            await send(message)

        await self.app(scope, receive, send_with_allow)


def services_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Services:
    return connection.app.state.services


async def authenticate(connection: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    """The caller named by the bearer token, or an anonymous actor; computed once per request."""
    cached = connection.scope.get(_ACTOR_KEY)  # type: ignore[misc]
    if cached is not None:
        return cached
    request_id = request_id_var.get()
    header = connection.headers.get("authorization")
    if not header:
        actor = Actor(kind="anonymous", request_id=request_id)
    else:
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise Unauthenticated("use an `Authorization: Bearer <access token>` header")
        services = services_of(connection)
        try:
            claims = services.tokens.read(token.strip())
        except InvalidToken:
            raise Unauthenticated("the access token is invalid or has expired; refresh it") from None
        if (ended := await services.identity.token_ended(claims)) is not None:
            raise Unauthenticated(ended)
        actor = Actor(kind=claims.kind, id=claims.sub, request_id=request_id, role=claims.role,
                      division=claims.division, assurance_level=claims.acr, session_id=claims.session_id)
    connection.scope[_ACTOR_KEY] = actor  # type: ignore[literal-required]
    return actor


Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


def citizen_guard(level: str = "L1") -> Guard:
    """Only a signed-in citizen whose session has at least assurance `level`."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = await authenticate(connection)
        if actor.kind == "anonymous":
            raise Unauthenticated("sign in as a citizen first")
        if actor.kind != "citizen":
            raise Forbidden("this endpoint is for citizens")
        if not level_at_least(actor.assurance_level, level):
            raise StepUpRequired(level, actor.assurance_level)

    return guard


async def signed_in_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Anyone holding a valid access token."""
    if (await authenticate(connection)).session_id is None:
        raise Unauthenticated("sign in first")


def staff_guard(*roles: str) -> Guard:
    """Only signed-in staff holding one of `roles`; division scope is checked by the service."""

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        actor = await authenticate(connection)
        if actor.kind == "anonymous":
            raise Unauthenticated("sign in as staff first")
        if actor.kind != "staff":
            raise Forbidden("this endpoint is for staff")
        if roles and actor.role not in roles:
            raise Forbidden(f"this endpoint needs one of the roles: {', '.join(roles)}")

    return guard


async def provide_actor(request: ASGIConnection[Any, Any, Any, Any]) -> Actor:
    return await authenticate(request)


def provide_services(state: State) -> Services:
    return state.services


def client_address(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"
