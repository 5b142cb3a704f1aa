"""What the gateway knows of each registered data provider beyond the registry's identity and
credential: the dataset it answers, its adapter, the fields it declares and, for every purpose it
serves, the fields it may release for that purpose (data minimisation per purpose). Pure data from
`data/providers.json` (SAMPLE), no database.

Purposes are a closed list: every request names one, and a provider serves only those it declares."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

from backend.identity.divisions import InvalidDivision, division_table

_DATA = Path(__file__).resolve().parent / "data" / "providers.json"

# Purpose code → (Chinese, English): what a request may be for.
PURPOSES: dict[str, tuple[str, str]] = {
    "self-query": ("本人查询", "the person's own query"),
    "case-handling": ("办件审查", "examining a case the person applied for"),
    "benefit-eligibility": ("待遇资格核查", "checking eligibility for a benefit"),
    "housing-fund-business": ("住房公积金业务", "a housing-fund matter"),
    "household-service": ("户籍业务", "a household-registration matter"),
    "traffic-management": ("交通管理业务", "a traffic-administration matter"),
}
FieldKind = Literal["text", "division", "date", "month", "integer", "amount"]


@dataclass(frozen=True, slots=True)
class FieldDeclaration:
    name: str
    title: str
    kind: FieldKind

    def readable(self, value: Any) -> str:
        """The value as the human-readable copy prints it."""
        if value is None:
            return "（无）"
        if self.kind == "division":
            try:
                name = division_table().lookup(value).name
            except InvalidDivision:
                name = None
            return f"{name}（{value}）" if name else str(value)
        if self.kind == "month" and isinstance(value, dt.date):
            return f"{value.year}年{value.month:02d}月"
        if self.kind == "date" and isinstance(value, dt.date):
            return f"{value.year}年{value.month:02d}月{value.day:02d}日"
        if self.kind == "amount":
            return f"{Decimal(value):,.2f}"
        return str(value)

    def structured(self, value: Any) -> Any:
        """The value as the structured data carries it: ISO dates, amounts as decimal strings."""
        if isinstance(value, dt.date):
            return value.isoformat()[:7] if self.kind == "month" else value.isoformat()
        if isinstance(value, Decimal):
            return f"{value:.2f}"
        return value


@dataclass(frozen=True, slots=True)
class ProviderDeclaration:
    id: str
    name: str
    division: str
    dataset: str
    title: str
    adapter: str
    table: str
    timeout_ms: int
    fields: tuple[FieldDeclaration, ...]
    purposes: dict[str, tuple[str, ...]]

    def field(self, name: str) -> FieldDeclaration:
        return next(f for f in self.fields if f.name == name)


def _declaration(spec: dict[str, Any]) -> ProviderDeclaration:
    fields = tuple(FieldDeclaration(f["name"], f["title"], f["kind"]) for f in spec["fields"])
    names = {f.name for f in fields}
    purposes = {p: tuple(allowed) for p, allowed in spec["purposes"].items()}
    for purpose, allowed in purposes.items():
        if purpose not in PURPOSES:
            raise ValueError(f"{spec['id']}: unknown purpose {purpose}")
        if unknown := set(allowed) - names:
            raise ValueError(f"{spec['id']}: purpose {purpose} releases undeclared fields {sorted(unknown)}")
    return ProviderDeclaration(
        id=spec["id"], name=spec["name"], division=spec["division"], dataset=spec["dataset"], title=spec["title"],
        adapter=spec["adapter"], table=spec["table"], timeout_ms=spec["timeout_ms"], fields=fields, purposes=purposes)


def load_declarations(path: Path = _DATA) -> dict[str, ProviderDeclaration]:
    raw = json.loads(path.read_text(encoding="utf-8"))
    return {spec["id"]: _declaration(spec) for spec in raw["providers"]}


DECLARATIONS = load_declarations()
