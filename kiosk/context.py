"""The kiosk HTTP layer's own context: every `/kiosk/v1` request is signed by a registered device
(RFC 9421); the guard checks it once and later steps read the device from the request."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request
from litestar.connection import ASGIConnection
from litestar.di import Provide
from litestar.handlers import BaseRouteHandler

from backend.actors import Actor
from backend.errors import KioskSessionEnded
from backend.kiosks.devices import Kiosk
from backend.kiosks.signatures import SignedMessage
from backend.logs import request_id_var
from mobile_api.context import services_of

_KIOSK_KEY = "tongban.kiosk"
SIGNED = [{"kiosk-signature": []}]
SESSION_SECURITY = [{"kiosk-signature": [], "kiosk-session": []}]


async def signed_message(request: Request[Any, Any, Any]) -> SignedMessage:
    """The request as its signature covers it: method, raw path and query, header lines and body."""
    scope = request.scope
    headers = [(name.decode("latin-1"), value.decode("latin-1")) for name, value in scope["headers"]]
    return SignedMessage(method=scope["method"], path=scope.get("raw_path", scope["path"].encode()).decode("latin-1"),
                         query=scope.get("query_string", b"").decode("latin-1"), headers=headers,
                         body=await request.body())


async def kiosk_guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
    """Only a request signed by a registered, active kiosk, seen for the first time."""
    if connection.scope.get(_KIOSK_KEY) is not None:  # type: ignore[misc]
        return
    request = connection if isinstance(connection, Request) else Request(connection.scope, connection.receive)
    kiosk = await services_of(connection).kiosks.devices.authenticate(await signed_message(request))
    connection.scope[_KIOSK_KEY] = kiosk  # type: ignore[literal-required]


SESSION_HEADER = "Kiosk-Session"
_RESIDENT_KEY = "tongban.kiosk_resident"


async def resident_guard(connection: ASGIConnection[Any, Any, Any, Any], handler: BaseRouteHandler) -> None:
    """A signed request of a kiosk naming (`Kiosk-Session`) a resident's open session at that kiosk."""
    await kiosk_guard(connection, handler)
    given = connection.headers.get(SESSION_HEADER, "")
    try:
        session_id = uuid.UUID(given) if len(given) == 36 else None
    except ValueError:
        session_id = None
    if session_id is None:
        raise KioskSessionEnded(f"name the resident's session in the {SESSION_HEADER} header; sign in with the "
                                "ID card first", reason="unknown")
    actor = await services_of(connection).kiosks.sessions.resume(kiosk_of(connection), session_id,
                                                                 request_id_var.get())
    connection.scope[_RESIDENT_KEY] = actor  # type: ignore[literal-required]


async def provide_resident(request: Request[Any, Any, Any]) -> Actor:
    return request.scope[_RESIDENT_KEY]  # type: ignore[literal-required]


def kiosk_of(connection: ASGIConnection[Any, Any, Any, Any]) -> Kiosk:
    return connection.scope[_KIOSK_KEY]  # type: ignore[literal-required]


async def provide_kiosk(request: Request[Any, Any, Any]) -> Kiosk:
    return kiosk_of(request)


async def provide_kiosk_actor(request: Request[Any, Any, Any]) -> Actor:
    return kiosk_of(request).actor(request_id_var.get())


class ResidentAtKiosk(Controller):
    """A resident's request at this kiosk: signed by the device, naming the resident's open session there.
    Subclasses add a `path` and their routes; Litestar reads these class attributes through inheritance."""

    tags = ["kiosk"]
    guards = [resident_guard]
    dependencies = {"kiosk": Provide(provide_kiosk), "actor": Provide(provide_resident)}
    security = SESSION_SECURITY
