"""Item standards (事项标准): the national catalogue's items, the rules a standard must follow beyond
its types, and the columns search and filters use. Only a national admin adds or revises an item."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.bigrams import compact, document
from backend.catalogue.faq import refresh_docs
from backend.catalogue.forms import schema_problems
from backend.catalogue.rules import database_refusals, require_national_admin
from backend.catalogue.schemas import TYPE_CODES, ItemPage, ItemStandard, ItemSummary, ItemView, mode_views
from backend.db import Database
from backend.errors import FieldError, NotFound, ValidationFailed


def standard_problems(s: ItemStandard, certificate_types: dict[str, str], at: str) -> list[FieldError]:
    """The rules of an item standard that its types alone cannot say. CPU work (the form schema is
    checked too): call it from a worker thread."""
    problems = []
    if s.code[3:5] != TYPE_CODES[s.type]:
        problems.append(FieldError(f"{at}/code", f"the type segment of the code must be {TYPE_CODES[s.type]} "
                                                  f"for a {s.type} item"))
    steps = [p.step for p in s.process]
    if steps != list(range(1, len(steps) + 1)):
        problems.append(FieldError(f"{at}/process", "steps must be numbered 1, 2, 3 … in order"))
    seen: set[str] = set()
    for n, material in enumerate(s.materials):
        if material.name in seen:
            problems.append(FieldError(f"{at}/materials/{n}/name", f"material {material.name} is listed twice"))
        seen.add(material.name)
        for k, code in enumerate(material.replaceable_by):
            if code not in certificate_types:
                problems.append(FieldError(f"{at}/materials/{n}/replaceable_by/{k}",
                                           f"unknown certificate type {code}"))
    if s.result.e_certificate_type and s.result.e_certificate_type not in certificate_types:
        problems.append(FieldError(f"{at}/result/e_certificate_type",
                                   f"unknown certificate type {s.result.e_certificate_type}"))
    if len(set(s.modes)) != len(s.modes):
        problems.append(FieldError(f"{at}/modes", "a mode is listed twice"))
    problems += schema_problems(s.form_schema, f"{at}/form_schema")
    return problems


async def check_standard(conn: asyncpg.Connection, s: ItemStandard, at: str = "#") -> None:
    """Refuse a standard that breaks `standard_problems`, checked off the event loop."""
    problems = await asyncio.to_thread(standard_problems, s, await repository.certificate_types(conn), at)
    if problems:
        raise ValidationFailed(problems)


def item_columns(s: ItemStandard) -> repository.ItemColumns:
    """What a standard sets in `catalogue_items`: weights A = name, B = aliases, C = result name."""
    search_doc = document([(s.name, "A"), *((a, "B") for a in s.aliases), (s.result.name, "C")])
    return repository.ItemColumns(
        name=s.name, item_type=s.type, department=s.department.national, modes=list(s.modes), frequency=s.frequency,
        standard=msgspec.to_builtins(s), name_norm=compact(s.name), alias_norms=[compact(a) for a in s.aliases],
        search_doc=search_doc)


async def item_row(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
    """An item's row (its current standard), or 404."""
    row = await repository.item(conn, code)
    if row is None:
        raise NotFound(f"no item with code {code}", item_code=code)
    return row


def _item_view(row: asyncpg.Record) -> ItemView:
    s = msgspec.convert(row["standard"], ItemStandard)
    return ItemView(
        code=s.code, name=s.name, aliases=s.aliases, basis=s.basis, type=s.type, targets=list(s.targets),
        department=s.department, conditions=s.conditions, process=s.process, materials=s.materials,
        time_limit=s.time_limit, result=s.result, modes=mode_views(s.modes), frequency=s.frequency,
        form_schema=s.form_schema, revision=row["revision"], variants=list(row["variant_divisions"]),
        sample=row["sample"],
    )


class ItemService:
    def __init__(self, db: Database, audit: AuditLog, changed: Callable[[], None] = lambda: None) -> None:
        self.db, self.audit = db, audit
        self.changed = changed  # told once a change is committed

    async def page(
        self, *, department: str | None = None, mode: str | None = None, item_type: str | None = None,
        limit: int = 50, offset: int = 0,
    ) -> ItemPage:
        """Items by frequency, filtered by department prefix, mode or type."""
        async with self.db.connection() as conn:
            rows, total = await repository.item_page(conn, department=department, mode=mode, item_type=item_type,
                                                     limit=limit, offset=offset)
        items = [ItemSummary(r["code"], r["name"], r["item_type"], r["department"], mode_views(r["modes"]),
                             r["frequency"], r["sample"]) for r in rows]
        return ItemPage(items, total, any(i.sample for i in items))

    async def get(self, code: str) -> ItemView:
        async with self.db.connection() as conn:
            return _item_view(await item_row(conn, code))

    async def create(self, form: ItemStandard, actor: Actor) -> ItemView:
        """Add an item to the national catalogue (national admin)."""
        require_national_admin(actor, "change the national item standards")
        async with self.db.transaction() as conn, database_refusals():
            await check_standard(conn, form)
            if not await repository.insert_item(conn, form.code, False, item_columns(form)):
                raise ValidationFailed.field("code", f"an item with code {form.code} exists already")
            await self.audit.record(conn, actor, "catalogue.item.created", "catalogue_item", form.code,
                                    division=actor.division, detail={"name": form.name})
            view = _item_view(await item_row(conn, form.code))
        await self.db.after_commit(self.changed)
        return view

    async def revise(self, code: str, form: ItemStandard, actor: Actor) -> ItemView:
        """Replace an item's standard; the previous one is kept as a revision (national admin)."""
        require_national_admin(actor, "change the national item standards")
        if form.code != code:
            raise ValidationFailed.field("code", f"the standard's code must be {code}")
        async with self.db.transaction() as conn, database_refusals():
            if not await repository.lock_item(conn, code):
                raise NotFound(f"no item with code {code}", item_code=code)
            await check_standard(conn, form)
            revision = await repository.update_item(conn, code, item_columns(form), actor.id)
            await refresh_docs(conn, code)  # FAQ entries are found by their items' names and aliases too
            await self.audit.record(conn, actor, "catalogue.item.revised", "catalogue_item", code,
                                    division=actor.division, detail={"revision": revision})
            view = _item_view(await item_row(conn, code))
        await self.db.after_commit(self.changed)
        return view
