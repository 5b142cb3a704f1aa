"""Application forms: each item's form is described by a JSON Schema (draft 2020-12), checked with
the `jsonschema` package; problems are reported as JSON pointers into the form."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError, ValidationError

from backend.errors import FieldError

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_MAX_ERRORS = 50


def _pointer(base: str, path: Any) -> str:
    parts = [str(p).replace("~", "~0").replace("/", "~1") for p in path]
    return base + "".join("/" + p for p in parts)


def schema_problems(schema: dict[str, Any], at: str = "#/form_schema") -> list[FieldError]:
    """Why `schema` is not a usable form schema (empty when it is).

    A form schema is a draft 2020-12 schema describing an object, and references nothing outside
    itself (no remote `$ref` is ever fetched).
    """
    problems: list[FieldError] = []
    dialect = schema.get("$schema", DIALECT)
    if dialect != DIALECT:
        problems.append(FieldError(at + "/$schema", f"must be {DIALECT} (draft 2020-12)"))
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        problems.append(FieldError(_pointer(at, exc.absolute_path), f"not a valid JSON Schema: {exc.message}"))
    if schema.get("type") != "object":
        problems.append(FieldError(at + "/type", 'a form schema must describe an object ("type": "object")'))
    refs = [r for r in _refs(schema) if not r.startswith("#")]
    if refs:
        problems.append(FieldError(at, f"references outside the schema are not allowed: {', '.join(refs[:3])}"))
    return problems


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [r for v in node.values() for r in _refs(v)]
    if isinstance(node, list):
        return [r for v in node for r in _refs(v)]
    return []


@lru_cache(maxsize=512)
def _validator(digest: str, schema_json: str) -> Draft202012Validator:
    del digest  # the cache key; the JSON text itself is what gets compiled
    return Draft202012Validator(json.loads(schema_json), format_checker=Draft202012Validator.FORMAT_CHECKER)


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
    return [FieldError(_pointer(base, here), detail)]


def form_problems(schema: dict[str, Any], form: Any, at: str = "#/form") -> list[FieldError]:
    """Every way `form` fails `schema`, as pointers into the form, in document order."""
    schema_json = json.dumps(schema, sort_keys=True, ensure_ascii=False)
    validator = _validator(hashlib.sha256(schema_json.encode()).hexdigest(), schema_json)
    problems: list[FieldError] = []
    for error in sorted(validator.iter_errors(form), key=lambda e: [str(p) for p in e.absolute_path]):
        problems.extend(_messages(error, at))
        if len(problems) >= _MAX_ERRORS:
            break
    return list(dict.fromkeys(problems))[:_MAX_ERRORS]
