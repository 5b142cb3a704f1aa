"""Staff in scope see filings due, filed, late and missing; a citizen's own obligation (a licence's
review) counts its window from an anniversary and binds the citizen's identifiers."""

from __future__ import annotations

import datetime as dt

from tests.factories import bearer, register_citizen, resident_id, staff_token
from tests.filings.conftest import on, organisation, submitted


async def test_staff_in_scope_see_which_filings_are_due_filed_late_and_missing(client, services):
    on(services, dt.date(2026, 3, 1))
    registrar = await staff_token(client, services, "handling_officer", "510000")
    on_time, late, missing = [await organisation(client, services, registrar=registrar, name=f"示例公司{n}")
                              for n in range(3)]
    elsewhere = await organisation(client, services, division="330100", name="杭州示例公司")
    await submitted(client, on_time["representative"]["access_token"], on_time["obligation"], period=2025)
    await submitted(client, late["representative"]["access_token"], late["obligation"], period=2024)
    supervisor = await staff_token(client, services, "supervisor", "510000")

    current = await client.get("/staff/filings", headers=bearer(supervisor),
                               params={"kind": "enterprise_annual_report", "period": 2025})
    previous = await client.get("/staff/filings", headers=bearer(supervisor),
                                params={"kind": "enterprise_annual_report", "period": 2024, "status": "missing"})
    paged = await client.get("/staff/filings", headers=bearer(supervisor),
                             params={"kind": "enterprise_annual_report", "period": 2025, "limit": 2})
    rest = await client.get("/staff/filings", headers=bearer(supervisor), params={
        "kind": "enterprise_annual_report", "period": 2025, "limit": 2, "after": paged.json()["next_after"]})
    outside = await client.get("/staff/filings", headers=bearer(supervisor),
                               params={"kind": "enterprise_annual_report", "period": 2025, "division": "330100"})
    citizen = await client.get("/staff/filings", headers=bearer(on_time["representative"]["access_token"]),
                               params={"kind": "enterprise_annual_report", "period": 2025})

    assert current.status_code == 200, current.text
    body = current.json()
    assert body["counts"] == {"not-open": 0, "due": 2, "filed": 1, "late": 0, "missing": 0}
    statuses = {r["subject"]["identifier"]: r["status"] for r in body["rows"]}
    assert statuses == {on_time["code"]: "filed", late["code"]: "due", missing["code"]: "due"}
    assert elsewhere["code"] not in current.text
    assert previous.json()["counts"] == {"not-open": 0, "due": 0, "filed": 0, "late": 1, "missing": 2}
    assert {r["subject"]["identifier"] for r in previous.json()["rows"]} == {on_time["code"], missing["code"]}
    assert len(paged.json()["rows"]) == 2 and len(rest.json()["rows"]) == 1
    assert {r["obligation_id"] for r in paged.json()["rows"] + rest.json()["rows"]} == {
        on_time["obligation"], late["obligation"], missing["obligation"]}
    assert outside.status_code == 403
    assert citizen.status_code == 403

    filed_row = next(r for r in body["rows"] if r["status"] == "filed")
    read = await client.get(f"/staff/filings/{filed_row['filing_id']}", headers=bearer(supervisor))
    hangzhou = await staff_token(client, services, "supervisor", "330000")
    refused = await client.get(f"/staff/filings/{filed_row['filing_id']}", headers=bearer(hangzhou))
    assert read.status_code == 200 and read.json()["form"]["phone"] == "138****0002"
    assert refused.status_code == 404
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'filing_overview.read'") == 4


async def test_a_citizens_own_obligations_licence_review_by_anniversary_and_benefit_declaration(client, services):
    on(services, dt.date(2026, 5, 25))
    driver = await register_citizen(client, services, division="330106", name="陈静")
    registrar = await staff_token(client, services, "handling_officer", "330100")
    obligation = await client.post("/staff/filing-obligations", headers=bearer(registrar), json={
        "kind": "driving_licence_review", "resident_id": driver["resident_id"], "division_code": "330100",
        "reference": "330100123456", "anchor_date": "2010-05-20", "first_period": 2025})
    without_anchor = await client.post("/staff/filing-obligations", headers=bearer(registrar), json={
        "kind": "driving_licence_review", "resident_id": driver["resident_id"], "division_code": "330100",
        "reference": "330100999999", "first_period": 2025})
    token = driver["access_token"]

    periods = (await client.get("/me/obligations", headers=bearer(token))).json()[0]["periods"]
    draft = await client.post("/me/filings", headers=bearer(token), json={
        "obligation_id": obligation.json()["id"], "period": 2026, "form": {"education_completed": True}})
    filed = await client.post(f"/me/filings/{draft.json()['id']}/submission", headers=bearer(token))

    assert obligation.status_code == 201, obligation.text
    assert without_anchor.status_code == 422 and without_anchor.json()["errors"][0]["pointer"] == "#/anchor_date"
    assert [(p["period"], p["window_opens"], p["window_closes"], p["status"]) for p in periods] == [
        (2027, "2027-05-20", "2027-06-19", "not-open"), (2026, "2026-05-20", "2026-06-19", "due"),
        (2025, "2025-05-20", "2025-06-19", "missing")]
    assert draft.status_code == 201, draft.text
    bound = draft.json()["bound"]
    assert bound["applicant_name"] == "陈静" and bound["licence_number"] == "330100123456"
    assert bound["resident_id"].startswith("3301") and "*" in bound["resident_id"]
    assert bound["phone"] == driver["phone"][:3] + "****" + driver["phone"][-4:]
    assert filed.status_code == 200, filed.text
    assert driver["resident_id"] not in filed.text and driver["phone"] not in filed.text
    stored = await services.db.pool.fetchval("SELECT form_enc FROM filings WHERE id = $1", draft.json()["id"])
    assert driver["resident_id"].encode() not in stored

    # A benefit's annual declaration carries its own schema (no catalogue item), checked the same way.
    declaration = await client.post("/staff/filing-obligations", headers=bearer(registrar), json={
        "kind": "benefit_annual_declaration", "resident_id": driver["resident_id"], "division_code": "330100",
        "reference": "ZJ-SY-0042", "first_period": 2025})
    on(services, dt.date(2026, 2, 10))
    form = {"benefit_kind": "unemployment", "residence_division": "330106", "still_eligible": True,
            "employed_during_year": False}
    started = await client.post("/me/filings", headers=bearer(token), json={
        "obligation_id": declaration.json()["id"], "period": 2025, "form": form})
    unconfirmed = await client.post(f"/me/filings/{started.json()['id']}/submission", headers=bearer(token))
    await client.patch(f"/me/filings/{started.json()['id']}", headers=bearer(token),
                       json={"form": {"declaration_confirmed": True}})
    declared = await client.post(f"/me/filings/{started.json()['id']}/submission", headers=bearer(token))

    assert declaration.status_code == 201, declaration.text
    assert unconfirmed.status_code == 422
    assert [e["pointer"] for e in unconfirmed.json()["errors"]] == ["#/form/declaration_confirmed"]
    assert declared.status_code == 200, declared.text
    assert declared.json()["bound"]["benefit_reference"] == "ZJ-SY-0042" and declared.json()["late"] is False


def test_every_kind_has_a_usable_form_schema_and_its_bound_fields_exist_in_it():
    import json
    from pathlib import Path

    from backend.catalogue.forms import schema_problems
    from backend.filings.kinds import OBLIGATION_KINDS

    items = {i["code"]: i for i in json.loads(
        (Path(__file__).parents[2] / "backend/catalogue/data/items.json").read_text(encoding="utf-8"))["items"]}
    for kind in OBLIGATION_KINDS.values():
        schema = kind.form_schema or items[kind.item_code]["form_schema"]
        assert schema_problems(schema) == [], kind.code
        assert set(kind.bound) <= set(schema["properties"]), kind.code


async def test_a_registrar_outside_the_receiving_division_learns_nothing_of_the_person_named(client, services):
    """Refused before anyone is looked up: a registered and an unregistered resident ID get the same answer,
    and the attempt is audited."""
    someone = await register_citizen(client, services, division="510107", name="李四")
    registrar = await staff_token(client, services, "handling_officer", "330000")  # 浙江, naming a 四川 division
    body = {"kind": "benefit_annual_declaration", "first_period": 2025, "reference": "B-1", "division_code": "510100"}

    known = await client.post("/staff/filing-obligations", headers=bearer(registrar),
                              json=body | {"resident_id": someone["resident_id"]})
    unknown = await client.post("/staff/filing-obligations", headers=bearer(registrar),
                                json=body | {"resident_id": resident_id("510107", sequence=777)})

    strip = lambda r: {k: v for k, v in r.json().items() if k not in ("instance", "request_id")}  # noqa: E731
    assert known.status_code == unknown.status_code == 403 and strip(known) == strip(unknown)
    assert known.json()["type"] == "/problems/outside-division"
    refused = await services.db.pool.fetch(
        "SELECT detail->>'division' AS division FROM audit_log WHERE action = 'filing_obligation.register_refused'")
    assert [r["division"] for r in refused] == ["510100", "510100"]
