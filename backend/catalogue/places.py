"""Places: GB/T 2260 division codes checked against the shipped table and shown with their names,
and the `divisions` table kept in step with the file."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from backend.catalogue import repository
from backend.catalogue.schemas import DivisionView
from backend.db import Database
from backend.errors import FieldError, ValidationFailed
from backend.identity.divisions import (
    DIVISIONS_FILE,
    Division,
    DivisionTable,
    InvalidDivision,
    division_table,
    province_of,
)


class Places:
    """Division codes as the catalogue reads them: unknown, malformed or retired codes are 422 problems."""

    def __init__(self, table: DivisionTable | None = None) -> None:
        self.table = table or division_table()

    def lookup(self, code: str, field: str) -> Division:
        """The division `code` names; a problem pointing at the top-level `field` when it names none."""
        try:
            return self.table.lookup(code)
        except InvalidDivision as exc:
            raise ValidationFailed.field(field, str(exc)) from None

    def province(self, code: str, pointer: str) -> str:
        """`code` if it names a province; a problem at `pointer` otherwise."""
        try:
            division = self.table.lookup(code)
        except InvalidDivision as exc:
            raise ValidationFailed([FieldError(pointer, str(exc))]) from None
        if division.level != "province":
            raise ValidationFailed([FieldError(pointer, f"{code} is not a province code (like {code[:2]}0000)")])
        return code

    def view(self, division: Division) -> DivisionView:
        province = province_of(division.code)
        return DivisionView(division.code, division.name, division.level, province, self.name(province))

    def name(self, code: str) -> str | None:
        known = self.table.by_code.get(code)
        return known.name if known else None

    def check(self, code: str) -> DivisionView:
        """A division code checked against the GB/T 2260 table."""
        return self.view(self.lookup(code, "code"))


async def sync_divisions(db: Database, path: Path = DIVISIONS_FILE) -> bool:
    """Load the GB/T 2260 table into `divisions` when the file changed; True when it loaded."""
    raw = path.read_bytes()
    digest = hashlib.sha256(raw).hexdigest()
    async with db.connection() as conn:
        if await repository.reference_digest(conn, "divisions") == digest:
            return False
    data = json.loads(raw)
    rows = [(d["code"], d["name"], d["level"], d.get("kind"), d["parent"], None, None) for d in data["divisions"]]
    # A retired code keeps its place under its province, so old records still resolve.
    rows += [(r["code"], r["name"], r["level"], None, province_of(r["code"]), r["replaced_by"], r["year"])
             for r in data.get("retired", [])]
    async with db.transaction() as conn:
        await repository.lock_reference_data(conn)
        if await repository.reference_digest(conn, "divisions") == digest:
            return False
        await repository.upsert_divisions(conn, rows)
        await repository.set_reference_digest(conn, "divisions", digest, len(rows))
    return True
