"""Kiosks under test: devices registered through the admin API, each with its own key pair, calling the
app through a client that signs every request as the device does."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kiosk.device.keys import DeviceKey, KioskSignature
from tests.factories import bearer, staff_token

_addresses = itertools.count(1)


@dataclass
class Device:
    """A registered kiosk: its key, its id, and a client that signs as it."""

    key: DeviceKey
    id: str
    client: httpx.AsyncClient
    admin_token: str


def signing_client(app, key: DeviceKey) -> httpx.AsyncClient:
    """A client of the test's app that signs every request with `key`, as a device does."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver",
                             auth=KioskSignature(key))


@pytest.fixture
async def admin_token(client, services) -> str:
    return await staff_token(client, services, "admin", "330000")


@pytest.fixture
async def register_kiosk(client, app, services, admin_token):
    """`await register_kiosk(division=…, capabilities=[…])` → a `Device`."""
    clients: list[httpx.AsyncClient] = []

    async def register(division: str = "330106", capabilities: list[str] | None = None, token: str | None = None,
                       **extra: Any) -> Device:
        key = DeviceKey.generate()
        response = await client.post("/admin/kiosks", headers=bearer(token or admin_token), json={
            "division_code": division, "address": f"西湖区便民服务中心 {next(_addresses)} 号机",
            "capabilities": capabilities or ["reader", "camera", "printer", "scanner"],
            "public_key": key.public_key, **extra})
        assert response.status_code == 201, response.text
        key.key_id = response.json()["key_id"]
        signed = signing_client(app, key)
        clients.append(signed)
        return Device(key, response.json()["id"], signed, token or admin_token)

    yield register
    for signed in clients:
        await signed.aclose()


HEALTHY = {"reader": "ok", "camera": "ok", "scanner": "ok", "printer": {"status": "ok", "sheets_left": 200},
           "agent_version": "1.0.0"}


# -- ID cards and faces -----------------------------------------------------------------------------

@pytest.fixture
def settings(settings):
    """Face checks against the test run's one converted-model folder (one loaded pipeline per run)."""
    import msgspec

    from tests import face_samples

    return msgspec.structs.replace(settings, face_model_dir=str(face_samples.model_dir()))


def id_card(resident_id: str, name: str = "测试居民", photo: str = "obama.jpg",
              valid_until: str = "2036-01-01") -> dict[str, Any]:
    """A card as the reader gives it: chip data and a chip photo made from one of the public photos."""
    from kiosk.device.reader import chip_photo
    from tests import face_samples

    data = face_samples.photo(photo)
    face = face_samples.pipeline().detector.detect(face_samples.rgb_of(data))[0]
    return {"resident_id": resident_id, "name": name, "valid_until": valid_until,
            "chip_photo": chip_photo(data, tuple(float(v) for v in face.box))}


async def sign_in(device: Device, card: dict[str, Any], live_photo: str = "obama2.jpg") -> httpx.Response:
    """The kiosk signs the resident in: card data, chip photo and a live photo from its camera."""
    from tests import face_samples

    fields = {k: v for k, v in card.items() if k != "chip_photo"}
    return await device.client.post("/kiosk/v1/sessions", data=fields, files={
        "chip_photo": ("chip.png", card["chip_photo"], "image/png"),
        "photo": ("live.jpg", face_samples.photo(live_photo), "image/jpeg")})


def session(signed_in: httpx.Response) -> dict[str, str]:
    return {"Kiosk-Session": signed_in.json()["session_id"]}
