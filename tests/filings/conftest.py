"""Filing tests start from a template holding the SAMPLE catalogue (the kinds' form schemas come from
its items), loaded once per run; each test gets its own copy. Helpers arrange organisations and
obligations through the staff API."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from backend.container import Services
from tests.conftest import template_with_catalogue
from tests.factories import bearer, credit_code, register_citizen, staff_token


@pytest.fixture(scope="session")
async def template_database(server_urls: tuple[str, str], template_database: str) -> AsyncIterator[str]:
    async with template_with_catalogue(server_urls, template_database, "tongban_fil_tpl") as name:
        yield name


def on(services: Services, day: dt.date) -> None:
    """Let the filings count windows as if today were `day` (China date)."""
    services.filings.today = lambda: day  # type: ignore[method-assign]


async def organisation(client, services, *, division: str = "510100", name: str = "成都示例科技有限公司",
                       registrar: str | None = None) -> dict[str, Any]:
    """A registered organisation with a legal representative (a new citizen) and an enterprise annual
    report obligation from 2024; returns codes, tokens and ids."""
    registrar = registrar or await staff_token(client, services, "handling_officer", division[:2] + "0000")
    representative = await register_citizen(client, services, division=division, name="王建国")
    code = credit_code(division)
    response = await client.post("/staff/organisations", headers=bearer(registrar), json={
        "credit_code": code, "name": name, "legal_representative": representative["resident_id"]})
    assert response.status_code == 201, response.text
    obligation = await client.post("/staff/filing-obligations", headers=bearer(registrar), json={
        "kind": "enterprise_annual_report", "credit_code": code, "first_period": 2024})
    assert obligation.status_code == 201, obligation.text
    return {"code": code, "id": response.json()["id"], "representative": representative,
            "obligation": obligation.json()["id"], "registrar": registrar}


REPORT = {"contact_name": "王建国", "phone": "13800000002", "employees": 12, "total_assets": 356.5,
          "has_website": True}


async def submitted(client, token: str, obligation: str, period: int = 2025, form: dict | None = None) -> dict:
    """Start and submit a filing; return the submitted filing."""
    draft = await client.post("/me/filings", headers=bearer(token),
                              json={"obligation_id": obligation, "period": period, "form": form or REPORT})
    assert draft.status_code == 201, draft.text
    response = await client.post(f"/me/filings/{draft.json()['id']}/submission", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()
