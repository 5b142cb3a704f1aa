"""Organisations and who acts for them: staff register an organisation with its legal representative;
the representative authorises filers (at L2); a citizen without authority sees nothing of it."""

from __future__ import annotations

import datetime as dt

from tests.factories import bearer, register_citizen, staff_token, step_up
from tests.filings.conftest import REPORT, on, organisation, submitted


async def test_an_authorised_filer_files_and_one_without_authority_gets_nothing(client, services):
    on(services, dt.date(2026, 4, 1))
    org = await organisation(client, services)
    representative = org["representative"]
    filer = await register_citizen(client, services, division="330106", name="陈静")
    stranger = await register_citizen(client, services, division="510107", name="路人")
    grant = {"resident_id": filer["resident_id"]}

    at_l1 = await client.post(f"/me/organisations/{org['code']}/filers", headers=bearer(representative["access_token"]),
                              json=grant)
    elevated = await step_up(services, representative, "L2")
    granted = await client.post(f"/me/organisations/{org['code']}/filers", headers=bearer(elevated), json=grant)
    by_filer = await client.post(f"/me/organisations/{org['code']}/filers",
                                 headers=bearer(await step_up(services, filer, "L2")), json=grant)
    mine = (await client.get("/me/organisations", headers=bearer(filer["access_token"]))).json()
    filed = await submitted(client, filer["access_token"], org["obligation"])
    strangers_view = await client.get(f"/me/filings/{filed['id']}", headers=bearer(stranger["access_token"]))
    strangers_draft = await client.post("/me/filings", headers=bearer(stranger["access_token"]),
                                        json={"obligation_id": org["obligation"], "period": 2024, "form": REPORT})
    strangers_list = await client.get(f"/me/obligations/{org['obligation']}/filings",
                                      headers=bearer(stranger["access_token"]))

    assert at_l1.status_code == 403 and at_l1.json()["type"] == "/problems/step-up-required"
    assert granted.status_code == 201, granted.text
    assert granted.json()["role"] == "filer" and granted.json()["resident_id_masked"].startswith("3301")
    assert filer["resident_id"] not in granted.text
    assert by_filer.status_code == 404  # a filer cannot authorise others
    assert [(o["credit_code"], o["role"]) for o in mine] == [(org["code"], "filer")]
    assert filed["state"] == "submitted"
    missing = await client.get("/me/filings/00000000-0000-0000-0000-000000000000",
                               headers=bearer(stranger["access_token"]))
    for refused in (strangers_view, strangers_draft, strangers_list):
        assert refused.status_code == 404 and refused.json()["type"] == "/problems/not-found"
    assert strangers_view.json()["detail"] == missing.json()["detail"]
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'filing.refused' AND record_id = $1", org["obligation"]) == 3
    assert (await client.get("/me/obligations", headers=bearer(stranger["access_token"]))).json() == []

    # Withdrawn, the filer loses the organisation and its filings at once.
    revoked = await client.delete(f"/me/organisations/{org['code']}/filers/{granted.json()['id']}",
                                  headers=bearer(elevated))
    assert revoked.status_code == 204
    assert (await client.get("/me/organisations", headers=bearer(filer["access_token"]))).json() == []
    assert (await client.get(f"/me/filings/{filed['id']}", headers=bearer(filer["access_token"]))).status_code == 404
    who = (await client.get(f"/me/organisations/{org['code']}/representatives", headers=bearer(elevated))).json()
    assert [r["role"] for r in who["representatives"]] == ["legal_representative"]


async def test_registering_an_organisation_checks_the_code_scope_and_representative_who_can_be_replaced(
        client, services):
    registrar = await staff_token(client, services, "handling_officer", "510000")
    receiving = await staff_token(client, services, "receiving_officer", "510000")
    person = await register_citizen(client, services, division="510107")
    org = await organisation(client, services, registrar=registrar)
    body = {"credit_code": org["code"], "name": "另一家公司", "legal_representative": person["resident_id"]}

    wrong_check = await client.post("/staff/organisations", headers=bearer(registrar),
                                    json={**body, "credit_code": org["code"][:-1] + ("0" if org["code"][-1] != "0" else "1")})
    elsewhere = await client.post("/staff/organisations", headers=bearer(registrar),
                                  json={**body, "credit_code": "91330106MA2B0C8R59"})
    nobody = await client.post("/staff/organisations", headers=bearer(registrar),
                               json={**body, "credit_code": "91510100MA6C7K8R0C", "legal_representative": "11010519491231002X"})
    twice = await client.post("/staff/organisations", headers=bearer(registrar), json=body)
    by_receiving = await client.post("/staff/organisations", headers=bearer(receiving), json=body)
    read_in_scope = await client.get(f"/staff/organisations/{org['code']}", headers=bearer(receiving))
    read_elsewhere = await client.get(f"/staff/organisations/{org['code']}",
                                      headers=bearer(await staff_token(client, services, "supervisor", "330000")))
    bad_path = await client.get("/staff/organisations/91510100MA6C7K8R0C%0A", headers=bearer(receiving))

    assert wrong_check.status_code == 422 and wrong_check.json()["errors"][0]["pointer"] == "#/credit_code"
    assert "check character" in wrong_check.json()["errors"][0]["detail"]
    assert elsewhere.status_code == 403 and elsewhere.json()["type"] == "/problems/outside-division"
    assert nobody.status_code == 422 and nobody.json()["errors"][0]["pointer"] == "#/legal_representative"
    assert twice.status_code == 409
    assert by_receiving.status_code == 403
    assert read_in_scope.status_code == 200 and read_in_scope.json()["division_code"] == "510100"
    [legal] = read_in_scope.json()["representatives"]
    assert legal["role"] == "legal_representative" and legal["name"] == "王建国"
    assert read_elsewhere.status_code == 404
    assert bad_path.status_code == 422 and bad_path.json()["errors"][0]["parameter"] == "credit_code"
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'organisation.read_refused'") == 1


    # The registration authority records a new legal representative; the previous one stops acting at once.
    replaced = await client.put(f"/staff/organisations/{org['code']}/legal-representative",
                                headers=bearer(registrar), json={"resident_id": person["resident_id"]})
    again = await client.put(f"/staff/organisations/{org['code']}/legal-representative",
                             headers=bearer(registrar), json={"resident_id": person["resident_id"]})
    assert replaced.status_code == 200, replaced.text
    assert [r["role"] for r in replaced.json()["representatives"]] == ["legal_representative"]
    assert replaced.json()["representatives"][0]["citizen_id"] != legal["citizen_id"]
    assert again.status_code == 409
    assert (await client.get("/me/organisations", headers=bearer(org["representative"]["access_token"]))).json() == []
    mine = (await client.get("/me/organisations", headers=bearer(person["access_token"]))).json()
    assert [(o["credit_code"], o["role"]) for o in mine] == [(org["code"], "legal_representative")]
