"""The terms a case application is checked against: whether the item is on a list in force for the
pair of places on the day, in which modes, and its receipt standard (materials, time limit, result,
form schema) from the standard governing the handling place.

Every application reads them and they change only when an admin changes the catalogue, so they are
kept in memory: a change made through this process clears the copy at once (`changed`), other
processes see it within `refresh_seconds` — as the working-day calendar is kept."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Awaitable, Callable
from typing import NamedTuple

from backend.catalogue.schemas import ReceiptStandard, ResolvedItem

# Bounded: the keys are item × pair of places × day, which only real traffic fills.
MAX_ENTRIES = 4096


class ApplicationTerms(NamedTuple):
    item: ResolvedItem | None  # None: on no list in force for this pair of places on the day
    standard: ReceiptStandard | None  # None when the item is None


TermsKey = tuple[str, str, str, dt.date]


class TermsCache:
    def __init__(self, refresh_seconds: float = 10.0) -> None:
        self._refresh_seconds = refresh_seconds
        self._entries: dict[TermsKey, tuple[float, ApplicationTerms]] = {}
        self._generation = 0

    async def get(self, key: TermsKey, load: Callable[[], Awaitable[ApplicationTerms]]) -> ApplicationTerms:
        """The terms for (item, receiving division, handling division, day), from memory when fresh."""
        now = time.monotonic()
        if (kept := self._entries.get(key)) is not None and now - kept[0] <= self._refresh_seconds:
            return kept[1]
        generation = self._generation
        terms = await load()
        # A change made while this was read may not be in it: keep it only when nothing changed meanwhile.
        if generation == self._generation:
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = (now, terms)
        return terms

    def changed(self) -> None:
        """The catalogue changed (called once the change is committed): forget every kept copy."""
        self._generation += 1
        self._entries.clear()
