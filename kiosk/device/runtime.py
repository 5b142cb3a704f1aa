"""The kiosk device at work: it signs every call to the server with its key, keeps the resident's
session id (the screen never holds a credential), ends the session when the card leaves the reader,
reports its health by heartbeat and prints the jobs waiting for its printer."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx

from kiosk.device.keys import DeviceKey, KioskSignature
from kiosk.device.printer import Printer
from kiosk.device.reader import CardReader, IdCard
from kiosk.device.scanner import Scan, Scanner

log = logging.getLogger("tongban.kiosk.device")
AGENT_VERSION = "1.0.0"


class NoCard(Exception):
    """Sign-in was asked for with no card in the reader."""


class KioskDevice:
    def __init__(self, key: DeviceKey, server: httpx.AsyncClient, reader: CardReader, printer: Printer | None,
                 *, camera: str = "ok", scanner: Scanner | None = None) -> None:
        self.key, self.server, self.reader, self.printer = key, server, reader, printer
        self.camera, self.scanner = camera, scanner
        self.session_id: str | None = None
        self.session_card: str | None = None
        self.configuration: dict[str, Any] = {}
        self.online = True
        self.jobs_waiting = False  # the server holds print jobs for this printer
        self.printer_stuck = False  # the last job could not print: try again once the printer is ready

    @classmethod
    def connect(cls, key: DeviceKey, base_url: str, reader: CardReader, printer: Printer | None,
                transport: httpx.AsyncBaseTransport | None = None, **options: Any) -> KioskDevice:
        client = httpx.AsyncClient(base_url=base_url, auth=KioskSignature(key), transport=transport, timeout=30)
        return cls(key, client, reader, printer, **options)

    async def close(self) -> None:
        await self.server.aclose()

    # -- health ---------------------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        printer: dict[str, Any] = {"status": "absent"}
        if self.printer is not None:
            status, sheets = self.printer.status()
            printer = {"status": status, "sheets_left": sheets}
        scanner = self.scanner.status() if self.scanner is not None else "absent"
        return {"reader": self.reader.status(), "camera": self.camera, "scanner": scanner, "printer": printer,
                "agent_version": AGENT_VERSION}

    async def heartbeat(self) -> dict[str, Any]:
        response = await self.server.post("/kiosk/v1/heartbeat", json={"health": self.health()})
        response.raise_for_status()
        answer = response.json()
        self.configuration = answer["configuration"]
        self.jobs_waiting = self.jobs_waiting or answer["pending_print_jobs"] > 0
        return answer

    # -- the resident's session -------------------------------------------------------------------

    async def sign_in(self, photo: bytes) -> httpx.Response:
        """Sign in the holder of the card in the reader with the camera's photo."""
        card = self.reader.present()
        if card is None:
            raise NoCard()
        response = await self.server.post("/kiosk/v1/sessions", data=self._card_fields(card), files={
            "chip_photo": ("chip.png", card.chip_photo, "image/png"), "photo": ("live.jpg", photo, "image/jpeg")})
        if response.status_code == 201:
            self.session_id, self.session_card = response.json()["session_id"], card.resident_id
        return response

    @staticmethod
    def _card_fields(card: IdCard) -> dict[str, str]:
        return {"resident_id": card.resident_id, "name": card.name,
                "valid_until": card.valid_until.isoformat() if card.valid_until else ""}

    async def call(self, method: str, path: str, **request: Any) -> httpx.Response:
        """A call on the resident's session (`path` under /kiosk/v1)."""
        headers = dict(request.pop("headers", None) or {})
        if self.session_id:
            headers["Kiosk-Session"] = self.session_id
        response = await self.server.request(method, "/kiosk/v1/" + path.lstrip("/"), headers=headers, **request)
        if response.status_code == 401 and response.headers.get("content-type", "").startswith("application/problem"):
            if response.json().get("type", "").endswith("/kiosk-session-ended"):
                self.session_id = self.session_card = None
        return response

    async def enrol_face(self, consent: bool) -> httpx.Response:
        """Enrol the resident's face from the chip photo of the card still in the reader."""
        card = self.reader.present()
        if card is None:
            raise NoCard()
        return await self.call("POST", "session/face-enrolment", data={**self._card_fields(card),
                                                                      "consent": "true" if consent else "false"},
                               files={"chip_photo": ("chip.png", card.chip_photo, "image/png")})

    async def end_session(self, reason: str) -> None:
        if self.session_id is None:
            return
        try:
            await self.call("DELETE", "session", params={"reason": reason})
        finally:
            self.session_id = self.session_card = None

    async def watch_card(self) -> None:
        """The card left the reader (or another took its place): the session ends at once."""
        card = self.reader.present()
        if self.session_id is not None and (card is None or card.resident_id != self.session_card):
            await self.end_session("card-removed")

    # -- scanning ---------------------------------------------------------------------------------

    async def scan(self) -> Scan:
        """Scan what lies on the scanner's glass now (the scanner's driver runs in a thread)."""
        if self.scanner is None:
            return Scan("scanner-offline")
        return await asyncio.to_thread(self.scanner.scan)

    async def scan_material(self, kind: str | None) -> tuple[Scan, httpx.Response | None]:
        """Scan the paper on the glass and keep it on the server as the resident's material (the
        server checks it as it checks a phone's upload). No upload when nothing was scanned."""
        scan = await self.scan()
        if scan.outcome != "scanned":
            return scan, None
        response = await self.call("POST", "me/materials", data={"kind": kind} if kind else {},
                                   files={"file": (scan.name, scan.content, scan.content_type)})
        return scan, response

    # -- printing ---------------------------------------------------------------------------------

    async def print_waiting(self) -> int:
        """Print the jobs waiting for this printer; stop at the first that cannot print (no paper): it
        waits on the server and is taken again once the printer is ready."""
        if self.printer is None:
            return 0
        printed = 0
        while True:
            taken = await self.server.post("/kiosk/v1/printer/take")
            if taken.status_code == 204:
                self.jobs_waiting = self.printer_stuck = False
                return printed
            taken.raise_for_status()
            job = taken.json()
            page = await self.server.get(f"/kiosk/v1/printer/jobs/{job['id']}/document")
            if page.status_code != 200:
                outcome = "failed"
            else:
                outcome = await asyncio.to_thread(self.printer.print_page, job["id"], page.content, job["copies"])
            reported = await self.server.post(f"/kiosk/v1/printer/jobs/{job['id']}/outcome", json={"outcome": outcome})
            reported.raise_for_status()
            self.printer_stuck = outcome != "printed"
            if self.printer_stuck:
                return printed
            printed += 1

    # -- the loop -----------------------------------------------------------------------------------

    async def run(self, stop: asyncio.Event, *, tick_seconds: float = 0.5) -> None:
        """Watch the card every tick, print when jobs wait, send a heartbeat every `heartbeat_seconds`."""
        next_heartbeat = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                await self.watch_card()
                if loop.time() >= next_heartbeat:
                    await self.heartbeat()
                    next_heartbeat = loop.time() + self.configuration.get("heartbeat_seconds", 60)
                if self.jobs_waiting and self.printer is not None and (
                        not self.printer_stuck or self.printer.status()[0] == "ok"):
                    await self.print_waiting()
                self.online = True
            except (httpx.HTTPError, OSError) as exc:
                self.online = False
                log.warning("kiosk device: the server did not answer: %s", exc)
            try:
                await asyncio.wait_for(stop.wait(), tick_seconds)
            except TimeoutError:
                pass
