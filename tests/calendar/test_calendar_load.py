"""`tongban calendar load`: year tables into PostgreSQL, audited; the service's cache follows a load."""

import datetime as dt
import subprocess
import sys

from backend.actors import Actor
from backend.calendar.working_days import DEMO_2027, YearTable


def tongban(settings, *args):
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "PATH": ""}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


async def test_the_command_loads_a_year_and_refuses_a_bad_file_whole(settings, services, tmp_path):
    bad = tmp_path / "2028.csv"
    bad.write_text("date,kind,name\n2028-01-01,holiday,元旦\n2028-01-04,working,调休\n", encoding="utf-8")

    loaded = tongban(settings, "calendar", "load", str(DEMO_2027))
    refused = tongban(settings, "calendar", "load", str(bad))

    assert loaded.returncode == 0, loaded.stderr
    assert "2027  29 holiday(s), 6 adjusted working day(s)" in loaded.stdout and "DEMO TABLE" in loaded.stdout
    assert refused.returncode == 1 and "#/line/3/kind" in refused.stderr and "Traceback" not in refused.stderr
    assert [y.year for y in await services.calendar.loaded_years()] == [2027]
    calendar = await services.calendar.current()
    assert calendar.covers(2027) and not calendar.covers(2028)
    async with services.db.connection() as conn:
        entry = await conn.fetchrow("SELECT action, record_id FROM audit_log WHERE action = 'calendar.year_loaded'")
    assert dict(entry) == {"action": "calendar.year_loaded", "record_id": "2027"}


async def test_a_load_replaces_the_year_and_refreshes_the_cached_calendar(services):
    day = dt.date(2028, 3, 1)
    assert (await services.calendar.current()).is_working_day(day)

    await services.calendar.load(Actor.system(), [YearTable(2028, {day: "first"}, {}, "first")])
    first = await services.calendar.current()
    await services.calendar.load(Actor.system(), [YearTable(2028, {dt.date(2028, 3, 2): "second"}, {}, "second")])
    second = await services.calendar.current()

    assert not first.is_working_day(day)
    assert second.is_working_day(day) and not second.is_working_day(dt.date(2028, 3, 2))
    assert [(y.year, y.source, y.holidays) for y in await services.calendar.loaded_years()] == [(2028, "second", 1)]


async def test_demo_data_loads_its_2027_table_only_where_no_other_holds_the_year(services):
    from backend.demo import load_demo_calendar

    told: list[str] = []
    await load_demo_calendar(services, told.append)  # nothing loaded: the demo's table
    demo = {y.year: y.source for y in await services.calendar.loaded_years()}
    official = YearTable(2027, {dt.date(2027, 1, 1): "元旦"}, {}, "国务院办公厅通知（2027）")
    await services.calendar.load(Actor.system(), [official])
    await load_demo_calendar(services, told.append)  # again, as every `serve --demo-data` does

    assert "DEMO" in demo[2027]
    assert [(y.year, y.source) for y in await services.calendar.loaded_years()] == [(2027, official.source)]
    assert "kept" in told[-1]
