"""Search over items and FAQ entries, and 智能客服 (`ask`): PostgreSQL full text over the bigram
documents of `bigrams.py`; no segmenter, no external service."""

from __future__ import annotations

import math
from collections.abc import Sequence

import asyncpg

from backend.catalogue import repository
from backend.catalogue.bigrams import Query, read_query, read_question
from backend.catalogue.faq import item_refs
from backend.catalogue.schemas import Answer, FaqHit, SearchHit, SearchResult, mode_views
from backend.db import Database
from backend.errors import ValidationFailed

_MATCH = {4: "exact_name", 3: "exact_alias", 2: "name", 1: "alias", 0: "other"}


def _loose_args(query: Query) -> tuple[str, repository.Pieces, int]:
    """A loosely read query as the coverage queries take it: any piece, the pieces by weight, and how
    many must match (half of them)."""
    pieces = query.pieces
    return (query.any_piece(),
            ([p.tsquery("A") for p in pieces], [p.tsquery("AB") for p in pieces], [p.tsquery() for p in pieces],
             query.weights()),
            max(1, math.ceil(len(pieces) / 2)))


def _hit(row: asyncpg.Record, match: str) -> SearchHit:
    return SearchHit(code=row["code"], name=row["name"], type=row["item_type"], modes=mode_views(row["modes"]),
                     frequency=row["frequency"], match=match, sample=row["sample"])  # type: ignore[arg-type]


async def _faq_hits(conn: asyncpg.Connection, rows: Sequence[asyncpg.Record], max_score: int) -> list[FaqHit]:
    """FAQ hits with their items; `score` is the share of the best possible loose score (0 when the
    query was matched whole, where the rank is ts_rank's)."""
    refs = await item_refs(conn, [r["id"] for r in rows])
    return [FaqHit(id=r["id"], question=r["question"], answer=r["answer"], items=refs.get(r["id"], []),
                   score=round(float(r["score"]) / max_score, 3) if max_score else round(float(r["score"]), 3),
                   sample=r["sample"]) for r in rows]


class SearchService:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def find(self, text: str, *, limit: int = 20, faq_limit: int = 5) -> SearchResult:
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
            items = [_hit(r, _MATCH[r["match_class"]]) for r in rows]
            if not items and not loose.empty:
                items = [_hit(r, "partial") for r in await repository.search_items_loosely(
                    conn, *_loose_args(loose), limit)]
                relaxed = items_relaxed = bool(items)
            faq = await _faq_hits(conn, await repository.search_faq(
                conn, query.strict(), query.strict("A"), faq_limit), 0)
            if not faq and not loose.empty:
                faq = await _faq_hits(conn, await repository.search_faq_loosely(
                    conn, *_loose_args(loose), faq_limit), loose.max_score)
                relaxed = relaxed or bool(faq)
        return SearchResult(query=text, interpreted_as=(loose if items_relaxed else query).interpreted_as(),
                            relaxed=relaxed, items=items, faq=faq,
                            sample=any(i.sample for i in items) or any(f.sample for f in faq))

    async def ask(self, question: str, *, answers: int = 3, suggestions: int = 5) -> Answer:
        """智能客服: the FAQ answers covering most of the question, with the items they refer to, and
        items the question itself points at."""
        query = read_question(question)
        if query.empty:
            raise ValidationFailed.field("q", "ask a question in words")
        args = _loose_args(query)
        async with self.db.connection() as conn:
            hits = await _faq_hits(conn, await repository.search_faq_loosely(conn, *args, answers), query.max_score)
            # The answers' items first, then those the question itself points at.
            referred = list(dict.fromkeys(ref.code for hit in hits for ref in hit.items))[:suggestions]
            rows = await repository.item_summaries(conn, referred)
            rows += await repository.search_items_loosely(conn, *args, suggestions)
        suggested: dict[str, SearchHit] = {}
        for row in rows:
            suggested.setdefault(row["code"], _hit(row, "partial"))
        return Answer(question=question, answers=hits, suggested_items=list(suggested.values())[:suggestions],
                      sample=any(h.sample for h in hits) or any(s.sample for s in suggested.values()))
