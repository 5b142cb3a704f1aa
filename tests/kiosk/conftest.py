"""Kiosks under test: devices registered through the admin API, each with its own key pair, calling the
app through a client that signs every request as the device does."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from kiosk.device.keys import DeviceKey, KioskSignature
from mobile_api.app import create_app
from tests.factories import bearer, staff_token

_addresses = itertools.count(1)


@dataclass
class Device:
    """A registered kiosk: its key, its id, and a client that signs as it."""

    key: DeviceKey
    id: str
    client: httpx.AsyncClient
    admin_token: str


def signing_client(services, key: DeviceKey) -> httpx.AsyncClient:
    """A client of the app that signs every request with `key`, as a device does."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=services)),
                             base_url="http://testserver", auth=KioskSignature(key))


@pytest.fixture
async def admin_token(client, services) -> str:
    return await staff_token(client, services, "admin", "330000")


@pytest.fixture
async def register_kiosk(client, services, admin_token):
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
        signed = signing_client(services, key)
        clients.append(signed)
        return Device(key, response.json()["id"], signed, token or admin_token)

    yield register
    for signed in clients:
        await signed.aclose()


HEALTHY = {"reader": "ok", "camera": "ok", "scanner": "ok", "printer": {"status": "ok", "sheets_left": 200},
           "agent_version": "1.0.0"}
