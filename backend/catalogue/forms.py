"""Application forms: each item's form is described by a JSON Schema (draft 2020-12), checked with
the `jsonschema` package; problems are reported as JSON pointers into the form.

Anyone may check a form, so a check must stay cheap whatever the schema or the form:

- regular expressions (`pattern`, `patternProperties`, the `regex` format) run on RE2, which matches
  in linear time; a pattern RE2 cannot compile (look-around, back-references) is refused when the
  schema is written, so a pattern like `^(a+)+$` can never backtrack for seconds on a crafted value;
- a schema is bounded in size, nesting and in how large it grows once its `$ref`s are followed, and a
  `$ref` may not lead back into itself (a recursive schema would recurse as deep as the form);
- a form is bounded in size and nesting; `uniqueItems` is checked by hashing, not pair by pair;
- at most `MAX_ERRORS` problems are collected, and callers run the check in a worker thread.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from functools import lru_cache
from typing import Any
from urllib.parse import unquote

import msgspec
import re2
from jsonschema import Draft202012Validator, FormatChecker, validators
from jsonschema.exceptions import SchemaError, ValidationError

from backend.errors import FieldError, FormSchemaUnusable

DIALECT = "https://json-schema.org/draft/2020-12/schema"
MAX_SCHEMA_BYTES = 64 * 1024
MAX_SCHEMA_DEPTH = 32  # levels of JSON nesting: `properties` → field → … counts two per form level
MAX_SCHEMA_REFS = 64
MAX_SCHEMA_EXPANDED = 4000  # objects and arrays once every `$ref` is replaced by what it points at
MAX_PATTERN_LENGTH = 1000
MAX_FORM_BYTES = 64 * 1024
MAX_FORM_DEPTH = 16
MAX_ERRORS = 50
_MAX_DETAIL = 300
# Keywords a form schema does without: anchors and dynamic references make `$ref` targets depend on
# more than a JSON pointer; the `unevaluated*` keywords re-evaluate every subschema and, inside
# jsonschema, match `patternProperties` with Python's backtracking `re`. (Refused wherever they
# appear, so a form field cannot carry one of these names either.)
_REFUSED_KEYWORDS = ("$anchor", "$dynamicAnchor", "$dynamicRef", "$recursiveAnchor", "$recursiveRef",
                     "unevaluatedItems", "unevaluatedProperties")

_RE2_OPTIONS = re2.Options()
_RE2_OPTIONS.log_errors = False
_RE2_OPTIONS.never_capture = True

Path = tuple[str, ...]


@lru_cache(maxsize=1024)
def _regex(pattern: str) -> Any:
    """`pattern` compiled by RE2 (raises `re2.error` for what RE2 does not support)."""
    return re2.compile(pattern, options=_RE2_OPTIONS)


def _pointer(base: str, path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return base + "".join("/" + p for p in parts)


# -- the validator: jsonschema's draft 2020-12 with RE2 for every regular expression ---------------


def _pattern(validator: Any, pattern: str, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if validator.is_type(instance, "string") and not _regex(pattern).search(instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


def _pattern_properties(
    validator: Any, patterns: dict[str, Any], instance: Any, schema: Any
) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    for pattern, subschema in patterns.items():
        for name, value in instance.items():
            if _regex(pattern).search(name):
                yield from validator.descend(value, subschema, path=name, schema_path=pattern)


def _additional_properties(validator: Any, additional: Any, instance: Any, schema: Any) -> Iterator[ValidationError]:
    if not validator.is_type(instance, "object"):
        return
    known = schema.get("properties", {})
    patterns = [_regex(p) for p in schema.get("patternProperties", {})]
    extras = [name for name in instance
              if name not in known and not any(p.search(name) for p in patterns)]
    if validator.is_type(additional, "object"):
        for name in extras:
            yield from validator.descend(instance[name], additional, path=name)
    elif additional is False and extras:
        yield ValidationError(f"unexpected fields: {', '.join(sorted(extras))}")


def _plain(value: Any) -> Any:
    """A value as JSON Schema compares it: 1 and 1.0 are equal, true and 1 are not."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _unique_items(validator: Any, unique: bool, instance: Any, schema: Any) -> Iterator[ValidationError]:
    # jsonschema compares unsortable elements pair by pair: quadratic in a form anyone may send.
    if not unique or not validator.is_type(instance, "array"):
        return
    seen: set[bytes] = set()
    for value in instance:
        key = msgspec.json.encode(_plain(value), order="sorted")
        if key in seen:
            yield ValidationError("has non-unique elements")
            return
        seen.add(key)


_FORMATS = FormatChecker(Draft202012Validator.FORMAT_CHECKER.checkers)


@_FORMATS.checks("regex", raises=re2.error)
def _is_regex(instance: object) -> bool:
    return not isinstance(instance, str) or bool(_regex(instance))


FormValidator = validators.extend(Draft202012Validator, {
    "pattern": _pattern, "patternProperties": _pattern_properties,
    "additionalProperties": _additional_properties, "uniqueItems": _unique_items,
})


# -- checking a schema ----------------------------------------------------------------------------------


def _nodes(document: Any, max_depth: int) -> Iterator[tuple[Path, Any]]:
    """Every object and array of a JSON document with its path, parents first, no deeper than
    `max_depth` (a node deeper than that is yielded, its children are not). Iterative: a document
    nested thousands deep must not exhaust the stack."""
    stack: list[tuple[Path, Any]] = [((), document)]
    while stack:
        path, node = stack.pop()
        yield path, node
        if len(path) >= max_depth:
            continue
        children = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend(reversed([((*path, str(k)), v) for k, v in children if isinstance(v, dict | list)]))


def _depth(document: Any, limit: int) -> int:
    """The nesting depth of a JSON document, counting no further than `limit + 1`."""
    return max((len(p) + 1 for p, _ in _nodes(document, limit)), default=0)


def _resolve(schema: Any, ref: str) -> Path | None:
    """The path a local JSON pointer reference (`#`, `#/$defs/x`) names, or None."""
    parts = [] if ref == "#" else [unquote(p).replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]
    node = schema
    for part in parts:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return tuple(parts)


def _shape_problems(schema: dict[str, Any], at: str) -> list[FieldError]:
    """Size, nesting, references, keywords and patterns: what must hold before a schema is handed
    to jsonschema at all."""
    if len(msgspec.json.encode(schema)) > MAX_SCHEMA_BYTES:
        return [FieldError(at, f"is larger than {MAX_SCHEMA_BYTES // 1024} KB")]
    if _depth(schema, MAX_SCHEMA_DEPTH) > MAX_SCHEMA_DEPTH:
        return [FieldError(at, f"nests deeper than {MAX_SCHEMA_DEPTH} levels")]
    problems: list[FieldError] = []
    sizes: dict[Path, int] = {}
    refs: list[tuple[Path, Path]] = []  # (where the $ref is, what it points at)
    for path, node in _nodes(schema, MAX_SCHEMA_DEPTH):
        sizes[path] = 1
        if not isinstance(node, dict):
            continue
        for keyword in _REFUSED_KEYWORDS:
            if keyword in node:
                problems.append(FieldError(_pointer(at, [*path, keyword]), "is not supported in a form schema"))
        if path and isinstance(node.get("$id"), str):
            problems.append(FieldError(_pointer(at, [*path, "$id"]), "only the whole form schema may have an $id"))
        patterns = [("pattern",)] if isinstance(node.get("pattern"), str) else []
        if isinstance(node.get("patternProperties"), dict):
            patterns += [("patternProperties", p) for p in node["patternProperties"]]
        for where in patterns:
            pattern = node[where[0]] if len(where) == 1 else where[1]
            problems += _pattern_problems(pattern, _pointer(at, [*path, *where]))
        if isinstance(ref := node.get("$ref"), str):
            pointer = _pointer(at, [*path, "$ref"])
            if not ref.startswith("#"):
                problems.append(FieldError(pointer, f"references outside the schema are not allowed: {ref[:100]}"))
            elif ref != "#" and not ref.startswith("#/"):
                problems.append(FieldError(pointer, "refer to a part of the schema by JSON pointer (#/…)"))
            elif (target := _resolve(schema, ref)) is None:
                problems.append(FieldError(pointer, f"{ref[:100]} points at nothing in this schema"))
            else:
                refs.append((path, target))
    if len(refs) > MAX_SCHEMA_REFS:
        problems.append(FieldError(at, f"has more than {MAX_SCHEMA_REFS} $ref"))
    if problems:
        return problems
    for path in sorted(sizes, key=len, reverse=True):  # children before parents
        if path:
            sizes[path[:-1]] += sizes[path]
    return _reference_problems(sizes, refs, at)


def _pattern_problems(pattern: str, pointer: str) -> list[FieldError]:
    if len(pattern) > MAX_PATTERN_LENGTH:
        return [FieldError(pointer, f"a pattern may have at most {MAX_PATTERN_LENGTH} characters")]
    try:
        _regex(pattern)
    except re2.error as exc:
        reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else str(exc)
        return [FieldError(pointer, f"not a pattern this service evaluates (RE2 syntax, no look-around or "
                                    f"back-references): {reason}")]
    return []


class _Cycle(Exception):
    """Following `$ref`s came back to a part being followed: the exception names the `$ref` that did."""


def _reference_problems(sizes: dict[Path, int], refs: list[tuple[Path, Path]], at: str) -> list[FieldError]:
    """Refuse a `$ref` that leads back into itself, and a schema that grows past
    `MAX_SCHEMA_EXPANDED` once references are followed (each may be used many times)."""
    expanded: dict[Path, int] = {}
    pending: set[Path] = set()

    def size(target: Path) -> int:  # recursion bounded by MAX_SCHEMA_REFS
        if target not in expanded:
            pending.add(target)
            total = sizes[target]
            for where, inner in refs:
                if where[:len(target)] == target:
                    if inner in pending:
                        raise _Cycle(where)
                    total += size(inner)
            pending.discard(target)
            expanded[target] = min(total, MAX_SCHEMA_EXPANDED + 1)
        return expanded[target]

    try:
        total = size(())
    except _Cycle as cycle:
        return [FieldError(_pointer(at, [*cycle.args[0], "$ref"]),
                           "a $ref may not lead back into itself: a form schema cannot be recursive")]
    if total > MAX_SCHEMA_EXPANDED:
        return [FieldError(at, f"grows past {MAX_SCHEMA_EXPANDED} parts once its $ref are followed")]
    return []


def schema_problems(schema: dict[str, Any], at: str = "#/form_schema") -> list[FieldError]:
    """Why `schema` is not a usable form schema (empty when it is).

    A form schema is a draft 2020-12 schema describing an object, references nothing outside itself
    (no remote `$ref` is ever fetched) and nothing recursively, and stays within the bounds above.
    CPU work: call it from a worker thread for schemas from a request.
    """
    problems = _shape_problems(schema, at)
    if problems:
        return problems
    dialect = schema.get("$schema", DIALECT)
    if dialect != DIALECT:
        problems.append(FieldError(at + "/$schema", f"must be {DIALECT} (draft 2020-12)"))
    try:
        FormValidator.check_schema(schema, format_checker=_FORMATS)
    except SchemaError as exc:
        problems.append(FieldError(_pointer(at, exc.absolute_path), f"not a valid JSON Schema: {exc.message}"))
    if schema.get("type") != "object":
        problems.append(FieldError(at + "/type", 'a form schema must describe an object ("type": "object")'))
    return problems


# -- checking a form ------------------------------------------------------------------------------------


@lru_cache(maxsize=64)
def _validator(schema_json: bytes) -> Any:
    """A validator per distinct schema (at most 64 of at most 64 KB each), or why there is none: a
    schema stored before the bounds above existed is checked once more here."""
    schema = msgspec.json.decode(schema_json)
    if problems := schema_problems(schema, "#"):
        return "the item's form schema cannot be used to check forms: " + "; ".join(
            f"{p.pointer}: {p.detail}" for p in problems[:3])
    return FormValidator(schema, format_checker=_FORMATS)


def _shorten(text: str) -> str:
    return text if len(text) <= _MAX_DETAIL else text[:_MAX_DETAIL - 1] + "…"


def _messages(error: ValidationError, base: str) -> list[FieldError]:
    """One error per offending field: `required` and `additionalProperties` name the field itself."""
    here = list(error.absolute_path)
    instance = error.instance
    if error.validator == "required" and isinstance(instance, dict):
        return [FieldError(_pointer(base, [*here, name]), "is required")
                for name in error.validator_value if name not in instance]
    if error.validator == "additionalProperties" and isinstance(instance, dict):
        known = set(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        if not patterns:
            return [FieldError(_pointer(base, [*here, name]), "is not a field of this form")
                    for name in instance if name not in known]
    title = error.schema.get("title") if isinstance(error.schema, dict) else None
    detail = f"{title}: {error.message}" if title else error.message
    return [FieldError(_pointer(base, here), _shorten(detail))]


def form_shape_problems(form: Any, at: str = "#/form") -> list[FieldError]:
    """Whether `form` stays within the bounds every form keeps (size and nesting), whatever its
    schema: what a saved draft, checked against no schema yet, must meet too."""
    if len(msgspec.json.encode(form)) > MAX_FORM_BYTES:
        return [FieldError(at, f"is larger than {MAX_FORM_BYTES // 1024} KB")]
    if _depth(form, MAX_FORM_DEPTH) > MAX_FORM_DEPTH:
        return [FieldError(at, f"nests deeper than {MAX_FORM_DEPTH} levels")]
    return []


async def checked_form(schema: dict[str, Any], form: Any, at: str = "#/form") -> list[FieldError]:
    """`form_problems`, worked out in a thread off the event loop."""
    return await asyncio.to_thread(form_problems, schema, form, at)


def form_problems(schema: dict[str, Any], form: Any, at: str = "#/form") -> list[FieldError]:
    """Every way `form` fails `schema` (at most `MAX_ERRORS`), as pointers into the form, in
    document order. CPU work: call it from a worker thread."""
    if problems := form_shape_problems(form, at):
        return problems
    validator = _validator(msgspec.json.encode(schema, order="sorted"))
    if isinstance(validator, str):
        raise FormSchemaUnusable(validator)
    errors = itertools.islice(validator.iter_errors(form), MAX_ERRORS)
    problems = [p for e in sorted(errors, key=lambda e: [str(p) for p in e.absolute_path]) for p in _messages(e, at)]
    return list(dict.fromkeys(problems))[:MAX_ERRORS]
