"""Working days on the Chinese calendar: holidays, adjusted working days (调休), unknown years estimated."""

import datetime as dt
import json

import pytest

from backend.calendar.working_days import (
    DEMO_2027,
    YearTable,
    calendar_with,
    parse_year_tables,
    read_year_tables,
)
from backend.errors import ValidationFailed

D = dt.date.fromisoformat
packaged = calendar_with([])


def test_national_day_2026_is_skipped_and_its_adjusted_saturday_counts():
    # 2026: 1–7 October off; Sunday 20 September and Saturday 10 October are worked.
    assert packaged.add(D("2026-09-30"), 1).due == D("2026-10-08")  # Wednesday before → Thursday after
    assert packaged.add(D("2026-10-09"), 1).due == D("2026-10-10")  # Friday → the worked Saturday
    assert packaged.add(D("2026-09-18"), 1).due == D("2026-09-20")  # Friday → the worked Sunday
    # After Friday 25 September up to Monday 12 October: 28, 29, 30 September; 8, 9, 10 (Saturday), 12 October.
    assert packaged.count(D("2026-09-25"), D("2026-10-12")).days == 7
    assert not packaged.add(D("2026-09-30"), 1).estimated


def test_add_and_count_agree_and_the_start_day_is_not_counted():
    start = D("2026-09-25")
    for n in (0, 1, 5, 20):
        deadline = packaged.add(start, n)
        assert packaged.count(start, deadline.due).days == n
    assert packaged.count(start, start).days == 0
    assert packaged.count(D("2026-10-12"), D("2026-10-01")).days == 0


def test_a_year_without_a_table_counts_monday_to_friday_and_says_so():
    deadline = packaged.add(D("2026-12-30"), 3)  # Thu 31 Dec 2026, then Fri 1 and Mon 4 Jan 2027
    assert deadline.due == D("2027-01-04") and deadline.estimated
    assert packaged.count(D("2026-12-28"), D("2026-12-31")).estimated is False
    assert packaged.count(D("2026-12-28"), D("2027-01-01")).estimated is True


def test_a_loaded_table_covers_its_year_and_replaces_the_package():
    demo = calendar_with(read_year_tables(DEMO_2027))
    deadline = demo.add(D("2026-12-30"), 3)  # 31 Dec, then 1–3 January 2027 off in the demo table
    assert (deadline.due, deadline.estimated) == (D("2027-01-05"), False)
    assert demo.is_working_day(D("2027-02-20"))  # a Saturday worked (demo table)
    replaced = calendar_with([YearTable(2026, {D("2026-06-01"): "test"}, {}, "test")])
    assert not replaced.is_working_day(D("2026-06-01"))
    assert replaced.is_working_day(D("2026-10-01"))  # the package's 2026 is no longer consulted


def test_the_demo_table_says_it_is_not_the_official_schedule():
    source = json.loads(DEMO_2027.read_text(encoding="utf-8"))["source"]
    assert "DEMO" in source and "NOT the State Council" in source


def test_csv_tables_name_their_years_by_the_dates():
    tables = parse_year_tables("date,kind,name\n2028-01-01,holiday,元旦\n2028-01-02,working,调休\n"
                               "2029-01-01,holiday,元旦\n", file_format="csv", source="test.csv")
    assert [(t.year, len(t.holidays), len(t.working_days), t.source) for t in tables] == [
        (2028, 1, 1, "test.csv"), (2029, 1, 0, "test.csv")]


def test_a_csv_table_needs_a_source_that_says_something():
    with pytest.raises(ValidationFailed) as refused:
        parse_year_tables("date,kind,name\n2028-01-01,holiday,元旦\n", file_format="csv", source="   ")
    assert [e.pointer for e in refused.value.errors] == ["#/source"]


@pytest.mark.parametrize(("document", "pointer", "words"), [
    ({"year": 2028, "source": "x", "days": [{"date": "2028-01-03", "kind": "working"}]}, "#/days/0/kind",
     "a Monday"),
    ({"year": 2028, "source": "x", "days": [{"date": "2029-01-01", "kind": "holiday"}]}, "#/days/0/date",
     "not in 2028"),
    ({"year": 2028, "source": "x", "days": [{"date": "2028-01-01", "kind": "off"}]}, "#/days/0/kind",
     "holiday or working"),
    ({"year": 2028, "days": [{"date": "2028-01-01", "kind": "holiday"}]}, "#/source", "comes from"),
    ({"year": 2028, "source": "x", "days": [{"date": "2028-01-01", "kind": "holiday"},
                                             {"date": "2028-01-01", "kind": "holiday"}]}, "#/days/1/date", "twice"),
    # What the calendar table cannot hold: a year past 2200, a NUL in a source or a name
    ({"year": 2300, "source": "x", "days": [{"date": "2300-01-01", "kind": "holiday"}]}, "#/days/0",
     "from 1949 to 2200"),
    ({"year": 2028, "source": "国务院\u0000", "days": [{"date": "2028-01-01", "kind": "holiday"}]}, "#/source",
     "comes from"),
    ({"year": 2028, "source": "x", "days": [{"date": "2028-01-01", "kind": "holiday", "name": "元\u0000旦"}]},
     "#/days/0/name", "40 characters"),
])
def test_a_malformed_table_is_refused_with_where(document, pointer, words):
    with pytest.raises(ValidationFailed) as refused:
        parse_year_tables(json.dumps(document), file_format="json")
    assert any(e.pointer == pointer and words in e.detail for e in refused.value.errors), refused.value.errors
