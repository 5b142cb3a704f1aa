"""The registry of scheduled jobs that `tongban worker` runs: add yours here, one line each.

A job is a name, an interval and an async function of the services returning a one-line summary;
one worker at a time runs it (see `backend/events/scheduler.py`). Keep each job idempotent: a run
cut short by a dying worker is run again.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING

from backend.events.scheduler import Job

if TYPE_CHECKING:
    from backend.container import Services


async def purge_events(services: Services) -> str:
    return f"{await services.events.purge()} event(s) past retention purged"


async def filing_reminders(services: Services) -> str:
    return f"{await services.filings.reminders.send_due()} filing obligation(s) reminded"


async def pension_reminders(services: Services) -> str:
    from backend.eligibility.reminders import send_reminders

    return f"{await send_reminders(services.db, services.notifications)} pensioner(s) reminded"


async def pension_silent(services: Services) -> str:
    run = await services.eligibility.silent_run()
    return f"silent recognition: {run.recognised} of {run.examined} open entries recognised in {run.seconds} s"


async def expire_previews(services: Services) -> str:
    return await services.sharing.previews.expire_due()


async def audit_checkpoint(services: Services) -> str:
    from backend.actors import Actor

    await services.audit.checkpoint(Actor.system())
    return "audit checkpoint signed"


SCHEDULED_JOBS: list[Job] = [
    # Rollbacks to before the newest checkpoint someone kept are detected: the interval is the window.
    Job("audit.checkpoint", dt.timedelta(minutes=15), audit_checkpoint),
    Job("events.purge", dt.timedelta(days=1), purge_events),
    Job("filings.reminders", dt.timedelta(hours=6), filing_reminders),
    Job("pension.reminders", dt.timedelta(hours=1), pension_reminders),
    Job("pension.silent", dt.timedelta(hours=6), pension_silent),
    Job("sharing.expire_previews", dt.timedelta(minutes=5), expire_previews),
]
