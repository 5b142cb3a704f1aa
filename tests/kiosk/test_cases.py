"""Applying for a cross-province item at a kiosk with materials from its scanner, and answering a 补正
there: the kiosk offers the items it can fill by touch, composes the form from the resident's record,
and leaves every rule to the cases service (the phone's); the case receipt prints."""

from __future__ import annotations

import io
import os
import uuid
from collections.abc import AsyncIterator

import pytest
from PIL import Image

from kiosk.device.scanner import DEMO_DOCUMENTS, SimulatedScanner, SamplePaper
from tests.conftest import template_with_catalogue
from tests.factories import bearer, exchange_keys, register_citizen, resident_id, staff_token
from tests.kiosk.conftest import id_card, session, sign_in

ITEM = "RS-20-002-00"  # 城乡居民基本养老保险关系转移接续: an elderly resident's pension moves with her


@pytest.fixture(scope="module")
async def template_database(server_urls, template_database) -> AsyncIterator[str]:
    async with template_with_catalogue(server_urls, template_database, f"tongban_kiosk_case_tpl_{os.urandom(3).hex()}") as name:
        yield name


async def scan(device, headers, scanner: SimulatedScanner, document: str, kind: str) -> str:
    """The kiosk scans the paper on its glass and keeps it as the resident's material."""
    scanner.place(document)
    scanned = scanner.scan(dpi=150)
    kept = await device.client.post("/kiosk/v1/me/materials", headers=headers, data={"kind": kind},
                                    files={"file": (scanned.name, scanned.content, scanned.content_type)})
    assert kept.status_code == 201, kept.text
    return kept.json()["id"]


async def resident_at_kiosk(client, services, register_kiosk, home: str, name: str):
    """A citizen whose home is `home`, signed in at a kiosk of 杭州西湖 (330106): (citizen, device, headers)."""
    resident = await register_citizen(client, services, division=home, name=name)
    device = await register_kiosk(division="330106")
    signed_in = await sign_in(device, id_card(resident["resident_id"], name, photo="obama.jpg"), "obama2.jpg")
    assert signed_in.status_code == 201, signed_in.text
    return resident, device, session(signed_in)


async def test_an_application_with_scanned_materials_a_receipt_and_a_supplement_answered_at_the_kiosk(
        client, services, register_kiosk):
    resident, device, headers = await resident_at_kiosk(client, services, register_kiosk, "110105", "李秀英")
    own_page = SamplePaper("own-page", "居民户口簿（本人页）", [["姓名：样本", "与户主关系：本人"]])
    scanner = SimulatedScanner([*DEMO_DOCUMENTS, own_page])

    offered = await device.client.get("/kiosk/v1/apply/items", headers=headers)
    assert offered.status_code == 200, offered.text
    assert {"code": ITEM, "name": "城乡居民基本养老保险关系转移接续", "mode": "proxy", "mode_name": "异地代收代办"} \
        in offered.json()
    guide = (await device.client.get(f"/kiosk/v1/apply/items/{ITEM}", headers=headers)).json()
    assert [q["field"] for q in guide["questions"]] == ["transfer_out_division", "transfer_in_division"]
    assert [c["value"] for c in guide["questions"][0]["choices"]] == ["110105", "330106"]
    assert guide["handling_division"] == "110105" and guide["phone_needed"] is False
    names = [m["name"] for m in guide["materials"]]
    materials = [{"name": name, "material_id": await scan(device, headers, scanner, paper, name)}
                 for name, paper in zip(names, ["id-card-copy", "household-register", "application-form"], strict=True)]
    answers = {"transfer_out_division": "330106", "transfer_in_division": "110105"}

    typed = await device.client.post("/kiosk/v1/apply", headers=headers, json={
        "item_code": ITEM, "answers": {**answers, "resident_id": "110105194912310021"}, "materials": materials})
    assert typed.status_code == 422 and typed.json()["errors"][0]["pointer"] == "#/answers/resident_id"
    key = {**headers, "Idempotency-Key": f"kiosk-apply-{uuid.uuid4()}"}
    applied = await device.client.post("/kiosk/v1/apply", headers=key,
                                       json={"item_code": ITEM, "answers": answers, "materials": materials})
    again = await device.client.post("/kiosk/v1/apply", headers=key,
                                     json={"item_code": ITEM, "answers": answers, "materials": materials})

    assert applied.status_code == 201, applied.text
    case = applied.json()
    assert again.json()["id"] == case["id"] and again.headers["Idempotent-Replayed"] == "true"
    assert case["state"] == "submitted" and case["mode"]["code"] == "proxy"
    assert case["receiving_division"]["code"] == "330106" and case["handling_division"]["code"] == "110105"
    assert case["form"]["applicant_name"] == "李秀英" and resident["resident_id"] not in applied.text
    assert [m["source"] for m in case["materials"]] == ["upload"] * 3
    audit = await services.db.pool.fetchrow("SELECT actor_kind, detail FROM audit_log WHERE action = 'case.applied'")
    assert audit["actor_kind"] == "citizen" and audit["detail"]["kiosk"] == device.id

    printed = await device.client.post("/kiosk/v1/print-jobs", headers={**headers, "Idempotency-Key": str(uuid.uuid4())},
                                       json={"document_kind": "case-receipt", "document_id": case["id"]})
    assert printed.status_code == 201, printed.text
    job = (await device.client.post("/kiosk/v1/printer/take")).json()
    page = await device.client.get(f"/kiosk/v1/printer/jobs/{job['id']}/document")
    assert page.status_code == 200 and Image.open(io.BytesIO(page.content)).size == (1240, 1754)

    await exchange_keys(services, ("330000", "110000"))  # hand-over records are signed by each province
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    handling = await staff_token(client, services, "handling_officer", "110000")
    for token, action, body in [(receiving, "receive", {}), (receiving, "hand_over", {}), (handling, "accept", {}),
                                (handling, "start_review", {}),
                                (handling, "request_supplement", {"items": [{"material": "居民户口簿",
                                                                             "reason": "请提供户主页和本人页"}]})]:
        moved = await client.post(f"/staff/cases/{case['id']}/actions", headers=bearer(token),
                                  json={"action": action, **body})
        assert moved.status_code == 200, (action, moved.text)

    mine = (await device.client.get(f"/kiosk/v1/me/cases/{case['id']}", headers=headers)).json()
    assert mine["asked_now"]["action"] == "supplement"
    asked = mine["asked_now"]["supplement_request"]["items"]
    assert asked == [{"material": "居民户口簿", "reason": "请提供户主页和本人页"}]
    rescanned = await scan(device, headers, scanner, "own-page", "居民户口簿")  # the page asked for
    answered = await device.client.post(f"/kiosk/v1/me/cases/{case['id']}/supplement", headers=headers,
                                        json={"materials": [{"name": "居民户口簿", "material_id": rescanned}]})

    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "supplemented"
    listed = (await device.client.get("/kiosk/v1/me/cases", headers=headers)).json()
    assert [c["state"] for c in listed["items"]] == ["supplemented"]


async def test_a_resident_without_a_phone_types_one_on_the_keypad_and_only_that(client, services, register_kiosk):
    device = await register_kiosk(division="330106")
    number = resident_id("110105")
    signed_in = await sign_in(device, id_card(number, "赵秀兰", photo="biden.jpg"), "biden.jpg")  # never seen before
    headers = session(signed_in)
    assert signed_in.json()["resident"]["has_phone"] is False

    guide = (await device.client.get("/kiosk/v1/apply/items/RS-20-010-00", headers=headers)).json()  # 失业登记
    assert guide["phone_needed"] is True and guide["item"]["mode"] == "online"
    scanner = SimulatedScanner()
    material = await scan(device, headers, scanner, "id-card-copy", "居民身份证")
    applied = await device.client.post("/kiosk/v1/apply", headers=headers, json={
        "item_code": "RS-20-010-00", "answers": {"phone": "13912345678", "residence_division": "330106"},
        "materials": [{"name": "居民身份证", "material_id": material}]})

    assert applied.status_code == 201, applied.text
    form = applied.json()["form"]
    assert form["applicant_name"] == "赵秀兰" and form["phone"] != "13912345678" and "*" in form["phone"]


async def test_at_a_kiosk_of_the_residents_own_division_every_item_offered_is_online_and_can_be_applied_for(
        client, services, register_kiosk):
    """Received and handled in one place, nothing would be handed over: 代收代办 is no choice there."""
    _, device, headers = await resident_at_kiosk(client, services, register_kiosk, "330106", "陈静")

    offered = (await device.client.get("/kiosk/v1/apply/items", headers=headers)).json()

    assert offered and {item["mode"] for item in offered} == {"online"}
