"""Certificate types and the field schema each one's issued fields must satisfy.

Codes and Chinese names come from the catalogue's list of certificate types, so a case's result and
the certificate it issues speak of the same thing; the field schemas live in
`data/certificate_types.json` and become msgspec structs here, validated by type and `Meta`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal

import msgspec

from backend.errors import FieldError, ValidationFailed
from backend.identifiers import DIVISION, whole

_DATA = Path(__file__).resolve().parent / "data" / "certificate_types.json"
_CATALOGUE = Path(__file__).resolve().parents[1] / "catalogue" / "data" / "items.json"
_AT_PATH = re.compile(r" - at `\$\.?([^`]*)`$")
HolderKind = Literal["citizen", "organisation"]
# Scopes a holder may grant besides the fields themselves.
HOLDER_SCOPES = {"holder_name": "持证人姓名/名称", "holder_identifier": "证件号码（脱敏）/统一社会信用代码",
                 "number": "证照编号"}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    title: str
    kind: str
    optional: bool
    spec: dict[str, Any]

    def annotation(self) -> Any:
        s = self.spec
        kinds: dict[str, Any] = {
            "text": Annotated[str, msgspec.Meta(min_length=s.get("min", 1), max_length=s.get("max", 64),
                                                title=self.title)],
            "date": Annotated[dt.date, msgspec.Meta(title=self.title)],
            "integer": Annotated[int, msgspec.Meta(ge=s.get("min"), le=s.get("max"), title=self.title)],
            "boolean": Annotated[bool, msgspec.Meta(title=self.title)],
            "division": Annotated[str, msgspec.Meta(pattern=DIVISION, title=self.title,
                                                    description="GB/T 2260 division code")],
            "code": Annotated[str, msgspec.Meta(pattern=whole(s["pattern"]) if "pattern" in s else None,
                                                title=self.title)],
        }
        if self.kind == "enum":
            return Annotated[Literal[tuple(s["values"])], msgspec.Meta(title=self.title)]  # type: ignore[misc]
        return kinds[self.kind]

    def display(self, value: object) -> str:
        """The value as printed on the certificate."""
        if self.kind == "enum":
            return self.spec["values"].get(value, str(value))
        if self.kind == "boolean":
            return "是" if value else "否"
        return str(value)


@dataclass(frozen=True)
class CertificateType:
    code: str
    name: str
    holder_kind: HolderKind
    default_days: int
    max_days: int
    fields: tuple[FieldSpec, ...]

    @cached_property
    def schema(self) -> type[msgspec.Struct]:
        definitions: list[tuple[str, Any] | tuple[str, Any, Any]] = [
            (f.name, f.annotation()) for f in self.fields if not f.optional]
        definitions += [(f.name, f.annotation() | None, None) for f in self.fields if f.optional]
        return msgspec.defstruct(f"{self.code}_fields", definitions, forbid_unknown_fields=True,
                                 omit_defaults=True, frozen=True)

    @cached_property
    def field_by_name(self) -> dict[str, FieldSpec]:
        return {f.name: f for f in self.fields}

    @property
    def scopes(self) -> list[str]:
        """What a consent for a certificate of this type may disclose."""
        return [*HOLDER_SCOPES, *(f.name for f in self.fields)]

    def validate(self, values: dict[str, Any], pointer: str = "#/fields") -> dict[str, Any]:
        """The fields in their canonical JSON form, or `ValidationFailed` naming each bad field."""
        try:
            checked = msgspec.convert(values, self.schema)
        except msgspec.ValidationError as exc:
            message = str(exc)
            path = ""
            if (match := _AT_PATH.search(message)) is not None:
                message, path = message[: match.start()], "/" + match[1].replace(".", "/")
            elif (named := re.search(r"(?:unknown|missing required) field `([^`]+)`", message)) is not None:
                path = "/" + named[1]
            raise ValidationFailed([FieldError(pointer=pointer + path, detail=message)]) from None
        return msgspec.to_builtins(checked)

    def json_schema(self) -> dict[str, Any]:
        schema, components = msgspec.json.schema_components([self.schema])
        return components[schema[0]["$ref"].rsplit("/", 1)[-1]]


def _load() -> dict[str, CertificateType]:
    catalogue_names: dict[str, str] = json.loads(_CATALOGUE.read_text(encoding="utf-8"))["certificate_types"]
    types = {}
    for code, raw in json.loads(_DATA.read_text(encoding="utf-8"))["types"].items():
        fields = tuple(FieldSpec(name, spec["title"], spec["kind"], spec.get("optional", False), spec)
                       for name, spec in raw["fields"].items())
        types[code] = CertificateType(code, raw.get("name") or catalogue_names[code], raw["holder"],
                                      raw["validity"]["default"], raw["validity"]["max"], fields)
    return types


CERTIFICATE_TYPES: dict[str, CertificateType] = _load()


def certificate_type(code: str, pointer: str = "certificate_type") -> CertificateType:
    try:
        return CERTIFICATE_TYPES[code]
    except KeyError:
        raise ValidationFailed.field(pointer, f"unknown certificate type {code!r}") from None
