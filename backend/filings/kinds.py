"""Kinds of annual obligation (年审年报) and their filing windows: pure data and date arithmetic, no
database. Kinds live in `data/obligation_kinds.json` (SAMPLE data).

A *period* is the year a filing is for. Two window rules exist:

- `following-year`: the window lies in the year after the period, between two calendar days (an
  enterprise's annual report for 2025 is filed 1 January – 30 June 2026);
- `anniversary`: the window is counted in days from the anniversary, in the period's year, of the
  obligation's anchor date (a driving licence's first issue: review within 30 days after each
  scoring period ends). A 29 February anchor falls on 1 March in other years.

Both ends of a window are inclusive China dates. A filing submitted after the window has closed is
accepted and marked late; one before the window opens is refused.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

_DATA = Path(__file__).resolve().parent / "data" / "obligation_kinds.json"
SubjectKind = Literal["organisation", "citizen"]
# Where a bound field's value comes from.
BOUND_SOURCES = frozenset({"organisation.name", "organisation.credit_code", "citizen.name", "citizen.resident_id",
                           "citizen.phone", "obligation.reference", "period"})


@dataclass(frozen=True, slots=True)
class Window:
    opens: dt.date
    closes: dt.date

    def is_open(self, day: dt.date) -> bool:
        return self.opens <= day <= self.closes

    def status_on(self, day: dt.date) -> Literal["not-open", "open", "closed"]:
        return "not-open" if day < self.opens else "open" if day <= self.closes else "closed"


def anniversary(anchor: dt.date, year: int) -> dt.date:
    """`anchor`'s month and day in `year`; 29 February becomes 1 March in a common year."""
    return dt.date(year, anchor.month, 1) + dt.timedelta(days=anchor.day - 1)


@dataclass(frozen=True, slots=True)
class WindowRule:
    rule: Literal["following-year", "anniversary"]
    opens: Any  # "MM-DD" for following-year; days after the anniversary for anniversary
    closes: Any

    def window(self, period: int, anchor: dt.date | None = None) -> Window:
        if self.rule == "following-year":
            (om, od), (cm, cd) = (map(int, self.opens.split("-")), map(int, self.closes.split("-")))
            return Window(dt.date(period + 1, om, od), dt.date(period + 1, cm, cd))
        if anchor is None:
            raise ValueError("an anniversary window needs the obligation's anchor date")
        day = anniversary(anchor, period)
        return Window(day + dt.timedelta(days=self.opens), day + dt.timedelta(days=self.closes))

    def latest_opened_period(self, today: dt.date, anchor: dt.date | None = None) -> int:
        """The most recent period whose window has opened by `today`."""
        period = today.year
        while self.window(period, anchor).opens > today:
            period -= 1
        return period

    @property
    def needs_anchor(self) -> bool:
        return self.rule == "anniversary"


@dataclass(frozen=True, slots=True)
class ObligationKind:
    code: str
    name: str
    subject: SubjectKind
    basis: str
    window: WindowRule
    bound: dict[str, str]
    item_code: str | None = None
    form_schema: dict[str, Any] | None = None

    @property
    def needs_reference(self) -> bool:
        return "obligation.reference" in self.bound.values()


def _kind(spec: dict[str, Any]) -> ObligationKind:
    window = spec["window"]
    kind = ObligationKind(
        code=spec["code"], name=spec["name"], subject=spec["subject"], basis=spec["basis"],
        window=WindowRule(window["rule"], window["opens"], window["closes"]), bound=dict(spec.get("bound", {})),
        item_code=spec.get("item_code"), form_schema=spec.get("form_schema"))
    if (kind.item_code is None) == (kind.form_schema is None):
        raise ValueError(f"{kind.code}: give exactly one of item_code and form_schema")
    if unknown := set(kind.bound.values()) - BOUND_SOURCES:
        raise ValueError(f"{kind.code}: unknown bound sources {sorted(unknown)}")
    return kind


def load_kinds(path: Path = _DATA) -> dict[str, ObligationKind]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {spec["code"]: _kind(spec) for spec in raw["kinds"]}


OBLIGATION_KINDS = load_kinds()
