"""SQL of the service catalogue: divisions, items, lists and their versions, variants, FAQ, search."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any, NamedTuple

import asyncpg

# -- reference data ----------------------------------------------------------------------------------


async def reference_digest(conn: asyncpg.Connection, name: str) -> str | None:
    return await conn.fetchval("SELECT digest FROM reference_data WHERE name = $1", name)


async def lock_reference_data(conn: asyncpg.Connection) -> None:
    """Serialise loaders of reference data (several workers may start at once)."""
    await conn.execute("SELECT pg_advisory_xact_lock(7316002301)")


async def upsert_divisions(conn: asyncpg.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """(code, name, level, kind, parent, replaced_by, retired_in) rows, in one statement so that a
    parent later in the batch satisfies the foreign key of a child earlier in it."""
    columns = list(zip(*rows, strict=True)) if rows else [[]] * 7
    await conn.execute(
        """INSERT INTO divisions (code, name, level, kind, parent, replaced_by, retired_in)
           SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::int[])
           ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, kind = excluded.kind,
               parent = excluded.parent, replaced_by = excluded.replaced_by, retired_in = excluded.retired_in""",
        *[list(c) for c in columns],
    )


async def set_reference_digest(conn: asyncpg.Connection, name: str, digest: str, rows: int) -> None:
    await conn.execute(
        """INSERT INTO reference_data (name, digest, rows) VALUES ($1, $2, $3)
           ON CONFLICT (name) DO UPDATE SET digest = $2, rows = $3, loaded_at = now()""",
        name, digest, rows,
    )


async def insert_certificate_types(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, bool]]) -> int:
    status = await conn.execute(
        """INSERT INTO catalogue_certificate_types (code, name, sample)
           SELECT * FROM unnest($1::text[], $2::text[], $3::bool[]) ON CONFLICT DO NOTHING""",
        [r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows],
    )
    return int(status.split()[-1])


async def certificate_types(conn: asyncpg.Connection) -> dict[str, str]:
    return {r["code"]: r["name"] for r in await conn.fetch("SELECT code, name FROM catalogue_certificate_types")}


# -- items -----------------------------------------------------------------------------------------------

ITEM_SUMMARY = "code, name, item_type, department, modes, frequency, sample"


class ItemColumns(NamedTuple):
    """What an item's standard sets in `catalogue_items`: the standard itself and the columns queries
    filter, join or rank on; `search_doc` is a tsvector literal (see `bigrams.document`)."""

    name: str
    item_type: str
    department: str
    modes: list[str]
    frequency: int
    standard: dict[str, Any]
    name_norm: str
    alias_norms: list[str]
    search_doc: str


_INSERT_ITEM = """INSERT INTO catalogue_items (code, sample, name, item_type, department, modes, frequency, standard,
                                             name_norm, alias_norms, search_doc)
                  VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::tsvector)
                  ON CONFLICT (code) DO NOTHING"""


async def existing_item_codes(conn: asyncpg.Connection, codes: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT code FROM catalogue_items WHERE code = ANY($1::text[])", list(codes))
    return {r["code"] for r in rows}


async def item_modes(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, list[str]]:
    """The modes each existing item's standard supports."""
    rows = await conn.fetch("SELECT code, modes FROM catalogue_items WHERE code = ANY($1::text[])", list(codes))
    return {r["code"]: list(r["modes"]) for r in rows}


async def insert_items(conn: asyncpg.Connection, items: Sequence[tuple[str, bool, ItemColumns]]) -> None:
    """(code, sample, columns) of new items; codes that exist already are left alone."""
    await conn.executemany(_INSERT_ITEM, [(code, sample, *columns) for code, sample, columns in items])


async def insert_item(conn: asyncpg.Connection, code: str, sample: bool, columns: ItemColumns) -> bool:
    """One new item; False when its code exists already, also when a concurrent transaction has just
    added it."""
    return await conn.fetchval(_INSERT_ITEM + " RETURNING true", code, sample, *columns) is not None


async def lock_item(conn: asyncpg.Connection, code: str) -> bool:
    """Serialise changes hanging off one item (its standard, its variants) until the transaction
    ends; False when there is no such item. Rows referring to the item can still be added meanwhile."""
    return await conn.fetchval("SELECT true FROM catalogue_items WHERE code = $1 FOR NO KEY UPDATE", code) is not None


async def item(conn: asyncpg.Connection, code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT code, name, standard, revision, sample, updated_at,
                   ARRAY(SELECT DISTINCT division FROM catalogue_variants v WHERE v.item_code = i.code
                         ORDER BY division) AS variant_divisions
            FROM catalogue_items i WHERE code = $1""",
        code,
    )


async def update_item(conn: asyncpg.Connection, code: str, columns: ItemColumns, changed_by: str | None) -> int:
    """Keep the current standard as a revision, then replace it; return the new revision number."""
    await conn.execute(
        """INSERT INTO catalogue_item_revisions (item_code, revision, standard, changed_by)
           SELECT code, revision, standard, $2 FROM catalogue_items WHERE code = $1""",
        code, changed_by,
    )
    return await conn.fetchval(
        """UPDATE catalogue_items SET name = $2, item_type = $3, department = $4, modes = $5, frequency = $6,
                  standard = $7, name_norm = $8, alias_norms = $9, search_doc = $10::tsvector,
                  revision = revision + 1, updated_at = now()
           WHERE code = $1 RETURNING revision""",
        code, *columns,
    )


async def item_page(
    conn: asyncpg.Connection, *, department: str | None, mode: str | None, item_type: str | None,
    limit: int, offset: int,
) -> tuple[list[asyncpg.Record], int]:
    where = """WHERE ($1::text IS NULL OR code LIKE $1 || '-%') AND ($2::text IS NULL OR $2 = ANY(modes))
               AND ($3::text IS NULL OR item_type = $3)"""
    rows = await conn.fetch(
        f"""SELECT {ITEM_SUMMARY} FROM catalogue_items {where}
            ORDER BY frequency DESC, code LIMIT $4 OFFSET $5""",
        department, mode, item_type, limit, offset,
    )
    total = await conn.fetchval(f"SELECT count(*) FROM catalogue_items {where}", department, mode, item_type)
    return rows, total


async def item_summaries(conn: asyncpg.Connection, codes: Sequence[str]) -> list[asyncpg.Record]:
    """Items as lists show them, in the order of `codes`."""
    return await conn.fetch(
        f"""SELECT {ITEM_SUMMARY} FROM catalogue_items JOIN unnest($1::text[]) WITH ORDINALITY AS c(code, n) USING (code)
            ORDER BY c.n""",
        list(codes),
    )


async def item_names(conn: asyncpg.Connection, codes: Sequence[str]) -> dict[str, asyncpg.Record]:
    rows = await conn.fetch(
        "SELECT code, name, modes, alias_norms, standard->'aliases' AS aliases FROM catalogue_items "
        "WHERE code = ANY($1::text[])", list(codes))
    return {r["code"]: r for r in rows}


# -- search -----------------------------------------------------------------------------------------------


async def search_items(
    conn: asyncpg.Connection, query: str, in_name: str, in_name_or_alias: str, exact_forms: Sequence[str],
    limit: int,
) -> list[asyncpg.Record]:
    """Items matching every piece of the query; exact names, then exact aliases, then matches in the
    name, then in aliases, each group by frequency."""
    return await conn.fetch(
        f"""SELECT {ITEM_SUMMARY},
                   CASE WHEN name_norm = ANY($4::text[]) THEN 4
                        WHEN alias_norms && $4::text[] THEN 3
                        WHEN search_doc @@ $2::tsquery THEN 2
                        WHEN search_doc @@ $3::tsquery THEN 1
                        ELSE 0 END AS match_class
            FROM catalogue_items WHERE search_doc @@ $1::tsquery
            ORDER BY match_class DESC, frequency DESC, ts_rank(search_doc, $1::tsquery) DESC, code
            LIMIT $5""",
        query, in_name, in_name_or_alias, list(exact_forms), limit,
    )


# Per query piece: its tsquery restricted to weight A, to A or B, unrestricted, and how much it counts.
Pieces = tuple[list[str], list[str], list[str], list[int]]

_COVERAGE = """CROSS JOIN LATERAL (
        SELECT sum(q.w * CASE WHEN d.search_doc @@ q.a THEN 3 WHEN d.search_doc @@ q.b THEN 2
                              WHEN d.search_doc @@ q.c THEN 1 ELSE 0 END) AS score,
               count(*) FILTER (WHERE d.search_doc @@ q.c) AS matched
        FROM unnest($2::text[]::tsquery[], $3::text[]::tsquery[], $4::text[]::tsquery[], $5::int[]) AS q(a, b, c, w)
    ) s"""


async def search_items_loosely(
    conn: asyncpg.Connection, any_piece: str, pieces: Pieces, min_matched: int, limit: int,
) -> list[asyncpg.Record]:
    """Items matching at least `min_matched` pieces, by weighted coverage then frequency."""
    return await conn.fetch(
        f"""SELECT {ITEM_SUMMARY}, s.score, s.matched FROM catalogue_items d {_COVERAGE}
            WHERE d.search_doc @@ $1::tsquery AND s.matched >= $6
            ORDER BY s.score DESC, frequency DESC, code LIMIT $7""",
        any_piece, *pieces, min_matched, limit,
    )


async def search_faq(conn: asyncpg.Connection, query: str, in_question: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, question, answer, sample, ts_rank(search_doc, $1::tsquery) AS score
           FROM catalogue_faq WHERE search_doc @@ $1::tsquery
           ORDER BY (search_doc @@ $2::tsquery) DESC, ts_rank(search_doc, $1::tsquery) DESC, id LIMIT $3""",
        query, in_question, limit,
    )


async def search_faq_loosely(
    conn: asyncpg.Connection, any_piece: str, pieces: Pieces, min_matched: int, limit: int,
) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT id, question, answer, sample, s.score, s.matched FROM catalogue_faq d {_COVERAGE}
            WHERE d.search_doc @@ $1::tsquery AND s.matched >= $6
            ORDER BY s.score DESC, id LIMIT $7""",
        any_piece, *pieces, min_matched, limit,
    )


# -- lists ---------------------------------------------------------------------------------------------------

VERSION_COLUMNS = """v.id, v.list_code, l.kind, v.version, v.state, v.name, v.issuer, v.document, v.note, v.sample,
    v.published_on, v.effective_date, v.effective_until, v.supersedes, v.withdrawal_reason,
    ARRAY(SELECT province FROM catalogue_list_members m WHERE m.version_id = v.id ORDER BY province) AS members"""


async def insert_list(conn: asyncpg.Connection, code: str, kind: str) -> bool:
    row = await conn.fetchrow(
        "INSERT INTO catalogue_lists (code, kind) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING code", code, kind)
    return row is not None


async def list_row(conn: asyncpg.Connection, code: str, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT code, kind FROM catalogue_lists WHERE code = $1{lock}", code)


async def insert_draft(conn: asyncpg.Connection, list_code: str, version: int, meta: dict[str, Any]) -> int:
    return await conn.fetchval(
        """INSERT INTO catalogue_list_versions (list_code, version, state, name, issuer, document, note, sample)
           VALUES ($1, $2, 'draft', $3, $4, $5, $6, $7) RETURNING id""",
        list_code, version, meta["name"], meta.get("issuer"), meta.get("document"), meta.get("note"),
        meta.get("sample", False),
    )


async def update_draft_meta(conn: asyncpg.Connection, version_id: int, meta: dict[str, Any]) -> None:
    await conn.execute(
        """UPDATE catalogue_list_versions SET name = $2, issuer = $3, document = $4, note = $5, updated_at = now()
           WHERE id = $1""",
        version_id, meta["name"], meta.get("issuer"), meta.get("document"), meta.get("note"),
    )


async def replace_content(
    conn: asyncpg.Connection, version_id: int, members: Sequence[str],
    entries: Sequence[tuple[str, list[str], dt.date | None, str | None]],
) -> None:
    """Replace a draft's members and entries (the database refuses this for any other state)."""
    await conn.execute("DELETE FROM catalogue_list_members WHERE version_id = $1", version_id)
    await conn.execute("DELETE FROM catalogue_list_entries WHERE version_id = $1", version_id)
    if members:
        await conn.executemany("INSERT INTO catalogue_list_members (version_id, province) VALUES ($1, $2)",
                               [(version_id, m) for m in members])
    if entries:
        await conn.executemany(
            """INSERT INTO catalogue_list_entries (version_id, item_code, modes, available_by, note)
               VALUES ($1, $2, $3, $4, $5)""",
            [(version_id, *e) for e in entries],
        )


async def versions(
    conn: asyncpg.Connection, list_codes: Sequence[str], *, include_drafts: bool
) -> list[asyncpg.Record]:
    """The versions of some lists, each list's in order."""
    return await conn.fetch(
        f"""SELECT {VERSION_COLUMNS},
                   (SELECT count(*) FROM catalogue_list_entries e WHERE e.version_id = v.id) AS entry_count
            FROM catalogue_list_versions v JOIN catalogue_lists l ON l.code = v.list_code
            WHERE v.list_code = ANY($1::text[]) AND ($2 OR v.state <> 'draft') ORDER BY v.list_code, v.version""",
        list(list_codes), include_drafts,
    )


async def version(
    conn: asyncpg.Connection, list_code: str, number: int, *, for_update: bool = False
) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF v" if for_update else ""
    return await conn.fetchrow(
        f"""SELECT {VERSION_COLUMNS} FROM catalogue_list_versions v JOIN catalogue_lists l ON l.code = v.list_code
            WHERE v.list_code = $1 AND v.version = $2{lock}""",
        list_code, number,
    )


async def entries(conn: asyncpg.Connection, version_id: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT e.item_code, i.name AS item_name, e.modes, e.available_by, e.note
           FROM catalogue_list_entries e JOIN catalogue_items i ON i.code = e.item_code
           WHERE e.version_id = $1 ORDER BY e.item_code""",
        version_id,
    )


async def next_version_number(conn: asyncpg.Connection, list_code: str) -> int:
    return await conn.fetchval(
        "SELECT coalesce(max(version), 0) + 1 FROM catalogue_list_versions WHERE list_code = $1", list_code)


async def latest_version(conn: asyncpg.Connection, list_code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {VERSION_COLUMNS} FROM catalogue_list_versions v JOIN catalogue_lists l ON l.code = v.list_code
            WHERE v.list_code = $1 ORDER BY v.version DESC LIMIT 1""",
        list_code,
    )


async def draft_exists(conn: asyncpg.Connection, list_code: str) -> int | None:
    return await conn.fetchval(
        "SELECT version FROM catalogue_list_versions WHERE list_code = $1 AND state = 'draft'", list_code)


async def periods(conn: asyncpg.Connection, list_code: str) -> list[asyncpg.Record]:
    """Every version that is or was in force, with its period."""
    return await conn.fetch(
        """SELECT id, version, state, effective_date, effective_until FROM catalogue_list_versions
           WHERE list_code = $1 AND state <> 'draft' ORDER BY effective_date""",
        list_code,
    )


async def transition(conn: asyncpg.Connection, from_state: str, action: str) -> str | None:
    return await conn.fetchval(
        "SELECT to_state FROM catalogue_list_transitions WHERE from_state = $1 AND action = $2", from_state, action)


async def publish(
    conn: asyncpg.Connection, version_id: int, state: str, published_on: dt.date, effective_date: dt.date,
    supersedes: int | None,
) -> None:
    await conn.execute(
        """UPDATE catalogue_list_versions SET state = $2, published_on = $3, effective_date = $4, supersedes = $5,
                  updated_at = now() WHERE id = $1""",
        version_id, state, published_on, effective_date, supersedes,
    )


async def end_period(conn: asyncpg.Connection, version_id: int, effective_until: dt.date | None) -> None:
    """Set the day a version stops being in force (None: in force for good); its state stays."""
    await conn.execute(
        "UPDATE catalogue_list_versions SET effective_until = $2, updated_at = now() WHERE id = $1",
        version_id, effective_until,
    )


async def withdraw(
    conn: asyncpg.Connection, version_id: int, state: str, effective_until: dt.date, reason: str
) -> None:
    await conn.execute(
        """UPDATE catalogue_list_versions SET state = $2, effective_until = $3, withdrawal_reason = $4,
                  updated_at = now() WHERE id = $1""",
        version_id, state, effective_until, reason,
    )


async def delete_draft(conn: asyncpg.Connection, version_id: int) -> None:
    await conn.execute("DELETE FROM catalogue_list_versions WHERE id = $1", version_id)


async def insert_event(
    conn: asyncpg.Connection, list_code: str, number: int, action: str, actor_kind: str,
    actor_division: str | None, detail: dict[str, Any],
) -> None:
    await conn.execute(
        """INSERT INTO catalogue_list_events (list_code, version, action, actor_kind, actor_division, detail)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        list_code, number, action, actor_kind, actor_division, detail,
    )


async def events(conn: asyncpg.Connection, list_code: str, *, include_drafts: bool) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT version, action, at, actor_kind, actor_division, detail FROM catalogue_list_events
           WHERE list_code = $1 AND ($2 OR action NOT LIKE 'draft\\_%') ORDER BY id""",
        list_code, include_drafts,
    )


async def list_overview(conn: asyncpg.Connection, as_of: dt.date, code: str | None = None) -> list[asyncpg.Record]:
    """Every list (or the one with `code`) that has a public version, with its newest public version
    and the version in force on `as_of`."""
    return await conn.fetch(
        """SELECT l.code, l.kind, latest.name, latest.sample, in_force.version AS in_force_version,
                  ARRAY(SELECT province FROM catalogue_list_members m
                        WHERE m.version_id = coalesce(in_force.id, latest.id) ORDER BY province) AS members
           FROM catalogue_lists l
           JOIN LATERAL (SELECT id, name, sample FROM catalogue_list_versions v
                         WHERE v.list_code = l.code AND v.state <> 'draft'
                         ORDER BY v.version DESC LIMIT 1) latest ON true
           LEFT JOIN LATERAL (SELECT id, version FROM catalogue_list_versions v
                              WHERE v.list_code = l.code AND v.state <> 'draft'
                                AND daterange(v.effective_date, v.effective_until) @> $1::date) in_force ON true
           WHERE $2::text IS NULL OR l.code = $2
           ORDER BY l.kind, l.code""",
        as_of, code,
    )


# -- resolution ------------------------------------------------------------------------------------------------


async def resolve(
    conn: asyncpg.Connection, matter_province: str, at_province: str, as_of: dt.date
) -> list[asyncpg.Record]:
    """One query: the entries of every list version in force on `as_of` that applies to this pair of
    provinces (national lists everywhere; a regional list only when both provinces are members),
    grouped per item, with the local variant in force in the matter's province and the modes of the
    standard that governs there (that variant's, else the national standard's)."""
    return await conn.fetch(
        """WITH applicable AS (
               SELECT v.id, v.list_code, v.version, l.kind
               FROM catalogue_list_versions v JOIN catalogue_lists l ON l.code = v.list_code
               WHERE v.state <> 'draft' AND daterange(v.effective_date, v.effective_until) @> $3::date
                 AND (l.kind = 'national' OR (
                      EXISTS (SELECT 1 FROM catalogue_list_members m WHERE m.version_id = v.id AND m.province = $1)
                  AND EXISTS (SELECT 1 FROM catalogue_list_members m WHERE m.version_id = v.id AND m.province = $2))))
           SELECT i.code, i.name, i.item_type, i.frequency, i.sample,
                  jsonb_agg(jsonb_build_object(
                      'list_code', a.list_code, 'version', a.version, 'kind', a.kind, 'modes', e.modes,
                      'available_by', e.available_by)) AS sources,
                  lv.version AS local_variant,
                  coalesce(lv.modes, i.modes) AS governing_modes
           FROM applicable a
           JOIN catalogue_list_entries e ON e.version_id = a.id
           JOIN catalogue_items i ON i.code = e.item_code
           LEFT JOIN LATERAL (
               SELECT v.version, ARRAY(SELECT jsonb_array_elements_text(v.standard->'modes')) AS modes
               FROM catalogue_variants v
               WHERE v.item_code = i.code AND v.division = $1 AND v.effective_date <= $3
               ORDER BY v.effective_date DESC LIMIT 1) lv ON true
           GROUP BY i.code, lv.version, lv.modes
           ORDER BY i.frequency DESC, i.code""",
        matter_province, at_province, as_of,
    )


# -- variants ----------------------------------------------------------------------------------------------------

VARIANT_COLUMNS = """v.item_code, v.division, v.version, v.effective_date, v.standard, v.sample,
    (SELECT min(n.effective_date) FROM catalogue_variants n
     WHERE n.item_code = v.item_code AND n.division = v.division AND n.effective_date > v.effective_date)
     AS effective_until"""


async def insert_variants(
    conn: asyncpg.Connection, rows: Sequence[tuple[str, str, int, dt.date, dict[str, Any], bool]]
) -> None:
    """(item_code, division, version, effective_date, standard, sample) rows."""
    await conn.executemany(
        """INSERT INTO catalogue_variants (item_code, division, version, effective_date, standard, sample)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        rows,
    )


async def variants(conn: asyncpg.Connection, item_code: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {VARIANT_COLUMNS} FROM catalogue_variants v WHERE v.item_code = $1 ORDER BY v.division, v.version",
        item_code,
    )


async def variant_in_force(
    conn: asyncpg.Connection, item_code: str, division: str, as_of: dt.date
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {VARIANT_COLUMNS} FROM catalogue_variants v
            WHERE v.item_code = $1 AND v.division = $2 AND v.effective_date <= $3
            ORDER BY v.effective_date DESC LIMIT 1""",
        item_code, division, as_of,
    )


async def variant_version(
    conn: asyncpg.Connection, item_code: str, division: str, number: int
) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {VARIANT_COLUMNS} FROM catalogue_variants v WHERE v.item_code = $1 AND v.division = $2 "
        "AND v.version = $3",
        item_code, division, number,
    )


async def latest_variants(conn: asyncpg.Connection, item_codes: Sequence[str]) -> dict[tuple[str, str], asyncpg.Record]:
    """Per (item, province) with a variant of one of these items: its newest version and that
    version's effective date."""
    rows = await conn.fetch(
        """SELECT DISTINCT ON (item_code, division) item_code, division, version, effective_date
           FROM catalogue_variants WHERE item_code = ANY($1::text[])
           ORDER BY item_code, division, version DESC""",
        list(item_codes),
    )
    return {(r["item_code"], r["division"]): r for r in rows}


# -- FAQ ---------------------------------------------------------------------------------------------------------


async def insert_faq(conn: asyncpg.Connection, question: str, answer: str, doc: str) -> str:
    """A new entry with the next generated id."""
    return await conn.fetchval(
        """INSERT INTO catalogue_faq (question, answer, search_doc) VALUES ($1, $2, $3::tsvector) RETURNING id""",
        question, answer, doc,
    )


async def insert_faqs(conn: asyncpg.Connection, rows: Sequence[tuple[str, str, str, bool, str]]) -> None:
    """(id, question, answer, sample, search_doc) entries with their own ids; ids that exist are left alone."""
    await conn.executemany(
        """INSERT INTO catalogue_faq (id, question, answer, sample, search_doc) VALUES ($1, $2, $3, $4, $5::tsvector)
           ON CONFLICT (id) DO NOTHING""",
        rows,
    )


async def existing_faq_ids(conn: asyncpg.Connection, faq_ids: Sequence[str]) -> set[str]:
    rows = await conn.fetch("SELECT id FROM catalogue_faq WHERE id = ANY($1::text[])", list(faq_ids))
    return {r["id"] for r in rows}


async def advance_faq_numbers(conn: asyncpg.Connection) -> None:
    """Make the next generated id follow the highest one loaded with an explicit id."""
    await conn.execute(
        """SELECT setval('catalogue_faq_number',
                         greatest((SELECT max(substr(id, 5)::int) FROM catalogue_faq),
                                  (SELECT last_value FROM catalogue_faq_number), 1))""")


async def update_faq(conn: asyncpg.Connection, faq_id: str, question: str, answer: str, doc: str) -> bool:
    status = await conn.execute(
        """UPDATE catalogue_faq SET question = $2, answer = $3, search_doc = $4::tsvector, updated_at = now()
           WHERE id = $1""",
        faq_id, question, answer, doc,
    )
    return status.endswith(" 1")


async def update_faq_docs(conn: asyncpg.Connection, docs: Sequence[tuple[str, str]]) -> None:
    """(id, search_doc) pairs."""
    await conn.executemany("UPDATE catalogue_faq SET search_doc = $2::tsvector WHERE id = $1", docs)


async def set_faq_items(conn: asyncpg.Connection, faq_id: str, item_codes: Sequence[str]) -> None:
    await conn.execute("DELETE FROM catalogue_faq_items WHERE faq_id = $1", faq_id)
    await insert_faq_items(conn, {faq_id: item_codes})


async def insert_faq_items(conn: asyncpg.Connection, links: dict[str, Sequence[str]]) -> None:
    """Link entries to items, in the order given per entry."""
    await conn.executemany(
        "INSERT INTO catalogue_faq_items (faq_id, item_code, position) VALUES ($1, $2, $3)",
        [(faq_id, code, n) for faq_id, codes in links.items() for n, code in enumerate(codes)],
    )


async def delete_faq(conn: asyncpg.Connection, faq_id: str) -> bool:
    return (await conn.execute("DELETE FROM catalogue_faq WHERE id = $1", faq_id)).endswith(" 1")


async def faq(conn: asyncpg.Connection, faq_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, question, answer, sample FROM catalogue_faq WHERE id = $1", faq_id)


async def faq_entries(conn: asyncpg.Connection, item_code: str | None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, question, answer, sample FROM catalogue_faq f
           WHERE $1::text IS NULL OR EXISTS (
               SELECT 1 FROM catalogue_faq_items fi WHERE fi.faq_id = f.id AND fi.item_code = $1)
           ORDER BY id""",
        item_code,
    )


async def faq_items(conn: asyncpg.Connection, faq_ids: Sequence[str]) -> list[asyncpg.Record]:
    """The items linked to some entries, each entry's in its order, with what a search document and a
    reference need of them."""
    return await conn.fetch(
        """SELECT fi.faq_id, i.code, i.name, i.modes, i.standard->'aliases' AS aliases FROM catalogue_faq_items fi
           JOIN catalogue_items i ON i.code = fi.item_code
           WHERE fi.faq_id = ANY($1::text[]) ORDER BY fi.faq_id, fi.position""",
        list(faq_ids),
    )
