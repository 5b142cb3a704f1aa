"""好差评 and supervision over HTTP: the applicant rates once after the result; a poor rating opens a
follow-up only the handling division's supervisors see and close (the receiving division's, for a case
refused at receipt); supervisors read their divisions'
figures; /metrics carries national counters only."""

from __future__ import annotations

import datetime as dt
import uuid

from backend.china_time import today
from tests.cases.conftest import act, applicant, record_application
from tests.concurrency import at_once
from tests.factories import bearer, staff_token


async def rejected_case(client, services, person, handling) -> str:
    applied = await client.post("/me/cases", headers=person["headers"], json=record_application(person))
    assert applied.status_code == 201, applied.text
    case_id = applied.json()["id"]
    for action, body in [("accept", {}), ("start_review", {}), ("reject", {"reasons": ["婚姻登记档案无记录"]})]:
        moved = await act(client, handling, case_id, action, **body)
        assert moved.status_code == 200, (action, moved.text)
    return case_id


async def test_a_poor_rating_is_followed_up_by_a_supervisor_of_the_handling_division(client, services):
    person = await applicant(client, services, "id_card")
    stranger = await applicant(client, services, "id_card", name="王芳")
    handling = await staff_token(client, services, "handling_officer", "510000")
    sichuan = await staff_token(client, services, "supervisor", "510000")
    zhejiang = await staff_token(client, services, "supervisor", "330000")
    early = await client.post("/me/cases", headers=person["headers"], json=record_application(person))

    too_early = await client.post(f"/me/cases/{early.json()['id']}/rating", headers=person["headers"],
                                  json={"score": 1})
    case_id = await rejected_case(client, services, person, handling)
    not_mine = await client.post(f"/me/cases/{case_id}/rating", headers=stranger["headers"], json={"score": 5})
    rated = await client.post(f"/me/cases/{case_id}/rating", headers=person["headers"],
                              json={"score": 2, "comment": "等了很久才告知无记录"})
    again = await client.post(f"/me/cases/{case_id}/rating", headers=person["headers"], json={"score": 5})
    out_of_range = await client.post(f"/me/cases/{case_id}/rating", headers=person["headers"], json={"score": 6})

    assert too_early.status_code == 409 and too_early.json()["type"] == "/problems/rating-not-open"
    assert not_mine.status_code == 404
    assert rated.status_code == 201, rated.text
    assert rated.json()["score"] == 2 and rated.json()["follow_up"] == "open"
    assert again.status_code == 409 and again.json()["type"] == "/problems/already-rated"
    assert out_of_range.status_code == 400 or out_of_range.status_code == 422

    listed = await client.get("/staff/rating-follow-ups?state=open", headers=bearer(sichuan))
    elsewhere = await client.get("/staff/rating-follow-ups", headers=bearer(zhejiang))
    officer = await client.get("/staff/rating-follow-ups", headers=bearer(handling))
    assert listed.status_code == 200, listed.text
    follow_up = next(f for f in listed.json()["items"] if f["case_id"] == case_id)
    assert follow_up["comment"] == "等了很久才告知无记录" and follow_up["handling_division"] == "510104"
    assert case_id not in [f["case_id"] for f in elsewhere.json()["items"]]
    assert officer.status_code == 403

    foreign = await client.post(f"/staff/rating-follow-ups/{follow_up['id']}/closure", headers=bearer(zhejiang),
                                json={"note": "已处理"})
    closed = await client.post(f"/staff/rating-follow-ups/{follow_up['id']}/closure", headers=bearer(sichuan),
                               json={"note": "已致电申请人说明档案情况，并督促窗口提前告知"})
    twice = await client.post(f"/staff/rating-follow-ups/{follow_up['id']}/closure", headers=bearer(sichuan),
                              json={"note": "again"})
    mine = await client.get(f"/me/cases/{case_id}/rating", headers=person["headers"])

    assert foreign.status_code == 404
    assert closed.status_code == 200 and closed.json()["state"] == "closed" and closed.json()["note"].startswith("已致电")
    assert twice.status_code == 409
    assert mine.json()["follow_up"] == "closed"
    async with services.db.connection() as conn:
        actions = await conn.fetch(
            "SELECT action FROM audit_log WHERE record_id IN ($1, $2) ORDER BY seq", case_id, follow_up["id"])
    assert {"case.rated", "rating_follow_up.closed", "rating_follow_up.access_refused"} <= {r["action"] for r in actions}


async def test_supervisors_read_their_divisions_figures_and_metrics_stay_unscoped(client, services):
    person = await applicant(client, services, "id_card")
    handling = await staff_token(client, services, "handling_officer", "510000")
    sichuan = await staff_token(client, services, "supervisor", "510000")
    guangdong = await staff_token(client, services, "supervisor", "440000")
    day = today().isoformat()

    async def figures(token: str, **query: str):
        response = await client.get("/staff/monitoring/cases", headers=bearer(token),
                                    params={"from": day, "to": day, **query})
        assert response.status_code == 200, response.text
        return response.json()

    before = await figures(sichuan)
    rejected = await rejected_case(client, services, person, handling)
    supplemented = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    for action, body in [("accept", {}), ("start_review", {}),
                         ("request_supplement", {"items": [{"material": "居民身份证", "reason": "证件已过期"}]})]:
        assert (await act(client, handling, supplemented["id"], action, **body)).status_code == 200
    late = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    for action in ("accept", "start_review"):
        assert (await act(client, handling, late["id"], action)).status_code == 200
    assert (await client.post(f"/me/cases/{rejected}/rating", headers=person["headers"],
                              json={"score": 4})).status_code == 201
    async with services.db.connection() as conn:  # deadlines as the calendar would set them: one met, two passed
        await conn.execute("UPDATE cases SET deadline = $2 WHERE id = $1", uuid.UUID(rejected),
                           today() + dt.timedelta(days=10))
        await conn.execute("UPDATE cases SET deadline = $2 WHERE id = ANY($1::uuid[])",
                           [uuid.UUID(supplemented["id"]), uuid.UUID(late["id"])], today() - dt.timedelta(days=1))
    after = await figures(sichuan)
    county = await figures(sichuan, division="510104")
    other = await figures(guangdong)
    outside = await client.get("/staff/monitoring/cases", headers=bearer(guangdong),
                               params={"from": day, "to": day, "division": "510000"})
    backwards = await client.get("/staff/monitoring/cases", headers=bearer(sichuan),
                                 params={"from": day, "to": "2020-01-01"})
    officer = await client.get("/staff/monitoring/cases", headers=bearer(handling), params={"from": day, "to": day})
    # A county's supervisor asking with a longer code (whose prefix would be the city's or the province's),
    # or for days no case can fall on, is refused at the field.
    county_supervisor = await staff_token(client, services, "supervisor", "510108")
    longer = [await client.get("/staff/monitoring/cases", headers=bearer(county_supervisor),
                               params={"from": day, "to": day, "division": code}) for code in ("51010800", "5101080000")]
    extreme = [await client.get("/staff/monitoring/cases", headers=bearer(sichuan), params=dates)
               for dates in ({"from": day, "to": "9999-12-31"}, {"from": "0001-01-01", "to": day})]

    def count(report, dimension, key):
        return next((c["count"] for c in report[dimension] if c["key"] == key), 0)

    assert after["cases"] - before["cases"] == 3 and county["cases"] == after["cases"]
    assert count(after, "by_mode", "online") - count(before, "by_mode", "online") == 3
    assert count(after, "by_state", "rejected") - count(before, "by_state", "rejected") == 1
    assert count(after, "by_state", "supplement_requested") - count(before, "by_state", "supplement_requested") == 1
    assert count(after, "by_item", "MZ-20-001-00") - count(before, "by_item", "MZ-20-001-00") == 3
    assert after["on_time"]["decided"] - before["on_time"]["decided"] == 1
    assert after["on_time"]["on_time"] - before["on_time"]["on_time"] == 1
    # The passed deadline of the case paused for its 补正 does not count; the one in review does.
    assert after["on_time"]["overdue_open"] - before["on_time"]["overdue_open"] == 1
    assert after["supplements"]["cases_with_supplement"] - before["supplements"]["cases_with_supplement"] == 1
    review = {s["stage"]: s for s in after["stages"]}["review"]
    assert review["cases"] >= 1 and review["p50_seconds"] is not None and review["p90_seconds"] >= review["p50_seconds"]
    assert after["ratings"]["distribution"]["4"] - before["ratings"]["distribution"]["4"] == 1
    assert other["cases"] == 0 and other["ratings"]["count"] == 0
    assert outside.status_code == 403 and backwards.status_code == 422 and officer.status_code == 403
    for answer in longer:
        assert answer.status_code == 422 and answer.json()["errors"][0]["pointer"] == "#/division", answer.text
    assert [a.status_code for a in extreme] == [422, 422]
    assert [a.json()["errors"][0]["pointer"] for a in extreme] == ["#/to", "#/from"]

    metrics = (await client.get("/metrics")).text
    case_lines = [line for line in metrics.splitlines() if line.startswith("tongban_case")]
    assert any(line.startswith('tongban_case_ratings_total{score="4"}') for line in case_lines)
    assert any(line.startswith("tongban_cases_applied_total") for line in case_lines)
    assert not [line for line in case_lines if "division" in line or "510104" in line or "330106" in line]


async def test_two_ratings_of_one_case_at_once_one_is_kept_and_the_other_is_told_it_was_rated(client, services):
    person = await applicant(client, services, "id_card")
    handling = await staff_token(client, services, "handling_officer", "510000")
    case_id = await rejected_case(client, services, person, handling)

    answers = await at_once(services, *(client.post(f"/me/cases/{case_id}/rating", headers=person["headers"],
                                                    json={"score": score, "comment": f"打 {score} 分"})
                                        for score in (1, 2)))

    assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
    kept, refused = sorted(answers, key=lambda a: a.status_code)
    assert refused.json()["type"] == "/problems/already-rated"
    assert refused.headers["content-type"].startswith("application/problem+json")
    mine = (await client.get(f"/me/cases/{case_id}/rating", headers=person["headers"])).json()
    assert (mine["score"], mine["follow_up"]) == (kept.json()["score"], "open")
    counts = await services.db.pool.fetchrow(
        """SELECT (SELECT count(*) FROM case_ratings WHERE case_id = $1) AS ratings,
                  (SELECT count(*) FROM rating_follow_ups WHERE case_id = $1) AS follow_ups,
                  (SELECT count(*) FROM audit_log WHERE record_id = $2 AND action = 'case.rated') AS audited""",
        uuid.UUID(case_id), case_id)
    assert dict(counts) == {"ratings": 1, "follow_ups": 1, "audited": 1}


async def test_a_poor_rating_of_a_case_refused_at_receipt_is_followed_up_where_it_was_refused(client, services):
    from tests.cases.conftest import household_application

    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    sichuan = await staff_token(client, services, "supervisor", "510000")
    zhejiang = await staff_token(client, services, "supervisor", "330000")
    applied = await client.post("/me/cases", headers=person["headers"], json=household_application(person))
    case_id = applied.json()["id"]
    refused = await act(client, receiving, case_id, "refuse_receipt", reasons=["居民身份证已过有效期"])
    assert refused.status_code == 200, refused.text

    rated = await client.post(f"/me/cases/{case_id}/rating", headers=person["headers"], json={"score": 1})

    assert rated.status_code == 201 and rated.json()["follow_up"] == "open"
    there = (await client.get("/staff/rating-follow-ups", headers=bearer(zhejiang))).json()["items"]
    not_there = (await client.get("/staff/rating-follow-ups", headers=bearer(sichuan))).json()["items"]
    assert case_id in [f["case_id"] for f in there] and case_id not in [f["case_id"] for f in not_there]
    assert next(f for f in there if f["case_id"] == case_id)["division"] == "330106"
    entry = await services.db.pool.fetchrow(
        "SELECT division_code FROM audit_log WHERE action = 'case.rated' AND record_id = $1", case_id)
    assert entry["division_code"] == "330106"
