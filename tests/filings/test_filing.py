"""Filing an annual report: draft, save, submit against the kind's form schema, receipt; windows,
late filings, duplicates and amendments that keep the original."""

from __future__ import annotations

import datetime as dt

import asyncpg
import pytest

from tests.events.helpers import subscribe
from tests.factories import bearer
from tests.filings.conftest import REPORT, on, organisation, submitted


async def test_an_annual_report_is_drafted_saved_submitted_and_gets_a_receipt(client, services):
    on(services, dt.date(2026, 3, 1))
    org = await organisation(client, services)
    token = org["representative"]["access_token"]

    due = (await client.get("/me/obligations", headers=bearer(token))).json()
    draft = await client.post("/me/filings", headers=bearer(token), json={
        "obligation_id": org["obligation"], "period": 2025, "form": {"contact_name": "王建国"}})
    saved = await client.patch(f"/me/filings/{draft.json()['id']}", headers=bearer(token),
                               json={"form": {"phone": "13800000002", "employees": 12, "contact_name": None}})
    completed = await client.patch(f"/me/filings/{draft.json()['id']}", headers=bearer(token),
                                   json={"form": {"contact_name": "王建国"}})
    submission = await client.post(f"/me/filings/{draft.json()['id']}/submission", headers=bearer(token))
    receipt = await client.get(f"/me/filings/{draft.json()['id']}/receipt.pdf", headers=bearer(token))
    after = (await client.get("/me/obligations", headers=bearer(token))).json()

    [report] = due
    assert report["obligation"]["kind_name"] == "企业年度报告" and report["obligation"]["subject"]["identifier"] == org["code"]
    assert [(p["period"], p["status"]) for p in report["periods"]] == [(2026, "not-open"), (2025, "due"), (2024, "missing")]
    assert report["periods"][1]["window_opens"] == "2026-01-01" and report["periods"][1]["window_closes"] == "2026-06-30"
    assert draft.status_code == 201, draft.text
    body = draft.json()
    assert body["state"] == "draft" and body["bound"] == {
        "organisation_name": "成都示例科技有限公司", "credit_code": org["code"], "report_year": 2025}
    assert {p["pointer"] for p in body["problems"]} == {"#/form/phone", "#/form/employees"}
    assert saved.status_code == 200, saved.text
    assert saved.json()["form"] == {"phone": "138****0002", "employees": 12}
    assert {p["pointer"] for p in saved.json()["problems"]} == {"#/form/contact_name"}
    assert completed.json()["problems"] == []
    assert submission.status_code == 200, submission.text
    filed = submission.json()
    assert filed["state"] == "submitted" and filed["late"] is False
    assert filed["receipt_number"].startswith("NB510100-2025-") and len(filed["form_digest"]) == 64
    assert receipt.status_code == 200 and receipt.headers["content-type"] == "application/pdf"
    assert receipt.content.startswith(b"%PDF") and len(receipt.content) > 10_000
    assert [(p["period"], p["status"], p["receipt_number"]) for p in after[0]["periods"][1:2]] == [
        (2025, "filed", filed["receipt_number"])]
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_id = $1 ORDER BY at", draft.json()["id"])]
    assert actions == ["filing.draft_created", "filing.draft_saved", "filing.draft_saved", "filing.submitted",
                       "filing.receipt_printed"]
    stored = await services.db.pool.fetchval("SELECT form_enc FROM filings WHERE id = $1", draft.json()["id"])
    assert b"13800000002" not in stored and "王建国".encode() not in stored


async def test_a_filing_before_its_window_opens_is_refused_and_after_it_closes_is_marked_late(client, services):
    on(services, dt.date(2026, 3, 1))
    org = await organisation(client, services)
    token = org["representative"]["access_token"]

    early = await client.post("/me/filings", headers=bearer(token),
                              json={"obligation_id": org["obligation"], "period": 2026, "form": REPORT})
    before_first = await client.post("/me/filings", headers=bearer(token),
                                     json={"obligation_id": org["obligation"], "period": 2023, "form": REPORT})
    late = await submitted(client, token, org["obligation"], period=2024)

    assert early.status_code == 409 and early.json()["type"] == "/problems/filing-window-not-open"
    assert early.json()["window_opens"] == "2027-01-01" and early.json()["window_closes"] == "2027-06-30"
    assert before_first.status_code == 422 and before_first.json()["errors"][0]["pointer"] == "#/period"
    assert late["late"] is True and late["period"] == 2024
    periods = (await client.get("/me/obligations", headers=bearer(token))).json()[0]["periods"]
    assert [(p["period"], p["status"]) for p in periods] == [(2026, "not-open"), (2025, "due"), (2024, "late")]


async def test_a_draft_saved_inside_the_window_and_submitted_after_it_is_late(client, services):
    on(services, dt.date(2026, 6, 30))
    org = await organisation(client, services)
    token = org["representative"]["access_token"]
    draft = await client.post("/me/filings", headers=bearer(token),
                              json={"obligation_id": org["obligation"], "period": 2025, "form": REPORT})

    on(services, dt.date(2026, 7, 1))
    response = await client.post(f"/me/filings/{draft.json()['id']}/submission", headers=bearer(token))

    assert response.status_code == 200 and response.json()["late"] is True


async def test_a_second_filing_is_refused_and_an_amendment_keeps_the_original(client, services):
    on(services, dt.date(2026, 5, 10))
    await subscribe(services, "http://127.0.0.1:9/filings", name="sc-market-regulation", kinds=("filing.*",),
                    division="510000")
    await subscribe(services, "http://127.0.0.1:9/filings", name="zj-market-regulation", kinds=("filing.*",),
                    division="330000")
    org = await organisation(client, services)
    token = org["representative"]["access_token"]
    original = await submitted(client, token, org["obligation"])

    duplicate = await client.post("/me/filings", headers=bearer(token),
                                  json={"obligation_id": org["obligation"], "period": 2025, "form": REPORT})
    amendment = await client.post(f"/me/filings/{original['id']}/amendments", headers=bearer(token),
                                  json={"form": {"employees": 15}})
    second_amendment = await client.post(f"/me/filings/{original['id']}/amendments", headers=bearer(token), json={})
    on(services, dt.date(2026, 8, 1))
    amended = await client.post(f"/me/filings/{amendment.json()['id']}/submission", headers=bearer(token))
    kept = (await client.get(f"/me/filings/{original['id']}", headers=bearer(token))).json()
    again = await client.post(f"/me/filings/{original['id']}/amendments", headers=bearer(token), json={})

    assert duplicate.status_code == 409 and duplicate.json()["type"] == "/problems/filing-exists"
    assert duplicate.json()["filing_id"] == original["id"]
    assert amendment.status_code == 201 and amendment.json()["amends"] == original["id"]
    assert amendment.json()["form"]["employees"] == 15 and amendment.json()["form"]["contact_name"] == "王建国"
    assert second_amendment.status_code == 409 and second_amendment.json()["draft_id"] == amendment.json()["id"]
    assert amended.status_code == 200, amended.text
    assert amended.json()["state"] == "submitted" and amended.json()["late"] is True
    assert amended.json()["receipt_number"] != original["receipt_number"]
    assert kept["state"] == "amended" and kept["amended_by"] == amendment.json()["id"]
    assert kept["form"]["employees"] == 12 and kept["form_digest"] == original["form_digest"]
    assert kept["receipt_number"] == original["receipt_number"]
    assert again.status_code == 409 and again.json()["type"] == "/problems/invalid-transition"
    # The period stays filed on time: the first submission decides; the amendment was late.
    periods = (await client.get("/me/obligations", headers=bearer(token))).json()[0]["periods"]
    assert [(p["period"], p["status"], p["filing_id"]) for p in periods if p["period"] == 2025] == [
        (2025, "filed", amendment.json()["id"])]
    receipt = await client.get(f"/me/filings/{original['id']}/receipt.pdf", headers=bearer(token))
    assert receipt.status_code == 200
    # Each submission was published for the agencies of its division (the refused ones were not).
    events = await services.db.pool.fetch(
        """SELECT e.kind, e.subject_id, e.payload, array_agg(s.name) AS subscribers FROM event_outbox e
           JOIN event_deliveries d ON d.event_id = e.id JOIN webhook_subscribers s ON s.id = d.subscriber_id
           WHERE e.subject_type = 'filing' GROUP BY e.id ORDER BY e.seq""")
    assert [(e["kind"], e["subject_id"], e["subscribers"]) for e in events] == [
        ("filing.submitted", original["id"], ["sc-market-regulation"]),
        ("filing.amended", amendment.json()["id"], ["sc-market-regulation"])]
    first, second = (e["payload"] for e in events)
    assert first["subject"] == {"kind": "organisation", "credit_code": org["code"], "name": "成都示例科技有限公司"}
    assert (first["period"], first["late"], first["receipt_number"], first["form_digest"], first["amends"]) == (
        2025, False, original["receipt_number"], original["form_digest"], None)
    assert (second["late"], second["amends"], second["receipt_number"]) == (
        True, original["id"], amended.json()["receipt_number"])
    assert "王建国" not in str(events) and "13800000002" not in str(events)  # the form stays with the filing
    # The filer sees where each filing's event went.
    assert [(d["subscriber"], d["status"]) for d in kept["deliveries"]] == [("sc-market-regulation", "pending")]
    assert [d["subscriber"] for d in amended.json()["deliveries"]] == ["sc-market-regulation"]
    assert amendment.json()["deliveries"] == []  # a draft has none


async def test_a_submitted_filing_cannot_be_changed_even_in_the_database(client, services):
    on(services, dt.date(2026, 5, 10))
    org = await organisation(client, services)
    filed = await submitted(client, org["representative"]["access_token"], org["obligation"])

    with pytest.raises(asyncpg.RaiseError, match="cannot change"):
        await services.db.pool.execute("UPDATE filings SET late = true WHERE id = $1", filed["id"])
    with pytest.raises(asyncpg.RaiseError, match="never deleted"):
        await services.db.pool.execute("DELETE FROM filings WHERE id = $1", filed["id"])


async def test_a_form_failing_its_schema_is_refused_field_by_field(client, services):
    on(services, dt.date(2026, 5, 10))
    org = await organisation(client, services)
    token = org["representative"]["access_token"]

    bound_given = await client.post("/me/filings", headers=bearer(token), json={
        "obligation_id": org["obligation"], "period": 2025, "form": {**REPORT, "credit_code": "91510100MA6C7K8R0C"}})
    draft = await client.post("/me/filings", headers=bearer(token), json={
        "obligation_id": org["obligation"], "period": 2025,
        "form": {**REPORT, "employees": -1, "phone": "1380000", "unknown_field": 1}})
    refused = await client.post(f"/me/filings/{draft.json()['id']}/submission", headers=bearer(token))
    receipt_of_draft = await client.get(f"/me/filings/{draft.json()['id']}/receipt.pdf", headers=bearer(token))

    assert bound_given.status_code == 422
    assert bound_given.json()["errors"] == [{"pointer": "#/form/credit_code",
                                             "detail": "is filled in by the service from the record; leave it out"}]
    assert draft.status_code == 201
    assert refused.status_code == 422 and refused.json()["type"] == "/problems/validation-error"
    assert {e["pointer"] for e in refused.json()["errors"]} == {"#/form/employees", "#/form/phone",
                                                               "#/form/unknown_field"}
    assert (await client.get(f"/me/filings/{draft.json()['id']}", headers=bearer(token))).json()["state"] == "draft"
    assert receipt_of_draft.status_code == 409
    assert await services.db.pool.fetchval("SELECT count(*) FROM filings WHERE state = 'submitted'") == 0
    assert await services.db.pool.fetchval("SELECT count(*) FROM event_outbox") == 0


async def test_a_draft_can_be_discarded_and_a_new_one_started(client, services):
    on(services, dt.date(2026, 5, 10))
    org = await organisation(client, services)
    token = org["representative"]["access_token"]
    first = await client.post("/me/filings", headers=bearer(token),
                              json={"obligation_id": org["obligation"], "period": 2025})
    second = await client.post("/me/filings", headers=bearer(token),
                               json={"obligation_id": org["obligation"], "period": 2025})

    discarded = await client.delete(f"/me/filings/{first.json()['id']}", headers=bearer(token))
    third = await client.post("/me/filings", headers=bearer(token),
                              json={"obligation_id": org["obligation"], "period": 2025})

    assert second.status_code == 409 and second.json()["draft_id"] == first.json()["id"]
    assert discarded.status_code == 204
    assert (await client.get(f"/me/filings/{first.json()['id']}", headers=bearer(token))).status_code == 404
    assert third.status_code == 201
