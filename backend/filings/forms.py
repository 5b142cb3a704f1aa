"""A filing's form: the filer's fields, the bound fields the service fills in from the record, how
both are checked against the kind's form schema (the catalogue's form machinery), stored encrypted,
shown masked and fingerprinted for the receipt."""

from __future__ import annotations

import hashlib
from typing import Any

import msgspec

from backend.catalogue.forms import form_shape_problems
from backend.errors import FieldError
from backend.filings.kinds import ObligationKind
from backend.security.pii import PiiCipher

_PURPOSE = "filing.form"


def seal(cipher: PiiCipher, form: dict[str, Any]) -> bytes:
    return cipher.encrypt(msgspec.json.encode(form).decode(), purpose=_PURPOSE)


def unseal(cipher: PiiCipher, blob: bytes) -> dict[str, Any]:
    return msgspec.json.decode(cipher.decrypt(blob, purpose=_PURPOSE))


def digest(form: dict[str, Any]) -> bytes:
    """SHA-256 of the form's canonical JSON (keys sorted): what the receipt prints."""
    return hashlib.sha256(msgspec.json.encode(form, order="sorted")).digest()


def merge_patch(target: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """RFC 7396 JSON merge patch: given fields replace theirs, `null` removes one, objects merge."""
    merged = dict(target)
    for name, value in patch.items():
        if value is None:
            merged.pop(name, None)
        elif isinstance(value, dict) and isinstance(merged.get(name), dict):
            merged[name] = merge_patch(merged[name], value)
        else:
            merged[name] = value
    return merged


def filer_problems(kind: ObligationKind, form: dict[str, Any], at: str = "#/form") -> list[FieldError]:
    """What a saved form may never hold, whatever else is missing yet: a bound field, or more than
    any form may be."""
    bound = [FieldError(f"{at}/{name}", "is filled in by the service from the record; leave it out")
             for name in form if name in kind.bound]
    return bound or form_shape_problems(form, at)


def compose(kind: ObligationKind, form: dict[str, Any], sources: dict[str, Any]) -> dict[str, Any]:
    """The whole form: the filer's fields and the bound ones, from `sources` (see `kinds.BOUND_SOURCES`)."""
    return {**form, **{name: sources[source] for name, source in kind.bound.items()
                       if sources.get(source) is not None}}

