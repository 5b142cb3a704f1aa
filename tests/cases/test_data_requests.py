"""A staff data request made for a case names the case by its national number: the case must exist and
be in the officer's divisions — a missing case and one outside them get the same answer — and the
request is linked to it, for the agency, the citizen's log, the audit and the requesting divisions'
view of the case."""

from __future__ import annotations

import uuid

import pytest

from backend.sharing.demo import DEMO_ROWS, load_provider_rows, register_demo_providers
from tests.cases.conftest import applicant, record_application
from tests.factories import bearer, staff_token


@pytest.fixture(scope="module")
async def providers(services):
    await register_demo_providers(services, lambda _: None)


async def case_of_someone_with_records(client, services) -> tuple[dict, dict]:
    """A citizen holding 陈静's demo records, and their case (received in 杭州, handled in 成都锦江)."""
    person = await applicant(client, services, "id_card")
    await load_provider_rows(services, person["resident_id"], DEMO_ROWS["330106198806120025"])
    applied = await client.post("/me/cases", headers=person["headers"], json=record_application(person))
    assert applied.status_code == 201, applied.text
    return person, applied.json()


async def ask(client, token: str, person: dict, case_number: str | None):
    return await client.post("/staff/data-requests", headers=bearer(token), json={
        "resident_id": person["resident_id"], "provider": "demo.housing-fund", "purpose": "case-handling",
        "fields": ["account_status"], "legal_reference": "《住房公积金管理条例》第二十四条"}
        | ({"case_number": case_number} if case_number is not None else {}))


async def test_a_request_for_a_case_in_the_officers_divisions_is_linked_to_it(client, services, providers):
    person, case = await case_of_someone_with_records(client, services)
    officer = await staff_token(client, services, "handling_officer", "510000")

    created = await ask(client, officer, person, case["number"])
    log = (await client.get("/me/data-requests", headers=person["headers"])).json()
    agency = await client.get(f"/staff/data-requests/{created.json()['id']}", headers=bearer(officer))

    assert created.status_code == 201, created.text
    assert created.json()["case_number"] == case["number"] and created.json()["case_reference"] is None
    assert [(e["id"], e["case_number"]) for e in log] == [(created.json()["id"], case["number"])]
    assert agency.json()["request"]["case_number"] == case["number"]
    row = await services.db.pool.fetchrow("SELECT case_id, case_reference FROM data_requests WHERE id = $1",
                                          uuid.UUID(created.json()["id"]))
    assert dict(row) == {"case_id": uuid.UUID(case["id"]), "case_reference": None}
    audited = await services.db.pool.fetchrow(
        "SELECT detail FROM audit_log WHERE action = 'data_request.created' AND detail->>'request_id' = $1",
        created.json()["id"])
    assert (audited["detail"]["case_number"], audited["detail"]["case_id"]) == (case["number"], case["id"])


async def test_the_case_view_lists_the_requests_the_readers_divisions_made_for_it(client, services, providers):
    person, case = await case_of_someone_with_records(client, services)
    officer = await staff_token(client, services, "handling_officer", "510000")
    created = (await ask(client, officer, person, case["number"])).json()
    zhejiang = await staff_token(client, services, "receiving_officer", "330000")

    handling_view = await client.get(f"/staff/cases/{case['id']}", headers=bearer(officer))
    accepted = await client.post(f"/staff/cases/{case['id']}/actions", headers=bearer(officer), json={"action": "accept"})
    receiving_view = await client.get(f"/staff/cases/{case['id']}", headers=bearer(zhejiang))

    listed = [{"id": created["id"], "provider": "demo.housing-fund", "purpose": "case-handling",
               "state": "awaiting-citizen", "division": "510000", "created_at": created["created_at"]}]
    assert handling_view.json()["data_requests"] == listed
    assert accepted.status_code == 200 and accepted.json()["data_requests"] == listed
    # 浙江's officers read the case (it was received there) but made no request for it: they see none.
    assert receiving_view.status_code == 200 and receiving_view.json()["data_requests"] == []


async def test_a_case_outside_the_officers_divisions_answers_as_a_missing_one_and_nothing_is_asked(
        client, services, providers):
    person, case = await case_of_someone_with_records(client, services)
    beijing = await staff_token(client, services, "handling_officer", "110000")
    missing = f"{case['number'][:-6]}999999"

    foreign = await ask(client, beijing, person, case["number"])
    absent = await ask(client, beijing, person, missing)

    assert foreign.status_code == absent.status_code == 422
    assert foreign.json()["errors"] == absent.json()["errors"] == [
        {"pointer": "#/case_number", "detail": "no such case in your divisions"}]
    assert await services.db.pool.fetchval("SELECT count(*) FROM data_requests WHERE citizen_id = $1",
                                           uuid.UUID(person["id"])) == 0
    refusals = await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'case' AND record_id = $1 AND action LIKE '%refused'",
        case["id"])
    assert [r["action"] for r in refusals] == ["case.data_request_refused"]


@pytest.mark.parametrize("look_alike", ["{number}\n", "{number} ", "{head}\u0664", "{head}４", "SC-2026-000042"])
async def test_a_case_number_that_is_not_one_is_refused_before_anything_is_looked_up(
        client, services, providers, look_alike):
    person, case = await case_of_someone_with_records(client, services)
    officer = await staff_token(client, services, "handling_officer", "510000")
    number = case["number"]

    refused = await ask(client, officer, person, look_alike.format(number=number, head=number[:-1]))

    assert refused.status_code in (400, 422), refused.text
    assert "case_number" in refused.text
    assert await services.db.pool.fetchval("SELECT count(*) FROM data_requests WHERE citizen_id = $1",
                                           uuid.UUID(person["id"])) == 0
