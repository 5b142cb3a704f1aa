"""Case tests share one database per test module (each test makes its own people and cases), built
from a template holding the SAMPLE catalogue, with issuing authorities for the applicants' own
e-certificates (浙江) and for the results (四川) and the result mapping in place."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from typing import Any

import httpx
import msgspec
import pytest

from backend.actors import Actor
from backend.cases.schemas import ResultAuthority
from backend.config import Settings, load_settings
from backend.container import Services
from mobile_api.app import create_app
from tests.conftest import database_copy, template_with_catalogue
from tests.materials.test_store import pdf, png
from tests.factories import (
    bearer,
    certificate_authority,
    citizen_id,
    exchange_keys,
    issue_certificate,
    register_citizen,
    staff_token,
)

# The applicant's own e-certificates are issued by a 浙江 authority; results by 四川 ones.
OWN_AUTHORITY = "330000-gat"
RESULT_AUTHORITIES = {"GA-01-001-00": ("510000-gat", ("household_register",)),
                      "MZ-20-001-00": ("510000-mzt", ("marriage_record", "marriage_certificate")),
                      "MZ-07-001-00": ("510000-mzt", ("marriage_record", "marriage_certificate"))}
OWN_FIELDS = {
    "id_card": {"ethnicity": "汉", "address": "杭州市西湖区文三路 90 号"},
    "household_register": {"household_type": "family", "registered_address": "杭州市西湖区文三路 90 号",
                           "relation_to_head": "户主"},
    "real_estate_certificate": {"unit_number": "510104001001GB00001F00010001", "location": "成都市锦江区示例路 1 号",
                                "right_type": "国有建设用地使用权/房屋所有权", "use": "住宅", "area_square_metres": 89},
}
HOUSEHOLD_FIELDS = {"household_type": "family", "registered_address": "成都市锦江区示例路 1 号", "relation_to_head": "户主"}


@pytest.fixture(scope="session")
async def template_database(server_urls: tuple[str, str], template_database: str) -> AsyncIterator[str]:
    async with template_with_catalogue(server_urls, template_database, "tongban_case_tpl") as name:
        yield name


@pytest.fixture(scope="module")
async def database_url(server_urls: tuple[str, str], template_database: str) -> AsyncIterator[str]:
    async with database_copy(server_urls[0], template_database, f"tongban_case_{os.getpid()}_{os.urandom(4).hex()}") as url:
        yield url


@pytest.fixture(scope="module")
def settings(database_url: str, server_urls: tuple[str, str]) -> Settings:
    return load_settings({}, mode="test", database_url=database_url, redis_url=server_urls[1],
                         redis_prefix=f"case{os.getpid()}_{os.urandom(3).hex()}:", db_pool_max=8, code_resend_seconds=0)


@pytest.fixture(scope="module")
async def services(settings: Settings) -> AsyncIterator[Services]:
    started = await Services.start(settings)
    await exchange_keys(started)
    await certificate_authority(services=started, authority_id=OWN_AUTHORITY, types=tuple(OWN_FIELDS), name="浙江省公安厅")
    for authority, kinds in dict(RESULT_AUTHORITIES.values()).items():
        await certificate_authority(services=started, authority_id=authority, types=kinds, name="四川示例签发机关")
    for item, (authority, _) in RESULT_AUTHORITIES.items():
        await started.cases.map_result_authority(
            msgspec.convert({"item_code": item, "division_code": "510000", "authority_id": authority}, ResultAuthority),
            Actor.system())
    yield started
    keys = [k async for k in started.ephemeral.client.scan_iter(match=settings.redis_prefix + "*")]
    if keys:
        await started.ephemeral.client.delete(*keys)
    await started.close()


@pytest.fixture(scope="module")
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(services=services))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client


async def applicant(client: httpx.AsyncClient, services: Services, *types: str, name: str = "陈静") -> dict[str, Any]:
    """A registered citizen of 杭州 holding e-certificates of `types`; `certificates` maps type → id."""
    person = await register_citizen(client, services, division="330106", name=name)
    person["id"] = await citizen_id(client, person["access_token"])
    person["certificates"] = {t: str((await issue_certificate(services, person["id"], OWN_AUTHORITY, t, OWN_FIELDS[t])).id)
                              for t in types}
    person["headers"] = bearer(person["access_token"])
    return person


def household_application(person: dict[str, Any], mode: str = "proxy") -> dict[str, Any]:
    """户口迁移 (GA-01-001-00) from 杭州 to 成都, received in 杭州 (330106), handled in 成都锦江 (510104)."""
    certificates = person["certificates"]
    return {
        "item_code": "GA-01-001-00", "receiving_division": "330106", "handling_division": "510104", "mode": mode,
        "form": {"applicant_name": "陈静", "resident_id": person["resident_id"], "phone": person["phone"],
                 "move_out_division": "330106", "move_in_division": "510104", "basis_kind": "property"},
        "materials": [{"name": "居民身份证", "certificate_id": certificates["id_card"]},
                      {"name": "居民户口簿", "certificate_id": certificates["household_register"]},
                      {"name": "落户条件证明材料", "certificate_id": certificates["real_estate_certificate"]}],
    }


def record_application(person: dict[str, Any], mode: str = "online") -> dict[str, Any]:
    """婚姻登记记录证明 (MZ-20-001-00) for a 四川 matter, asked for from 杭州."""
    return {
        "item_code": "MZ-20-001-00", "receiving_division": "330106", "handling_division": "510104", "mode": mode,
        "form": {"applicant_name": "陈静", "resident_id": person["resident_id"], "phone": person["phone"],
                 "purpose": "购房"},
        "materials": [{"name": "居民身份证", "certificate_id": person["certificates"]["id_card"]}],
    }


async def act(client: httpx.AsyncClient, token: str, case_id: str, action: str, **body: Any) -> httpx.Response:
    return await client.post(f"/staff/cases/{case_id}/actions", headers=bearer(token), json={"action": action, **body})


async def upload(client: httpx.AsyncClient, person: dict[str, Any], content: bytes, name: str,
                 content_type: str) -> str:
    response = await client.post("/me/materials", headers=person["headers"],
                                 files={"file": (name, content, content_type)})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def marriage_application(client: httpx.AsyncClient, person: dict[str, Any]) -> dict[str, Any]:
    """结婚登记 (MZ-07-001-00, 多地联办 only), received in 杭州, handled in 成都锦江, with two uploads."""
    declaration = await upload(client, person, pdf(1), "声明.pdf", "application/pdf")
    photo = await upload(client, person, png(), "合影.png", "image/png")
    return {
        "item_code": "MZ-07-001-00", "receiving_division": "330106", "handling_division": "510104", "mode": "joint",
        "form": {"applicant_name": "陈静", "resident_id": person["resident_id"], "phone": person["phone"],
                 "partner_name": "王小明", "partner_resident_id": "510104199001010011", "registry_division": "510104"},
        "materials": [
            {"name": "双方居民身份证", "certificate_id": person["certificates"]["id_card"]},
            {"name": "本人无配偶以及与对方当事人没有直系血亲和三代以内旁系血亲关系的签字声明", "material_id": declaration},
            {"name": "双方合影2寸照片", "material_id": photo}],
    }


async def in_review(client: httpx.AsyncClient, services: Services, case: dict[str, Any]) -> str:
    """Move a proxy or joint case received in 杭州 and handled in 成都锦江 to review; return the 成都
    handling officer's token."""
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    handling = await staff_token(client, services, "handling_officer", "510000")
    for token, action in [(receiving, "receive"), (receiving, "hand_over"), (handling, "accept"),
                          (handling, "start_review")]:
        moved = await act(client, token, case["id"], action)
        assert moved.status_code == 200, (action, moved.text)
    return handling
