"""A citizen queries their own records at registered providers: structured data with a readable copy,
each query logged; faults are clear problems with nothing partial."""

from __future__ import annotations

import time

import asyncpg

from tests.factories import bearer, register_citizen
from tests.sharing.conftest import TIMEOUT, person_with_records


async def test_a_citizen_reads_their_own_record_with_a_readable_copy(client, services, providers):
    person = await person_with_records(client, services)
    token = person["access_token"]
    nobody = await register_citizen(client, services, division="510107")

    fund = await client.get("/me/records/demo.housing-fund", headers=bearer(token))
    points = await client.get("/me/records/demo.driving-licence", headers=bearer(token),
                              params={"fields": ["points_deducted", "cycle_end"]})
    none = await client.get("/me/records/demo.housing-fund", headers=bearer(nobody["access_token"]))
    unknown = await client.get("/me/records/demo.tax-bureau", headers=bearer(token))
    listed = (await client.get("/data-sharing/providers")).json()

    assert fund.status_code == 200, fund.text
    body = fund.json()
    assert body["found"] is True and body["purpose"] == "self-query"
    assert body["data"] == {"centre_division": "330100", "account_status": "正常缴存", "employer": "杭州示例科技有限公司",
                            "balance": "86420.50", "monthly_deposit": "2380.00", "last_deposit_month": "2025-11"}
    assert "账户余额（元）：86,420.50" in body["readable"] and "缴存地：杭州市（330100）" in body["readable"]
    assert "查询方：本人" in body["readable"]
    assert points.json()["data"] == {"points_deducted": 3, "cycle_end": "2027-05-19"}
    assert none.status_code == 200 and none.json()["found"] is False and none.json()["data"] == {}
    assert "未查到" in none.json()["readable"]
    assert unknown.status_code == 404
    assert {p["id"]: p["registered"] for p in listed} == {
        "demo.social-insurance": True, "demo.housing-fund": True, "demo.household": True, "demo.driving-licence": True}

    log = (await client.get("/me/data-requests", headers=bearer(token))).json()
    assert [(e["provider"], e["state"], e["basis"], e["requester"]["kind"]) for e in log] == [
        ("demo.driving-licence", "answered", "own-request", "citizen"),
        ("demo.housing-fund", "answered", "own-request", "citizen")]
    assert log[0]["disclosed"] == ["points_deducted", "cycle_end"]
    audited = await services.db.pool.fetch("SELECT detail FROM audit_log WHERE action = 'data_request.answered'")
    assert len(audited) == 3 and {a["detail"]["provider"] for a in audited} == {"demo.housing-fund", "demo.driving-licence"}


async def test_a_slow_or_unreachable_provider_is_a_clear_problem_and_shares_nothing(
        client, services, providers, database_url):
    person = await person_with_records(client, services)
    token = person["access_token"]
    holder = await asyncpg.connect(database_url)
    try:
        # The provider's own table is locked by a long job: its answer would come too late.
        locking = holder.transaction()
        await locking.start()
        await holder.execute("LOCK TABLE demo_providers.housing_fund IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()
        slow = await client.get("/me/records/demo.housing-fund", headers=bearer(token))
        waited = time.monotonic() - started
        await locking.rollback()
        # The provider's system is gone.
        await holder.execute("ALTER TABLE demo_providers.driving_licence RENAME TO driving_licence_moved")
        down = await client.get("/me/records/demo.driving-licence", headers=bearer(token))
        await holder.execute("ALTER TABLE demo_providers.driving_licence_moved RENAME TO driving_licence")
        await holder.execute("UPDATE data_providers SET active = false WHERE id = 'demo.household'")
        inactive = await client.get("/me/records/demo.household", headers=bearer(token))
        after = await client.get("/me/records/demo.housing-fund", headers=bearer(token))
    finally:
        await holder.close()

    assert slow.status_code == 504 and slow.json()["type"] == "/problems/provider-timeout"
    assert "data" not in slow.json() and "balance" not in slow.text
    assert TIMEOUT * 0.9 <= waited < TIMEOUT + 1.5
    assert down.status_code == 503 and down.json()["type"] == "/problems/provider-unavailable"
    assert inactive.status_code == 503
    assert after.status_code == 200  # the provider's pool recovered from the cancelled query
    log = (await client.get("/me/data-requests", headers=bearer(token))).json()
    assert [(e["provider"], e["state"], e["failure"], e["disclosed"]) for e in log[1:]] == [
        ("demo.household", "failed", "provider-unavailable", []),
        ("demo.driving-licence", "failed", "provider-unavailable", []),
        ("demo.housing-fund", "failed", "provider-timeout", [])]
    assert await services.db.pool.fetchval("SELECT count(*) FROM audit_log WHERE action = 'data_request.failed'") == 3
