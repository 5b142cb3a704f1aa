"""Chinese search without a segmenter or an external service: character bigrams in a tsvector.

A document becomes a positional `tsvector` whose lexemes are the overlapping character bigrams of
each run of Chinese text (plus the run's last character alone, so that every character starts some
lexeme), and whole words for runs of Latin letters and digits. A query string then matches exactly
where it is a substring of a run: `社会保` becomes the phrase `'社会' <-> '会保'`, and a single
character becomes the prefix query `'税':*`. The lexemes are written by this module, not by a text
search parser, so matching does not depend on the database's locale (pg_trgm does: under a `C`
ctype it extracts no trigrams from Chinese text at all, and no ctype gives a 1–2 character query any
trigram).

Queries are read with the alias groups of `data/aliases.json`: longest term first, without overlap
(`社保卡` wins over `社保`), each term standing for every term of its group. Weights: A for names
(FAQ questions), B for aliases (items linked to an FAQ entry), C for other text.
"""

from __future__ import annotations

import itertools
import json
import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

ALIASES_FILE = Path(__file__).resolve().parent / "data" / "aliases.json"

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
_RUN = re.compile(rf"[a-z0-9]+|[{_HAN}]+")
_MAX_POSITION = 16383  # PostgreSQL's largest tsvector position
_MAX_EXACT_FORMS = 32
# A Latin or digit run is indexed by its first characters only: PostgreSQL refuses lexemes over
# 2047 bytes, and nobody searches for a longer word than this.
_MAX_WORD = 64

# Words that carry no meaning in a question (怎么, 吗 …): dropped when a question is read loosely.
QUESTION_WORDS = sorted((
    "怎么办", "怎么样", "怎么", "如何", "什么", "在哪里", "在哪儿", "在哪", "哪里", "哪儿", "哪些", "多久", "多长时间", "是否", "能否", "能不能",
    "可不可以", "可以", "需要", "请问", "我想", "我要", "一下", "吗", "呢", "吧", "啊",
), key=len, reverse=True)


def normalise(text: str) -> str:
    """Full-width to half-width, lower case (NFKC), as both documents and queries are read."""
    return unicodedata.normalize("NFKC", text).lower()


def runs(text: str) -> list[str]:
    """The runs of Chinese characters and of Latin letters/digits; everything else separates."""
    return _RUN.findall(normalise(text))


def compact(text: str) -> str:
    """Text without spaces or punctuation, for exact comparison (`社保卡 申领！` → `社保卡申领`)."""
    return "".join(runs(text))


def _is_han(run: str) -> bool:
    return not run[0].isascii()


def _run_lexemes(run: str) -> list[str]:
    if not _is_han(run) or len(run) == 1:
        return [run[:_MAX_WORD]]
    return [run[i:i + 2] for i in range(len(run) - 1)] + [run[-1]]


def document(fields: list[tuple[str, str]]) -> str:
    """A tsvector literal for `(text, weight)` fields; cast it with `::tsvector`.

    Positions leave a gap between runs, so a phrase never matches across punctuation or fields.
    """
    parts: list[str] = []
    position = 1
    for text, weight in fields:
        for run in runs(text):
            for offset, lexeme in enumerate(_run_lexemes(run)):
                parts.append(f"'{lexeme}':{min(position + offset, _MAX_POSITION)}{weight}")
            position += len(run) + 1
    return " ".join(parts)


def _phrase(term: str, weights: str) -> str:
    """A tsquery matching `term` as a substring of one run (or of consecutive runs, all required)."""
    clauses = []
    for run in runs(term):
        if not _is_han(run) or len(run) == 1:
            clauses.append(f"'{run[:_MAX_WORD]}':*{weights}")
        else:
            clauses.append(" <-> ".join(f"'{run[i:i + 2]}':{weights}" if weights else f"'{run[i:i + 2]}'"
                                        for i in range(len(run) - 1)))
    return " & ".join(f"({c})" for c in clauses)


@dataclass(frozen=True, slots=True)
class Piece:
    """One part of a query and the alternatives any of which satisfies it."""

    alternatives: tuple[str, ...]
    alias: bool = False

    def tsquery(self, weights: str = "") -> str:
        return "(" + " | ".join(_phrase(a, weights) for a in self.alternatives) + ")"


class AliasIndex:
    """Interchangeable search terms, matched longest first."""

    def __init__(self, groups: list[list[str]]) -> None:
        self.alternatives: dict[str, set[str]] = {}
        for group in groups:
            terms = [compact(t) for t in group if compact(t)]
            for term in terms:
                self.alternatives.setdefault(term, set()).update(terms)
        self.longest = max((len(t) for t in self.alternatives), default=0)

    @classmethod
    def from_file(cls, path: Path = ALIASES_FILE) -> AliasIndex:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls([g["terms"] for g in raw["groups"]])

    def match_at(self, text: str, start: int) -> str | None:
        for length in range(min(self.longest, len(text) - start), 1, -1):
            if text[start:start + length] in self.alternatives:
                return text[start:start + length]
        return None

    def group(self, term: str) -> tuple[str, ...]:
        # The term itself first, then the others longest first, for a stable reading.
        others = sorted(self.alternatives[term] - {term}, key=lambda t: (-len(t), t))
        return (term, *others)


@lru_cache(maxsize=1)
def alias_index() -> AliasIndex:
    return AliasIndex.from_file()


@dataclass(frozen=True, slots=True)
class Query:
    """A query read into pieces: strict (every piece must match) or loose (scored by coverage)."""

    text: str
    pieces: tuple[Piece, ...]
    exact_forms: tuple[str, ...]

    @property
    def empty(self) -> bool:
        return not self.pieces

    def strict(self, weights: str = "") -> str:
        return " & ".join(p.tsquery(weights) for p in self.pieces)

    def any_piece(self) -> str:
        return " | ".join(p.tsquery() for p in self.pieces)

    def weights(self) -> list[int]:
        """How much each piece counts when scoring loosely: a known term twice a plain bigram."""
        return [2 if p.alias else 1 for p in self.pieces]

    @property
    def max_score(self) -> int:
        """The loose score of a text matching every piece in a name (weight A, worth 3)."""
        return 3 * sum(self.weights())

    def interpreted_as(self) -> list[list[str]]:
        return [list(p.alternatives) for p in self.pieces]


def _split(run: str, aliases: AliasIndex, drop_question_words: bool) -> list[Piece]:
    pieces: list[Piece] = []
    pending = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            pieces.append(Piece((pending,)))
            pending = ""

    i = 0
    while i < len(run):
        term = aliases.match_at(run, i)
        if term is not None:
            flush()
            pieces.append(Piece(aliases.group(term), alias=True))
            i += len(term)
            continue
        if drop_question_words:
            word = next((w for w in QUESTION_WORDS if run.startswith(w, i)), None)
            if word is not None:
                flush()
                i += len(word)
                continue
        pending += run[i]
        i += 1
    flush()
    return pieces


def read_query(text: str, aliases: AliasIndex | None = None) -> Query:
    """Read a search box query: every piece must match."""
    aliases = aliases or alias_index()
    pieces: list[Piece] = []
    for run in runs(text):
        pieces.extend(_split(run, aliases, False) if _is_han(run) else [Piece((run,))])
    return Query(text, tuple(pieces), _exact_forms(pieces))


def read_question(text: str, aliases: AliasIndex | None = None) -> Query:
    """Read a question loosely: question words dropped, plain text cut into bigrams, so that an
    answer is found by how much of the question it covers rather than by containing all of it."""
    aliases = aliases or alias_index()
    pieces: list[Piece] = []
    for run in runs(text):
        if not _is_han(run):
            pieces.append(Piece((run,)))
            continue
        for piece in _split(run, aliases, True):
            plain = piece.alternatives[0]
            if piece.alias or len(plain) <= 2:
                pieces.append(piece)
            else:
                pieces.extend(Piece((plain[i:i + 2],)) for i in range(len(plain) - 1))
    # A lone character means little in a question; keep them only if nothing else is left.
    meaningful = [p for p in pieces if p.alias or len(p.alternatives[0]) > 1 or p.alternatives[0].isascii()]
    unique = list(dict.fromkeys(meaningful or pieces))
    return Query(text, tuple(unique), ())


def _exact_forms(pieces: list[Piece]) -> tuple[str, ...]:
    """The query as a whole, with each alias term replaced by each term of its group."""
    forms = ("".join(combo) for combo in itertools.product(*(p.alternatives for p in pieces)))
    return tuple(itertools.islice(forms, _MAX_EXACT_FORMS))
