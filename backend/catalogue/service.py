"""Catalogue use cases: item standards and their local variants, versioned lists with their state
machine, resolution of what can be handled where, receipt standards, form checks, search, FAQ.

Reads need no sign-in. Every change is made by an admin inside their division scope (a national admin,
`000000`, for national lists and items; a provincial admin for their province's variants and the
regional lists their province belongs to), in one transaction with its audit entry.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import itertools
import json
import math
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.diff import compare
from backend.catalogue.forms import form_problems, schema_problems
from backend.catalogue.schemas import (
    FORM_CHECKS,
    TYPE_CODES,
    Answer,
    CertificateRef,
    DivisionView,
    DraftCreate,
    EntryChange,
    FaqHit,
    FaqInput,
    FaqItemRef,
    FaqView,
    FieldChange,
    FormCheck,
    FormCheckResult,
    FormProblem,
    ItemPage,
    ItemStandard,
    ItemSummary,
    ItemView,
    ListContent,
    ListCreate,
    ListDiff,
    ListEntryInput,
    ListEntryView,
    ListEvent,
    ListHistory,
    ListVersionSummary,
    ListVersionView,
    ListView,
    Material,
    Publication,
    ReceiptMaterial,
    ReceiptStandard,
    Resolution,
    ResolutionSource,
    ResolvedItem,
    SearchHit,
    SearchResult,
    VariantCreate,
    VariantRef,
    VariantSummary,
    VariantView,
    Withdrawal,
    mode_names,
    mode_views,
)
from backend.catalogue.search import Query, compact, document, read_query, read_question
from backend.db import Database
from backend.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidTransition,
    NotFound,
    OutsideDivision,
    OverlappingEffectiveDates,
    ValidationFailed,
    VersionImmutable,
)
from backend.identity.divisions import (
    DIVISIONS_FILE,
    NATIONAL,
    Division,
    DivisionTable,
    InvalidDivision,
    division_table,
    province_of,
    within,
)

CHINA = ZoneInfo("Asia/Shanghai")
DATA_DIR = Path(__file__).resolve().parent / "data"
FAQ_EDITORS = frozenset({"admin", "supervisor"})
_MATCH = {4: "exact_name", 3: "exact_alias", 2: "name", 1: "alias", 0: "other"}
_CONTENT_FIELDS = ("name", "issuer", "document", "note")
# Actions that would change a version's content: refused as `version-immutable` outside a draft.
_CONTENT_ACTIONS = frozenset({"edit", "discard", "publish"})
_DONE = {"edit": "edited", "discard": "discarded", "publish": "published", "withdraw": "withdrawn"}


def today() -> dt.date:
    """Today in China, where every effective date of the catalogue is meant."""
    return dt.datetime.now(CHINA).date()


def shown_state(row: asyncpg.Record) -> str:
    """A version's state as people read it: a published version whose successor has taken effect is
    superseded (stored as published, so that until that day it can still be withdrawn)."""
    if row["state"] == "published" and row["effective_until"] is not None and row["effective_until"] <= today():
        return "superseded"
    return row["state"]


def _members(content: ListContent) -> list[str]:
    """The member provinces a draft's content names, each once."""
    return list(dict.fromkeys(content.members or []))


def _item_doc(standard: ItemStandard) -> str:
    return document([(standard.name, "A"), *((a, "B") for a in standard.aliases), (standard.result.name, "C")])


def _faq_doc(question: str, answer: str, items: Sequence[asyncpg.Record]) -> str:
    linked = [(r["name"], "B") for r in items] + [(a, "B") for r in items for a in (r["aliases"] or [])]
    return document([(question, "A"), *linked, (answer, "C")])


@asynccontextmanager
async def _database_refusals() -> AsyncIterator[None]:
    """Turn the database's own guards (immutability trigger, non-overlap constraint, unique keys) into
    problems, for the rare write that passes the service's checks in a race."""
    try:
        yield
    except asyncpg.RaiseError as exc:
        if getattr(exc, "hint", None) == "catalogue-immutable":
            raise VersionImmutable(str(exc)) from None
        raise
    except asyncpg.ExclusionViolationError:
        raise OverlappingEffectiveDates("another version of this list is in force on that date") from None
    except asyncpg.UniqueViolationError as exc:
        raise Conflict(f"a concurrent change got there first ({exc.constraint_name}); read it and retry") from None


class CatalogueService:
    def __init__(self, db: Database, audit: AuditLog, divisions: DivisionTable | None = None) -> None:
        self.db, self.audit = db, audit
        self.divisions = divisions or division_table()

    # -- reference data ------------------------------------------------------------------------------

    async def sync_reference_data(self, path: Path = DIVISIONS_FILE) -> bool:
        """Load the GB/T 2260 table into `divisions` when the file changed; True when it loaded."""
        raw = path.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        async with self.db.connection() as conn:
            if await repository.reference_digest(conn, "divisions") == digest:
                return False
        data = json.loads(raw)
        rows = [(d["code"], d["name"], d["level"], d.get("kind"), d["parent"], None, None) for d in data["divisions"]]
        # A retired code keeps its place under its province, so old records still resolve.
        rows += [(r["code"], r["name"], r["level"], None, province_of(r["code"]), r["replaced_by"], r["year"])
                 for r in data.get("retired", [])]
        async with self.db.transaction() as conn:
            await repository.lock_reference_data(conn)
            if await repository.reference_digest(conn, "divisions") == digest:
                return False
            await repository.upsert_divisions(conn, rows)
            await repository.set_reference_digest(conn, "divisions", digest, len(rows))
        return True

    def _division(self, code: str, field: str) -> Division:
        try:
            return self.divisions.lookup(code)
        except InvalidDivision as exc:
            raise ValidationFailed.field(field, str(exc)) from None

    def _province(self, code: str, pointer: str) -> str:
        try:
            division = self.divisions.lookup(code)
        except InvalidDivision as exc:
            raise ValidationFailed([FieldError(pointer, str(exc))]) from None
        if division.level != "province":
            raise ValidationFailed([FieldError(pointer, f"{code} is not a province code (like {code[:2]}0000)")])
        return code

    def _division_view(self, division: Division) -> DivisionView:
        province = province_of(division.code)
        known = self.divisions.by_code.get(province)
        return DivisionView(division.code, division.name, division.level, province, known.name if known else None)

    def division(self, code: str) -> DivisionView:
        """A division code checked against the GB/T 2260 table."""
        return self._division_view(self._division(code, "code"))

    def _division_name(self, code: str) -> str | None:
        known = self.divisions.by_code.get(code)
        return known.name if known else None

    # -- items ---------------------------------------------------------------------------------------

    async def list_items(
        self, *, department: str | None = None, mode: str | None = None, item_type: str | None = None,
        limit: int = 50, offset: int = 0,
    ) -> ItemPage:
        async with self.db.connection() as conn:
            rows, total = await repository.item_page(conn, department=department, mode=mode, item_type=item_type,
                                                     limit=limit, offset=offset)
        items = [self._summary(r) for r in rows]
        return ItemPage(items, total, any(i.sample for i in items))

    @staticmethod
    def _summary(row: asyncpg.Record) -> ItemSummary:
        return ItemSummary(row["code"], row["name"], row["item_type"], row["department"], mode_views(row["modes"]),
                           row["frequency"], row["sample"])

    async def _item_row(self, conn: asyncpg.Connection, code: str) -> asyncpg.Record:
        row = await repository.item(conn, code)
        if row is None:
            raise NotFound(f"no item with code {code}", item_code=code)
        return row

    async def get_item(self, code: str) -> ItemView:
        async with self.db.connection() as conn:
            return self._item_view(await self._item_row(conn, code))

    @staticmethod
    def _item_view(row: asyncpg.Record) -> ItemView:
        s = msgspec.convert(row["standard"], ItemStandard)
        return ItemView(
            code=s.code, name=s.name, aliases=s.aliases, basis=s.basis, type=s.type, targets=list(s.targets),
            department=s.department, conditions=s.conditions, process=s.process, materials=s.materials,
            time_limit=s.time_limit, result=s.result, modes=mode_views(s.modes), frequency=s.frequency,
            form_schema=s.form_schema, revision=row["revision"], variants=list(row["variant_divisions"]),
            sample=row["sample"],
        )

    def _standard_problems(self, s: ItemStandard, certificate_types: dict[str, str], at: str) -> list[FieldError]:
        """The rules of an item standard that its types alone cannot say."""
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

    async def _check_standard(self, conn: asyncpg.Connection, s: ItemStandard, at: str = "#") -> None:
        # Checking a form schema is CPU work (jsonschema, RE2): off the event loop.
        problems = await asyncio.to_thread(self._standard_problems, s, await repository.certificate_types(conn), at)
        if problems:
            raise ValidationFailed(problems)

    @staticmethod
    def _item_values(s: ItemStandard) -> tuple[Any, ...]:
        """The columns an item's standard sets, in `repository.update_item` order."""
        return (s.name, s.type, s.department.national, list(s.modes), s.frequency, msgspec.to_builtins(s),
                compact(s.name), [compact(a) for a in s.aliases], _item_doc(s))

    def _item_row_values(self, s: ItemStandard, sample: bool) -> tuple[Any, ...]:
        """The columns of a new item, in `repository.insert_items` order."""
        values = self._item_values(s)
        return (s.code, *values[:6], sample, *values[6:])

    def _require_admin(self, actor: Actor) -> str:
        if actor.kind != "staff" or actor.role != "admin":
            raise Forbidden("only an admin may change the catalogue")
        return actor.division or ""

    def _require_national_admin(self, actor: Actor, what: str) -> None:
        if self._require_admin(actor) != NATIONAL:
            raise OutsideDivision(f"only a national admin (000000) may change {what}")

    async def create_item(self, form: ItemStandard, actor: Actor) -> ItemView:
        """Add an item to the national catalogue (national admin)."""
        self._require_national_admin(actor, "the national item standards")
        async with self.db.transaction() as conn, _database_refusals():
            await self._check_standard(conn, form)
            if not await repository.insert_item(conn, self._item_row_values(form, False)):
                raise ValidationFailed.field("code", f"an item with code {form.code} exists already")
            await self.audit.record(conn, actor, "catalogue.item.created", "catalogue_item", form.code,
                                    division=actor.division, detail={"name": form.name})
            return self._item_view(await self._item_row(conn, form.code))

    async def revise_item(self, code: str, form: ItemStandard, actor: Actor) -> ItemView:
        """Replace an item's standard; the previous one is kept as a revision (national admin)."""
        self._require_national_admin(actor, "the national item standards")
        if form.code != code:
            raise ValidationFailed.field("code", f"the standard's code must be {code}")
        async with self.db.transaction() as conn, _database_refusals():
            if not await repository.lock_item(conn, code):
                raise NotFound(f"no item with code {code}", item_code=code)
            await self._check_standard(conn, form)
            revision = await repository.update_item(conn, code, self._item_values(form), actor.id)
            for faq_id in await repository.faq_ids_for_item(conn, code):
                await self._refresh_faq_doc(conn, faq_id)
            await self.audit.record(conn, actor, "catalogue.item.revised", "catalogue_item", code,
                                    division=actor.division, detail={"revision": revision})
            return self._item_view(await self._item_row(conn, code))

    # -- lists: reading --------------------------------------------------------------------------------

    async def list_overview(self, as_of: dt.date | None = None) -> list[ListView]:
        as_of = as_of or today()
        async with self.db.connection() as conn:
            rows = await repository.list_overview(conn, as_of)
            versions = await repository.versions(conn, [r["code"] for r in rows], include_drafts=False)
        by_list = {code: list(group) for code, group in itertools.groupby(versions, key=lambda v: v["list_code"])}
        return [self._list_view(by_list[r["code"]], r) for r in rows]

    async def get_list(self, code: str, *, include_drafts: bool = False) -> ListView:
        async with self.db.connection() as conn:
            versions = await self._visible_versions(conn, code, include_drafts=include_drafts)
            overview = await repository.list_overview(conn, today(), code)
        return self._list_view(versions, overview[0] if overview else None)

    @staticmethod
    async def _visible_versions(conn: asyncpg.Connection, code: str, *, include_drafts: bool) -> list[asyncpg.Record]:
        """A list's versions; a list with nothing but a draft exists only for admins."""
        versions = await repository.versions(conn, [code], include_drafts=include_drafts)
        if not versions:
            raise NotFound(f"no list with code {code}", list_code=code)
        return versions

    @staticmethod
    def _list_view(versions: Sequence[asyncpg.Record], overview: asyncpg.Record | None) -> ListView:
        """A list (at least one version) shown by its newest public version as in `overview`, or by
        its draft when it has no other; `kind` is the list's own."""
        shown, kind = overview or versions[-1], versions[0]["kind"]
        return ListView(
            code=versions[0]["list_code"], kind=kind, name=shown["name"],
            members=list(shown["members"]) if kind == "regional" else None,
            in_force_version=overview["in_force_version"] if overview else None,
            versions=[ListVersionSummary(version=v["version"], state=shown_state(v), published_on=v["published_on"],
                                         effective_date=v["effective_date"], effective_until=v["effective_until"],
                                         entries=v["entry_count"]) for v in versions],
            sample=any(v["sample"] for v in versions),
        )

    async def _version_row(
        self, conn: asyncpg.Connection, code: str, number: int, *, include_drafts: bool, for_update: bool = False
    ) -> asyncpg.Record:
        row = await repository.version(conn, code, number, for_update=for_update)
        if row is None or (row["state"] == "draft" and not include_drafts):
            if await repository.list_row(conn, code) is None:
                raise NotFound(f"no list with code {code}", list_code=code)
            raise NotFound(f"list {code} has no version {number}", list_code=code, version=number)
        return row

    async def get_version(self, code: str, number: int, *, include_drafts: bool = False) -> ListVersionView:
        async with self.db.connection() as conn:
            row = await self._version_row(conn, code, number, include_drafts=include_drafts)
            return self._version_view(row, await repository.entries(conn, row["id"]))

    @staticmethod
    def _entry_view(e: asyncpg.Record | dict[str, Any]) -> ListEntryView:
        return ListEntryView(e["item_code"], e["item_name"], mode_views(e["modes"]), e["available_by"], e["note"])

    def _version_view(self, row: asyncpg.Record, entries: Sequence[asyncpg.Record]) -> ListVersionView:
        return ListVersionView(
            list_code=row["list_code"], kind=row["kind"], version=row["version"], state=shown_state(row),
            name=row["name"], issuer=row["issuer"], document=row["document"], note=row["note"],
            members=list(row["members"]) if row["kind"] == "regional" else None,
            published_on=row["published_on"], effective_date=row["effective_date"],
            effective_until=row["effective_until"], supersedes=row["supersedes"],
            withdrawal_reason=row["withdrawal_reason"], entries=[self._entry_view(e) for e in entries],
            sample=row["sample"],
        )

    async def diff_versions(self, code: str, old: int, new: int, *, include_drafts: bool = False) -> ListDiff:
        """What changed from version `old` to version `new` of a list (any two, either order)."""
        async with self.db.connection() as conn:
            a = await self._version_row(conn, code, old, include_drafts=include_drafts)
            b = await self._version_row(conn, code, new, include_drafts=include_drafts)
            a_entries = {e["item_code"]: e for e in await repository.entries(conn, a["id"])}
            b_entries = {e["item_code"]: e for e in await repository.entries(conn, b["id"])}
        before, after = ({**{f: r[f] for f in (*_CONTENT_FIELDS, "effective_date", "effective_until")},
                          "state": shown_state(r)} for r in (a, b))
        fields = [FieldChange(f, before[f], after[f]) for f in before if before[f] != after[f]]
        changed = []
        for code_, before in a_entries.items():
            after = b_entries.get(code_)
            if after is None:
                continue
            change = EntryChange(
                item_code=code_, item_name=after["item_name"],
                modes_added=sorted(set(after["modes"]) - set(before["modes"])),
                modes_removed=sorted(set(before["modes"]) - set(after["modes"])),
                available_by=[before["available_by"], after["available_by"]]
                if before["available_by"] != after["available_by"] else [],
                note=[before["note"], after["note"]] if before["note"] != after["note"] else [],
            )
            if change.modes_added or change.modes_removed or change.available_by or change.note:
                changed.append(change)
        return ListDiff(
            list_code=code, from_version=old, to_version=new, fields=fields,
            members_added=sorted(set(b["members"]) - set(a["members"])),
            members_removed=sorted(set(a["members"]) - set(b["members"])),
            entries_added=[self._entry_view(e) for c, e in b_entries.items() if c not in a_entries],
            entries_removed=[self._entry_view(e) for c, e in a_entries.items() if c not in b_entries],
            entries_changed=changed,
        )

    async def history(self, code: str, *, include_drafts: bool = False) -> ListHistory:
        async with self.db.connection() as conn:
            await self._visible_versions(conn, code, include_drafts=include_drafts)
            rows = await repository.events(conn, code, include_drafts=include_drafts)
        return ListHistory(code, [ListEvent(r["version"], r["action"], r["at"], r["actor_kind"], r["actor_division"],
                                            r["detail"]) for r in rows])

    # -- lists: changing -----------------------------------------------------------------------------------

    def _may_change_list(
        self, actor: Actor, kind: str, members: Sequence[str], new_members: Sequence[str] | None = None
    ) -> None:
        """National lists, and who belongs to a regional list, are a national admin's: membership commits
        every member province. The versions of a regional list are also its member provinces' admins'."""
        scope = self._require_admin(actor)
        if scope == NATIONAL:
            return
        if kind == "national":
            raise OutsideDivision("only a national admin (000000) may change a national list")
        if new_members is not None and set(new_members) != set(members):
            raise OutsideDivision("only a national admin (000000) may choose the members of a regional list: "
                                  "membership commits every member province")
        if not any(within(scope, m) for m in members):
            raise OutsideDivision("a provincial admin may change only the regional lists their province belongs to")

    @staticmethod
    def _membership_change(before: Sequence[str], after: Sequence[str]) -> dict[str, list[str]]:
        """For the audit entry: the member provinces a change adds and removes (none for no change)."""
        if set(before) == set(after):
            return {}
        return {"members_added": sorted(set(after) - set(before)), "members_removed": sorted(set(before) - set(after))}

    async def _check_content(
        self, conn: asyncpg.Connection, kind: str, content: ListContent, at: str
    ) -> list[str]:
        """Validate a draft's content; return its member provinces."""
        problems: list[FieldError] = []
        members = _members(content)
        if kind == "national" and members:
            problems.append(FieldError(f"{at}/members", "a national list applies everywhere and has no members"))
        if kind == "regional":
            if len(members) < 2:
                problems.append(FieldError(f"{at}/members", "a regional list needs at least two member provinces"))
            for n, code in enumerate(members):
                try:
                    self._province(code, f"{at}/members/{n}")
                except ValidationFailed as exc:
                    problems += exc.errors
        supported = await repository.item_modes(conn, [e.item_code for e in content.entries])
        seen: set[str] = set()
        for n, entry in enumerate(content.entries):
            if entry.item_code not in supported:
                problems.append(FieldError(f"{at}/entries/{n}/item_code", f"no item with code {entry.item_code}"))
            else:
                problems += [FieldError(f"{at}/entries/{n}/modes/{k}",
                                        f"{entry.item_code} supports only {mode_names(supported[entry.item_code])}: "
                                        f"a list may offer only the modes of the item's standard")
                             for k, mode in enumerate(entry.modes) if mode not in supported[entry.item_code]]
            if entry.item_code in seen:
                problems.append(FieldError(f"{at}/entries/{n}/item_code", f"{entry.item_code} is listed twice"))
            seen.add(entry.item_code)
        if problems:
            raise ValidationFailed(problems)
        return members

    @staticmethod
    def _entry_rows(entries: Sequence[ListEntryInput]) -> list[tuple[str, list[str], dt.date | None, str | None]]:
        return [(e.item_code, list(dict.fromkeys(e.modes)), e.available_by, e.note) for e in entries]

    async def _event(
        self, conn: asyncpg.Connection, code: str, number: int, action: str, actor: Actor, **detail: Any
    ) -> None:
        await repository.insert_event(conn, code, number, action, actor.kind, actor.division,
                                      json.loads(json.dumps(detail, default=str)))

    async def create_list(self, form: ListCreate, actor: Actor) -> ListVersionView:
        """A new list with its first version as a draft."""
        if self._require_admin(actor) != NATIONAL:
            raise OutsideDivision("only a national admin (000000) creates lists: a regional list's members commit "
                                  "their provinces")
        async with self.db.transaction() as conn, _database_refusals():
            members = await self._check_content(conn, form.kind, form.content, "#/content")
            if not await repository.insert_list(conn, form.code, form.kind):
                raise ValidationFailed.field("code", f"a list with code {form.code} exists already")
            version_id = await repository.insert_draft(conn, form.code, 1, msgspec.to_builtins(form.content))
            await repository.replace_content(conn, version_id, members, self._entry_rows(form.content.entries))
            await self._event(conn, form.code, 1, "draft_created", actor)
            await self.audit.record(conn, actor, "catalogue.list.created", "catalogue_list", form.code,
                                    division=actor.division, detail={"kind": form.kind, "version": 1, "members": members})
            return await self._view_in(conn, form.code, 1)

    async def _view_in(self, conn: asyncpg.Connection, code: str, number: int) -> ListVersionView:
        row = await repository.version(conn, code, number)
        return self._version_view(row, await repository.entries(conn, row["id"]))

    async def _locked_list(self, conn: asyncpg.Connection, code: str) -> asyncpg.Record:
        row = await repository.list_row(conn, code, for_update=True)
        if row is None:
            raise NotFound(f"no list with code {code}", list_code=code)
        return row

    async def create_draft(self, code: str, form: DraftCreate, actor: Actor) -> ListVersionView:
        """The next version as a draft: a copy of the newest version, or the content given."""
        async with self.db.transaction() as conn, _database_refusals():
            listing = await self._locked_list(conn, code)
            latest = await repository.latest_version(conn, code)
            if (draft := await repository.draft_exists(conn, code)) is not None:
                raise InvalidTransition(f"list {code} already has a draft (version {draft}); edit or discard it",
                                        version=draft)
            old_members = list(latest["members"]) if latest else []
            self._may_change_list(actor, listing["kind"], old_members,
                                  _members(form.content) if form.content is not None else None)
            if form.content is not None:
                members = await self._check_content(conn, listing["kind"], form.content, "#/content")
                meta = msgspec.to_builtins(form.content)
                entries = self._entry_rows(form.content.entries)
            else:
                members = old_members
                meta = {f: latest[f] for f in _CONTENT_FIELDS} if latest else {"name": code}
                entries = [(e["item_code"], list(e["modes"]), e["available_by"], e["note"])
                           for e in (await repository.entries(conn, latest["id"]) if latest else [])]
            number = await repository.next_version_number(conn, code)
            version_id = await repository.insert_draft(conn, code, number, meta)
            await repository.replace_content(conn, version_id, members, entries)
            await self._event(conn, code, number, "draft_created", actor,
                              copied_from=latest["version"] if latest and form.content is None else None)
            await self.audit.record(conn, actor, "catalogue.list.draft_created", "catalogue_list", code,
                                    division=actor.division,
                                    detail={"version": number, **self._membership_change(old_members, members)})
            return await self._view_in(conn, code, number)

    async def _apply(
        self, conn: asyncpg.Connection, code: str, number: int, action: str, actor: Actor,
        new_members: Sequence[str] | None = None,
    ) -> tuple[asyncpg.Record, asyncpg.Record, str]:
        """Lock a list and one of its versions, check the actor's scope, and find the state `action`
        takes the version to: the one place the state machine (`catalogue_list_transitions`) is applied."""
        listing = await self._locked_list(conn, code)
        row = await self._version_row(conn, code, number, include_drafts=True, for_update=True)
        self._may_change_list(actor, listing["kind"], list(row["members"]), new_members)
        state = shown_state(row)
        to_state = await repository.transition(conn, state, action)
        if to_state is None:
            if action in _CONTENT_ACTIONS:
                raise VersionImmutable(f"version {number} of {code} is {state} and cannot be {_DONE[action]}; "
                                       "create a new draft version instead", state=state)
            raise InvalidTransition(f"a {state} version cannot be {_DONE[action]}", state=state)
        return listing, row, to_state

    async def update_draft(self, code: str, number: int, content: ListContent, actor: Actor) -> ListVersionView:
        """Replace the content of a draft version; a published version never changes."""
        async with self.db.transaction() as conn, _database_refusals():
            listing, row, _ = await self._apply(conn, code, number, "edit", actor, _members(content))
            members = await self._check_content(conn, listing["kind"], content, "#")
            await repository.update_draft_meta(conn, row["id"], msgspec.to_builtins(content))
            await repository.replace_content(conn, row["id"], members, self._entry_rows(content.entries))
            await self._event(conn, code, number, "draft_updated", actor, entries=len(content.entries))
            await self.audit.record(conn, actor, "catalogue.list.draft_updated", "catalogue_list", code,
                                    division=actor.division,
                                    detail={"version": number, **self._membership_change(row["members"], members)})
            return await self._view_in(conn, code, number)

    async def discard_draft(self, code: str, number: int, actor: Actor) -> None:
        async with self.db.transaction() as conn, _database_refusals():
            _, row, _ = await self._apply(conn, code, number, "discard", actor)
            await repository.delete_draft(conn, row["id"])
            await self._event(conn, code, number, "draft_discarded", actor)
            await self.audit.record(conn, actor, "catalogue.list.draft_discarded", "catalogue_list", code,
                                    division=actor.division, detail={"version": number})

    async def publish(self, code: str, number: int, form: Publication, actor: Actor) -> ListVersionView:
        """Publish a draft from its effective date; the version in force until then ends that day."""
        async with self.db.transaction() as conn, _database_refusals():
            _, row, to_state = await self._apply(conn, code, number, "publish", actor)
            if form.effective_date < today():
                raise ValidationFailed.field("effective_date", "a list cannot take effect retroactively: "
                                                               f"choose {today().isoformat()} or later")
            if not await repository.entries(conn, row["id"]):
                raise ValidationFailed.field("entries", "a version needs at least one entry to be published")
            await self._place(conn, code, row, to_state, form.effective_date, today(), actor)
            await self.audit.record(conn, actor, "catalogue.list.published", "catalogue_list", code,
                                    division=actor.division,
                                    detail={"version": number, "effective_date": form.effective_date.isoformat(),
                                            "members": list(row["members"])})
            return await self._view_in(conn, code, number)

    async def _place(
        self, conn: asyncpg.Connection, code: str, row: asyncpg.Record, to_state: str, effective_date: dt.date,
        published_on: dt.date, actor: Actor,
    ) -> None:
        """Publish `row` from `effective_date`: refuse overlap, end the open version on that day (it
        stays published, and reads as superseded once the day has come)."""
        previous = None
        for period in await self._periods(conn, code):
            if period["effective_date"] >= effective_date:
                raise OverlappingEffectiveDates(
                    f"version {period['version']} of {code} takes effect on {period['effective_date']}; "
                    f"a newer version must take effect after that", conflicts_with=period["version"])
            if period["effective_until"] is None:
                previous = period
            elif period["effective_until"] > effective_date:
                raise OverlappingEffectiveDates(
                    f"version {period['version']} of {code} is in force until {period['effective_until']}; "
                    f"a newer version can take effect on that day at the earliest", conflicts_with=period["version"])
        if previous is not None:
            await repository.end_period(conn, previous["id"], effective_date)
            await self._event(conn, code, previous["version"], "superseded", actor,
                              by_version=row["version"], effective_until=effective_date)
        await repository.publish(conn, row["id"], to_state, published_on, effective_date,
                                 previous["version"] if previous else None)
        await self._event(conn, code, row["version"], "published", actor, effective_date=effective_date,
                          supersedes=previous["version"] if previous else None)

    @staticmethod
    async def _periods(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
        """The versions of a list that are, were or will be in force: a version withdrawn before it
        took effect (an empty period) takes no room."""
        return [p for p in await repository.periods(conn, code) if p["effective_until"] != p["effective_date"]]

    async def withdraw(self, code: str, number: int, form: Withdrawal, actor: Actor) -> ListVersionView:
        """Stop a published version from a date (today by default); it stays in the history. A version
        withdrawn before it takes effect never applies, and the version it was to supersede stays in force."""
        async with self.db.transaction() as conn, _database_refusals():
            _, row, to_state = await self._apply(conn, code, number, "withdraw", actor)
            until = form.effective_until or today()
            if until < today():
                raise ValidationFailed.field("effective_until", "a withdrawal cannot be back-dated")
            until = max(until, row["effective_date"])
            if row["effective_until"] is not None and until > row["effective_until"]:
                raise ValidationFailed.field(
                    "effective_until", f"version {number} already ends on {row['effective_until']}, when the next "
                                       "version takes effect; withdraw it on that day or earlier")
            await repository.withdraw(conn, row["id"], to_state, until, form.reason)
            await self._event(conn, code, number, "withdrawn", actor, effective_until=until, reason=form.reason)
            if until == row["effective_date"] > today():
                await self._reopen_predecessor(conn, code, row, actor)
            await self.audit.record(conn, actor, "catalogue.list.withdrawn", "catalogue_list", code,
                                    division=actor.division,
                                    detail={"version": number, "effective_until": until.isoformat()})
            return await self._view_in(conn, code, number)

    async def _reopen_predecessor(self, conn: asyncpg.Connection, code: str, row: asyncpg.Record, actor: Actor) -> None:
        """`row` was withdrawn before taking effect: the version it was to end stays in force, until the
        next version's start or for good."""
        periods = await self._periods(conn, code)
        previous = next((p for p in periods if p["effective_until"] == row["effective_date"]
                         and p["state"] == "published"), None)
        if previous is None:
            return
        until = min((p["effective_date"] for p in periods if p["effective_date"] > row["effective_date"]), default=None)
        await repository.end_period(conn, previous["id"], until)
        await self._event(conn, code, previous["version"], "reopened", actor, effective_until=until,
                          because_withdrawn=row["version"])

    # -- resolution and receipt standards ----------------------------------------------------------------------

    async def resolve(self, matter_division: str, at_division: str, as_of: dt.date | None = None) -> Resolution:
        """Which items a person whose matter belongs to `matter_division` can handle at `at_division`
        on `as_of`, in which modes, and by which lists."""
        matter = self._division(matter_division, "matter_division")
        at = self._division(at_division, "at_division")
        as_of = as_of or today()
        async with self.db.connection() as conn:
            rows = await repository.resolve(conn, province_of(matter.code), province_of(at.code), as_of)
        items = []
        for r in rows:
            sources = sorted((ResolutionSource(
                list_code=s["list_code"], version=s["version"], kind=s["kind"], modes=s["modes"],
                available_by=dt.date.fromisoformat(s["available_by"]) if s["available_by"] else None,
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
        return Resolution(matter_division=self._division_view(matter), at_division=self._division_view(at),
                          as_of=as_of, cross_province=province_of(matter.code) != province_of(at.code),
                          items=items, sample=any(i.sample for i in items))

    def _variant_ref(self, row: asyncpg.Record) -> VariantRef:
        return VariantRef(row["division"], self._division_name(row["division"]), row["version"], row["effective_date"])

    async def receipt_standard(
        self, item_code: str, receiving_division: str, handling_division: str, as_of: dt.date | None = None,
    ) -> ReceiptStandard:
        """收件标准: what the receiving place checks. The case is decided at the handling place, so its
        province's local variant governs where it has one, else the national standard; the receiving
        province's own variant, if it differs, is named too."""
        receiving = self._division(receiving_division, "receiving_division")
        handling = self._division(handling_division, "handling_division")
        as_of = as_of or today()
        governing = province_of(handling.code)
        async with self.db.connection() as conn:
            row = await self._item_row(conn, item_code)
            variant = await repository.variant_in_force(conn, item_code, governing, as_of)
            others = []
            if (receiving_province := province_of(receiving.code)) != governing and (
                    other := await repository.variant_in_force(conn, item_code, receiving_province, as_of)):
                others.append(self._variant_ref(other))
            certificate_names = await repository.certificate_types(conn)
        national = row["standard"]
        standard = msgspec.convert(variant["standard"] if variant else national, ItemStandard)
        national_materials = {m["name"]: m for m in national["materials"]}

        def receipt(m: Material) -> ReceiptMaterial:
            origin = "national" if national_materials.get(m.name) == msgspec.to_builtins(m) else "local"
            return ReceiptMaterial(
                name=m.name, form=m.form, check=FORM_CHECKS[m.form], count=m.count, required=m.required,
                replaceable_by=[CertificateRef(c, certificate_names.get(c)) for c in m.replaceable_by],
                note=m.note, origin=origin)  # type: ignore[arg-type]

        local_names = {m.name for m in standard.materials}
        return ReceiptStandard(
            item_code=item_code, item_name=standard.name, receiving_division=self._division_view(receiving),
            handling_division=self._division_view(handling), as_of=as_of,
            governing_variant=self._variant_ref(variant) if variant else None,
            conditions=standard.conditions, materials=[receipt(m) for m in standard.materials],
            not_required_locally=[n for n in national_materials if n not in local_names],
            differences=compare(national, variant["standard"]) if variant else [],
            other_variants=others, time_limit=standard.time_limit, form_schema=standard.form_schema,
            sample=row["sample"],
        )

    # -- variants -----------------------------------------------------------------------------------------------

    def _variant_view(self, national: dict[str, Any], row: asyncpg.Record) -> VariantView:
        return VariantView(
            item_code=row["item_code"], division=row["division"], division_name=self._division_name(row["division"]),
            version=row["version"], effective_date=row["effective_date"], effective_until=row["effective_until"],
            standard=msgspec.convert(row["standard"], ItemStandard), differences=compare(national, row["standard"]),
            sample=row["sample"],
        )

    async def list_variants(self, item_code: str) -> list[VariantSummary]:
        async with self.db.connection() as conn:
            national = (await self._item_row(conn, item_code))["standard"]
            rows = await repository.variants(conn, item_code)
        return [VariantSummary(division=r["division"], division_name=self._division_name(r["division"]),
                               version=r["version"], effective_date=r["effective_date"],
                               effective_until=r["effective_until"],
                               differences=len(compare(national, r["standard"])), sample=r["sample"])
                for r in rows]

    async def get_variant(
        self, item_code: str, division: str, *, version: int | None = None, as_of: dt.date | None = None
    ) -> VariantView:
        """A province's variant with its differences from the national standard: a given version, or
        the one in force on `as_of` (today by default)."""
        province = self._province(division, "#/division")
        async with self.db.connection() as conn:
            national = (await self._item_row(conn, item_code))["standard"]
            if version is not None:
                row = await repository.variant_version(conn, item_code, province, version)
            else:
                row = await repository.variant_in_force(conn, item_code, province, as_of or today())
        if row is None:
            raise NotFound(f"{self._division_name(province)} has no local variant of {item_code}"
                           + (f" in version {version}" if version else " in force on that date"),
                           item_code=item_code, division=province)
        return self._variant_view(national, row)

    async def create_variant(self, item_code: str, form: VariantCreate, actor: Actor) -> VariantView:
        """Publish a province's own version of a national item, from its effective date."""
        scope = self._require_admin(actor)
        province = self._province(form.division, "#/division")
        if not within(scope, province):
            raise OutsideDivision("an admin may publish local variants only for their own province")
        if form.standard.code != item_code:
            raise ValidationFailed.field("standard/code", f"must be {item_code}, the item this varies")
        if form.effective_date < today():
            raise ValidationFailed.field("effective_date", "a local variant cannot take effect retroactively")
        async with self.db.transaction() as conn, _database_refusals():
            national = (await self._item_row(conn, item_code))["standard"]
            number = await self._add_variant(conn, item_code, province, form.effective_date, form.standard, False)
            await self.audit.record(conn, actor, "catalogue.variant.published", "catalogue_variant",
                                    f"{item_code}/{province}", division=province,
                                    detail={"version": number, "effective_date": form.effective_date.isoformat()})
            row = await repository.variant_version(conn, item_code, province, number)
        return self._variant_view(national, row)

    async def _add_variant(
        self, conn: asyncpg.Connection, item_code: str, province: str, effective_date: dt.date,
        standard: ItemStandard, sample: bool,
    ) -> int:
        await self._check_standard(conn, standard, "#/standard")
        await repository.lock_item(conn, item_code)  # one new version of a variant at a time
        latest = await repository.latest_variant(conn, item_code, province)
        if latest is not None and latest["effective_date"] >= effective_date:
            raise OverlappingEffectiveDates(
                f"version {latest['version']} of this variant takes effect on {latest['effective_date']}; "
                "a newer version must take effect after that", conflicts_with=latest["version"])
        number = (latest["version"] if latest else 0) + 1
        await repository.insert_variant(conn, item_code, province, number, effective_date,
                                        msgspec.to_builtins(standard), sample)
        return number

    # -- application forms -----------------------------------------------------------------------------------------

    async def _form_schema(
        self, item_code: str, handling_division: str | None, as_of: dt.date | None
    ) -> tuple[dict[str, Any], str]:
        async with self.db.connection() as conn:
            row = await self._item_row(conn, item_code)
            if handling_division:
                province = province_of(self._division(handling_division, "handling_division").code)
                variant = await repository.variant_in_force(conn, item_code, province, as_of or today())
                if variant is not None:
                    return variant["standard"]["form_schema"], f"variant:{province}:{variant['version']}"
        return row["standard"]["form_schema"], "national"

    async def validate_application_form(
        self, item_code: str, form: Any, *, handling_division: str | None = None, as_of: dt.date | None = None,
        at: str = "#/form",
    ) -> list[FieldError]:
        """Every way an application form fails the item's form schema (the handling province's local
        variant's schema where it has one), as JSON pointers under `at`; empty when it is valid.

        For the cases domain: raise `ValidationFailed(errors)` when the list is not empty.
        """
        schema, _ = await self._form_schema(item_code, handling_division, as_of)
        return await asyncio.to_thread(form_problems, schema, form, at)

    async def check_form(self, item_code: str, request: FormCheck) -> FormCheckResult:
        schema, source = await self._form_schema(item_code, request.handling_division, None)
        problems = await asyncio.to_thread(form_problems, schema, request.form, "#/form")
        return FormCheckResult(item_code, not problems, [FormProblem(p.pointer, p.detail) for p in problems], source)

    # -- search and FAQ ------------------------------------------------------------------------------------------------

    @staticmethod
    def _loose_args(query: Query) -> tuple[str, repository.Pieces, int]:
        pieces = query.pieces
        return (query.any_piece(),
                ([p.tsquery("A") for p in pieces], [p.tsquery("AB") for p in pieces], [p.tsquery() for p in pieces],
                 query.weights()),
                max(1, math.ceil(len(pieces) / 2)))

    def _hit(self, row: asyncpg.Record, match: str) -> SearchHit:
        return SearchHit(code=row["code"], name=row["name"], type=row["item_type"], modes=mode_views(row["modes"]),
                         frequency=row["frequency"], match=match, sample=row["sample"])  # type: ignore[arg-type]

    async def _faq_hits(
        self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], max_score: int
    ) -> list[FaqHit]:
        """FAQ hits with their items; `score` is the share of the best possible loose score (0 when the
        query was matched whole, where the rank is ts_rank's)."""
        linked: dict[str, list[FaqItemRef]] = {}
        for r in await repository.faq_items(conn, [row["id"] for row in rows]):
            linked.setdefault(r["faq_id"], []).append(FaqItemRef(r["code"], r["name"], mode_views(r["modes"])))
        return [FaqHit(id=r["id"], question=r["question"], answer=r["answer"], items=linked.get(r["id"], []),
                       score=round(float(r["score"]) / max_score, 3) if max_score else round(float(r["score"]), 3),
                       sample=r["sample"]) for r in rows]

    async def search(self, text: str, *, limit: int = 20, faq_limit: int = 5) -> SearchResult:
        """Items and FAQ entries for a search box query: every part must match (name, alias, partial
        name); when nothing does, the query is read loosely and ranked by how much of it matches."""
        query = read_query(text)
        if query.empty:
            raise ValidationFailed.field("q", "type at least one Chinese character, letter or digit")
        relaxed = items_relaxed = False
        loose = read_question(text)
        async with self.db.connection() as conn:
            rows = await repository.search_items(conn, query.strict(), query.strict("A"), query.strict("AB"),
                                                 query.exact_forms, limit)
            items = [self._hit(r, _MATCH[r["match_class"]]) for r in rows]
            if not items and not loose.empty:
                items = [self._hit(r, "partial") for r in await repository.search_items_loosely(
                    conn, *self._loose_args(loose), limit)]
                relaxed = items_relaxed = bool(items)
            faq = await self._faq_hits(conn, await repository.search_faq(
                conn, query.strict(), query.strict("A"), faq_limit), 0)
            if not faq and not loose.empty:
                faq = await self._faq_hits(conn, await repository.search_faq_loosely(
                    conn, *self._loose_args(loose), faq_limit), loose.max_score)
                relaxed = relaxed or bool(faq)
        return SearchResult(query=text, interpreted_as=(loose if items_relaxed else query).interpreted_as(), relaxed=relaxed,
                            items=items,
                            faq=faq, sample=any(i.sample for i in items) or any(f.sample for f in faq))

    async def ask(self, question: str, *, answers: int = 3, suggestions: int = 5) -> Answer:
        """智能客服: the FAQ answers covering most of the question, with the items they refer to, and
        items the question itself points at."""
        query = read_question(question)
        if query.empty:
            raise ValidationFailed.field("q", "ask a question in words")
        args = self._loose_args(query)
        async with self.db.connection() as conn:
            hits = await self._faq_hits(conn, await repository.search_faq_loosely(conn, *args, answers),
                                        query.max_score)
            rows = await repository.search_items_loosely(conn, *args, suggestions)
        suggested: dict[str, SearchHit] = {}
        for hit in hits:
            for ref in hit.items:
                suggested.setdefault(ref.code, SearchHit(code=ref.code, name=ref.name, type="", modes=ref.modes,
                                                         frequency=0, match="partial", sample=hit.sample))
        for row in rows:
            suggested.setdefault(row["code"], self._hit(row, "partial"))
        return Answer(question=question, answers=hits, suggested_items=list(suggested.values())[:suggestions],
                      sample=any(h.sample for h in hits) or any(s.sample for s in suggested.values()))

    async def list_faq(self, item_code: str | None = None) -> list[FaqView]:
        async with self.db.connection() as conn:
            if item_code is not None:
                await self._item_row(conn, item_code)
            rows = await repository.faq_entries(conn, item_code)
            return await self._faq_views(conn, rows)

    async def _faq_views(self, conn: asyncpg.Connection, rows: Sequence[asyncpg.Record]) -> list[FaqView]:
        linked: dict[str, list[FaqItemRef]] = {}
        for r in await repository.faq_items(conn, [row["id"] for row in rows]):
            linked.setdefault(r["faq_id"], []).append(FaqItemRef(r["code"], r["name"], mode_views(r["modes"])))
        return [FaqView(id=r["id"], question=r["question"], answer=r["answer"], items=linked.get(r["id"], []),
                        sample=r["sample"]) for r in rows]

    async def get_faq(self, faq_id: str) -> FaqView:
        async with self.db.connection() as conn:
            return await self._faq_view(conn, faq_id)

    async def _faq_view(self, conn: asyncpg.Connection, faq_id: str) -> FaqView:
        row = await repository.faq(conn, faq_id)
        if row is None:
            raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
        return (await self._faq_views(conn, [row]))[0]

    def _require_faq_editor(self, actor: Actor) -> None:
        if actor.kind != "staff" or actor.role not in FAQ_EDITORS:
            raise Forbidden("only an admin or a supervisor may edit the FAQ")

    async def _linked_items(self, conn: asyncpg.Connection, codes: Sequence[str]) -> list[asyncpg.Record]:
        found = await repository.item_names(conn, codes)
        problems = [FieldError(f"#/item_codes/{n}", f"no item with code {c}") for n, c in enumerate(codes)
                    if c not in found]
        if problems:
            raise ValidationFailed(problems)
        return [found[c] for c in dict.fromkeys(codes)]

    async def _refresh_faq_doc(self, conn: asyncpg.Connection, faq_id: str) -> None:
        row = await repository.faq(conn, faq_id)
        codes = [r["code"] for r in await repository.faq_items(conn, [faq_id])]
        items = list((await repository.item_names(conn, codes)).values())
        await repository.update_faq_doc(conn, faq_id, _faq_doc(row["question"], row["answer"], items))

    async def create_faq(self, form: FaqInput, actor: Actor) -> FaqView:
        self._require_faq_editor(actor)
        async with self.db.transaction() as conn, _database_refusals():
            items = await self._linked_items(conn, form.item_codes)
            faq_id = await repository.insert_faq(conn, None, form.question, form.answer, False,
                                                 _faq_doc(form.question, form.answer, items))
            await repository.set_faq_items(conn, faq_id, [r["code"] for r in items])
            await self.audit.record(conn, actor, "catalogue.faq.created", "catalogue_faq", faq_id,
                                    division=actor.division, detail={"items": [r["code"] for r in items]})
            return await self._faq_view(conn, faq_id)

    async def update_faq(self, faq_id: str, form: FaqInput, actor: Actor) -> FaqView:
        self._require_faq_editor(actor)
        async with self.db.transaction() as conn, _database_refusals():
            items = await self._linked_items(conn, form.item_codes)
            if not await repository.update_faq(conn, faq_id, form.question, form.answer,
                                               _faq_doc(form.question, form.answer, items)):
                raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
            await repository.set_faq_items(conn, faq_id, [r["code"] for r in items])
            await self.audit.record(conn, actor, "catalogue.faq.updated", "catalogue_faq", faq_id,
                                    division=actor.division, detail={"items": [r["code"] for r in items]})
            return await self._faq_view(conn, faq_id)

    async def delete_faq(self, faq_id: str, actor: Actor) -> None:
        self._require_faq_editor(actor)
        async with self.db.transaction() as conn:
            if not await repository.delete_faq(conn, faq_id):
                raise NotFound(f"no FAQ entry {faq_id}", faq_id=faq_id)
            await self.audit.record(conn, actor, "catalogue.faq.deleted", "catalogue_faq", faq_id,
                                    division=actor.division)

    # -- loading a catalogue from files (demo data) --------------------------------------------------------------------

    async def load_catalogue(
        self, actor: Actor, data_dir: Path = DATA_DIR, progress: Callable[[str], None] = print
    ) -> dict[str, int]:
        """Load items, lists (with their historical versions), variants and FAQ from the JSON files;
        what exists already is left alone, so loading twice changes nothing. One transaction."""
        read = lambda name: json.loads((data_dir / name).read_text(encoding="utf-8"))  # noqa: E731
        items_file, lists_file, variants_file, faq_file = (
            read("items.json"), read("lists.json"), read("variants.json"), read("faq.json"))
        sample = bool(items_file.get("_sample"))
        standards = msgspec.convert(items_file["items"], list[ItemStandard])
        counts = dict.fromkeys(("certificate_types", "items", "list_versions", "variants", "faq"), 0)
        async with self.db.transaction() as conn:
            counts["certificate_types"] = await repository.insert_certificate_types(
                conn, [(c, n, sample) for c, n in items_file["certificate_types"].items()])
            existing = await repository.existing_item_codes(conn, [s.code for s in standards])
            new = [s for s in standards if s.code not in existing]
            certificate_names = await repository.certificate_types(conn)
            problems = await asyncio.to_thread(lambda: [
                p for n, s in enumerate(standards) if s.code not in existing
                for p in self._standard_problems(s, certificate_names, f"#/items/{n}")])
            if problems:
                raise ValidationFailed(problems, "items.json does not hold valid item standards")
            await repository.insert_items(conn, [self._item_row_values(s, sample) for s in new])
            counts["items"] = len(new)
            progress(f"catalogue: {len(new)} new of {len(standards)} items")

            for spec in sorted(lists_file["lists"], key=lambda s: (s["code"], s["version"])):
                counts["list_versions"] += await self._import_version(conn, spec, actor)
            progress(f"catalogue: {counts['list_versions']} new of {len(lists_file['lists'])} list versions")

            for spec in variants_file["variants"]:
                if await repository.variant_version(conn, spec["item_code"], spec["division"], spec["version"]):
                    continue
                await self._add_variant(conn, spec["item_code"], spec["division"],
                                        dt.date.fromisoformat(spec["effective_date"]),
                                        msgspec.convert(spec["standard"], ItemStandard), bool(variants_file["_sample"]))
                counts["variants"] += 1
            progress(f"catalogue: {counts['variants']} new of {len(variants_file['variants'])} local variants")

            for entry in faq_file["faq"]:
                items = await self._linked_items(conn, entry["item_codes"])
                faq_id = await repository.insert_faq(conn, entry["id"], entry["question"], entry["answer"],
                                                     bool(faq_file["_sample"]),
                                                     _faq_doc(entry["question"], entry["answer"], items))
                if faq_id is not None:
                    await repository.set_faq_items(conn, faq_id, entry["item_codes"])
                    counts["faq"] += 1
            await repository.advance_faq_numbers(conn)
            progress(f"catalogue: {counts['faq']} new of {len(faq_file['faq'])} FAQ entries")
            if any(counts.values()):
                await self.audit.record(conn, actor, "catalogue.loaded", "catalogue", None,
                                        detail={**counts, "sample": sample})
        return counts

    async def _import_version(self, conn: asyncpg.Connection, spec: dict[str, Any], actor: Actor) -> int:
        """Import one published list version as it was published (its dates may lie in the past)."""
        code, number = spec["code"], spec["version"]
        await repository.insert_list(conn, code, spec["kind"])
        if await repository.version(conn, code, number) is not None:
            return 0
        content = msgspec.convert({k: spec.get(k) for k in ("name", "issuer", "document", "note", "members",
                                                             "entries")}, ListContent, strict=False)
        members = await self._check_content(conn, spec["kind"], content, f"#/lists/{code}/{number}")
        version_id = await repository.insert_draft(conn, code, number, {**msgspec.to_builtins(content),
                                                                        "sample": bool(spec.get("sample"))})
        await repository.replace_content(conn, version_id, members, self._entry_rows(content.entries))
        row = await repository.version(conn, code, number)
        to_state = await repository.transition(conn, row["state"], "publish")
        await self._place(conn, code, row, to_state, dt.date.fromisoformat(spec["effective_date"]),
                          dt.date.fromisoformat(spec["published_on"]), actor)
        return 1
