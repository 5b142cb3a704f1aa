"""Local variants (事项实施清单): a province's own version of a national item, numbered per (item,
province), each in force from its effective date until the next one's, compared field by field with
the national standard (policy 四(一): one standard per item)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.diff import compare
from backend.catalogue.items import check_standard, item_row
from backend.catalogue.places import Places
from backend.catalogue.rules import database_refusals, require_admin, today
from backend.catalogue.schemas import ItemStandard, VariantCreate, VariantRef, VariantSummary, VariantView
from backend.db import Database
from backend.errors import NotFound, OutsideDivision, OverlappingEffectiveDates, ValidationFailed
from backend.identity.divisions import within


def variant_ref(places: Places, row: asyncpg.Record) -> VariantRef:
    return VariantRef(row["division"], places.name(row["division"]), row["version"], row["effective_date"])


class VariantService:
    def __init__(self, db: Database, audit: AuditLog, places: Places, changed: Callable[[], None] = lambda: None) -> None:
        self.db, self.audit, self.places = db, audit, places
        self.changed = changed  # told once a variant is published

    async def summaries(self, item_code: str) -> list[VariantSummary]:
        """Every province's variants of an item, with how many fields depart from the national standard."""
        async with self.db.connection() as conn:
            national = (await item_row(conn, item_code))["standard"]
            rows = await repository.variants(conn, item_code)
        return [VariantSummary(division=r["division"], division_name=self.places.name(r["division"]),
                               version=r["version"], effective_date=r["effective_date"],
                               effective_until=r["effective_until"],
                               differences=len(compare(national, r["standard"])), sample=r["sample"])
                for r in rows]

    async def get(
        self, item_code: str, division: str, *, version: int | None = None, as_of: dt.date | None = None
    ) -> VariantView:
        """A province's variant with its differences from the national standard: a given version, or
        the one in force on `as_of` (today by default)."""
        province = self.places.province(division, "#/division")
        async with self.db.connection() as conn:
            national = (await item_row(conn, item_code))["standard"]
            if version is not None:
                row = await repository.variant_version(conn, item_code, province, version)
            else:
                row = await repository.variant_in_force(conn, item_code, province, as_of or today())
        if row is None:
            raise NotFound(f"{self.places.name(province)} has no local variant of {item_code}"
                           + (f" in version {version}" if version else " in force on that date"),
                           item_code=item_code, division=province)
        return self._view(national, row)

    async def publish(self, item_code: str, form: VariantCreate, actor: Actor) -> VariantView:
        """Publish a province's own version of a national item, from its effective date."""
        scope = require_admin(actor)
        province = self.places.province(form.division, "#/division")
        if not within(scope, province):
            raise OutsideDivision("an admin may publish local variants only for their own province")
        if form.standard.code != item_code:
            raise ValidationFailed.field("standard/code", f"must be {item_code}, the item this varies")
        if form.effective_date < today():
            raise ValidationFailed.field("effective_date", "a local variant cannot take effect retroactively")
        async with self.db.transaction() as conn, database_refusals():
            national = (await item_row(conn, item_code))["standard"]
            await check_standard(conn, form.standard, "#/standard")
            await repository.lock_item(conn, item_code)  # one new version of a variant at a time
            latest = (await repository.latest_variants(conn, [item_code])).get((item_code, province))
            if latest is not None and latest["effective_date"] >= form.effective_date:
                raise OverlappingEffectiveDates(
                    f"version {latest['version']} of this variant takes effect on {latest['effective_date']}; "
                    "a newer version must take effect after that", conflicts_with=latest["version"])
            number = (latest["version"] if latest else 0) + 1
            await repository.insert_variants(conn, [(item_code, province, number, form.effective_date,
                                                     msgspec.to_builtins(form.standard), False)])
            await self.audit.record(conn, actor, "catalogue.variant.published", "catalogue_variant",
                                    f"{item_code}/{province}", division=province,
                                    detail={"version": number, "effective_date": form.effective_date.isoformat()})
            row = await repository.variant_version(conn, item_code, province, number)
        await self.db.after_commit(self.changed)
        return self._view(national, row)

    def _view(self, national: dict[str, Any], row: asyncpg.Record) -> VariantView:
        return VariantView(
            item_code=row["item_code"], division=row["division"], division_name=self.places.name(row["division"]),
            version=row["version"], effective_date=row["effective_date"], effective_until=row["effective_until"],
            standard=msgspec.convert(row["standard"], ItemStandard), differences=compare(national, row["standard"]),
            sample=row["sample"],
        )
