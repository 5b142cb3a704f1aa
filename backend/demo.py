"""Demonstration data for a development machine: staff in several provinces and a few citizens.

Everything here is sample data. Loading it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from backend.actors import Actor
from backend.container import Services
from backend.errors import Conflict
from backend.identity import repository
from backend.identity.resident_id import birth_date, mask_resident_id
from backend.identity.schemas import StaffCreate
from backend.security.pii import mask_phone

DEMO_PASSWORD = "tongban-demo-2026"
DEMO_STAFF = [
    ("admin", "全国管理员", "admin", "000000"),
    ("zj.receiving", "浙江收件窗口", "receiving_officer", "330000"),
    ("hz.handling", "杭州办理窗口", "handling_officer", "330100"),
    ("sc.receiving", "四川收件窗口", "receiving_officer", "510000"),
    ("sc.handling", "四川办理窗口", "handling_officer", "510000"),
    ("bj.supervisor", "北京监督员", "supervisor", "110000"),
]
# Sample people: the ID numbers are structurally valid but invented.
DEMO_CITIZENS = [
    ("11010519491231002X", "李秀英", "13800000001", "110105"),
    ("510107195203150010", "王建国", "13800000002", "510107"),
    ("330106198806120025", "陈静", "13800000003", "330106"),
]


async def load_demo_identity(services: Services, progress: Callable[[str], None] = print) -> None:
    actor = Actor.system()
    for username, display_name, role, division in DEMO_STAFF:
        try:
            await services.identity.create_staff(
                StaffCreate(username=username, display_name=display_name, password=DEMO_PASSWORD,
                            role=role, division_code=division), actor)  # type: ignore[arg-type]
            progress(f"staff {username} ({role}, {division})")
        except Conflict:
            pass
    cipher = services.cipher
    async with services.db.transaction() as conn:
        for resident_id, name, phone, division in DEMO_CITIZENS:
            row = await repository.insert_citizen(
                conn,
                resident_id_enc=cipher.encrypt(resident_id, purpose="citizen.resident_id"),
                resident_id_hash=cipher.lookup_hash(resident_id, purpose="resident_id"),
                resident_id_masked=mask_resident_id(resident_id), name=name,
                phone_enc=cipher.encrypt(phone, purpose="citizen.phone"),
                phone_hash=cipher.lookup_hash(phone, purpose="phone"), phone_masked=mask_phone(phone),
                home_division=division, birth_date=birth_date(resident_id),
            )
            if row is not None:
                await services.audit.record(conn, actor, "citizen.registered", "citizen", str(row["id"]),
                                            division=division, detail={"source": "demo-data"})
                progress(f"citizen {mask_resident_id(resident_id)} ({division})")


async def load_demo_catalogue(services: Services, progress: Callable[[str], None] = print) -> None:
    """The SAMPLE catalogue (items, lists, variants, FAQ) from `backend/catalogue/data/`."""
    await services.catalogue.load_catalogue(Actor.system(), progress=progress)


async def load_demo_data(services: Services, progress: Callable[[str], None] = print) -> None:
    """Every domain's demonstration data, in dependency order."""
    progress("demo data: identity")
    await load_demo_identity(services, progress)
    progress("demo data: catalogue (sample data)")
    await load_demo_catalogue(services, progress)
