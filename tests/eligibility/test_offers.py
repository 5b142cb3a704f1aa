"""After failures the answer is never just "try again": a daily cap beside the hourly limits, then the
nearest windows and kiosks of the residence division, family proxy, and a bookable visit. One method
vocabulary everywhere."""

import datetime as dt
import re

import msgspec
import pytest

from backend.certificates.certificate_types import certificate_type
from backend.china_time import today
from backend.eligibility.methods import FACE_ALTERNATIVES, METHODS
from backend.face.reasons import ALTERNATIVES
from tests.eligibility.helpers import agency, pensioner
from tests.factories import bearer, staff_token


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, face_attempts_per_citizen_day=2)


async def test_after_the_daily_cap_the_pensioner_is_offered_every_other_way(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    async with services.db.transaction() as conn:
        for point in ({"id": "xihu-window", "kind": "service-window", "division": "330106", "name": "西湖区政务服务中心",
                       "address": "杭州市西湖区文三路 1 号", "hours": "周一至周五 9:00-17:00"},
                      {"id": "sc-window", "kind": "service-window", "division": "330102", "name": "上城区政务服务中心",
                       "address": "杭州市上城区 2 号"},
                      {"id": "cd-window", "kind": "service-window", "division": "510107", "name": "武侯区政务中心",
                       "address": "成都市武侯区"}):
            from backend.eligibility import repository

            await repository.upsert_service_point(conn, point)
    headers = bearer(citizen["access_token"])
    admin = await staff_token(client, services, "admin", "330000")
    kiosk = await client.post("/admin/kiosks", headers=bearer(admin), json={
        "division_code": "330106", "address": "西湖区转塘街道便民服务中心", "capabilities": ["reader", "camera"],
        "public_key": "JrQLj5P_89iXES9-vFgrIy29clF9CC_oPPsw3c5D0bs"})
    assert kiosk.status_code == 201, kiosk.text

    tries = [await client.post("/face/liveness/challenges", json={}, headers=headers) for _ in range(3)]
    precheck = await client.get("/me/pension/precheck", headers=headers)
    offers = await client.get("/me/pension/offers", headers=headers)
    booked = await client.post("/me/pension/bookings", headers=headers, json={
        "kind": "assisted-counter", "slot_date": (today() + dt.timedelta(days=2)).isoformat(), "slot_part": "afternoon"})
    twice = await client.post("/me/pension/bookings", headers=headers, json={
        "kind": "home-visit", "slot_date": (today() + dt.timedelta(days=3)).isoformat(), "slot_part": "morning"})
    status = await client.get("/me/pension", headers=headers)

    assert [t.status_code for t in tries] == [201, 201, 429]
    exhausted = tries[2].json()
    assert exhausted["type"] == "/problems/face-attempts-exhausted" and exhausted["alternatives"] == FACE_ALTERNATIVES
    assert "attempts-used-up" in [r["code"] for r in precheck.json()["reasons"]]
    unenrolled = await pensioner(client, services, officer, enrol=False)
    where = (await client.get("/me/pension/precheck", headers=bearer(unenrolled["access_token"]))).json()["reasons"][0]
    assert where["code"] == "not-enrolled" and "西湖区政务服务中心" in where["todo_zh"] and "文三路" in where["todo_en"]
    assert precheck.json()["attempts_left_day"] == 0
    assert precheck.json()["methods"] == ["assisted-counter", "home-visit"]
    points = offers.json()["service_points"]
    # Nearest first (same county, then the city), windows before kiosks; none in another province.
    assert [p["id"] for p in points] == ["xihu-window", kiosk.json()["id"], "sc-window"]
    assert points[1]["kind"] == "kiosk" and points[1]["address"] == "西湖区转塘街道便民服务中心"
    assert offers.json()["methods"] == FACE_ALTERNATIVES
    assert booked.status_code == 201 and twice.status_code == 409
    assert status.json()["booking"]["id"] == booked.json()["id"]


async def test_booking_slots_must_be_ahead_and_within_sixty_days(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    for day in (today(), today() + dt.timedelta(days=61)):
        response = await client.post("/me/pension/bookings", headers=bearer(citizen["access_token"]), json={
            "kind": "home-visit", "slot_date": day.isoformat(), "slot_part": "morning"})
        assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "#/slot_date"


async def test_one_vocabulary_of_methods_in_record_certificate_face_and_database(services):
    certificate_methods = certificate_type("pension_eligibility_record").field_by_name["method"].spec["values"]
    constraint = await services.db.pool.fetchval(
        """SELECT pg_get_constraintdef(oid) FROM pg_constraint
           WHERE conrelid = 'pension_recognitions'::regclass AND conname LIKE '%method%'""")

    assert list(certificate_methods) == list(METHODS)
    assert ALTERNATIVES == FACE_ALTERNATIVES and set(FACE_ALTERNATIVES) <= set(METHODS)
    assert re.findall(r"'([a-z-]+)'::text", constraint) == list(METHODS)
