"""Demonstration providers for the gateway: the four SAMPLE providers registered in the data-provider
registry, and their own rows for the demo people. Loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from decimal import Decimal

from backend.actors import Actor
from backend.container import Services
from backend.eligibility.schemas import ProviderCreate
from backend.errors import Conflict
from backend.sharing import repository
from backend.sharing.declarations import DECLARATIONS

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


async def load_demo_sharing(services: Services, progress: Callable[[str], None] = print) -> None:
    await register_demo_providers(services, progress)
    added = sum([await load_provider_rows(services, resident_id, rows) for resident_id, rows in DEMO_ROWS.items()])
    if added:
        progress(f"demo providers: {added} record(s)")
