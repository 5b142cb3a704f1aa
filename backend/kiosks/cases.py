"""Cross-province applications at a kiosk: what the kiosk adds to the cases service, and nothing of its
rules. The kiosk is the receiving place (收件地) and the resident's home division the handling place
(办理地); catalogue resolution says which items and modes are offered, the cases service checks and
records the application. Here only what a touch screen needs:

- which of the offered items the screen can fill by touch alone (choices, never typing): every
  required field of the form is either known from the resident's record (name, ID number, phone) or
  a choice (an enumeration, yes/no, or a division — the resident's home or this kiosk's);
- the questions, one per field, with their choices; the materials of the receipt standard with the
  resident's own e-certificates that may replace each one;
- the form composed from the answers and the record, so the screen never holds the ID number;
- the case receipt (受理回执) the kiosk prints, drawn with the certificates' page parts.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

import msgspec

from backend.actors import Actor
from backend.cases.schemas import CaseApplication, CaseView, GivenMaterial
from backend.catalogue.rules import today
from backend.catalogue.schemas import MODE_NAMES, Mode
from backend.catalogue.places import Places
from backend.catalogue.service import CatalogueService
from backend.certificates.render import blank_page, labelled_rows, page_png
from backend.certificates.service import CertificateService
from backend.china_time import CHINA_TIME
from backend.db import Database
from backend.errors import FieldError, NotFound, ValidationFailed
from backend.identity import repository as identity_repository
from backend.kiosks.devices import Kiosk
from backend.security.pii import PiiCipher

# The modes a kiosk offers, best first: it receives the papers and sends the case on (异地代收代办);
# else the case is handled online from the start; joint handling last.
KIOSK_MODES: tuple[Mode, ...] = ("proxy", "online", "joint")
# Form fields the resident's record answers: nobody types them, and the screen never sees them whole.
FROM_RECORD = ("applicant_name", "resident_id", "phone")
DIVISION_PATTERN = "^[0-9]{6}$"


class Choice(msgspec.Struct):
    value: Any
    label: str


class Question(msgspec.Struct):
    field: str
    title: str
    choices: list[Choice]


class MaterialNeed(msgspec.Struct):
    name: str
    required: bool
    note: str | None
    # The resident's own e-certificates the receipt standard lets stand for this material.
    certificates: list[dict[str, Any]]


class KioskItem(msgspec.Struct):
    code: str
    name: str
    mode: Mode
    mode_name: str


class KioskApplyGuide(msgspec.Struct):
    item: KioskItem
    receiving_division: str
    handling_division: str
    questions: list[Question]
    materials: list[MaterialNeed]
    phone_needed: bool  # the form needs a phone and none is on record: the screen offers a keypad


class KioskApplication(msgspec.Struct, forbid_unknown_fields=True):
    """What the screen sends: the item, the answers to its questions (and a phone typed on the keypad
    when none is on record), and the materials by the receipt standard's names."""

    item_code: str
    answers: dict[str, Any] = {}
    materials: list[GivenMaterial] = []


def _mode(modes: list[Any], *, at_home: bool) -> Mode | None:
    """The mode the kiosk applies in: received here and handled at home — online only when home is the
    kiosk's own division (nothing would be handed over, and such an application is refused)."""
    offered = {m.code for m in modes}
    return next((m for m in KIOSK_MODES if m in offered and (m == "online" or not at_home)), None)


class KioskCases:
    def __init__(self, db: Database, cipher: PiiCipher, catalogue: CatalogueService,
                 certificates: CertificateService) -> None:
        self.db, self.cipher, self.catalogue, self.certificates = db, cipher, catalogue, certificates

    async def _citizen(self, actor: Actor) -> Any:
        async with self.db.connection() as conn:
            citizen = await identity_repository.citizen_by(conn, "id", uuid.UUID(actor.id or ""))
        if citizen is None or not citizen["home_division"]:
            raise NotFound("no home division on record to handle an application; ask at the window")
        return citizen

    def place_name(self, code: str) -> str:
        """A division as people say it: 浙江省杭州市西湖区, 北京市朝阳区."""
        return place_name(self.catalogue.places, code)

    def _division_choices(self, home: str, here: str) -> list[Choice]:
        return [Choice(code, self.place_name(code)) for code in dict.fromkeys((home, here))]

    def _questions(self, schema: dict[str, Any], home: str, here: str) -> list[Question] | None:
        """One question per required field the record does not answer; None when a field needs typing."""
        properties = schema.get("properties", {})
        questions = []
        for name in schema.get("required", []):
            if name in FROM_RECORD:
                continue
            spec = properties.get(name, {})
            title = str(spec.get("title", name))
            if "oneOf" in spec and all(isinstance(o, dict) and "const" in o for o in spec["oneOf"]):
                choices = [Choice(o["const"], str(o.get("title", o["const"]))) for o in spec["oneOf"]]
            elif "enum" in spec:
                choices = [Choice(v, str(v)) for v in spec["enum"]]
            elif spec.get("type") == "boolean":
                choices = [Choice(True, "是"), Choice(False, "否")]
            elif spec.get("type") == "string" and spec.get("pattern") == DIVISION_PATTERN:
                choices = self._division_choices(home, here)
            else:
                return None
            questions.append(Question(name, title, choices))
        return questions

    async def _offered(self, kiosk: Kiosk, citizen: Any, only: str | None = None,
                       ) -> list[tuple[KioskItem, list[Question], dict[str, Any]]]:
        """(item, questions, form schema) of each item offered here (or only `only`) that touch can fill."""
        home = citizen["home_division"]
        resolution = await self.catalogue.resolution.resolve(home, kiosk.division_code)
        offered = []
        for item in resolution.items:
            mode = _mode(item.modes, at_home=home == kiosk.division_code)
            if mode is None or only not in (None, item.code):
                continue
            schema = await self.catalogue.form_schema(item.code, handling_division=home)
            questions = self._questions(schema, home, kiosk.division_code)
            if questions is not None:
                offered.append((KioskItem(item.code, item.name, mode, MODE_NAMES[mode]), questions, schema))
        return offered

    async def items(self, kiosk: Kiosk, actor: Actor) -> list[KioskItem]:
        """The items this resident can apply for here, by touch alone, in the mode the kiosk prefers."""
        return [item for item, _, _ in await self._offered(kiosk, await self._citizen(actor))]

    async def guide(self, kiosk: Kiosk, actor: Actor, item_code: str) -> KioskApplyGuide:
        """The questions and materials of one item for this resident at this kiosk."""
        guide, _, _ = await self._guide(kiosk, actor, item_code)
        return guide

    async def _guide(self, kiosk: Kiosk, actor: Actor, item_code: str) -> tuple[KioskApplyGuide, Any, dict[str, Any]]:
        citizen = await self._citizen(actor)
        offered = await self._offered(kiosk, citizen, only=item_code)
        if not offered:
            raise NotFound(f"{item_code} cannot be applied for at this kiosk; ask at the window")
        item, questions, schema = offered[0]
        home = citizen["home_division"]
        standard = await self.catalogue.receipt.standard(item_code, kiosk.division_code, home, today())
        mine = [c for c in await self.certificates.registry.my_certificates(actor) if c.status == "valid"]
        materials = [MaterialNeed(m.name, m.required, m.note, [
            {"id": str(c.id), "type_name": c.type_name, "number": c.number}
            for c in mine if c.certificate_type in {r.code for r in m.replaceable_by}]) for m in standard.materials]
        return KioskApplyGuide(
            item=item, receiving_division=kiosk.division_code, handling_division=home, questions=questions,
            materials=materials, phone_needed="phone" in schema.get("required", []) and citizen["phone_masked"] is None,
        ), citizen, schema

    async def application(self, kiosk: Kiosk, actor: Actor, form: KioskApplication) -> CaseApplication:
        """The application for the cases service: the answers, and the name, ID number and phone from the
        resident's record (a typed phone only when none is on record)."""
        guide, citizen, schema = await self._guide(kiosk, actor, form.item_code)
        asked = {q.field for q in guide.questions} | ({"phone"} if guide.phone_needed else set())
        unknown = [FieldError(f"#/answers/{name}", "not a question of this item at the kiosk")
                   for name in form.answers if name not in asked]
        if unknown:
            raise ValidationFailed(unknown)
        async with self.db.connection() as conn:
            secrets = await conn.fetchrow("SELECT resident_id_enc, phone_enc FROM citizens WHERE id = $1",
                                          uuid.UUID(actor.id or ""))
        record: dict[str, Any] = {"applicant_name": citizen["name"],
                                  "resident_id": self.cipher.decrypt(secrets["resident_id_enc"],
                                                                     purpose="citizen.resident_id")}
        if secrets["phone_enc"] is not None:
            record["phone"] = self.cipher.decrypt(secrets["phone_enc"], purpose="citizen.phone")
        properties = schema.get("properties", {})
        composed = {**form.answers, **{k: v for k, v in record.items() if k in properties}}
        return CaseApplication(item_code=form.item_code, receiving_division=guide.receiving_division,
                               handling_division=guide.handling_division, mode=guide.item.mode, form=composed,
                               materials=form.materials)


def place_name(places: Places, code: str) -> str:
    """Province, city and county names of a division, each once (municipalities' 市辖区 left out)."""
    parts = [code[:2] + "0000", code[:4] + "00", code]
    names = [places.name(c) for c in dict.fromkeys(parts)]
    return "".join(n for n in names if n and n not in ("市辖区", "县")) or code


def case_receipt_png(case: CaseView, printed_at: dt.datetime, place: Callable[[str], str]) -> bytes:
    """The case receipt (受理回执) a kiosk prints for the applicant: what was applied for, where it is
    received and handled, when, the deadline, and each material with how it was given. CPU work."""
    page, draw = blank_page("跨省通办申请回执", f"{case.item_name} · Application receipt")
    deadline = case.deadline
    if deadline.due_on is not None:
        due = f"{deadline.due_on:%Y年%m月%d日}（{deadline.working_days} 个工作日）"
    else:
        due = f"受理后 {deadline.working_days} 个工作日内办结"
    rows = [("申请编号", case.number), ("办理事项", case.item_name), ("办理方式", case.mode.name),
            ("收件地", place(case.receiving_division.code)), ("办理地", place(case.handling_division.code)),
            ("提交时间", case.created_at.astimezone(CHINA_TIME).strftime("%Y年%m月%d日 %H:%M")),
            ("当前状态", case.state_name), ("办结时限", due)]
    y = labelled_rows(draw, rows)
    draw.line((120, y + 10, page.width - 120, y + 10), fill=(150, 150, 150), width=2)
    given = [(f"材料 {n}", f"{m.name}（{'电子证照' if m.source == 'certificate' else '扫描件'}）")
             for n, m in enumerate(sorted(case.materials, key=lambda m: m.name), 1)]
    y = labelled_rows(draw, given or [("申请材料", "无")], y + 40)
    labelled_rows(draw, [("打印时间", printed_at.astimezone(CHINA_TIME).strftime("%Y年%m月%d日 %H:%M")),
                         ("查询进度", "自助终端“我的办件”，或手机“通办”")], y + 20)
    return page_png(page)

