"""The FAQ knowledge base (常见问题): questions and answers linked to the items they are about, kept by
admins and supervisors. An entry is found by its question (weight A), the names and aliases of its
items (B) and its answer (C)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.bigrams import document
from backend.catalogue.rules import database_refusals, require_faq_editor
from backend.catalogue.schemas import FaqInput, FaqItemRef, FaqView, mode_views
from backend.db import Database
from backend.errors import FieldError, NotFound, ValidationFailed


def faq_doc(question: str, answer: str, items: Iterable[Mapping[str, Any]]) -> str:
    """The search document of an entry; `items` have a `name` and `aliases`."""
    items = list(items)
    linked = [(r["name"], "B") for r in items] + [(a, "B") for r in items for a in (r["aliases"] or [])]
    return document([(question, "A"), *linked, (answer, "C")])


async def item_links(conn: asyncpg.Connection, faq_ids: Sequence[str]) -> dict[str, list[asyncpg.Record]]:
    """The items each entry is linked to, in order."""
    linked: dict[str, list[asyncpg.Record]] = {}
    for r in await repository.faq_items(conn, faq_ids):
        linked.setdefault(r["faq_id"], []).append(r)
    return linked


async def item_refs(conn: asyncpg.Connection, faq_ids: Sequence[str]) -> dict[str, list[FaqItemRef]]:
    """The items each entry refers to, as an answer shows them."""
    return {faq_id: [FaqItemRef(r["code"], r["name"], mode_views(r["modes"])) for r in rows]
            for faq_id, rows in (await item_links(conn, faq_ids)).items()}


async def refresh_docs(conn: asyncpg.Connection, item_code: str) -> None:
    """Rewrite the search documents of the entries linked to an item whose names or aliases changed."""
    entries = await repository.faq_entries(conn, item_code)
    links = await item_links(conn, [e["id"] for e in entries])
    await repository.update_faq_docs(
        conn, [(e["id"], faq_doc(e["question"], e["answer"], links.get(e["id"], []))) for e in entries])


async def linked_items(
    conn: asyncpg.Connection, codes: Sequence[str], at: str = "#/item_codes"
) -> list[asyncpg.Record]:
    """The items an entry is to be linked to, each once, in order; unknown codes are problems."""
    found = await repository.item_names(conn, codes)
    problems = [FieldError(f"{at}/{n}", f"no item with code {c}") for n, c in enumerate(codes) if c not in found]
    if problems:
        raise ValidationFailed(problems)
    return [found[c] for c in dict.fromkeys(codes)]


class FaqService:
    def __init__(self, db: Database, audit: AuditLog) -> None:
        self.db, self.audit = db, audit

    async def entries(self, item_code: str | None = None) -> list[FaqView]:
        """Every entry, or those about one item."""
        async with self.db.connection() as conn:
            if item_code is not None and not await repository.existing_item_codes(conn, [item_code]):
                raise NotFound(f"no item with code {item_code}", item_code=item_code)
            return await self._views(conn, await repository.faq_entries(conn, item_code))

    async def get(self, faq_id: str) -> FaqView:
        async with self.db.connection() as conn:
            return await self._view(conn, faq_id)

    async def create(self, form: FaqInput, actor: Actor) -> FaqView:
        require_faq_editor(actor)
        async with self.db.transaction() as conn, database_refusals():
            items = await linked_items(conn, form.item_codes)
            faq_id = await repository.insert_faq(conn, form.question, form.answer,
                                                 faq_doc(form.question, form.answer, items))
            await repository.set_faq_items(conn, faq_id, [r["code"] for r in items])
            await self.audit.record(conn, actor, "catalogue.faq.created", "catalogue_faq", faq_id,
                                    division=actor.division, detail={"items": [r["code"] for r in items]})
            return await self._view(conn, faq_id)

    async def update(self, faq_id: str, form: FaqInput, actor: Actor) -> FaqView:
        require_faq_editor(actor)
        async with self.db.transaction() as conn, database_refusals():
            items = await linked_items(conn, form.item_codes)
            if not await repository.update_faq(conn, faq_id, form.question, form.answer,
                                               faq_doc(form.question, form.answer, items)):
                raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
            await repository.set_faq_items(conn, faq_id, [r["code"] for r in items])
            await self.audit.record(conn, actor, "catalogue.faq.updated", "catalogue_faq", faq_id,
                                    division=actor.division, detail={"items": [r["code"] for r in items]})
            return await self._view(conn, faq_id)

    async def delete(self, faq_id: str, actor: Actor) -> None:
        require_faq_editor(actor)
        async with self.db.transaction() as conn:
            if not await repository.delete_faq(conn, faq_id):
                raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
            await self.audit.record(conn, actor, "catalogue.faq.deleted", "catalogue_faq", faq_id,
                                    division=actor.division)

    async def _views(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[FaqView]:
        refs = await item_refs(conn, [r["id"] for r in rows])
        return [FaqView(id=r["id"], question=r["question"], answer=r["answer"], items=refs.get(r["id"], []),
                        sample=r["sample"]) for r in rows]

    async def _view(self, conn: asyncpg.Connection, faq_id: str) -> FaqView:
        row = await repository.faq(conn, faq_id)
        if row is None:
            raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
        return (await self._views(conn, [row]))[0]
