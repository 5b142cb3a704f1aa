"""Demonstration of the gateway: the four SAMPLE providers registered in the data-provider registry,
their own rows for the demo people, and 陈静's log showing each kind of request — her own query, a
四川 handling window's request on her consent that she accepted, and a 杭州 handling window's request on
a legal basis whose evidence preview awaits her decision (sign in as 陈静 to accept or refuse it;
unanswered, it expires after `TONGBAN_PREVIEW_SECONDS`). Once the demo cases exist, a request made for
one of them (`load_demo_case_request`). Loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from backend.actors import Actor
from backend.cases import repository as case_repository
from backend.container import Services
from backend.eligibility.schemas import ProviderCreate
from backend.errors import Conflict
from backend.identity import repository as identity_repository
from backend.sharing import repository
from backend.sharing.declarations import DECLARATIONS
from backend.sharing.schemas import AgencyRequest, ConsentCreate

# resident ID → the demo providers' rows about that person (table → columns).
DEMO_ROWS: dict[str, dict[str, dict[str, object]]] = {
    "330106198806120025": {  # 陈静, works in Hangzhou
        "social_insurance": {"insured_division": "330100", "scheme": "企业职工基本养老保险", "employer": "杭州示例科技有限公司",
                             "first_paid_month": dt.date(2013, 1, 1), "last_paid_month": dt.date(2025, 12, 1),
                             "paid_months": 156, "monthly_base": Decimal("8500.00")},
        "housing_fund": {"centre_division": "330100", "account_status": "正常缴存", "employer": "杭州示例科技有限公司",
                         "balance": Decimal("86420.50"), "monthly_deposit": Decimal("2380.00"),
                         "last_deposit_month": dt.date(2025, 11, 1)},
        "driving_licence": {"licence_class": "C1", "licence_status": "正常", "cycle_start": dt.date(2026, 5, 20),
                            "cycle_end": dt.date(2027, 5, 19), "points_deducted": 3},
        "household_registration": {"household_division": "330106", "address": "杭州市西湖区文三路 90 号",
                                   "household_kind": "家庭户", "relation_to_head": "户主",
                                   "registered_on": dt.date(2012, 9, 3)},
    },
    "510107195203150010": {  # 王建国, a pensioner from Chengdu
        "social_insurance": {"insured_division": "510100", "scheme": "企业职工基本养老保险", "employer": None,
                             "first_paid_month": dt.date(1978, 1, 1), "last_paid_month": dt.date(2012, 3, 1),
                             "paid_months": 411, "monthly_base": Decimal("0.00")},
        "household_registration": {"household_division": "510107", "address": "成都市武侯区人民南路四段 12 号",
                                   "household_kind": "家庭户", "relation_to_head": "户主",
                                   "registered_on": dt.date(1985, 6, 1)},
    },
    "11010519491231002X": {  # 李秀英, Beijing
        "household_registration": {"household_division": "110105", "address": "北京市朝阳区和平里东街 8 号",
                                   "household_kind": "家庭户", "relation_to_head": "户主",
                                   "registered_on": dt.date(1970, 3, 12)},
    },
}


async def register_demo_providers(services: Services, progress: Callable[[str], None] = print) -> None:
    """The gateway's SAMPLE providers in the registry (they report no signs of life)."""
    for declaration in DECLARATIONS.values():
        try:
            await services.eligibility.providers.register(Actor.system(), ProviderCreate(
                id=declaration.id, name=declaration.name, division=declaration.division, signal_kinds=[]))
            progress(f"data provider {declaration.id} {declaration.name}")
        except Conflict:
            pass


async def load_provider_rows(services: Services, resident_id: str, rows: dict[str, dict[str, object]]) -> int:
    """A demo provider's own rows about one person (keyed by the keyed hash of the resident ID)."""
    key = services.cipher.lookup_hash(resident_id, purpose="resident_id")
    async with services.db.transaction() as conn:
        return sum([await repository.insert_demo_rows(conn, table, [{"person_key": key, **columns}])
                    for table, columns in rows.items()])


DEMO_REQUESTS_ABOUT = "330106198806120025"  # 陈静


async def _staff(services: Services, username: str) -> Actor:
    async with services.db.connection() as conn:
        row = await identity_repository.staff_by_username(conn, username)
    return Actor(kind="staff", id=str(row["id"]), role=row["role"], division=row["division_code"])


async def load_demo_requests(services: Services, progress: Callable[[str], None] = print) -> None:
    """陈静's log: her own housing-fund query; a consent to 四川's handling windows and their request on it,
    accepted; a 杭州 request on a legal basis, awaiting her. Skipped when she has any request already."""
    async with services.db.connection() as conn:
        citizen = await identity_repository.citizen_by(
            conn, "resident_id_hash", services.cipher.lookup_hash(DEMO_REQUESTS_ABOUT, purpose="resident_id"))
        if citizen is None or await repository.requests_of(conn, citizen["id"], 1, 0):
            return
    gateway, previews = services.sharing.gateway, services.sharing.previews
    chen = Actor(kind="citizen", id=str(citizen["id"]), assurance_level="L1")
    await gateway.query_mine(chen, "demo.housing-fund")
    consent = await previews.give_consent(chen, ConsentCreate(
        requester_division="510000", purposes=["case-handling"], providers=["demo.social-insurance"], valid_days=90))
    accepted = await gateway.request(await _staff(services, "sc.handling"), AgencyRequest(
        resident_id=DEMO_REQUESTS_ABOUT, provider="demo.social-insurance", purpose="case-handling",
        consent_id=consent.id))
    await previews.decide(chen, accepted.id, "accept")
    await gateway.request(await _staff(services, "hz.handling"), AgencyRequest(
        resident_id=DEMO_REQUESTS_ABOUT, provider="demo.housing-fund", purpose="housing-fund-business",
        fields=["balance", "account_status"], legal_reference="《住房公积金管理条例》第二十四条"))
    progress("data requests about 陈静: her own query, a shared one on her consent, one awaiting her preview")


CASE_REQUEST_ABOUT = "510107195203150010"  # 王建国


async def load_demo_case_request(services: Services, progress: Callable[[str], None] = print) -> None:
    """四川's handling window asks the social-insurance provider for 王建国's contributions for his pension
    transfer case that waits for a 补正 answer, on a legal basis, instead of asking him for paper; the
    preview waits for him. Skipped without that case, or when a request names a case of his already."""
    async with services.db.connection() as conn:
        citizen = await identity_repository.citizen_by(
            conn, "resident_id_hash", services.cipher.lookup_hash(CASE_REQUEST_ABOUT, purpose="resident_id"))
        if citizen is None:
            return
        case = next((c for c in await case_repository.citizen_cases(conn, citizen["id"], 100, 0)
                     if c["state"] == "supplement_requested"), None)
        if case is None or any(r["case_id"] for r in await repository.requests_of(conn, citizen["id"], 100, 0)):
            return
    await services.sharing.gateway.request(await _staff(services, "sc.handling"), AgencyRequest(
        resident_id=CASE_REQUEST_ABOUT, provider="demo.social-insurance", purpose="case-handling",
        legal_reference="《中华人民共和国社会保险法》第十九条", case_number=case["number"]))
    progress(f"data request for case {case['number']}: 王建国's contributions, awaiting his preview")


async def load_demo_sharing(services: Services, progress: Callable[[str], None] = print) -> None:
    await register_demo_providers(services, progress)
    added = sum([await load_provider_rows(services, resident_id, rows) for resident_id, rows in DEMO_ROWS.items()])
    if added:
        progress(f"demo providers: {added} record(s)")
    await load_demo_requests(services, progress)

