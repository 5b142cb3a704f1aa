"""Gateway tests: the SAMPLE providers registered, a short provider timeout, and helpers that give a
test citizen records at the demo providers and ask for them as an agency."""

from __future__ import annotations

from typing import Any

import msgspec
import pytest

from backend.sharing.demo import DEMO_ROWS, load_provider_rows, register_demo_providers
from tests.factories import bearer, register_citizen, staff_token

TIMEOUT = 0.3


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, provider_timeout_seconds=TIMEOUT)


@pytest.fixture
async def providers(services):
    await register_demo_providers(services, lambda _: None)


async def person_with_records(client, services, division: str = "330106", name: str = "陈静") -> dict[str, Any]:
    """A registered citizen holding the records 陈静 has at the demo providers."""
    person = await register_citizen(client, services, division=division, name=name)
    await load_provider_rows(services, person["resident_id"], DEMO_ROWS["330106198806120025"])
    return person


async def agency_request(client, token: str, person: dict, **body: Any):
    payload = {"resident_id": person["resident_id"], "provider": "demo.housing-fund",
               "purpose": "housing-fund-business", "legal_reference": "《住房公积金管理条例》第二十四条"} | body
    return await client.post("/staff/data-requests", headers=bearer(token), json={
        k: v for k, v in payload.items() if v is not None})


async def handling_officer(client, services, division: str = "330100") -> str:
    return await staff_token(client, services, "handling_officer", division)
