"""An agency asks for a citizen's record: the citizen previews the evidence and accepts or refuses;
silence expires it; only accepted evidence reaches the agency. Purposes and consents bound every
request."""

from __future__ import annotations

from tests.factories import bearer, resident_id, staff_token
from tests.sharing.conftest import agency_request, handling_officer, person_with_records


async def test_the_agency_gets_the_evidence_only_after_the_citizen_accepts_its_preview(client, services, providers):
    person = await person_with_records(client, services)
    token = person["access_token"]
    officer = await handling_officer(client, services, "330100")

    created = await agency_request(client, officer, person, fields=["balance", "account_status"])
    request_id = created.json()["id"]
    before = (await client.get(f"/staff/data-requests/{request_id}", headers=bearer(officer))).json()
    inbox = (await client.get("/me/notifications", headers=bearer(token))).json()["items"]
    preview = (await client.get(f"/me/data-requests/{request_id}", headers=bearer(token))).json()
    accepted = await client.post(f"/me/data-requests/{request_id}/acceptance", headers=bearer(token))
    after = (await client.get(f"/staff/data-requests/{request_id}", headers=bearer(officer))).json()
    other_agency = await client.get(f"/staff/data-requests/{request_id}",
                                    headers=bearer(await handling_officer(client, services, "510000")))
    again = await client.post(f"/me/data-requests/{request_id}/refusal", headers=bearer(token))

    assert created.status_code == 201, created.text
    assert created.json()["state"] == "awaiting-citizen" and created.json()["basis"] == "legal"
    assert before["evidence"] is None and before["request"]["state"] == "awaiting-citizen"
    assert [n["kind"] for n in inbox] == ["data_request.preview"]
    assert inbox[0]["subject"] == {"type": "data_request", "id": request_id} and inbox[0]["sms"] is True
    assert preview["request"]["requester"] == {"kind": "staff", "division": "330100", "division_name": "杭州市",
                                               "role": "handling_officer"}
    assert preview["request"]["purpose_name"] == "住房公积金业务"
    assert preview["request"]["legal_reference"] == "《住房公积金管理条例》第二十四条"
    assert preview["evidence"]["data"] == {"balance": "86420.50", "account_status": "正常缴存"}
    assert "查询方：杭州市办理窗口" in preview["evidence"]["readable"]
    assert accepted.status_code == 200 and accepted.json()["state"] == "shared"
    assert accepted.json()["disclosed"] == ["balance", "account_status"]
    assert after["evidence"]["data"] == {"balance": "86420.50", "account_status": "正常缴存"}
    assert "账户余额（元）：86,420.50" in after["evidence"]["readable"]
    assert other_agency.status_code == 404
    assert again.status_code == 409
    log = (await client.get("/me/data-requests", headers=bearer(token))).json()
    assert [(e["state"], e["case_number"], e["disclosed"]) for e in log] == [
        ("shared", None, ["balance", "account_status"])]
    actions = [r["action"] for r in await services.db.pool.fetch(
        r"SELECT action FROM audit_log WHERE action LIKE 'data\_request.%' ORDER BY at")]
    assert actions == ["data_request.created", "data_request.read", "data_request.previewed", "data_request.shared",
                       "data_request.read", "data_request.read_refused"]


async def test_a_refused_or_expired_preview_shares_nothing_and_shared_evidence_is_kept_for_its_time(
        client, services, providers):
    person = await person_with_records(client, services)
    token = person["access_token"]
    officer = await handling_officer(client, services, "330100")
    refused_id, silent_id, swept_id, old_id = [(await agency_request(client, officer, person)).json()["id"]
                                               for _ in range(4)]
    await client.post(f"/me/data-requests/{old_id}/acceptance", headers=bearer(token))

    refused = await client.post(f"/me/data-requests/{refused_id}/refusal", headers=bearer(token))
    await services.db.pool.execute("UPDATE data_requests SET preview_expires_at = now() - interval '1 second' "
                                   "WHERE id = ANY($1::uuid[])", [silent_id, swept_id])
    await services.db.pool.execute(
        "UPDATE data_requests SET evidence_until = now() - interval '1 second' WHERE id = $1", old_id)
    past = (await client.get(f"/staff/data-requests/{old_id}", headers=bearer(officer))).json()
    too_late = await client.post(f"/me/data-requests/{silent_id}/acceptance", headers=bearer(token))
    swept = await services.sharing.previews.expire_due()

    assert refused.status_code == 200 and refused.json()["state"] == "refused" and refused.json()["disclosed"] == []
    assert too_late.status_code == 410 and too_late.json()["type"] == "/problems/preview-expired"
    assert swept == "1 preview(s) expired, 1 shared evidence erased"
    assert past["evidence"] is None and past["request"]["state"] == "shared"  # past its keeping, before the sweep
    for request_id, state in ((refused_id, "refused"), (silent_id, "expired"), (swept_id, "expired")):
        seen = (await client.get(f"/staff/data-requests/{request_id}", headers=bearer(officer))).json()
        assert seen["evidence"] is None and seen["request"]["state"] == state
    assert await services.db.pool.fetchval("SELECT count(*) FROM data_requests WHERE evidence_enc IS NOT NULL") == 0
    preview = (await client.get(f"/me/data-requests/{silent_id}", headers=bearer(token))).json()
    assert preview["evidence"] is None and preview["request"]["state"] == "expired"


async def test_purposes_and_consents_bound_every_request(client, services, providers):
    person = await person_with_records(client, services)
    token = person["access_token"]
    officer = await handling_officer(client, services, "330100")
    sichuan = await staff_token(client, services, "receiving_officer", "510000")
    consent = (await client.post("/me/data-consents", headers=bearer(token), json={
        "requester_division": "330100", "purposes": ["housing-fund-business"], "providers": ["demo.housing-fund"],
        "valid_days": 30})).json()
    by_consent = {"legal_reference": None, "consent_id": consent["id"]}

    not_served = await agency_request(client, officer, person, provider="demo.household", purpose="traffic-management")
    not_released = await agency_request(client, officer, person, purpose="case-handling", fields=["balance"])
    both_bases = await agency_request(client, officer, person, consent_id=consent["id"])
    other_purpose = await agency_request(client, officer, person, purpose="case-handling", **by_consent)
    other_agency = await agency_request(client, sichuan, person, **by_consent)
    covered = await agency_request(client, officer, person, **by_consent)
    await client.delete(f"/me/data-consents/{consent['id']}", headers=bearer(token))
    withdrawn = await agency_request(client, officer, person, **by_consent)
    by_citizen = await agency_request(client, token, person)

    assert not_served.status_code == 422 and not_served.json()["type"] == "/problems/purpose-not-served"
    assert not_served.json()["errors"][0]["pointer"] == "#/purpose"
    assert not_released.status_code == 422 and not_released.json()["errors"][0]["pointer"] == "#/fields/0"
    assert both_bases.status_code == 422
    for refused in (other_purpose, other_agency, withdrawn):
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/consent-not-covering"
    assert covered.status_code == 201 and covered.json()["basis"] == "consent"
    assert by_citizen.status_code == 403
    # Nothing was asked of the provider for a refused request: only the covered one is in the log.
    log = (await client.get("/me/data-requests", headers=bearer(token))).json()
    assert [e["basis"] for e in log] == ["consent"]
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'data_request.refused'") == 3



async def test_a_request_tells_nothing_of_who_is_registered_and_every_miss_is_audited(client, services, providers):
    """With a made-up consent, a registered and an unregistered ID get the same refusal; under a legal basis
    an unregistered ID is refused at the field (the registered person would be told in their inbox), and
    each refusal is audited with the ID masked."""
    person = await person_with_records(client, services)
    officer = await handling_officer(client, services, "510000")
    nobody = {**person, "resident_id": resident_id("330106", sequence=901)}
    made_up = {"legal_reference": None, "consent_id": "00000000-0000-0000-0000-00000000c0de"}

    registered = await agency_request(client, officer, person, **made_up)
    unregistered = await agency_request(client, officer, nobody, **made_up)
    legal = await agency_request(client, officer, nobody)

    strip = lambda r: {k: v for k, v in r.json().items() if k not in ("instance", "request_id")}  # noqa: E731
    assert registered.status_code == unregistered.status_code == 403 and strip(registered) == strip(unregistered)
    assert legal.status_code == 422 and legal.json()["errors"][0]["pointer"] == "#/resident_id"
    refused = await services.db.pool.fetch(
        "SELECT detail FROM audit_log WHERE action = 'data_request.refused'")
    reasons = sorted(r["detail"]["reason"] for r in refused)
    assert reasons == ["consent", "consent", "not-registered"]
    assert nobody["resident_id"] not in str([r["detail"] for r in refused])
