"""Working days on the Chinese calendar: Monday to Friday, less public holidays, plus the adjusted
working days (调休) on which a Saturday or Sunday is worked in exchange for a longer holiday.

Pure functions over a `WorkingCalendar`: the years the `chinese-calendar` package knows (2004–2026 in
the version we ship) and the year tables loaded into the database (`tongban calendar load`), a loaded
table taking precedence. For a year with neither, Monday to Friday are counted and the answer says
so (`estimated`): a deadline reckoned that way may move when the year's schedule is published.

Counting convention (as for a time limit "within n working days of receipt"): the start day itself
is not counted. `add(start, n)` is the n-th working day after `start`; `count(start, end)` counts the
working days in `(start, end]`, so `count(start, add(start, n).due) == n`.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import chinese_calendar.constants as packaged

from backend.errors import FieldError, ValidationFailed

DayKind = Literal["holiday", "working"]
_ONE_DAY = dt.timedelta(days=1)
# A time limit longer than ten years of working days is a typing error, not a deadline.
MAX_WORKING_DAYS = 2_500
FIRST_YEAR, LAST_YEAR = 1949, 2200  # as the calendar_years table holds them (migration 020)


@dataclass(frozen=True, slots=True)
class YearTable:
    """One year's schedule: the days off that would otherwise be worked (and any other day of a
    holiday period) and the weekend days worked instead (调休)."""

    year: int
    holidays: Mapping[dt.date, str]
    working_days: Mapping[dt.date, str]
    source: str


class Deadline(NamedTuple):
    due: dt.date
    estimated: bool  # some day counted lies in a year without a schedule: Monday–Friday were counted


class WorkingDayCount(NamedTuple):
    days: int
    estimated: bool


class WorkingCalendar:
    """Which days are worked, by year; immutable, so one instance is shared by every request."""

    def __init__(self, tables: Iterable[YearTable]) -> None:
        self.tables: dict[int, YearTable] = {t.year: t for t in tables}

    def covers(self, year: int) -> bool:
        """Whether the year's schedule is known (otherwise its days are estimated as Monday–Friday)."""
        return year in self.tables

    def is_working_day(self, day: dt.date) -> bool:
        table = self.tables.get(day.year)
        if table is not None:
            if day in table.working_days:
                return True
            if day in table.holidays:
                return False
        return day.weekday() < 5

    def add(self, start: dt.date, n: int) -> Deadline:
        """The n-th working day after `start` (`start` itself when n is 0)."""
        if not 0 <= n <= MAX_WORKING_DAYS:
            raise ValueError(f"working days must be between 0 and {MAX_WORKING_DAYS}, not {n}")
        day, left, estimated = start, n, False
        while left:
            day += _ONE_DAY
            estimated = estimated or not self.covers(day.year)
            if self.is_working_day(day):
                left -= 1
        return Deadline(day, estimated)

    def count(self, start: dt.date, end: dt.date) -> WorkingDayCount:
        """Working days after `start` up to and including `end` (0 when `end` is not after `start`)."""
        days, estimated, day = 0, False, start
        while day < end:
            day += _ONE_DAY
            estimated = estimated or not self.covers(day.year)
            days += self.is_working_day(day)
        return WorkingDayCount(days, estimated)


def packaged_tables() -> list[YearTable]:
    """The years the `chinese-calendar` package knows, one table each."""
    holidays: dict[int, dict[dt.date, str]] = {}
    working: dict[int, dict[dt.date, str]] = {}
    for day, name in packaged.holidays.items():
        holidays.setdefault(day.year, {})[day] = name
    for day, name in packaged.workdays.items():
        working.setdefault(day.year, {})[day] = name
    return [YearTable(year, holidays[year], working.get(year, {}), "chinese-calendar package")
            for year in sorted(holidays)]


def calendar_with(loaded: Iterable[YearTable]) -> WorkingCalendar:
    """The packaged years overlaid by the loaded ones (a loaded table replaces a packaged year)."""
    tables = {t.year: t for t in packaged_tables()}
    tables.update({t.year: t for t in loaded})
    return WorkingCalendar(tables.values())


# -- year table files --------------------------------------------------------------------------------
# JSON: {"year": 2027, "source": "...", "days": [{"date": "2027-01-01", "kind": "holiday", "name": "元旦"}, …]}
#       or a list of such objects (several years in one file).
# CSV:  a header `date,kind,name` and one day a row; the years are those of the dates, the source is
#       given on the command line (default: the file's name).


def read_year_tables(path: Path, *, source: str | None = None) -> list[YearTable]:
    """Year tables from a `.json` or `.csv` file (a CSV's source defaults to the file's name)."""
    file_format: Literal["json", "csv"] = "csv" if path.suffix.lower() == ".csv" else "json"
    return parse_year_tables(path.read_text(encoding="utf-8"), file_format=file_format,
                             source=source or (path.name if file_format == "csv" else None))


DEMO_2027 = Path(__file__).parent / "data" / "2027-demo.json"


def parse_year_tables(text: str, *, file_format: Literal["json", "csv"], source: str | None = None) -> list[YearTable]:
    """Year tables from a file's text; every problem is reported at once, with where it is."""
    if file_format == "json":
        try:
            document = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ValidationFailed.field("file", f"not JSON: {exc}") from None
        years = document if isinstance(document, list) else [document]
        errors: list[FieldError] = []
        tables = [_json_year(y, f"#/{i}" if isinstance(document, list) else "#", source, errors)
                  for i, y in enumerate(years)]
    else:
        tables, errors = _csv_years(text, source or "loaded table")
    if not errors and not tables:
        errors.append(FieldError("#", "the file holds no year"))
    seen = [t.year for t in tables if t is not None]
    if len(set(seen)) != len(seen):
        errors.append(FieldError("#", "a year appears twice in the file"))
    if errors:
        raise ValidationFailed(errors)
    return [t for t in tables if t is not None]


def _says_nothing(source: str) -> bool:
    """A table's source must say where the schedule comes from, in text the calendar table can hold."""
    return not source.strip() or "\x00" in source


def _json_year(value: Any, at: str, source: str | None, errors: list[FieldError]) -> YearTable | None:
    if not isinstance(value, dict):
        errors.append(FieldError(at, "expected an object with year, source and days"))
        return None
    unknown = set(value) - {"year", "source", "days", "note"}
    if unknown:
        errors.append(FieldError(at, f"unknown fields: {', '.join(sorted(unknown))}"))
    year, days = value.get("year"), value.get("days")
    if not isinstance(year, int) or isinstance(year, bool):
        errors.append(FieldError(f"{at}/year", "expected a year as an integer"))
        return None
    named_source = value.get("source") if isinstance(value.get("source"), str) else None
    if _says_nothing(source or named_source or ""):
        errors.append(FieldError(f"{at}/source", "say where the schedule comes from"))
    if not isinstance(days, list):
        errors.append(FieldError(f"{at}/days", "expected a list of days"))
        return None
    rows = []
    for i, day in enumerate(days):
        if not isinstance(day, dict) or set(day) - {"date", "kind", "name"}:
            errors.append(FieldError(f"{at}/days/{i}", "expected {date, kind, name}"))
            continue
        rows.append((f"{at}/days/{i}", day.get("date"), day.get("kind"), day.get("name", "")))
    return _year_from_rows(year, rows, (source or named_source or "").strip(), errors)


def _csv_years(text: str, source: str) -> tuple[list[YearTable | None], list[FieldError]]:
    errors: list[FieldError] = []
    if _says_nothing(source):
        errors.append(FieldError("#/source", "say where the schedule comes from"))
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or not {"date", "kind"} <= {f.strip() for f in reader.fieldnames}:
        return [], [FieldError("#", "expected a CSV header with date, kind and name")]
    by_year: dict[int, list[tuple[str, Any, Any, Any]]] = {}
    for line, row in enumerate(reader, start=2):
        row = {k.strip(): (v or "").strip() for k, v in row.items() if k}
        at = f"#/line/{line}"
        try:
            year = dt.date.fromisoformat(row["date"]).year
        except ValueError:
            errors.append(FieldError(f"{at}/date", f"not a date (YYYY-MM-DD): {row['date']!r}"))
            continue
        by_year.setdefault(year, []).append((at, row["date"], row["kind"], row.get("name", "")))
    return [_year_from_rows(year, rows, source, errors) for year, rows in sorted(by_year.items())], errors


def _year_from_rows(year: int, rows: list[tuple[str, Any, Any, Any]], source: str,
                    errors: list[FieldError]) -> YearTable | None:
    holidays: dict[dt.date, str] = {}
    working: dict[dt.date, str] = {}
    errors_before = len(errors)
    if not FIRST_YEAR <= year <= LAST_YEAR:
        errors.append(FieldError(rows[0][0] if rows else "#", f"{year} is not a year from {FIRST_YEAR} to {LAST_YEAR}"))
        return None
    for at, date_text, kind, name in rows:
        try:
            day = dt.date.fromisoformat(date_text) if isinstance(date_text, str) else None
        except ValueError:
            day = None
        if day is None:
            errors.append(FieldError(f"{at}/date", f"not a date (YYYY-MM-DD): {date_text!r}"))
            continue
        if day.year != year:
            errors.append(FieldError(f"{at}/date", f"{day} is not in {year}"))
        elif kind not in ("holiday", "working"):
            errors.append(FieldError(f"{at}/kind", "expected holiday or working"))
        elif day in holidays or day in working:
            errors.append(FieldError(f"{at}/date", f"{day} is listed twice"))
        elif kind == "working" and day.weekday() < 5:
            errors.append(FieldError(f"{at}/kind", f"{day} is a {day:%A}: an adjusted working day (调休) "
                                                   "is a Saturday or Sunday"))
        elif not isinstance(name, str) or len(name) > 40 or "\x00" in name:
            errors.append(FieldError(f"{at}/name", "expected a name of at most 40 characters"))
        else:
            (holidays if kind == "holiday" else working)[day] = name
    if not holidays and len(errors) == errors_before:
        errors.append(FieldError(rows[0][0] if rows else "#", f"{year} lists no holiday"))
    return YearTable(year, holidays, working, source) if holidays else None
