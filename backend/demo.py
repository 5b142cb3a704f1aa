"""Demonstration data for a development machine: staff in several provinces and a few citizens.

Everything here is sample data. Loading it twice changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from backend.actors import Actor
from backend.calendar.working_days import DEMO_2027, read_year_tables
from backend.cases.demo import load_demo_cases
from backend.container import Services
from backend.errors import Conflict
from backend.filings.demo import load_demo_filings
from backend.information.demo import load_demo_information
from backend.sharing.demo import load_demo_case_request, load_demo_sharing
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
    ("sc.pension", "四川社保待遇认证", "pension_officer", "510000"),
]
# Sample people: the ID numbers are structurally valid but invented.
DEMO_CITIZENS = [
    ("11010519491231002X", "李秀英", "13800000001", "110105"),
    ("510107195203150010", "王建国", "13800000002", "510107"),
    ("330106198806120025", "陈静", "13800000003", "330106"),
    ("510104194806120028", "张桂兰", "13800000004", "510104"),  # 四川 pensioner in 杭州, overdue
    ("51010719500903004X", "赵淑芬", "13800000005", "510107"),  # 四川 pensioner in 杭州, recognised silently
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


# Issuing authorities in three provinces, each with the certificate types it issues.
DEMO_AUTHORITIES = [
    ("330000-rst", "浙江省人力资源和社会保障厅",
     ["pension_eligibility_record", "social_insurance_payment_record", "employment_certificate"]),
    ("330100-ga", "杭州市公安局", ["residence_permit", "driving_licence", "driving_licence_review", "criminal_record_check"]),
    ("510000-rst", "四川省人力资源和社会保障厅",
     ["pension_eligibility_record", "social_insurance_payment_record", "social_security_card"]),
    ("510000-scjg", "四川省市场监督管理局", ["business_licence", "industrial_production_licence"]),
    ("110000-jw", "北京市教育委员会", ["teacher_qualification", "graduation_certificate"]),
]
# (reference, authority, type, holder, fields): holders are demo citizens by resident ID, or an
# invented organisation whose credit code carries a correct check character.
DEMO_CERTIFICATES = [
    ("demo:pension-wang", "510000-rst", "pension_eligibility_record", {"kind": "citizen", "resident_id": "510107195203150010"},
     {"pension_scheme": "employee", "paying_division": "510000", "recognised_on": "2026-03-02", "method": "face-phone",
      "next_due": "2027-03-02"}),
    ("demo:residence-wang", "330100-ga", "residence_permit", {"kind": "citizen", "resident_id": "510107195203150010"},
     {"residence_division": "330106", "residence_address": "杭州市西湖区文三路 90 号", "registered_on": "2025-09-01"}),
    ("demo:teacher-li", "110000-jw", "teacher_qualification", {"kind": "citizen", "resident_id": "11010519491231002X"},
     {"qualification_kind": "primary", "subject": "语文", "certificate_number": "19751100120000321",
      "recognised_on": "1975-07-01"}),
    ("demo:driving-chen", "330100-ga", "driving_licence", {"kind": "citizen", "resident_id": "330106198806120025"},
     {"licence_class": "C1", "first_issued_on": "2010-05-20", "file_number": "330100123456"}),
    ("demo:insurance-chen", "330000-rst", "social_insurance_payment_record",
     {"kind": "citizen", "resident_id": "330106198806120025"},
     {"insurance_kind": "pension", "insured_division": "330100", "employer": "杭州示例科技有限公司",
      "paid_months": 156, "period_from": "2013-01-01", "period_to": "2025-12-31"}),
    ("demo:business-chengdu", "510000-scjg", "business_licence",
     {"kind": "organisation", "credit_code": "91510100MA6C7K8R0C", "name": "成都示例科技有限公司"},
     {"entity_type": "有限责任公司（自然人投资或控股）", "legal_representative": "王建国", "registered_capital": "100万元人民币",
      "established_on": "2018-04-16", "address": "成都市高新区天府大道中段 1 号", "business_scope": "软件开发；信息技术咨询服务"}),
]


async def load_demo_certificates(services: Services, progress: Callable[[str], None] = print) -> None:
    """Authorities with signing keys, a trust anchor, and a few certificates for the demo people."""
    import msgspec

    from backend.certificates.schemas import AuthorityCreate, CertificateIssue

    actor, certificates = Actor.system(), services.certificates
    authorities = certificates.authorities
    if not [k for k in await authorities.list_keys() if k.purpose == "trust-anchor"]:
        await authorities.create_key(None, actor)
        progress("trust-anchor key")
    for authority_id, name, types in DEMO_AUTHORITIES:
        try:
            await authorities.create_authority(
                msgspec.convert({"id": authority_id, "name": name, "certificate_types": types}, AuthorityCreate), actor)
            progress(f"issuing authority {authority_id} {name}")
        except Conflict:
            pass
        if not await authorities.list_keys(authority_id):
            await authorities.create_key(authority_id, actor)
    # The demo's two provinces sign their cases' hand-overs (docs/cases.md, "Exchange records").
    held = {k.province for k in await authorities.list_keys() if k.purpose == "case-exchange"}
    for province in ("330000", "510000"):
        if province not in held:
            await authorities.create_key(None, actor, exchange_province=province)
            progress(f"case-exchange key of {province}")
    for reference, authority_id, certificate_type, holder, fields in DEMO_CERTIFICATES:
        order = msgspec.convert({"authority_id": authority_id, "certificate_type": certificate_type, "holder": holder,
                                 "fields": fields, "reference": reference}, CertificateIssue)
        issued = await certificates.issue(order, actor)
        progress(f"certificate {issued.number} ({issued.type_name})")


# The pension demo: the 四川 agency pays three people living in 杭州 — 王建国 due soon (his daughter-in-law
# 陈静 is his authorised relative), 张桂兰 overdue, 赵淑芬 recognised silently from a 杭州 medical settlement.
DEMO_PENSIONERS = [("510107195203150010", "330106", 20), ("510104194806120028", "330102", -15),
                   ("51010719500903004X", "330106", 5)]
DEMO_SERVICE_POINTS = [
    {"id": "hz-xihu-centre", "kind": "service-window", "division": "330106", "name": "西湖区政务服务中心",
     "address": "杭州市西湖区文三路 1 号（示例）", "hours": "周一至周五 9:00-17:00"},
    {"id": "hz-shangcheng-centre", "kind": "service-window", "division": "330102", "name": "上城区政务服务中心",
     "address": "杭州市上城区解放路 2 号（示例）", "hours": "周一至周六 9:00-17:00"},
]


async def load_demo_pension(services: Services, progress: Callable[[str], None] = print) -> None:
    """Agencies, a roster of 四川 pensioners living in 杭州, a relative, windows, a data provider and a
    silent recognition (sample data; idempotent)."""
    import datetime as dt

    import msgspec

    from backend.china_time import today
    from backend.eligibility import repository as pension_repository
    from backend.eligibility.schemas import AgencySettings, ProviderCreate, RelativeAuthorise, RosterEntryCreate, SignalReport

    actor, eligibility = Actor.system(), services.eligibility
    await eligibility.rosters.set_agency(actor, "510000", AgencySettings(
        name="四川省社会保险事业管理局（示例）", authority_id="510000-rst",
        silent_signal_kinds=["medical_settlement", "counter_collection"]))
    await eligibility.rosters.set_agency(actor, "330000", AgencySettings(
        name="浙江省社会保险和就业服务中心（示例）", authority_id="330000-rst", silent_signal_kinds=["medical_settlement"]))
    for resident_id, residence, due_in in DEMO_PENSIONERS:
        try:
            await eligibility.rosters.add_entry(actor, "510000", RosterEntryCreate(
                resident_id=resident_id, residence_division=residence, scheme="employee",
                next_due=today() + dt.timedelta(days=due_in)))
            progress(f"pensioner {mask_resident_id(resident_id)} on the 四川 roster, living in {residence}")
        except Conflict:
            pass
    async with services.db.transaction() as conn:
        for point in DEMO_SERVICE_POINTS:
            await pension_repository.upsert_service_point(conn, point)
        wang = await pension_repository.citizen_by_resident_hash(
            conn, services.cipher.lookup_hash("510107195203150010", purpose="resident_id"))
    try:
        await eligibility.relatives.authorise(actor, wang["id"], RelativeAuthorise(
            relative_resident_id="330106198806120025", relationship="child"))
        progress("陈静 authorised as 王建国's relative")
    except Conflict:
        pass
    try:
        created = await eligibility.providers.register(actor, msgspec.convert({
            "id": "hz-medical-demo", "name": "杭州市医疗保障局（示例）", "division": "330100",
            "signal_kinds": ["medical_settlement"]}, ProviderCreate))
        progress(f"data provider hz-medical-demo, credential {created.credential}")
    except Conflict:
        pass
    provider = Actor(kind="system", id="data-provider:hz-medical-demo", role="data_provider")
    await eligibility.providers.report(provider, SignalReport(
        resident_id="51010719500903004X", kind="medical_settlement", occurred_on=today() - dt.timedelta(days=3),
        place_division="330106", source_reference="DEMO-HZ-MED-0001"))
    run = await eligibility.silent_run()
    progress(f"silent recognition: {run.recognised} recognised")


async def load_demo_calendar(services: Services, progress: Callable[[str], None] = print) -> None:
    """The DEMO 2027 working-day table, unless a table of another source (the official one) holds 2027:
    demo data never moves the deadlines an operator's table sets."""
    tables = read_year_tables(DEMO_2027)
    others = {y.year for y in await services.calendar.loaded_years() if y.source != tables[0].source}
    if others & {t.year for t in tables}:
        progress("demo data: working-day calendar — 2027 has a table of its own already, kept")
        return
    progress("demo data: working-day calendar (a DEMO 2027 table, not the official one)")
    await services.calendar.load(Actor.system(), tables)


async def load_demo_data(services: Services, progress: Callable[[str], None] = print) -> None:
    """Every domain's demonstration data, in dependency order."""
    progress("demo data: identity")
    await load_demo_identity(services, progress)
    progress("demo data: catalogue (sample data)")
    await load_demo_catalogue(services, progress)
    progress("demo data: certificates")
    await load_demo_certificates(services, progress)
    progress("demo data: annual filings (sample data)")
    await load_demo_filings(services, progress)
    progress("demo data: information changes (sample data)")
    await load_demo_information(services, progress)
    progress("demo data: data-sharing providers (sample data)")
    await load_demo_sharing(services, progress)
    await load_demo_calendar(services, progress)
    progress("demo data: pension recognition")
    await load_demo_pension(services, progress)
    progress("demo data: cross-province cases (sample data)")
    await load_demo_cases(services, progress)
    await load_demo_case_request(services, progress)
