"""A case's life over HTTP, with staff in two provinces: 杭州 receives, 成都 handles. Each move is a
row of the state table; illegal moves are 409; scope hides cases without revealing them."""

from __future__ import annotations

import json
import re
import uuid

from tests.cases.conftest import (
    HOUSEHOLD_FIELDS,
    act,
    applicant,
    household_application,
    in_review,
    marriage_application,
    record_application,
    upload,
)
from tests.concurrency import at_once
from tests.factories import bearer, staff_token
from tests.materials.test_store import png


async def test_a_proxy_case_from_application_to_closing_with_one_complete_supplement_round(client, services):
    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    handling = await staff_token(client, services, "handling_officer", "510000")
    key = {**person["headers"], "Idempotency-Key": f"apply-{uuid.uuid4()}"}

    applied = await client.post("/me/cases", headers=key, json=household_application(person))
    replayed = await client.post("/me/cases", headers=key, json=household_application(person))
    assert applied.status_code == 201, applied.text
    case = applied.json()
    assert replayed.status_code == 201 and replayed.json()["id"] == case["id"]
    assert replayed.headers["Idempotent-Replayed"] == "true"
    assert re.fullmatch(r"330106-\d{8}-\d{6}", case["number"])
    assert case["state"] == "submitted" and case["mode"]["code"] == "proxy"
    assert case["form"]["resident_id"] != person["resident_id"] and "*" in case["form"]["resident_id"]
    assert case["allowed_actions"] == ["withdraw"]
    case_id = case["id"]

    too_early = await act(client, handling, case_id, "accept")
    assert too_early.status_code == 409 and too_early.json()["type"] == "/problems/invalid-transition"
    assert too_early.json()["state"] == "submitted"
    wrong_side = await act(client, handling, case_id, "receive")
    assert wrong_side.status_code == 403

    for token, action, body in [(receiving, "receive", {}), (receiving, "hand_over", {"note": "材料齐全"}),
                                (handling, "accept", {}), (handling, "start_review", {})]:
        moved = await act(client, token, case_id, action, **body)
        assert moved.status_code == 200, (action, moved.text)
    assert moved.json()["state"] == "in_review" and moved.json()["version"] == 5

    asked = await act(client, handling, case_id, "request_supplement", items=[
        {"material": "居民户口簿", "reason": "户口簿须为迁出前最新版本"}])
    assert asked.status_code == 200, asked.text
    mine = (await client.get(f"/me/cases/{case_id}", headers=person["headers"])).json()
    assert mine["state"] == "supplement_requested" and mine["supplement_count"] == 1
    assert mine["asked_now"]["action"] == "supplement"
    assert mine["asked_now"]["supplement_request"]["items"] == [{"material": "居民户口簿", "reason": "户口簿须为迁出前最新版本"}]
    assert mine["deadline"]["paused"] is True
    states = {m["name"]: m["state"] for m in mine["materials"]}
    assert states == {"居民身份证": "accepted", "居民户口簿": "refused", "落户条件证明材料": "accepted"}

    incomplete = await client.post(f"/me/cases/{case_id}/supplement", headers=person["headers"], json={
        "materials": [{"name": "居民身份证", "certificate_id": person["certificates"]["id_card"]}]})
    assert incomplete.status_code == 422
    assert {e["detail"] for e in incomplete.json()["errors"]} == {
        "'居民身份证' was not asked for in this 补正", "'居民户口簿' is asked for and missing from the answer"}
    answered = await client.post(f"/me/cases/{case_id}/supplement", headers=person["headers"], json={
        "materials": [{"name": "居民户口簿", "certificate_id": person["certificates"]["household_register"]}]})
    assert answered.status_code == 200, answered.text
    assert answered.json()["state"] == "supplemented" and answered.json()["deadline"]["paused"] is False

    again = await act(client, handling, case_id, "request_supplement", items=[
        {"material": "居民身份证", "reason": "再看一次"}])
    assert again.status_code == 422 and "cannot be asked for again" in again.text

    wrong_fields = await act(client, handling, case_id, "approve", reasons=["符合购房落户条件"],
                             certificate_fields={**HOUSEHOLD_FIELDS, "household_type": 5})
    assert wrong_fields.status_code == 422, wrong_fields.text
    assert [e["pointer"] for e in wrong_fields.json()["errors"]] == ["#/certificate_fields/household_type"]
    approved = await act(client, handling, case_id, "approve", reasons=["符合购房落户条件"],
                         certificate_fields=HOUSEHOLD_FIELDS)
    assert approved.status_code == 200, approved.text
    decided = approved.json()
    assert decided["state"] == "approved" and decided["decision"]["outcome"] == "approved"
    certificate = await services.db.pool.fetchrow(
        "SELECT authority_id, certificate_type, case_id, citizen_id FROM certificates WHERE id = $1",
        uuid.UUID(decided["certificate_id"]))
    assert dict(certificate) == {"authority_id": "510000-gat", "certificate_type": "household_register",
                                 "case_id": uuid.UUID(case_id), "citizen_id": uuid.UUID(person["id"])}

    no_tracking = await act(client, handling, case_id, "deliver", delivery={"method": "post"})
    assert no_tracking.status_code == 422
    delivered = await act(client, handling, case_id, "deliver",
                          delivery={"method": "post", "tracking_number": "SF1234567890"})
    assert delivered.status_code == 200, delivered.text
    closed = await act(client, receiving, case_id, "close")
    assert closed.status_code == 200 and closed.json()["state"] == "closed"

    final = (await client.get(f"/me/cases/{case_id}", headers=person["headers"])).json()
    assert [s["step"] for s in final["timeline"]] == [
        "apply", "receive", "hand_over", "accept", "start_review", "request_supplement", "supplement", "approve",
        "deliver", "close"]
    assert [s["division"] for s in final["timeline"][:4]] == ["330106", "330106", "330106", "510104"]
    assert set(final["timeline"][0]) == {"step", "state", "state_name", "at", "division", "division_name"}
    assert "staff:" not in str(final)
    chain = await client.get(f"/staff/cases/{case_id}", headers=bearer(handling))
    verdict = await services.cases.workflow.hand_over.verify(case["number"])
    assert chain.status_code == 200 and verdict.ok and verdict.entries == 2 and verdict.holder == "510104"
    row = await services.db.pool.fetchrow(
        "SELECT handover_seconds, review_seconds, delivery_seconds FROM cases WHERE id = $1", uuid.UUID(case_id))
    assert None not in tuple(row)

    kinds = [r["kind"] for r in await services.db.pool.fetch(
        "SELECT kind FROM notifications WHERE citizen_id = $1 ORDER BY created_at", uuid.UUID(person["id"]))]
    assert kinds == ["case.received", "case.received", "case.supplement_requested", "case.decided", "case.result_ready"]
    texts = await services.db.pool.fetch("SELECT body FROM sms_outbox WHERE phone_hash = $1",
                                         services.cipher.lookup_hash(person["phone"], purpose="phone"))
    assert sum(case["number"] in t["body"] for t in texts) == 5
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'case' AND record_id = $1 ORDER BY at, seq", case_id)]
    for action in ("case.applied", "case.receive", "case.hand_over", "case.accept", "case.request_supplement",
                   "case.supplement", "case.approve", "case.deliver", "case.close"):
        assert action in actions


async def test_staff_outside_the_case_and_other_citizens_get_the_answer_of_a_missing_case(client, services):
    person = await applicant(client, services, "id_card")
    other = await applicant(client, services, "id_card", name="李秀英")
    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    beijing = await staff_token(client, services, "handling_officer", "110000")
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    missing = str(uuid.uuid4())

    foreign = await client.get(f"/staff/cases/{case['id']}", headers=bearer(beijing))
    absent = await client.get(f"/staff/cases/{missing}", headers=bearer(beijing))
    foreign_act = await act(client, beijing, case["id"], "accept")
    absent_act = await act(client, beijing, missing, "accept")
    stranger = await client.get(f"/me/cases/{case['id']}", headers=other["headers"])
    nobody = await client.get(f"/me/cases/{missing}", headers=other["headers"])
    in_scope = await client.get(f"/staff/cases/{case['id']}", headers=bearer(sichuan))
    listed = await client.get("/staff/cases", headers=bearer(beijing))

    for refused, absent_one in [(foreign, absent), (foreign_act, absent_act), (stranger, nobody)]:
        assert refused.status_code == absent_one.status_code == 404
        assert refused.json()["detail"] == absent_one.json()["detail"]
    assert in_scope.status_code == 200 and in_scope.json()["allowed_actions"] == ["accept", "refuse"]
    assert in_scope.json()["applicant"]["name"] == "陈静"
    assert case["id"] not in listed.text

    zhejiang = await staff_token(client, services, "receiving_officer", "330000")
    sent = await client.post(f"/staff/cases/{case['id']}/messages", headers=bearer(sichuan), json={"body": "请核对身份证有效期"})
    outsider = await client.post(f"/staff/cases/{case['id']}/messages", headers=bearer(beijing), json={"body": "?"})
    seen = await client.get(f"/staff/cases/{case['id']}", headers=bearer(zhejiang))
    citizen_view = await client.get(f"/me/cases/{case['id']}", headers=person["headers"])
    assert sent.status_code == 201 and sent.json()["division"] == "510000"
    assert outsider.status_code == 404
    assert [m["body"] for m in seen.json()["messages"]] == ["请核对身份证有效期"]
    assert "请核对身份证有效期" not in citizen_view.text
    refusals = await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_id = $1 AND action LIKE 'case.%refused'", case["id"])
    assert sorted(r["action"] for r in refusals) == [
        "case.access_refused", "case.access_refused", "case.action_refused", "case.message_refused"]
    # A lookup of a case that does not exist is audited too, told apart only in the auditors' detail.
    misses = await services.db.pool.fetch(
        "SELECT action, actor_id, detail->>'reason' AS reason FROM audit_log WHERE record_id = $1 ORDER BY seq", missing)
    assert sorted((r["action"], r["reason"]) for r in misses) == [
        ("case.access_refused", "missing"), ("case.access_refused", "missing"), ("case.action_refused", "missing")]


async def test_two_officers_accepting_at_once_one_wins_and_the_other_gets_409(client, services):
    person = await applicant(client, services, "id_card")
    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    first, second = [await staff_token(client, services, "handling_officer", "510000") for _ in range(2)]

    answers = await at_once(services, act(client, first, case["id"], "accept"), act(client, second, case["id"], "accept"))

    assert sorted(a.status_code for a in answers) == [200, 409]
    events = await services.db.pool.fetchval(
        "SELECT count(*) FROM case_events WHERE case_id = $1 AND action = 'accept'", uuid.UUID(case["id"]))
    assert events == 1


async def test_bad_applications_and_withdrawal(client, services):
    person = await applicant(client, services, "id_card")
    stranger = await applicant(client, services, "id_card", name="王建国")
    joint = await client.post("/me/cases", headers=person["headers"], json=record_application(person, mode="joint"))
    assert joint.status_code == 422 and joint.json()["type"] == "/problems/mode-not-offered"
    in_place = {**record_application(person, mode="proxy"), "receiving_division": "510104"}  # 成都锦江 itself
    here = await client.post("/me/cases", headers=person["headers"], json=in_place)
    assert here.status_code == 422 and here.json()["type"] == "/problems/mode-not-offered", here.text
    assert here.json()["errors"][0]["pointer"] == "#/mode" and here.json()["offered"] == ["online"]
    assert "apply online" in here.json()["detail"]
    bad_form = record_application(person)
    bad_form["form"]["phone"] = "12"
    invalid = await client.post("/me/cases", headers=person["headers"], json=bad_form)
    assert invalid.status_code == 422 and invalid.json()["errors"][0]["pointer"] == "#/form/phone"
    borrowed = record_application(person)
    borrowed["materials"][0]["certificate_id"] = stranger["certificates"]["id_card"]
    theirs = await client.post("/me/cases", headers=person["headers"], json=borrowed)
    assert theirs.status_code == 422 and theirs.json()["errors"][0]["pointer"] == "#/materials/0/certificate_id"
    missing = {**record_application(person), "materials": []}
    assert (await client.post("/me/cases", headers=person["headers"], json=missing)).status_code == 422
    assert await services.db.pool.fetchval("SELECT count(*) FROM cases WHERE citizen_id = $1",
                                           uuid.UUID((await client.get("/me", headers=person["headers"])).json()["id"])) == 0

    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    withdrawn = await client.post(f"/me/cases/{case['id']}/withdrawal", headers=person["headers"], json={"reason": "不办了"})
    assert withdrawn.status_code == 200 and withdrawn.json()["state"] == "withdrawn"
    twice = await client.post(f"/me/cases/{case['id']}/withdrawal", headers=person["headers"], json={})
    assert twice.status_code == 409
    listed = (await client.get("/me/cases", headers=person["headers"])).json()
    assert listed["total"] == 1 and listed["items"][0]["state"] == "withdrawn"
    table = (await client.get("/case-states")).json()
    assert {"from_state": "supplement_requested", "action": "supplement", "to_state": "supplemented",
            "roles": ["citizen"], "modes": ["online", "proxy", "joint"]} in table


async def test_a_nul_character_anywhere_in_a_body_is_refused_at_its_field_and_nothing_is_written(client, services):
    """PostgreSQL's text cannot hold NUL: refused when the body is read, naming the field, never a 500."""
    person = await applicant(client, services, "id_card")
    officer = await staff_token(client, services, "handling_officer", "510000")
    bad_form = record_application(person)
    bad_form["form"]["purpose"] = "购\u0000房"
    applied = await client.post("/me/cases", headers=person["headers"], json=bad_form)
    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    message = await client.post(f"/staff/cases/{case['id']}/messages", headers=bearer(officer), json={"body": "a\u0000"})
    refusal = await act(client, officer, case["id"], "refuse", reasons=["材料齐全", "\u0000"])
    withdrawal = await client.post(f"/me/cases/{case['id']}/withdrawal", headers=person["headers"],
                                   json={"reason": "\u0000"})

    for answer, pointer in ((applied, "#/form/purpose"), (message, "#/body"), (refusal, "#/reasons/1"),
                            (withdrawal, "#/reason")):
        assert answer.status_code == 422, answer.text
        assert [e["pointer"] for e in answer.json()["errors"]] == [pointer]
    after = (await client.get(f"/staff/cases/{case['id']}", headers=bearer(officer))).json()
    assert after["state"] == "submitted" and after["messages"] == []
    assert (await client.get("/me/cases", headers=person["headers"])).json()["total"] == 1


async def test_retries_of_one_application_at_once_make_one_case_and_all_answer_it(client, services):
    person = await applicant(client, services, "id_card")
    key = {**person["headers"], "Idempotency-Key": f"apply-{uuid.uuid4()}"}
    application = record_application(person)

    answers = await at_once(services, *(client.post("/me/cases", headers=key, json=application) for _ in range(4)))

    assert [a.status_code for a in answers] == [201] * 4, [a.text for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1 and len({a.json()["number"] for a in answers}) == 1
    assert sorted(a.headers.get("Idempotent-Replayed", "false") for a in answers) == ["false"] + ["true"] * 3
    cases = await services.db.pool.fetch("SELECT id FROM cases WHERE citizen_id = $1", uuid.UUID(person["id"]))
    assert [str(c["id"]) for c in cases] == [answers[0].json()["id"]]
    applied = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'case.applied' AND record_id = $1", answers[0].json()["id"])
    assert applied == 1


async def test_an_approved_result_sent_back_to_the_receiving_place_is_signed_both_ways(client, services):
    from backend.cases.exchange_records import material_digest, result_digest

    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    handling = await staff_token(client, services, "handling_officer", "510000")
    case = (await client.post("/me/cases", headers=person["headers"], json=household_application(person))).json()
    for token, action, body in [(receiving, "receive", {}), (receiving, "hand_over", {}), (handling, "accept", {}),
                                (handling, "start_review", {}),
                                (handling, "approve", {"reasons": ["符合条件"], "certificate_fields": HOUSEHOLD_FIELDS})]:
        moved = await act(client, token, case["id"], action, **body)
        assert moved.status_code == 200, (action, moved.text)
    assert "send_result" in moved.json()["allowed_actions"] and "deliver" in moved.json()["allowed_actions"]

    not_theirs = await act(client, receiving, case["id"], "send_result")
    assert not_theirs.status_code == 403
    # A window's collection is the receiving place's, after the signed way back: not straight from approved.
    at_a_window = await act(client, handling, case["id"], "deliver", delivery={"method": "window", "window": "杭州西湖 3 号窗口"})
    assert at_a_window.status_code == 422 and at_a_window.json()["errors"][0]["pointer"] == "#/delivery/method"
    # Sent twice at once: one wins under the case's row lock, the other finds it sent (one signed record).
    answers = await at_once(services, act(client, handling, case["id"], "send_result", note="纸质凭证已寄往杭州窗口"),
                            act(client, handling, case["id"], "send_result"))
    assert sorted(a.status_code for a in answers) == [200, 409], [a.text for a in answers]
    sent = next(a for a in answers if a.status_code == 200)
    assert sent.json()["state"] == "result_sent" and sent.json()["allowed_actions"] == []
    handed_back = await act(client, handling, case["id"], "deliver", delivery={"method": "window", "window": "杭州西湖 3 号窗口"})
    assert handed_back.status_code == 403  # the receiving place gives it to the applicant now
    delivered = await act(client, receiving, case["id"], "deliver", delivery={"method": "window", "window": "杭州西湖 3 号窗口"})
    assert delivered.status_code == 200, delivered.text
    mine = (await client.get(f"/me/cases/{case['id']}", headers=person["headers"])).json()
    assert mine["asked_now"]["action"] == "collect"
    assert [s["step"] for s in mine["timeline"]][-2:] == ["send_result", "deliver"]

    verdict = await services.cases.workflow.hand_over.verify(case["number"])
    assert (verdict.ok, verdict.entries, verdict.holder) == (True, 4, "330106")
    records = [json.loads(e.body) for e in await services.cases.workflow.hand_over.chain(case["number"])]
    assert [(r["kind"], r.get("from"), r.get("to"), r.get("division")) for r in records] == [
        ("handover", "330106", "510104", None), ("acceptance", None, None, "510104"),
        ("result", "510104", "330106", None), ("acceptance", None, None, "330106")]
    row = await services.db.pool.fetchrow(
        "SELECT c.number, c.decision, c.decision_reasons, c.decided_at, x.qr_text FROM cases c "
        "JOIN certificates x ON x.id = c.certificate_id WHERE c.id = $1", uuid.UUID(case["id"]))
    expected = result_digest(case_number=row["number"], decision=row["decision"], reasons=row["decision_reasons"],
                             decided_at=row["decided_at"], certificate=material_digest(row["qr_text"].encode()))
    assert records[2]["result"] == expected.hex() and records[2]["decision"] == "approved"
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'case' AND record_id = $1", case["id"])]
    assert {"case.send_result", "case_exchange.result_sent", "case_exchange.countersigned"} <= set(actions)

    # An online case never changed hands: its result has no way back to a receiving place.
    async with services.db.connection() as conn:
        table = await services.cases.workflow.table(conn)
    assert table.move("approved", "send_result", "online") is None
    assert table.move("approved", "send_result", "joint") is not None


async def test_a_later_supplement_request_asks_only_about_what_the_last_answer_re_submitted(client, services):
    """补正 once and complete: the first request names everything missing or wrong; a second may ask again
    about a re-submitted material, never about one accepted or one never given (居住证, optional here)."""
    person = await applicant(client, services, "id_card")
    case = (await client.post("/me/cases", headers=person["headers"],
                              json=await marriage_application(client, person))).json()
    handling = await in_review(client, services, case)
    first = await act(client, handling, case["id"], "request_supplement",
                      items=[{"material": "双方合影2寸照片", "reason": "照片不清晰"}])
    assert first.status_code == 200, first.text
    photo = await upload(client, person, png(), "新合影.png", "image/png")
    answered = await client.post(f"/me/cases/{case['id']}/supplement", headers=person["headers"],
                                 json={"materials": [{"name": "双方合影2寸照片", "material_id": photo}]})
    assert answered.status_code == 200, answered.text

    never_given = await act(client, handling, case["id"], "request_supplement",
                            items=[{"material": "居住证", "reason": "请补充居住证"}])
    accepted = await act(client, handling, case["id"], "request_supplement",
                         items=[{"material": "双方居民身份证", "reason": "看不清"}])
    again = await act(client, handling, case["id"], "request_supplement",
                      items=[{"material": "双方合影2寸照片", "reason": "仍不清晰"}])

    assert never_given.status_code == 422 and never_given.json()["errors"][0]["pointer"] == "#/items/0/material"
    assert "re-submitted" in never_given.json()["errors"][0]["detail"]
    assert accepted.status_code == 422 and "accepted" in accepted.json()["errors"][0]["detail"]
    assert again.status_code == 200 and again.json()["supplement_count"] == 2
