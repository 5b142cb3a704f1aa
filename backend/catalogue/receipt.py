"""What the receiving place applies to a matter: the receipt standard (收件标准) — conditions and
materials to check — and the application form, both from the standard that governs where the case
is decided (the handling province's local variant in force, else the national standard)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec

from backend.catalogue import repository
from backend.catalogue.diff import compare
from backend.catalogue.forms import checked_form
from backend.catalogue.items import item_row
from backend.catalogue.places import Places
from backend.catalogue.rules import today
from backend.catalogue.schemas import (
    FORM_CHECKS,
    CertificateRef,
    FormCheck,
    FormCheckResult,
    FormProblem,
    ItemStandard,
    Material,
    ReceiptMaterial,
    ReceiptStandard,
)
from backend.catalogue.variants import variant_ref
from backend.db import Database
from backend.identity.divisions import province_of


class ReceiptService:
    def __init__(self, db: Database, places: Places) -> None:
        self.db, self.places = db, places

    async def standard(
        self, item_code: str, receiving_division: str, handling_division: str, as_of: dt.date | None = None,
    ) -> ReceiptStandard:
        """收件标准: what the receiving place checks. The case is decided at the handling place, so its
        province's local variant governs where it has one, else the national standard; the receiving
        province's own variant, if it differs, is named too."""
        receiving = self.places.lookup(receiving_division, "receiving_division")
        handling = self.places.lookup(handling_division, "handling_division")
        as_of = as_of or today()
        governing = province_of(handling.code)
        async with self.db.connection() as conn:
            row = await item_row(conn, item_code)
            variant = await repository.variant_in_force(conn, item_code, governing, as_of)
            others = []
            if (receiving_province := province_of(receiving.code)) != governing and (
                    other := await repository.variant_in_force(conn, item_code, receiving_province, as_of)):
                others.append(variant_ref(self.places, other))
            certificate_names = await repository.certificate_types(conn)
        national = row["standard"]
        standard = msgspec.convert(variant["standard"] if variant else national, ItemStandard)
        national_materials = {m["name"]: m for m in national["materials"]}

        def receipt(m: Material) -> ReceiptMaterial:
            origin = "national" if national_materials.get(m.name) == msgspec.to_builtins(m) else "local"
            return ReceiptMaterial(
                name=m.name, form=m.form, check=FORM_CHECKS[m.form], count=m.count, required=m.required,
                replaceable_by=[CertificateRef(c, certificate_names.get(c)) for c in m.replaceable_by],
                note=m.note, origin=origin)  # type: ignore[arg-type]

        local_names = {m.name for m in standard.materials}
        return ReceiptStandard(
            item_code=item_code, item_name=standard.name, receiving_division=self.places.view(receiving),
            handling_division=self.places.view(handling), as_of=as_of,
            governing_variant=variant_ref(self.places, variant) if variant else None,
            conditions=standard.conditions, materials=[receipt(m) for m in standard.materials],
            not_required_locally=[n for n in national_materials if n not in local_names],
            differences=compare(national, variant["standard"]) if variant else [],
            other_variants=others, time_limit=standard.time_limit, result=standard.result,
            form_schema=standard.form_schema,
            sample=row["sample"],
        )

    async def check_form(self, item_code: str, request: FormCheck) -> FormCheckResult:
        """The public form check: the same problems, and which schema was used."""
        schema, source = await self.form_schema(item_code, request.handling_division, None)
        problems = await checked_form(schema, request.form, "#/form")
        return FormCheckResult(item_code, not problems, [FormProblem(p.pointer, p.detail) for p in problems], source)

    async def form_schema(
        self, item_code: str, handling_division: str | None, as_of: dt.date | None
    ) -> tuple[dict[str, Any], str]:
        """The item's form schema for a case decided in `handling_division` (its province's local variant
        in force, else the national standard's), and which one it is: `national` or `variant:<province>:<n>`."""
        async with self.db.connection() as conn:
            row = await item_row(conn, item_code)
            if handling_division:
                province = province_of(self.places.lookup(handling_division, "handling_division").code)
                variant = await repository.variant_in_force(conn, item_code, province, as_of or today())
                if variant is not None:
                    return variant["standard"]["form_schema"], f"variant:{province}:{variant['version']}"
        return row["standard"]["form_schema"], "national"
