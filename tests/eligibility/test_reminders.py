"""Reminders 30 and 7 days before the due date and on becoming overdue: in the inbox and by SMS, to the
pensioner and to each authorised relative; a scheduled job that never sends the same reminder twice."""

from backend.eligibility.reminders import send_reminders
from backend.events.scheduler import JobRunner
from backend.jobs import SCHEDULED_JOBS
from tests.eligibility.helpers import agency, pensioner, window_staff
from tests.factories import bearer, register_citizen


async def test_reminders_reach_the_pensioner_and_relatives_once(client, services):
    officer = await agency(client, services)
    month = await pensioner(client, services, officer, due_in_days=30, enrol=False, consent=False)
    week = await pensioner(client, services, officer, due_in_days=7, enrol=False, consent=False)
    late = await pensioner(client, services, officer, due_in_days=-1, enrol=False, consent=False)
    await pensioner(client, services, officer, due_in_days=90, enrol=False, consent=False)
    daughter = await register_citizen(client, services, division="330106")
    hangzhou = await window_staff(client, services)
    await client.post(f"/staff/citizens/{late['id']}/relatives", headers=bearer(hangzhou),
                      json={"relative_resident_id": daughter["resident_id"], "relationship": "child"})

    runner = JobRunner(services, [j for j in SCHEDULED_JOBS if j.name == "pension.reminders"], "test-worker")
    await runner.register()
    await runner.tick()
    await runner.wait_idle()
    again = await send_reminders(services.db, services.notifications)

    inbox = {c["phone"]: (await client.get("/me/notifications", headers=bearer(c["access_token"]))).json()
             for c in (month, week, late, daughter)}
    kinds = {phone: [n["kind"] for n in page["items"]] for phone, page in inbox.items()}
    assert kinds[month["phone"]] == ["pension.due_30"]
    assert kinds[week["phone"]] == ["pension.due_7"]
    assert kinds[late["phone"]] == ["pension.overdue"]
    assert kinds[daughter["phone"]] == ["pension.relative_overdue"]
    assert again == 0
    sms = await services.db.pool.fetch("SELECT phone_masked, body FROM sms_outbox WHERE body LIKE '%养老金%'")
    assert len(sms) == 4
    job = await services.db.pool.fetchrow("SELECT last_outcome, last_summary FROM scheduled_jobs")
    assert job["last_outcome"] == "ok" and job["last_summary"] == "3 pensioner(s) reminded"
