"""The kiosk's local web side: the touch UI (plain HTML, CSS and JavaScript under `kiosk/ui/`, no build
step) and the small API it calls on the device (`/kiosk/device/…`): the card reader's state, sign-in with
the camera's photo, calls on the resident's session forwarded to the server signed by the device key,
and — with the development simulator — inserting and removing test cards and loading paper.

On a real kiosk these routes belong on the kiosk itself, next to the drivers (a standalone agent
process is not built yet); in development `tongban serve --demo-data` runs them inside the server with
the simulators (docs/kiosk.md). The screen never holds a credential: the device keeps the session id and the key.
"""

from __future__ import annotations

import asyncio
import base64
import io
from pathlib import Path
from typing import Any

import msgspec
from litestar import Request, Response, Router, delete, get, post, route
from litestar.datastructures import UploadFile
from litestar.exceptions import HTTPException, NotFoundException
from litestar.params import FromPath, FromQuery
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from PIL import Image

from kiosk.device.printer import FilePrinter
from kiosk.device.reader import SimulatedCardReader
from kiosk.device.runtime import KioskDevice, NoCard
from kiosk.device.scanner import OUTCOMES, Scan, SimulatedScanner

UI_FOLDER = Path(__file__).resolve().parent / "ui"
_FORWARDED = ("content-type",)


def device_of(request: Request[Any, Any, Any]) -> KioskDevice:
    device = getattr(request.app.state, "kiosk_device", None)
    if device is None:
        raise HTTPException(status_code=503, detail="no kiosk device runs here; see docs/kiosk.md")
    return device


def _simulated(device: KioskDevice) -> SimulatedCardReader:
    if not isinstance(device.reader, SimulatedCardReader):
        raise HTTPException(status_code=404, detail="this kiosk has real hardware, no simulator")
    return device.reader


def _simulated_scanner(device: KioskDevice) -> SimulatedScanner:
    if not isinstance(device.scanner, SimulatedScanner):
        raise HTTPException(status_code=404, detail="this kiosk has a real scanner, or none")
    return device.scanner


def _passed_on(response: Any) -> Response[bytes]:
    headers = {k: v for k, v in response.headers.items() if k.lower() in _FORWARDED}
    return Response(response.content, status_code=response.status_code, headers=headers)


@get("/", include_in_schema=False)
async def index() -> Response[bytes]:
    return Response((UI_FOLDER / "index.html").read_bytes(), media_type="text/html; charset=utf-8",
                    headers={"Cache-Control": "no-store"})


@get("", include_in_schema=False)
async def bare() -> Redirect:
    return Redirect("/kiosk/")


@get("/device/state", include_in_schema=False)
async def state(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What the screen needs to decide what to show: card, session, configuration, printer, network."""
    device = device_of(request)
    card = device.reader.present()
    printer = device.health()["printer"]
    return {"card": None if card is None else {"name": card.name}, "session": device.session_id is not None,
            "configuration": device.configuration, "printer": printer, "online": device.online,
            "simulator": isinstance(device.reader, SimulatedCardReader)}


@post("/device/sign-in", include_in_schema=False)
async def sign_in(request: Request[Any, Any, Any]) -> Response[bytes]:
    device = device_of(request)
    photo = (await request.form()).get("photo")
    if not isinstance(photo, UploadFile):
        raise HTTPException(status_code=422, detail="send the camera's photo as `photo`")
    try:
        return _passed_on(await device.sign_in(await photo.read()))
    except NoCard:
        raise HTTPException(status_code=409, detail="no card in the reader") from None


@post("/device/face-enrolment", include_in_schema=False)
async def enrol(request: Request[Any, Any, Any]) -> Response[bytes]:
    device = device_of(request)
    consent = msgspec.json.decode(await request.body() or b"{}").get("consent") is True
    try:
        return _passed_on(await device.enrol_face(consent))
    except NoCard:
        raise HTTPException(status_code=409, detail="no card in the reader") from None


@post("/device/scan", include_in_schema=False)
async def scan(request: Request[Any, Any, Any]) -> Response[Any]:
    """Scan the paper on the glass for the resident (`{"kind": material name}`): the material the
    server kept, the pages, and a small preview of a one-page scan so the resident sees what was read.
    409 with the scanner's outcome when nothing was scanned (empty glass, jam, scanner offline)."""
    device = device_of(request)
    kind = msgspec.json.decode(await request.body() or b"{}").get("kind")
    scanned, response = await device.scan_material(kind if isinstance(kind, str) else None)
    if response is None:
        return Response({"outcome": scanned.outcome}, status_code=409)
    if response.status_code != 201:
        return _passed_on(response)
    return Response({"outcome": scanned.outcome, "pages": scanned.pages, "material": response.json(),
                     "preview": await asyncio.to_thread(_preview, scanned)}, status_code=201)


def _preview(scanned: Scan) -> str | None:
    if scanned.content_type != "image/jpeg":
        return None
    image = Image.open(io.BytesIO(scanned.content))
    image.thumbnail((360, 510))
    out = io.BytesIO()
    image.convert("RGB").save(out, "JPEG", quality=70)
    return "data:image/jpeg;base64," + base64.b64encode(out.getvalue()).decode()


@delete("/device/session", include_in_schema=False, status_code=204)
async def sign_out(request: Request[Any, Any, Any], reason: FromQuery[str] = "signed-out") -> None:
    await device_of(request).end_session("card-removed" if reason == "card-removed" else "signed-out")


# What the page may ask for on the resident's session. The device's own calls — taking print jobs and
# their pages, heartbeats, signing residents in — carry the kiosk's whole authority and are not the page's.
RESIDENT_ROUTES = frozenset({"apply", "me", "pension", "print-jobs", "session"})


@route("/device/api/{path:path}", http_method=["GET", "POST", "DELETE"], include_in_schema=False)
async def forward(request: Request[Any, Any, Any], path: FromPath[str]) -> Response[bytes]:
    """A call on the resident's session, signed by the device and forwarded to the server."""
    segments = path.strip("/").split("/")
    if segments[0] not in RESIDENT_ROUTES or any(s in (".", "..") for s in segments):
        raise NotFoundException(f"the page cannot ask for {path}")
    device = device_of(request)
    headers = {k: v for k, v in request.headers.items() if k.lower() in ("content-type", "idempotency-key")}
    response = await device.call(request.method, path, content=await request.body(), headers=headers,
                                 params=dict(request.query_params))
    if request.method == "POST" and path.lstrip("/").startswith("print-jobs") and response.status_code in (200, 201):
        device.jobs_waiting = True
    return _passed_on(response)


@get("/device/simulator/cards", include_in_schema=False)
async def simulator_cards(request: Request[Any, Any, Any]) -> list[dict[str, str]]:
    reader = _simulated(device_of(request))
    return [{"key": key, "name": card.name} for key, card in reader.cards.items()]


@post("/device/simulator/card", include_in_schema=False, status_code=204)
async def insert_card(request: Request[Any, Any, Any]) -> None:
    reader = _simulated(device_of(request))
    key = msgspec.json.decode(await request.body() or b"{}").get("card", "")
    try:
        reader.insert(key)
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no test card {key!r}") from None


@delete("/device/simulator/card", include_in_schema=False, status_code=204)
async def remove_card(request: Request[Any, Any, Any]) -> None:
    _simulated(device_of(request)).remove()


@post("/device/simulator/paper", include_in_schema=False, status_code=204)
async def load_paper(request: Request[Any, Any, Any]) -> None:
    device = device_of(request)
    if not isinstance(device.printer, FilePrinter):
        raise HTTPException(status_code=404, detail="this kiosk has a real printer")
    device.printer.load_paper(int(msgspec.json.decode(await request.body() or b"{}").get("sheets", 0)))


@get("/device/simulator/documents", include_in_schema=False)
async def simulator_documents(request: Request[Any, Any, Any]) -> list[dict[str, Any]]:
    scanner = _simulated_scanner(device_of(request))
    placed = scanner.placed()
    return [{"key": d.key, "title": d.title, "pages": len(d.pages), "placed": placed is d}
            for d in scanner.documents.values()]


@post("/device/simulator/document", include_in_schema=False, status_code=204)
async def place_document(request: Request[Any, Any, Any]) -> None:
    """Lay a test document on the scanner's glass (`{"document": key}`), or make the next scan fail
    (`{"fault": "paper-jam"}`)."""
    scanner = _simulated_scanner(device_of(request))
    asked = msgspec.json.decode(await request.body() or b"{}")
    if asked.get("fault"):
        if asked["fault"] not in OUTCOMES[2:]:
            raise HTTPException(status_code=422, detail=f"a fault is one of {', '.join(OUTCOMES[2:])}")
        scanner.fail_next(asked["fault"])
        return
    try:
        scanner.place(asked.get("document", ""))
    except KeyError:
        raise HTTPException(status_code=404, detail=f"no test document {asked.get('document')!r}") from None


@delete("/device/simulator/document", include_in_schema=False, status_code=204)
async def remove_document(request: Request[Any, Any, Any]) -> None:
    _simulated_scanner(device_of(request)).remove()


def agent_router() -> Router:
    """The kiosk UI and its device API, under /kiosk."""
    assets = create_static_files_router("/assets", [UI_FOLDER], include_in_schema=False,
                                        cache_control=None)
    return Router("/kiosk", route_handlers=[index, bare, state, sign_in, enrol, scan, sign_out, forward,
                                            simulator_cards, insert_card, remove_card, load_paper,
                                            simulator_documents, place_document, remove_document, assets],
                  include_in_schema=False)
