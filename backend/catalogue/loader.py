"""Loading a catalogue from its JSON files (the shipped SAMPLE data): items, lists with their
historical versions, local variants and FAQ, checked like admin input, in one transaction; what
exists already is left alone, so loading twice changes nothing."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.faq import faq_doc
from backend.catalogue.items import item_columns, standard_problems
from backend.catalogue.lists import ListService
from backend.catalogue.rules import database_refusals
from backend.catalogue.schemas import ItemStandard
from backend.db import Database
from backend.errors import FieldError, ValidationFailed

DATA_DIR = Path(__file__).resolve().parent / "data"


class CatalogueLoader:
    def __init__(self, db: Database, audit: AuditLog, lists: ListService, changed: Callable[[], None] = lambda: None) -> None:
        self.db, self.audit, self.lists = db, audit, lists
        self.changed = changed  # told once something new is loaded

    async def load(
        self, actor: Actor, data_dir: Path = DATA_DIR, progress: Callable[[str], None] = print
    ) -> dict[str, int]:
        """Load what the files hold and the database does not; how many of each were new."""
        read = lambda name: json.loads((data_dir / name).read_text(encoding="utf-8"))  # noqa: E731
        items_file, lists_file, variants_file, faq_file = (
            read("items.json"), read("lists.json"), read("variants.json"), read("faq.json"))
        sample = bool(items_file.get("_sample"))
        counts = dict.fromkeys(("certificate_types", "items", "list_versions", "variants", "faq"), 0)
        async with self.db.transaction() as conn, database_refusals():
            counts["certificate_types"] = await repository.insert_certificate_types(
                conn, [(c, n, sample) for c, n in items_file["certificate_types"].items()])
            counts["items"] = await self._items(conn, items_file["items"], sample)
            progress(f"catalogue: {counts['items']} new of {len(items_file['items'])} items")
            for spec in sorted(lists_file["lists"], key=lambda s: (s["code"], s["version"])):
                counts["list_versions"] += await self.lists.import_version(
                    conn, spec, actor, f"#/lists/{spec['code']}/{spec['version']}")
            progress(f"catalogue: {counts['list_versions']} new of {len(lists_file['lists'])} list versions")
            counts["variants"] = await self._variants(conn, variants_file["variants"], bool(variants_file["_sample"]))
            progress(f"catalogue: {counts['variants']} new of {len(variants_file['variants'])} local variants")
            counts["faq"] = await self._faq(conn, faq_file["faq"], bool(faq_file["_sample"]))
            progress(f"catalogue: {counts['faq']} new of {len(faq_file['faq'])} FAQ entries")
            if any(counts.values()):
                await self.audit.record(conn, actor, "catalogue.loaded", "catalogue", None,
                                        detail={**counts, "sample": sample})
        if any(counts.values()):
            await self.db.after_commit(self.changed)
        return counts

    @staticmethod
    async def _items(conn: asyncpg.Connection, specs: Sequence[dict[str, Any]], sample: bool) -> int:
        standards = msgspec.convert(specs, list[ItemStandard])
        existing = await repository.existing_item_codes(conn, [s.code for s in standards])
        new = [(n, s) for n, s in enumerate(standards) if s.code not in existing]
        certificate_names = await repository.certificate_types(conn)
        problems = await asyncio.to_thread(lambda: [
            p for n, s in new for p in standard_problems(s, certificate_names, f"#/items/{n}")])
        if problems:
            raise ValidationFailed(problems, "items.json does not hold valid item standards")
        await repository.insert_items(conn, [(s.code, sample, item_columns(s)) for _, s in new])
        return len(new)

    @staticmethod
    async def _variants(conn: asyncpg.Connection, specs: Sequence[dict[str, Any]], sample: bool) -> int:
        """New versions must continue each (item, province)'s numbering and take effect after the
        version before."""
        latest = {key: (r["version"], r["effective_date"])
                  for key, r in (await repository.latest_variants(conn, [s["item_code"] for s in specs])).items()}
        new: list[tuple[int, dict[str, Any], ItemStandard]] = []
        problems: list[FieldError] = []
        for n, spec in sorted(enumerate(specs), key=lambda p: (p[1]["item_code"], p[1]["division"], p[1]["version"])):
            key, day = (spec["item_code"], spec["division"]), dt.date.fromisoformat(spec["effective_date"])
            version, since = latest.get(key, (0, None))
            if spec["version"] <= version:
                continue  # loaded before
            if spec["version"] != version + 1 or (since is not None and day <= since):
                problems.append(FieldError(f"#/variants/{n}", f"version {spec['version']} must follow version "
                                                              f"{version} and take effect after {since}"))
            latest[key] = (spec["version"], day)
            standard = msgspec.convert(spec["standard"], ItemStandard)
            if standard.code != spec["item_code"]:
                problems.append(FieldError(f"#/variants/{n}/standard/code", f"must be {spec['item_code']}"))
            new.append((n, spec, standard))
        certificate_names = await repository.certificate_types(conn)
        problems += await asyncio.to_thread(lambda: [
            p for n, _, s in new for p in standard_problems(s, certificate_names, f"#/variants/{n}/standard")])
        if problems:
            raise ValidationFailed(problems, "variants.json does not hold valid local variants")
        await repository.insert_variants(conn, [
            (spec["item_code"], spec["division"], spec["version"], dt.date.fromisoformat(spec["effective_date"]),
             msgspec.to_builtins(standard), sample) for _, spec, standard in new])
        return len(new)

    @staticmethod
    async def _faq(conn: asyncpg.Connection, entries: Sequence[dict[str, Any]], sample: bool) -> int:
        existing = await repository.existing_faq_ids(conn, [e["id"] for e in entries])
        new = [(n, e) for n, e in enumerate(entries) if e["id"] not in existing]
        items = await repository.item_names(conn, [c for _, e in new for c in e["item_codes"]])
        problems = [FieldError(f"#/faq/{n}/item_codes/{k}", f"no item with code {c}")
                    for n, e in new for k, c in enumerate(e["item_codes"]) if c not in items]
        if problems:
            raise ValidationFailed(problems, "faq.json links entries to unknown items")
        links = {e["id"]: list(dict.fromkeys(e["item_codes"])) for _, e in new}
        await repository.insert_faqs(conn, [
            (e["id"], e["question"], e["answer"], sample,
             faq_doc(e["question"], e["answer"], (items[c] for c in links[e["id"]]))) for _, e in new])
        await repository.insert_faq_items(conn, links)
        await repository.advance_faq_numbers(conn)
        return len(new)
