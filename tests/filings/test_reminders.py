"""Reminders before a window closes reach everyone who may file, once per stage, and only while the
period is still due."""

from __future__ import annotations

import datetime as dt

from tests.factories import bearer, register_citizen, step_up
from tests.filings.conftest import on, organisation, submitted


async def inbox(client, token):
    response = await client.get("/me/notifications", headers=bearer(token))
    assert response.status_code == 200, response.text
    return [n for n in response.json()["items"] if n["kind"] == "filing.reminder"]


async def test_reminders_reach_every_filer_once_per_stage_while_the_period_is_due(client, services):
    on(services, dt.date(2026, 6, 5))
    due = await organisation(client, services, name="未报公司")
    filed = await organisation(client, services, name="已报公司")
    await submitted(client, filed["representative"]["access_token"], filed["obligation"])
    filer = await register_citizen(client, services, division="510107")
    await client.post(f"/me/organisations/{due['code']}/filers", json={"resident_id": filer["resident_id"]},
                      headers=bearer(await step_up(services, due["representative"], "L2")))

    first = await services.filings.reminders.send_due()
    again = await services.filings.reminders.send_due()
    on(services, dt.date(2026, 6, 25))
    last_week = await services.filings.reminders.send_due()
    on(services, dt.date(2026, 7, 1))
    closed = await services.filings.reminders.send_due()

    assert (first, again, last_week, closed) == (1, 0, 1, 0)
    for person in (due["representative"], filer):
        messages = await inbox(client, person["access_token"])
        assert len(messages) == 2
        assert messages[0]["subject"] == {"type": "filing_obligation", "id": due["obligation"]}
        assert "2026年06月30日" in messages[0]["body"]["zh"] and "未报公司" in messages[0]["body"]["zh"]
    assert await inbox(client, filed["representative"]["access_token"]) == []
    texts = await services.db.pool.fetchval("SELECT count(*) FROM sms_outbox WHERE body LIKE '%即将截止%'")
    assert texts == 2  # the 7-day reminder also goes out as a text message, to each filer
    stages = await services.db.pool.fetch("SELECT stage FROM filing_reminders ORDER BY sent_at")
    assert [r["stage"] for r in stages] == ["30d", "7d"]


async def test_the_worker_runs_the_reminders_as_a_scheduled_job(client, services):
    from backend.events.scheduler import JobRunner
    from backend.jobs import SCHEDULED_JOBS

    on(services, dt.date(2026, 6, 25))
    due = await organisation(client, services)
    runner = JobRunner(services, [j for j in SCHEDULED_JOBS if j.name == "filings.reminders"], "test-worker")
    await runner.register()

    assert await runner.tick() == ["filings.reminders"]
    await runner.wait_idle()

    job = await services.db.pool.fetchrow("SELECT last_outcome, last_summary FROM scheduled_jobs WHERE name = $1",
                                          "filings.reminders")
    assert (job["last_outcome"], job["last_summary"]) == ("ok", "1 filing obligation(s) reminded")
    assert len(await inbox(client, due["representative"]["access_token"])) == 1
