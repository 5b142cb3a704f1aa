"""Service lists (通办清单): national batches and regional lists in numbered versions, each a draft
until published from an effective date, immutable once published, in force on
`[effective_date, effective_until)`. The state machine is data (`catalogue_list_transitions`),
applied by `ListService._apply` alone."""

from __future__ import annotations

import datetime as dt
import itertools
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.catalogue import repository
from backend.catalogue.places import Places
from backend.catalogue.rules import database_refusals, may_change_list, require_national_admin, today
from backend.catalogue.schemas import (
    DraftCreate,
    EntryChange,
    FieldChange,
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
    Publication,
    Withdrawal,
    mode_names,
    mode_views,
)
from backend.db import Database
from backend.errors import (
    FieldError,
    InvalidTransition,
    NotFound,
    OverlappingEffectiveDates,
    ValidationFailed,
    VersionImmutable,
)

_CONTENT_FIELDS = ("name", "issuer", "document", "note")
# Actions that would change a version's content: refused as `version-immutable` outside a draft.
_CONTENT_ACTIONS = frozenset({"edit", "discard", "publish"})
_DONE = {"edit": "edited", "discard": "discarded", "publish": "published", "withdraw": "withdrawn"}

EntryRow = tuple[str, list[str], dt.date | None, str | None]


def shown_state(row: asyncpg.Record) -> str:
    """A version's state as people read it: a published version whose successor has taken effect is
    superseded (stored as published, so that until that day it can still be withdrawn)."""
    if row["state"] == "published" and row["effective_until"] is not None and row["effective_until"] <= today():
        return "superseded"
    return row["state"]


def _members(content: ListContent) -> list[str]:
    """The member provinces a draft's content names, each once."""
    return list(dict.fromkeys(content.members or []))


def _membership_change(before: Sequence[str], after: Sequence[str]) -> dict[str, list[str]]:
    """For the audit entry: the member provinces a change adds and removes (nothing when it keeps them)."""
    if set(before) == set(after):
        return {}
    return {"members_added": sorted(set(after) - set(before)), "members_removed": sorted(set(before) - set(after))}


def _entry_rows(entries: Sequence[ListEntryInput]) -> list[EntryRow]:
    return [(e.item_code, list(dict.fromkeys(e.modes)), e.available_by, e.note) for e in entries]


def _entry_view(e: asyncpg.Record) -> ListEntryView:
    return ListEntryView(e["item_code"], e["item_name"], mode_views(e["modes"]), e["available_by"], e["note"])


def _version_view(row: asyncpg.Record, entries: Sequence[asyncpg.Record]) -> ListVersionView:
    return ListVersionView(
        list_code=row["list_code"], kind=row["kind"], version=row["version"], state=shown_state(row),  # type: ignore[arg-type]
        name=row["name"], issuer=row["issuer"], document=row["document"], note=row["note"],
        members=list(row["members"]) if row["kind"] == "regional" else None,
        published_on=row["published_on"], effective_date=row["effective_date"],
        effective_until=row["effective_until"], supersedes=row["supersedes"],
        withdrawal_reason=row["withdrawal_reason"], entries=[_entry_view(e) for e in entries],
        sample=row["sample"],
    )


def _list_view(versions: Sequence[asyncpg.Record], overview: asyncpg.Record | None) -> ListView:
    """A list (at least one version) shown by its newest public version as in `overview`, or by its
    draft when it has no other; `kind` is the list's own."""
    shown, kind = overview or versions[-1], versions[0]["kind"]
    return ListView(
        code=versions[0]["list_code"], kind=kind, name=shown["name"],
        members=list(shown["members"]) if kind == "regional" else None,
        in_force_version=overview["in_force_version"] if overview else None,
        versions=[ListVersionSummary(version=v["version"], state=shown_state(v), published_on=v["published_on"],  # type: ignore[arg-type]
                                     effective_date=v["effective_date"], effective_until=v["effective_until"],
                                     entries=v["entry_count"]) for v in versions],
        sample=any(v["sample"] for v in versions),
    )


def _entry_change(before: asyncpg.Record, after: asyncpg.Record) -> EntryChange | None:
    change = EntryChange(
        item_code=after["item_code"], item_name=after["item_name"],
        modes_added=sorted(set(after["modes"]) - set(before["modes"])),
        modes_removed=sorted(set(before["modes"]) - set(after["modes"])),
        available_by=[before["available_by"], after["available_by"]]
        if before["available_by"] != after["available_by"] else [],
        note=[before["note"], after["note"]] if before["note"] != after["note"] else [],
    )
    return change if change.modes_added or change.modes_removed or change.available_by or change.note else None


class ListService:
    def __init__(self, db: Database, audit: AuditLog, places: Places, changed: Callable[[], None] = lambda: None) -> None:
        self.db, self.audit, self.places = db, audit, places
        self.changed = changed  # told once a version is published or withdrawn

    # -- reading -----------------------------------------------------------------------------------------

    async def overview(self, as_of: dt.date | None = None) -> list[ListView]:
        """Every list with a public version, with the version in force on `as_of`."""
        async with self.db.connection() as conn:
            rows = await repository.list_overview(conn, as_of or today())
            versions = await repository.versions(conn, [r["code"] for r in rows], include_drafts=False)
        by_list = {code: list(group) for code, group in itertools.groupby(versions, key=lambda v: v["list_code"])}
        return [_list_view(by_list[r["code"]], r) for r in rows]

    async def get(self, code: str, *, include_drafts: bool = False) -> ListView:
        async with self.db.connection() as conn:
            versions = await self._visible_versions(conn, code, include_drafts=include_drafts)
            overview = await repository.list_overview(conn, today(), code)
        return _list_view(versions, overview[0] if overview else None)

    async def version(self, code: str, number: int, *, include_drafts: bool = False) -> ListVersionView:
        async with self.db.connection() as conn:
            row = await self._version_row(conn, code, number, include_drafts=include_drafts)
            return _version_view(row, await repository.entries(conn, row["id"]))

    async def diff(self, code: str, old: int, new: int, *, include_drafts: bool = False) -> ListDiff:
        """What changed from version `old` to version `new` of a list (any two, either order)."""
        async with self.db.connection() as conn:
            a = await self._version_row(conn, code, old, include_drafts=include_drafts)
            b = await self._version_row(conn, code, new, include_drafts=include_drafts)
            a_entries = {e["item_code"]: e for e in await repository.entries(conn, a["id"])}
            b_entries = {e["item_code"]: e for e in await repository.entries(conn, b["id"])}
        before, after = ({**{f: r[f] for f in (*_CONTENT_FIELDS, "effective_date", "effective_until")},
                          "state": shown_state(r)} for r in (a, b))
        changes = (_entry_change(e, b_entries[c]) for c, e in a_entries.items() if c in b_entries)
        return ListDiff(
            list_code=code, from_version=old, to_version=new,
            fields=[FieldChange(f, before[f], after[f]) for f in before if before[f] != after[f]],
            members_added=sorted(set(b["members"]) - set(a["members"])),
            members_removed=sorted(set(a["members"]) - set(b["members"])),
            entries_added=[_entry_view(e) for c, e in b_entries.items() if c not in a_entries],
            entries_removed=[_entry_view(e) for c, e in a_entries.items() if c not in b_entries],
            entries_changed=[c for c in changes if c is not None],
        )

    async def history(self, code: str, *, include_drafts: bool = False) -> ListHistory:
        async with self.db.connection() as conn:
            await self._visible_versions(conn, code, include_drafts=include_drafts)
            rows = await repository.events(conn, code, include_drafts=include_drafts)
        return ListHistory(code, [ListEvent(r["version"], r["action"], r["at"], r["actor_kind"], r["actor_division"],
                                            r["detail"]) for r in rows])

    @staticmethod
    async def _visible_versions(conn: asyncpg.Connection, code: str, *, include_drafts: bool) -> list[asyncpg.Record]:
        """A list's versions; a list with nothing but a draft exists only for admins."""
        versions = await repository.versions(conn, [code], include_drafts=include_drafts)
        if not versions:
            raise NotFound(f"no list with code {code}", list_code=code)
        return versions

    @staticmethod
    async def _version_row(
        conn: asyncpg.Connection, code: str, number: int, *, include_drafts: bool, for_update: bool = False
    ) -> asyncpg.Record:
        row = await repository.version(conn, code, number, for_update=for_update)
        if row is None or (row["state"] == "draft" and not include_drafts):
            if await repository.list_row(conn, code) is None:
                raise NotFound(f"no list with code {code}", list_code=code)
            raise NotFound(f"list {code} has no version {number}", list_code=code, version=number)
        return row

    # -- drafts ------------------------------------------------------------------------------------------

    async def create(self, form: ListCreate, actor: Actor) -> ListVersionView:
        """A new list with its first version as a draft (national admin)."""
        require_national_admin(actor, "create lists: a regional list's members commit their provinces")
        async with self.db.transaction() as conn, database_refusals():
            members = await self._check_content(conn, form.kind, form.content, "#/content")
            if not await repository.insert_list(conn, form.code, form.kind):
                raise ValidationFailed.field("code", f"a list with code {form.code} exists already")
            version_id = await repository.insert_draft(conn, form.code, 1, msgspec.to_builtins(form.content))
            await repository.replace_content(conn, version_id, members, _entry_rows(form.content.entries))
            await self._event(conn, form.code, 1, "draft_created", actor)
            await self.audit.record(conn, actor, "catalogue.list.created", "catalogue_list", form.code,
                                    division=actor.division,
                                    detail={"kind": form.kind, "version": 1, "members": members})
            return await self._view_in(conn, form.code, 1)

    async def create_draft(self, code: str, form: DraftCreate, actor: Actor) -> ListVersionView:
        """The next version as a draft: a copy of the newest version, or the content given."""
        async with self.db.transaction() as conn, database_refusals():
            listing = await self._locked_list(conn, code)
            latest = await repository.latest_version(conn, code)
            if (draft := await repository.draft_exists(conn, code)) is not None:
                raise InvalidTransition(f"list {code} already has a draft (version {draft}); edit or discard it",
                                        version=draft)
            old_members = list(latest["members"]) if latest else []
            may_change_list(actor, listing["kind"], old_members,
                            _members(form.content) if form.content is not None else None)
            entries: list[EntryRow]
            if form.content is not None:
                members = await self._check_content(conn, listing["kind"], form.content, "#/content")
                meta = msgspec.to_builtins(form.content)
                entries = _entry_rows(form.content.entries)
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
                                    detail={"version": number, **_membership_change(old_members, members)})
            return await self._view_in(conn, code, number)

    async def update_draft(self, code: str, number: int, content: ListContent, actor: Actor) -> ListVersionView:
        """Replace the content of a draft version; a published version never changes."""
        async with self.db.transaction() as conn, database_refusals():
            listing, row, _ = await self._apply(conn, code, number, "edit", actor, _members(content))
            members = await self._check_content(conn, listing["kind"], content, "#")
            await repository.update_draft_meta(conn, row["id"], msgspec.to_builtins(content))
            await repository.replace_content(conn, row["id"], members, _entry_rows(content.entries))
            await self._event(conn, code, number, "draft_updated", actor, entries=len(content.entries))
            await self.audit.record(conn, actor, "catalogue.list.draft_updated", "catalogue_list", code,
                                    division=actor.division,
                                    detail={"version": number, **_membership_change(row["members"], members)})
            return await self._view_in(conn, code, number)

    async def discard_draft(self, code: str, number: int, actor: Actor) -> None:
        async with self.db.transaction() as conn, database_refusals():
            _, row, _ = await self._apply(conn, code, number, "discard", actor)
            await repository.delete_draft(conn, row["id"])
            await self._event(conn, code, number, "draft_discarded", actor)
            await self.audit.record(conn, actor, "catalogue.list.draft_discarded", "catalogue_list", code,
                                    division=actor.division, detail={"version": number})

    async def _check_content(self, conn: asyncpg.Connection, kind: str, content: ListContent, at: str) -> list[str]:
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
                    self.places.province(code, f"{at}/members/{n}")
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

    # -- the state machine: publishing and withdrawing ---------------------------------------------------------

    async def _apply(
        self, conn: asyncpg.Connection, code: str, number: int, action: str, actor: Actor,
        new_members: Sequence[str] | None = None,
    ) -> tuple[asyncpg.Record, asyncpg.Record, str]:
        """Lock a list and one of its versions, check the actor's scope, and find the state `action`
        takes the version to: the one place the state machine (`catalogue_list_transitions`) is applied."""
        listing = await self._locked_list(conn, code)
        row = await self._version_row(conn, code, number, include_drafts=True, for_update=True)
        may_change_list(actor, listing["kind"], list(row["members"]), new_members)
        state = shown_state(row)
        to_state = await repository.transition(conn, state, action)
        if to_state is None:
            if action in _CONTENT_ACTIONS:
                raise VersionImmutable(f"version {number} of {code} is {state} and cannot be {_DONE[action]}; "
                                       "create a new draft version instead", state=state)
            raise InvalidTransition(f"a {state} version cannot be {_DONE[action]}", state=state)
        return listing, row, to_state

    async def publish(self, code: str, number: int, form: Publication, actor: Actor) -> ListVersionView:
        """Publish a draft from its effective date; the version in force until then ends that day."""
        async with self.db.transaction() as conn, database_refusals():
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
            view = await self._view_in(conn, code, number)
        await self.db.after_commit(self.changed)
        return view

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

    async def withdraw(self, code: str, number: int, form: Withdrawal, actor: Actor) -> ListVersionView:
        """Stop a published version from a date (today by default); it stays in the history. A version
        withdrawn before it takes effect never applies, and the version it was to supersede stays in force."""
        async with self.db.transaction() as conn, database_refusals():
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
            view = await self._view_in(conn, code, number)
        await self.db.after_commit(self.changed)
        return view

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

    @staticmethod
    async def _periods(conn: asyncpg.Connection, code: str) -> list[asyncpg.Record]:
        """The versions of a list that are, were or will be in force: a version withdrawn before it
        took effect (an empty period) takes no room."""
        return [p for p in await repository.periods(conn, code) if p["effective_until"] != p["effective_date"]]

    # -- importing published versions (demo data) --------------------------------------------------------------

    async def import_version(self, conn: asyncpg.Connection, spec: dict[str, Any], actor: Actor, at: str) -> int:
        """Import one published list version as it was published (its dates may lie in the past);
        1 when it was new, 0 when it existed. Checked like an admin's draft."""
        code, number = spec["code"], spec["version"]
        await repository.insert_list(conn, code, spec["kind"])
        if await repository.version(conn, code, number) is not None:
            return 0
        content = msgspec.convert({k: spec.get(k) for k in ("name", "issuer", "document", "note", "members",
                                                             "entries")}, ListContent, strict=False)
        members = await self._check_content(conn, spec["kind"], content, at)
        version_id = await repository.insert_draft(conn, code, number, {**msgspec.to_builtins(content),
                                                                        "sample": bool(spec.get("sample"))})
        await repository.replace_content(conn, version_id, members, _entry_rows(content.entries))
        row = await repository.version(conn, code, number)
        to_state = await repository.transition(conn, row["state"], "publish")
        await self._place(conn, code, row, to_state, dt.date.fromisoformat(spec["effective_date"]),
                          dt.date.fromisoformat(spec["published_on"]), actor)
        return 1

    # -- shared steps -----------------------------------------------------------------------------------------

    @staticmethod
    async def _locked_list(conn: asyncpg.Connection, code: str) -> asyncpg.Record:
        row = await repository.list_row(conn, code, for_update=True)
        if row is None:
            raise NotFound(f"no list with code {code}", list_code=code)
        return row

    @staticmethod
    async def _view_in(conn: asyncpg.Connection, code: str, number: int) -> ListVersionView:
        row = await repository.version(conn, code, number)
        return _version_view(row, await repository.entries(conn, row["id"]))

    @staticmethod
    async def _event(
        conn: asyncpg.Connection, code: str, number: int, action: str, actor: Actor, **detail: Any
    ) -> None:
        await repository.insert_event(conn, code, number, action, actor.kind, actor.division,
                                      msgspec.to_builtins(detail))
