"""The paying agency's roster: who runs it, who serves a pensioner (the residence division, whichever
province pays), the due / due-soon / overdue views, and suspension as a recorded decision that a later
recognition lifts with the back-payment period stated."""

import datetime as dt

from backend.china_time import today
from tests.eligibility.helpers import AGENCY, agency, pensioner, step_up, window_staff
from tests.factories import bearer, staff_token


async def test_the_agency_sees_due_due_soon_and_overdue_per_residence_division(client, services):
    officer = await agency(client, services)
    overdue = await pensioner(client, services, officer, due_in_days=-20, enrol=False, consent=False)
    soon = await pensioner(client, services, officer, due_in_days=10, enrol=False, consent=False)
    await pensioner(client, services, officer, due_in_days=60, enrol=False, consent=False, residence="510107")
    await pensioner(client, services, officer, due_in_days=200, enrol=False, consent=False)

    flagged = await client.get("/staff/pension/roster", params={"standing": "overdue"}, headers=bearer(officer))
    everyone = await client.get("/staff/pension/roster", headers=bearer(officer))
    summary = await client.get("/staff/pension/summary", headers=bearer(officer))
    in_hangzhou = await client.get("/staff/pension/roster", params={"residence_division": "330100"},
                                   headers=bearer(officer))

    assert [e["id"] for e in flagged.json()] == [overdue["entry"]["id"]]
    assert [e["standing"] for e in everyone.json()] == ["overdue", "due-soon", "due", "not-due"]
    assert everyone.json()[0]["resident_id_masked"].count("*") >= 10
    assert {row["residence_division"]: (row["on_roster"], row["due"], row["due_soon"], row["overdue"])
            for row in summary.json()} == {"330106": (3, 0, 1, 1), "510107": (1, 1, 0, 0)}
    assert {e["id"] for e in in_hangzhou.json()} >= {overdue["entry"]["id"], soon["entry"]["id"]}
    assert len(in_hangzhou.json()) == 3


async def test_only_the_paying_agency_runs_its_roster_and_only_residence_staff_serve(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, enrol=False, consent=False)
    entry = f"/staff/pension/roster/{citizen['entry']['id']}"
    zhejiang_officer = await staff_token(client, services, "pension_officer", "330000")
    chengdu_window = await window_staff(client, services, "510100")
    hangzhou_window = await window_staff(client, services)

    other_agency = await client.get(entry, headers=bearer(zhejiang_officer))
    missing = await client.get("/staff/pension/roster/00000000-0000-0000-0000-000000000000",
                               headers=bearer(zhejiang_officer))
    home_province_window = await client.get(entry, headers=bearer(chengdu_window))
    residence_window = await client.get(entry, headers=bearer(hangzhou_window))
    window_suspends = await client.post(f"{entry}/suspension", json={"reason": "x"}, headers=bearer(hangzhou_window))
    not_theirs = await client.get("/staff/pension/roster", headers=bearer(zhejiang_officer))
    other_roster = await client.post(f"/staff/pension/agencies/{AGENCY}/roster", headers=bearer(zhejiang_officer),
                                     json={"resident_id": citizen["resident_id"], "residence_division": "330106",
                                           "scheme": "employee"})
    other_settings = await client.put(f"/staff/pension/agencies/{AGENCY}", headers=bearer(zhejiang_officer),
                                      json={"name": "x"})

    assert other_agency.status_code == 404 and home_province_window.status_code == 404
    strip = lambda r: {k: v for k, v in r.json().items() if k not in ("instance", "request_id")}  # noqa: E731
    assert strip(other_agency) == strip(missing)
    assert residence_window.status_code == 200
    assert window_suspends.status_code == 403
    assert not_theirs.json() == []
    assert other_roster.status_code == 404 and other_settings.status_code == 403
    tried = await services.db.pool.fetch(
        "SELECT action, record_id FROM audit_log WHERE action IN ('pension_roster.add_refused', "
        "'pension_agency.set_refused') ORDER BY action")
    assert [(r["action"], r["record_id"]) for r in tried] == [("pension_agency.set_refused", AGENCY),
                                                             ("pension_roster.add_refused", AGENCY)]
    refusals = await services.db.pool.fetch(
        "SELECT detail->>'reason' AS reason FROM audit_log WHERE action = 'pension_roster.refused'")
    # Found or not, each is audited (seq counts within a chain, so no order is asserted).
    assert sorted(r["reason"] for r in refusals) == ["missing", "out-of-reach", "out-of-reach"]


async def test_suspension_is_the_officers_decision_and_a_recognition_lifts_it_with_back_pay(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer, due_in_days=-40)
    entry = f"/staff/pension/roster/{citizen['entry']['id']}"
    not_overdue = await pensioner(client, services, officer, due_in_days=5, enrol=False, consent=False)

    untouched = await client.get(entry, headers=bearer(officer))
    early = await client.post(f"/staff/pension/roster/{not_overdue['entry']['id']}/suspension",
                              json={"reason": "逾期未认证"}, headers=bearer(officer))
    suspended = await client.post(f"{entry}/suspension", json={"reason": "逾期未认证"}, headers=bearer(officer))
    precheck = await client.get("/me/pension/precheck", headers=bearer(citizen["access_token"]))
    token = await step_up(client, citizen)
    recognised = await client.post("/me/pension/recognitions", headers=bearer(token))
    decisions = await client.get(f"{entry}/decisions", headers=bearer(officer))

    assert untouched.json()["status"] == "paying"  # overdue alone suspends nothing
    assert early.status_code == 409
    assert suspended.status_code == 201, suspended.text
    since = (today() - dt.timedelta(days=39)).isoformat()
    assert suspended.json()["suspended_from"] == since
    assert "suspended" in [r["code"] for r in precheck.json()["reasons"]] and precheck.json()["ready"] is True
    assert recognised.status_code == 201, recognised.text
    resumed = recognised.json()["resumed"]
    assert resumed["decision"] == "resumed" and resumed["back_pay_from"] == since
    assert resumed["back_pay_to"] == today().isoformat()
    assert [d["decision"] for d in decisions.json()] == ["resumed", "suspended"]
    assert (await client.get(entry, headers=bearer(officer))).json()["status"] == "paying"
    event = await services.db.pool.fetchval("SELECT payload FROM event_outbox WHERE kind = 'pension.recognised'")
    assert event["resumed"]["back_pay_from"] == since


async def test_roster_input_is_checked_field_by_field(client, services):
    officer = await agency(client, services)
    url = f"/staff/pension/agencies/{AGENCY}/roster"
    bad = {
        "#/resident_id": {"resident_id": "510107195203150011", "residence_division": "330106", "scheme": "employee"},
        "#/residence_division": {"resident_id": "510107195203150010", "residence_division": "990000",
                                 "scheme": "employee"},
        "#/scheme": {"resident_id": "510107195203150010", "residence_division": "330106", "scheme": "gold"},
        # A recognition that has not happened yet, and a due date no recognition today would give.
        "#/last_recognised_on": {"resident_id": "510107195203150010", "residence_division": "330106",
                                 "scheme": "employee", "last_recognised_on": "9999-06-01"},
        "#/next_due": {"resident_id": "510107195203150010", "residence_division": "330106", "scheme": "employee",
                       "next_due": (today() + dt.timedelta(days=400)).isoformat()},
    }
    for pointer, body in bad.items():
        response = await client.post(url, json=body, headers=bearer(officer))
        assert response.status_code == 422, (pointer, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer
    unregistered = await client.post(url, headers=bearer(officer), json={
        "resident_id": "510107195203150010", "residence_division": "330106", "scheme": "employee"})
    assert unregistered.status_code == 422 and "register" in unregistered.json()["detail"]
    agency_bad = await client.put(f"/staff/pension/agencies/{AGENCY}", headers=bearer(officer),
                                  json={"name": "x", "window_months": 0})
    assert agency_bad.status_code == 422
    assert await services.db.pool.fetchval("SELECT count(*) FROM pension_roster") == 0


async def test_a_six_month_window_sets_the_next_due_date(client, services):
    officer = await agency(client, services, window_months=6)
    citizen = await pensioner(client, services, officer)
    token = await step_up(client, citizen)

    recognised = await client.post("/me/pension/recognitions", headers=bearer(token))

    from backend.eligibility.rules import add_months

    assert recognised.json()["next_due"] == add_months(today(), 6).isoformat()
