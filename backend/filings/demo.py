"""Demonstration filings: the demo organisation of the certificates' business licence with its legal
representative and a filer, its enterprise annual reports (one filed, one missing), a citizen's
licence review with a saved draft and a benefit declaration nobody has filed. SAMPLE data; loading
twice changes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import msgspec

from backend.actors import Actor
from backend.container import Services
from backend.errors import Conflict
from backend.filings import repository
from backend.filings.kinds import OBLIGATION_KINDS
from backend.filings.schemas import DraftCreate, FilerGrant, ObligationCreate, OrganisationRegistration
from backend.identity import repository as identity_repository

# The organisation whose business licence the certificates' demo data issues, and its people.
ORGANISATION = {"credit_code": "91510100MA6C7K8R0C", "name": "成都示例科技有限公司",
                "legal_representative": "510107195203150010"}
FILER = "330106198806120025"
OBLIGATIONS = [
    {"kind": "enterprise_annual_report", "credit_code": "91510100MA6C7K8R0C", "first_period": 2024},
    {"kind": "driving_licence_review", "resident_id": "330106198806120025", "division_code": "330100",
     "reference": "330100123456", "anchor_date": "2010-05-20", "first_period": 2025},
    {"kind": "benefit_annual_declaration", "resident_id": "11010519491231002X", "division_code": "110105",
     "reference": "BJ-SY-0001", "first_period": 2025},
]
REPORT_2025 = {"contact_name": "王建国", "phone": "13800000002", "employees": 12, "total_assets": 356.5,
               "has_website": True}


async def _citizen(services: Services, resident_id: str) -> Actor:
    async with services.db.connection() as conn:
        row = await identity_repository.citizen_by(
            conn, "resident_id_hash", services.cipher.lookup_hash(resident_id, purpose="resident_id"))
    return Actor(kind="citizen", id=str(row["id"]))


async def load_demo_filings(services: Services, progress: Callable[[str], None] = print) -> None:
    system, filings = Actor.system(), services.filings
    try:
        await filings.organisations.register(msgspec.convert(ORGANISATION, OrganisationRegistration), system)
        progress(f"organisation {ORGANISATION['credit_code']} {ORGANISATION['name']}")
    except Conflict:
        pass
    representative = await _citizen(services, ORGANISATION["legal_representative"])
    try:
        await filings.organisations.grant_filer(ORGANISATION["credit_code"], FilerGrant(resident_id=FILER),
                                                representative)
    except Conflict:
        pass
    for spec in OBLIGATIONS:
        try:
            await filings.obligations.register(msgspec.convert(spec, ObligationCreate), system)
            progress(f"obligation {spec['kind']}")
        except Conflict:
            pass
    # The 2025 annual report filed (late, once the window closed on 30 June 2026); 2024's left missing.
    report = await _obligation(services, representative, "enterprise_annual_report")
    try:
        draft = await filings.filings.create_draft(DraftCreate(report, 2025, REPORT_2025), representative)
        await filings.filings.submit(draft.id, representative)
        progress("filing: enterprise annual report 2025")
    except Conflict:
        pass
    # A licence review started by its holder and saved as a draft.
    holder = await _citizen(services, FILER)
    review = await _obligation(services, holder, "driving_licence_review")
    period = OBLIGATION_KINDS["driving_licence_review"].window.latest_opened_period(filings.today(),
                                                                                 dt.date(2010, 5, 20))
    try:
        await filings.filings.create_draft(DraftCreate(review, period, {"education_completed": True}), holder)
        progress(f"filing draft: driving licence review {period}")
    except Conflict:
        pass


async def _obligation(services: Services, citizen: Actor, kind: str) -> uuid.UUID:
    async with services.db.connection() as conn:
        return next(o["id"] for o in await repository.obligations_of(conn, uuid.UUID(citizen.id)) if o["kind"] == kind)
