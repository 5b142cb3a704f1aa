"""Demonstration cases (SAMPLE data): 四川 matters of people living in 浙江, received at 杭州 windows
(zj.receiving) and handled in 四川 (sc.handling), one case in each state and each mode, one overdue, one
waiting for a 补正 answer and one whose result is an e-certificate. Loading twice changes nothing."""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Callable
from typing import Any

import msgspec
from PIL import Image, ImageDraw

from backend.actors import Actor
from backend.cases.schemas import CaseApplication, ResultAuthority, StaffAction, SupplementAnswer, Withdrawal
from backend.container import Services

# 养老保险关系转移接续: its e-certificate (参保缴费凭证) is signed by the 四川 人社厅 for cases handled in 四川.
TRANSFER, JOINT_ITEM = "RS-20-001-00", "RS-20-003-00"
RESULT_AUTHORITY = ResultAuthority(item_code=TRANSFER, division_code="510000", authority_id="510000-rst")
RECEIPT_FIELDS = {"insurance_kind": "pension", "insured_division": "510107", "employer": "成都示例机械厂",
                  "paid_months": 216, "period_from": "1994-01-01", "period_to": "2011-12-31"}
# (resident ID, name, phone) of the demo citizens who apply.
APPLICANTS = {"wang": ("510107195203150010", "王建国", "13800000002"),
              "zhang": ("510104194806120028", "张桂兰", "13800000004"),
              "zhao": ("51010719500903004X", "赵淑芬", "13800000005")}
R, H = "zj.receiving", "sc.handling"
# Each demo case: (who applies, mode, steps after applying, days ago it was made). A step is
# (staff username or "citizen", action body).
DEMO_CASES: list[tuple[str, str, list[tuple[str, dict[str, Any]]], int]] = [
    ("wang", "proxy", [], 0),
    ("zhang", "proxy", [(R, {"action": "receive"})], 0),
    ("zhao", "proxy", [(R, {"action": "receive"}), (R, {"action": "hand_over", "note": "材料齐全，已核验原件"})], 1),
    ("wang", "proxy", [(R, {"action": "refuse_receipt", "reasons": ["居民身份证已过有效期"]})], 2),
    ("zhang", "online", [(H, {"action": "accept"})], 1),
    ("zhao", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"})], 3),
    ("wang", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"}), (H, {
        "action": "request_supplement", "items": [{"material": "居民身份证", "reason": "照片页不清晰，请重新上传"}]})], 4),
    ("zhang", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"}), (H, {
        "action": "request_supplement", "items": [{"material": "居民身份证", "reason": "缺少背面"}]}),
        ("citizen", {"supplement": True})], 5),
    ("zhao", "proxy", [(R, {"action": "receive"}), (R, {"action": "hand_over"}), (H, {"action": "accept"}),
                       (H, {"action": "start_review"}), (H, {"action": "approve", "reasons": ["缴费记录核对一致"],
                                                             "certificate_fields": RECEIPT_FIELDS})], 6),
    ("wang", "proxy", [(R, {"action": "receive"}), (R, {"action": "hand_over"}), (H, {"action": "accept"}),
                       (H, {"action": "start_review"}), (H, {"action": "approve", "certificate_fields": RECEIPT_FIELDS}),
                       (H, {"action": "deliver", "delivery": {"method": "e_certificate"}})], 8),
    # The result's way back: sent to the 杭州 window that received the case, for the applicant to collect.
    ("zhang", "proxy", [(R, {"action": "receive"}), (R, {"action": "hand_over"}), (H, {"action": "accept"}),
                        (H, {"action": "start_review"}), (H, {"action": "approve", "reasons": ["缴费记录核对一致"],
                                                              "certificate_fields": RECEIPT_FIELDS}),
                        (H, {"action": "send_result", "note": "纸质凭证已寄往杭州收件窗口"})], 7),
    ("zhang", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"}),
                         (H, {"action": "reject", "reasons": ["转出地无该参保人缴费记录"]})], 9),
    ("zhao", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"}),
                        (H, {"action": "approve", "certificate_fields": RECEIPT_FIELDS}),
                        (H, {"action": "deliver", "delivery": {"method": "post", "tracking_number": "SF1029384756"}}),
                        (H, {"action": "close"})], 12),
    ("wang", "online", [("citizen", {"withdraw": True})], 2),
    # Overdue: accepted 40 days ago, 20 working days allowed, still in review.
    ("zhang", "online", [(H, {"action": "accept"}), (H, {"action": "start_review"})], 40),
]


def demo_scan(label: int) -> bytes:
    """A small picture standing in for a scanned page (SAMPLE)."""
    image = Image.new("RGB", (240, 320), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    for row in range(6):
        draw.rectangle((20, 30 + row * 40, 220 - (label * 13 + row * 17) % 90, 44 + row * 40), fill=(60, 60, 70))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


async def _actors(services: Services) -> dict[str, Any]:
    async with services.db.connection() as conn:
        staff = await conn.fetch("SELECT id, username, role, division_code FROM staff WHERE username = ANY ($1)",
                                 [R, H, "hz.handling"])
        citizens = {key: await conn.fetchrow("SELECT id FROM citizens WHERE resident_id_hash = $1",
                                             services.cipher.lookup_hash(number, purpose="resident_id"))
                    for key, (number, _, _) in APPLICANTS.items()}
    actors: dict[str, Any] = {s["username"]: Actor(kind="staff", id=str(s["id"]), role=s["role"],
                                                   division=s["division_code"]) for s in staff}
    actors |= {key: Actor(kind="citizen", id=str(row["id"])) for key, row in citizens.items() if row}
    return actors


async def load_demo_cases(services: Services, progress: Callable[[str], None] = print) -> None:
    cases = services.cases
    actors = await _actors(services)
    if await services.db.pool.fetchval("SELECT count(*) FROM cases WHERE citizen_id = $1::uuid", actors["wang"].id):
        return
    await cases.map_result_authority(RESULT_AUTHORITY, Actor.system())
    clock = cases.now
    try:
        for index, (who, mode, steps, days_ago) in enumerate(DEMO_CASES):
            cases.now = lambda days_ago=days_ago: dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
            citizen = actors[who]
            case = await cases.apply(_application(who, TRANSFER, mode, await _scan(services, citizen, index)), citizen)
            for actor_name, body in steps:
                if actor_name == "citizen":
                    if body.get("withdraw"):
                        await cases.withdraw(case.id, Withdrawal(reason="已在户籍地办理"), citizen)
                    else:
                        material = await _scan(services, citizen, index + 100)
                        await cases.supplement(case.id, msgspec.convert(
                            {"materials": [{"name": "居民身份证", "material_id": material}]}, SupplementAnswer), citizen)
                    continue
                await cases.act(case.id, msgspec.convert(body, StaffAction), actors[actor_name])  # type: ignore[arg-type]
            progress(f"case ({mode}) {case.number}: {len(steps)} step(s)")
        cases.now = lambda: dt.datetime.now(dt.UTC) - dt.timedelta(days=2)
        joint = await cases.apply(_application("zhao", JOINT_ITEM, "joint", await _scan(services, actors["zhao"], 50),
                                               form_material=await _scan(services, actors["zhao"], 51)), actors["zhao"])
        for actor_name, body in [(R, {"action": "receive"}), (R, {"action": "hand_over"}),
                                 (H, {"action": "accept", "coordinating_divisions": ["330100"],
                                      "coordination_request": "请核对在杭参保缴费记录"}),
                                 (H, {"action": "start_review"})]:
            await cases.act(joint.id, msgspec.convert(body, StaffAction), actors[actor_name])  # type: ignore[arg-type]
        progress(f"case (joint) {joint.number}: a coordination task open for 330100")
    finally:
        cases.now = clock


async def _scan(services: Services, citizen: Actor, label: int) -> str:
    material = await services.cases.upload(citizen, demo_scan(label), f"scan-{label}.png", "image/png", "居民身份证")
    return str(material.id)


def _application(who: str, item: str, mode: str, id_scan: str, form_material: str | None = None) -> CaseApplication:
    number, name, phone = APPLICANTS[who]
    if item == TRANSFER:
        form = {"applicant_name": name, "resident_id": number, "phone": phone, "insurance_kind": "employee",
                "transfer_out_division": "510107", "transfer_in_division": "330106", "employer_name": "杭州示例科技有限公司"}
        materials = [{"name": "居民身份证", "material_id": id_scan}]
    else:
        form = {"applicant_name": name, "resident_id": number, "phone": phone, "from_scheme": "resident",
                "to_scheme": "employee", "benefit_division": "510107"}
        materials = [{"name": "居民身份证", "material_id": id_scan},
                     {"name": "城乡养老保险制度衔接申请表", "material_id": form_material}]
    return msgspec.convert({"item_code": item, "receiving_division": "330106", "handling_division": "510107",
                            "mode": mode, "form": form, "materials": materials}, CaseApplication)
