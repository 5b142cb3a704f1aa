"""The working-day calendar as the running service keeps it: the packaged years overlaid by the year
tables loaded into PostgreSQL, read once and cached; a load refreshes this process's copy at once,
other processes within `refresh_seconds`."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Sequence

import asyncpg
import msgspec

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.calendar.working_days import WorkingCalendar, YearTable, calendar_with
from backend.db import Database


class LoadedYear(msgspec.Struct, frozen=True):
    year: int
    source: str
    holidays: int
    working_days: int
    loaded_at: dt.datetime
    loaded_by: str


class CalendarService:
    def __init__(self, db: Database, audit: AuditLog, *, refresh_seconds: float = 60.0) -> None:
        self._db = db
        self._audit = audit
        self._refresh_seconds = refresh_seconds
        self._cached: WorkingCalendar | None = None
        self._read_at = 0.0

    async def current(self) -> WorkingCalendar:
        """The calendar in force (cached; re-read when older than `refresh_seconds`)."""
        if self._cached is None or time.monotonic() - self._read_at > self._refresh_seconds:
            async with self._db.connection() as conn:
                self._cached = calendar_with(await _loaded_tables(conn))
            self._read_at = time.monotonic()
        return self._cached

    async def load(self, actor: Actor, tables: Sequence[YearTable]) -> list[LoadedYear]:
        """Store year tables, each replacing any table loaded before for its year, in one transaction."""
        async with self._db.transaction() as conn:
            for table in tables:
                await conn.execute("DELETE FROM calendar_days WHERE year = $1", table.year)
                await conn.execute(
                    """INSERT INTO calendar_years (year, source, loaded_by) VALUES ($1, $2, $3)
                       ON CONFLICT (year) DO UPDATE SET source = excluded.source, loaded_by = excluded.loaded_by,
                                                        loaded_at = now()""",
                    table.year, table.source, who(actor))
                await conn.executemany(
                    "INSERT INTO calendar_days (day, year, kind, name) VALUES ($1, $2, $3, $4)",
                    [(d, table.year, "holiday", n) for d, n in table.holidays.items()]
                    + [(d, table.year, "working", n) for d, n in table.working_days.items()])
            for table in tables:
                await self._audit.record(conn, actor, "calendar.year_loaded", "calendar_year", str(table.year),
                                         detail={"source": table.source, "holidays": len(table.holidays),
                                                 "working_days": len(table.working_days)})
            loaded = await _loaded_years(conn)
            self._cached = calendar_with(await _loaded_tables(conn))
        self._read_at = time.monotonic()
        return loaded

    async def loaded_years(self) -> list[LoadedYear]:
        async with self._db.connection() as conn:
            return await _loaded_years(conn)


async def _loaded_tables(conn: asyncpg.Connection) -> list[YearTable]:
    years = {r["year"]: r["source"] for r in await conn.fetch("SELECT year, source FROM calendar_years")}
    days: dict[int, tuple[dict[dt.date, str], dict[dt.date, str]]] = {y: ({}, {}) for y in years}
    for row in await conn.fetch("SELECT day, year, kind, name FROM calendar_days"):
        days[row["year"]][0 if row["kind"] == "holiday" else 1][row["day"]] = row["name"]
    return [YearTable(y, days[y][0], days[y][1], source) for y, source in years.items()]


async def _loaded_years(conn: asyncpg.Connection) -> list[LoadedYear]:
    rows = await conn.fetch(
        """SELECT y.year, y.source, y.loaded_at, y.loaded_by,
                  count(*) FILTER (WHERE d.kind = 'holiday') AS holidays,
                  count(*) FILTER (WHERE d.kind = 'working') AS working_days
             FROM calendar_years y LEFT JOIN calendar_days d USING (year)
            GROUP BY y.year ORDER BY y.year""")
    return [LoadedYear(r["year"], r["source"], r["holidays"], r["working_days"], r["loaded_at"], r["loaded_by"])
            for r in rows]
