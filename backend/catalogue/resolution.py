"""Resolution: which items a person whose matter belongs to division A can handle at division B on a
date, in which modes, and which lists say so — one query, for the mobile app and kiosks."""

from __future__ import annotations

import datetime as dt

from backend.catalogue import repository
from backend.catalogue.places import Places
from backend.catalogue.rules import today
from backend.catalogue.schemas import Resolution, ResolutionSource, ResolvedItem, mode_views
from backend.db import Database
from backend.identity.divisions import province_of


def _day(text: str | None) -> dt.date | None:
    return dt.date.fromisoformat(text) if text else None


class ResolutionService:
    def __init__(self, db: Database, places: Places) -> None:
        self.db, self.places = db, places

    async def resolve(self, matter_division: str, at_division: str, as_of: dt.date | None = None) -> Resolution:
        """Which items a person whose matter belongs to `matter_division` can handle at `at_division`
        on `as_of`, in which modes, and by which lists."""
        matter = self.places.lookup(matter_division, "matter_division")
        at = self.places.lookup(at_division, "at_division")
        as_of = as_of or today()
        async with self.db.connection() as conn:
            rows = await repository.resolve(conn, province_of(matter.code), province_of(at.code), as_of)
        items = []
        for r in rows:
            sources = sorted((ResolutionSource(
                list_code=s["list_code"], version=s["version"], kind=s["kind"], modes=s["modes"],
                available_by=_day(s["available_by"]),
                guaranteed=s["available_by"] is None or dt.date.fromisoformat(s["available_by"]) <= as_of,
            ) for s in r["sources"]), key=lambda s: (s.kind != "national", s.list_code))
            # A mode is offered when a list offers it and the standard governing the matter (the matter
            # province's variant in force, else the national one) supports it.
            listed = {m for s in sources for m in s.modes}
            guaranteed = {m for s in sources if s.guaranteed for m in s.modes}
            supported = set(r["governing_modes"])
            items.append(ResolvedItem(
                code=r["code"], name=r["name"], type=r["item_type"], frequency=r["frequency"],
                modes=mode_views(guaranteed & supported), upcoming_modes=mode_views((listed - guaranteed) & supported),
                unsupported_modes=mode_views(listed - supported), sources=sources, local_variant=r["local_variant"],
                sample=r["sample"]))
        return Resolution(matter_division=self.places.view(matter), at_division=self.places.view(at),
                          as_of=as_of, cross_province=province_of(matter.code) != province_of(at.code),
                          items=items, sample=any(i.sample for i in items))
