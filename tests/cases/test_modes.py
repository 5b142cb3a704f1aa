"""多地联办 with uploaded materials shared with a coordinating division (the share and the task's answer
signed in the case's exchange chain), and deadlines counted in
working days on the Chinese calendar: the clock stops while a 补正 is open across the National Day
holidays, and a year without a holiday table is estimated."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from backend.cases.exchange_records import decode_bundle, verify_chain
from backend.cases.exchanges import CaseExchanges
from backend.certificates.trust_lists import anchors_from_jwks, read_trust_list
from tests.cases.conftest import act, applicant, in_review, marriage_application, record_application
from tests.concurrency import at_once
from tests.factories import bearer, exchange_keys, staff_token

CST = dt.timezone(dt.timedelta(hours=8))
MARRIAGE_FIELDS = {"spouse_name": "王小明", "registered_on": "2026-12-01", "registration_office": "成都市锦江区民政局"}


async def test_a_joint_case_is_decided_only_when_every_coordination_task_is_done(client, services):
    await exchange_keys(services, ("330000", "510000", "110000"))
    person = await applicant(client, services, "id_card")
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    handling = await staff_token(client, services, "handling_officer", "510000")
    beijing = await staff_token(client, services, "handling_officer", "110000")
    applied = await client.post("/me/cases", headers=person["headers"], json=await marriage_application(client, person))
    assert applied.status_code == 201, applied.text
    case = applied.json()
    uploads = sorted((m for m in case["materials"] if m["source"] == "upload"), key=lambda m: m["name"] != "双方合影2寸照片")
    assert len(uploads) == 2

    before = await client.get(f"/staff/cases/{case['id']}/materials/{uploads[0]['id']}", headers=bearer(beijing))
    assert before.status_code == 404
    for token, action, body in [(receiving, "receive", {}), (receiving, "hand_over", {})]:
        moved = await act(client, token, case["id"], action, **body)
        assert moved.status_code == 200, (action, moved.text)
    # 广东 has no case-exchange key: its division could never sign its task done, so the acceptance is refused.
    keyless = await act(client, handling, case["id"], "accept", coordinating_divisions=["440106"])
    assert keyless.status_code == 409 and keyless.json()["type"] == "/problems/no-signing-key", keyless.text
    assert "440000" in keyless.json()["detail"]
    # The accepting place (成都锦江) coordinating with 四川 or 成都, which contain it, would do its own task.
    for own in ("510000", "510100", "510104"):
        itself = await act(client, handling, case["id"], "accept", coordinating_divisions=[own])
        assert itself.status_code == 422 and "no task of its own" in itself.text, itself.text
    for token, action, body in [(handling, "accept", {"coordinating_divisions": ["110105"],
                                                      "coordination_request": "请核验对方婚姻登记记录"}),
                                (handling, "start_review", {})]:
        moved = await act(client, token, case["id"], action, **body)
        assert moved.status_code == 200, (action, moved.text)
    task = moved.json()["tasks"][0]
    assert task["division"] == "110105" and task["state"] == "open"

    early = await act(client, handling, case["id"], "approve", certificate_fields=MARRIAGE_FIELDS)
    assert early.status_code == 409 and early.json()["type"] == "/problems/coordination-pending"
    shared = await client.get(f"/staff/cases/{case['id']}/materials/{uploads[0]['id']}", headers=bearer(beijing))
    assert shared.status_code == 200 and shared.content.startswith(b"\x89PNG")
    not_theirs = await client.post(f"/staff/cases/{case['id']}/tasks/{task['id']}/completion",
                                   headers=bearer(receiving), json={"note": "已核验"})
    assert not_theirs.status_code == 403
    done = await client.post(f"/staff/cases/{case['id']}/tasks/{task['id']}/completion", headers=bearer(beijing),
                             json={"note": "对方无婚姻登记记录"})
    assert done.status_code == 200 and done.json()["state"] == "done", done.text

    approved = await act(client, handling, case["id"], "approve", certificate_fields=MARRIAGE_FIELDS)
    assert approved.status_code == 200, approved.text
    delivered = await act(client, handling, case["id"], "deliver", delivery={"method": "e_certificate"})
    assert delivered.status_code == 200, delivered.text
    exchanges = CaseExchanges(services.db, services.audit, services.certificates.vault, services.certificates.lists)
    chain = [json.loads(e.body) for e in await exchanges.chain(case["number"])]
    assert [e["kind"] for e in chain] == ["handover", "acceptance", "share", "task-done"]
    share, answer = chain[2], chain[3]
    assert (share["from"], share["to"], share["form"]) == (chain[0]["to"], "110105", chain[0]["form"])
    assert share["materials"] == chain[0]["materials"] and len(share["materials"]) == 3
    assert (answer["division"], answer["share"]) == ("110105", 3)
    verdict = await exchanges.verify(case["number"])
    assert verdict.ok and verdict.entries == 4, verdict
    # The coordinating division downloads the chain (twice at once) and checks it offline, with the anchors
    # it pinned: both answers hold the same entries, each verifies, and each download is audited.
    exports = await at_once(services, *(client.get(f"/staff/cases/{case['id']}/exchanges", headers=bearer(beijing))
                                        for _ in range(2)))
    assert [e.status_code for e in exports] == [200, 200], [e.text for e in exports]
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)
    bundles = [decode_bundle(e.content) for e in exports]
    assert bundles[0][1] == bundles[1][1]
    for number, entries, trust_list in bundles:
        offline = verify_chain(number, entries, read_trust_list(trust_list, anchors))
        assert (number, offline.ok, offline.entries, offline.holder) == (case["number"], True, 4, share["from"]), offline
    guangdong = await staff_token(client, services, "handling_officer", "440000")
    outside = await client.get(f"/staff/cases/{case['id']}/exchanges", headers=bearer(guangdong))
    missing = await client.get(f"/staff/cases/{uuid.uuid4()}/exchanges", headers=bearer(guangdong))
    assert outside.status_code == missing.status_code == 404
    assert outside.json()["detail"] == missing.json()["detail"]  # it learns nothing of the case
    audited_exports = await services.db.pool.fetch(
        "SELECT action, division_code FROM audit_log WHERE action LIKE 'case.exchanges%' AND record_id = $1",
        case["id"])
    assert sorted((r["action"], r["division_code"]) for r in audited_exports) == [
        ("case.exchanges_exported", "110000"), ("case.exchanges_exported", "110000"),
        ("case.exchanges_refused", "440000")]
    mine = await client.get(f"/me/cases/{case['id']}", headers=person["headers"])
    own_copy = await client.get(f"/me/cases/{case['id']}/materials/{uploads[1]['id']}", headers=person["headers"])
    assert mine.json()["certificate_id"] == approved.json()["certificate_id"]
    assert own_copy.status_code == 200 and own_copy.content.startswith(b"%PDF")
    certificates = await client.get("/me/certificates", headers=person["headers"])
    assert approved.json()["certificate_id"] in certificates.text
    downloads = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'case.material_downloaded' AND record_id = $1", case["id"])
    assert downloads == 2

    reused = await marriage_application(client, person)
    again = await client.post("/me/cases", headers=person["headers"], json=reused)
    assert again.status_code == 201
    assert {m["material_id"] for m in again.json()["materials"]} >= {u["material_id"] for u in uploads}


async def test_the_clock_stops_while_a_supplement_request_is_open_across_the_national_day_holidays(client, services):
    clock = services.cases.now
    try:
        person = await applicant(client, services, "id_card")
        handling = await staff_token(client, services, "handling_officer", "510000")
        supervisor = await staff_token(client, services, "supervisor", "510000")

        services.cases.now = lambda: dt.datetime(2026, 9, 29, 10, tzinfo=CST)
        case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
        accepted = await act(client, handling, case["id"], "accept")
        assert accepted.json()["deadline"] == {"due_on": "2026-09-30", "working_days": 1, "paused": False,
                                               "calendar_estimated": False}
        due = (await client.get("/staff/cases/due", headers=bearer(supervisor), params={"division": "510104"})).json()
        assert case["id"] in {c["id"] for c in due["due_soon"]}

        services.cases.now = lambda: dt.datetime(2026, 9, 30, 16, tzinfo=CST)
        await act(client, handling, case["id"], "start_review")
        asked = await act(client, handling, case["id"], "request_supplement",
                          items=[{"material": "居民身份证", "reason": "证件已过期"}])
        assert asked.json()["deadline"]["paused"] is True
        due = (await client.get("/staff/cases/due", headers=bearer(supervisor))).json()
        assert case["id"] not in {c["id"] for c in due["due_soon"] + due["overdue"]}

        services.cases.now = lambda: dt.datetime(2026, 10, 9, 9, tzinfo=CST)
        answered = await client.post(f"/me/cases/{case['id']}/supplement", headers=person["headers"], json={
            "materials": [{"name": "居民身份证", "certificate_id": person["certificates"]["id_card"]}]})
        # Paused from 30 September to 9 October: 1–7 October are holidays, so two working days (8, 9 October).
        assert answered.json()["deadline"] == {"due_on": "2026-10-09", "working_days": 1, "paused": False,
                                               "calendar_estimated": False}
        detail = await services.db.pool.fetchval(
            "SELECT detail FROM audit_log WHERE action = 'case.supplement' AND record_id = $1", case["id"])
        assert detail["paused_working_days"] == 2

        services.cases.now = lambda: dt.datetime(2026, 10, 12, 9, tzinfo=CST)
        due = (await client.get("/staff/cases/due", headers=bearer(supervisor))).json()
        assert case["id"] in {c["id"] for c in due["overdue"]}
        outside = await client.get("/staff/cases/due", headers=bearer(supervisor), params={"division": "330100"})
        assert outside.status_code == 403

        services.cases.now = lambda: dt.datetime(2027, 12, 28, 9, tzinfo=CST)
        later = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
        estimated = await act(client, handling, later["id"], "accept")
        assert estimated.json()["deadline"]["calendar_estimated"] is True
    finally:
        services.cases.now = clock
    stored = await services.db.pool.fetchval("SELECT deadline FROM cases WHERE id = $1", uuid.UUID(case["id"]))
    assert stored == dt.date(2026, 10, 9)


async def test_a_joint_case_withdrawn_while_a_task_is_open_cancels_the_task(client, services):
    person = await applicant(client, services, "id_card")
    case = (await client.post("/me/cases", headers=person["headers"],
                              json=await marriage_application(client, person))).json()
    handling = await in_review(client, services, case)  # accepted: a task for 杭州西湖 (the receiving place)

    withdrawn = await client.post(f"/me/cases/{case['id']}/withdrawal", headers=person["headers"], json={})
    view = (await client.get(f"/staff/cases/{case['id']}", headers=bearer(handling))).json()
    hangzhou = await staff_token(client, services, "receiving_officer", "330000")
    late = await client.post(f"/staff/cases/{case['id']}/tasks/{view['tasks'][0]['id']}/completion",
                             headers=bearer(hangzhou), json={"note": "已核验"})

    assert withdrawn.status_code == 200, withdrawn.text
    assert [(t["division"], t["state"]) for t in view["tasks"]] == [("330106", "cancelled")]
    assert late.status_code == 409
