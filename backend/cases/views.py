"""A case as its applicant and as staff see it, built from its rows: the timeline names steps,
times and divisions, never staff; the form is shown masked."""

from __future__ import annotations

from typing import Any

import asyncpg
import msgspec

from backend.cases.repository import CaseDetails
from backend.catalogue.places import Places
from backend.catalogue.schemas import mode_views
from backend.cases.schemas import (
    STATE_NAMES,
    Applicant,
    AskedNow,
    CaseDataRequest,
    CaseMaterialView,
    CaseSummary,
    CaseView,
    Deadline,
    Decision,
    Delivery,
    MessageView,
    SupplementItem,
    SupplementRequestView,
    TaskView,
    TimelineStep,
)
from backend.security.pii import PiiCipher, masked_form

_FORM_PURPOSE = "case.form"


def seal_form(cipher: PiiCipher, form: dict[str, Any]) -> bytes:
    return cipher.encrypt(msgspec.json.encode(form).decode(), purpose=_FORM_PURPOSE)


def unseal_form(cipher: PiiCipher, blob: bytes) -> dict[str, Any]:
    return msgspec.json.decode(cipher.decrypt(blob, purpose=_FORM_PURPOSE))


def deadline(case: asyncpg.Record) -> Deadline:
    return Deadline(due_on=case["deadline"], working_days=case["time_limit_days"],
                    paused=case["paused_since"] is not None, calendar_estimated=case["calendar_estimated"])


def summary(case: asyncpg.Record) -> CaseSummary:
    return CaseSummary(
        id=case["id"], number=case["number"], item_code=case["item_code"], item_name=case["item_name"],
        mode=mode_views([case["mode"]])[0], state=case["state"], state_name=STATE_NAMES[case["state"]],
        receiving_division=case["receiving_division"], handling_division=case["handling_division"],
        deadline=deadline(case), created_at=case["created_at"], updated_at=case["updated_at"])


def supplement_view(row: asyncpg.Record) -> SupplementRequestView:
    return SupplementRequestView(id=row["id"], round=row["round"], items=msgspec.convert(row["items"], list[SupplementItem]),
                                 requested_at=row["requested_at"], answered_at=row["answered_at"])


def _asked_now(case: asyncpg.Record, requests: list[SupplementRequestView]) -> AskedNow:
    if case["state"] == "supplement_requested" and requests:
        return AskedNow("supplement", "补正：请一次提交下列全部材料 / supplement every material listed, in one answer",
                        requests[-1])
    delivery = case["delivery"] or {}
    if case["state"] == "delivered" and delivery.get("method") == "window":
        return AskedNow("collect", f"请到窗口领取办理结果：{delivery.get('window')} / collect the result at the window")
    return AskedNow("none", "无需操作 / nothing is needed from you now")


def case_view(places: Places, cipher: PiiCipher, case: asyncpg.Record, details: CaseDetails, allowed: list[str],
              cls: type[CaseView] = CaseView, **extra: Any) -> Any:
    supplement_requests = [supplement_view(r) for r in details.supplement_requests]
    decision = (Decision(case["decision"], list(case["decision_reasons"] or []), case["decided_at"])
                if case["decision"] else None)
    return cls(
        id=case["id"], number=case["number"], item_code=case["item_code"], item_name=case["item_name"],
        mode=mode_views([case["mode"]])[0], state=case["state"], state_name=STATE_NAMES[case["state"]],
        receiving_division=places.check(case["receiving_division"]),
        handling_division=places.check(case["handling_division"]),
        form=masked_form(unseal_form(cipher, case["form_enc"])),
        materials=[CaseMaterialView(
            id=m["id"], name=m["name"], source="upload" if m["material_id"] else "certificate",
            material_id=m["material_id"], certificate_id=m["certificate_id"], state=m["state"],
            digest=m["digest"].hex()) for m in details.materials],
        timeline=[TimelineStep(step=e["action"], state=e["to_state"], state_name=STATE_NAMES[e["to_state"]],
                               at=e["at"], division=e["division_code"],
                               division_name=places.name(e["division_code"]) if e["division_code"] else None)
                  for e in details.events],
        asked_now=_asked_now(case, supplement_requests), deadline=deadline(case),
        supplement_count=case["supplement_count"], supplement_requests=supplement_requests, decision=decision,
        certificate_id=case["certificate_id"],
        delivery=msgspec.convert(case["delivery"], Delivery) if case["delivery"] else None,
        allowed_actions=allowed, created_at=case["created_at"], updated_at=case["updated_at"], **extra)


def staff_extra(details: CaseDetails, version: int) -> dict[str, Any]:
    assert details.applicant is not None, "staff details name the applicant"
    return {
        "applicant": Applicant(details.applicant["name"], details.applicant["resident_id_masked"]),
        "messages": [MessageView(m["id"], m["division_code"], m["actor_role"], m["body"], m["created_at"])
                     for m in details.messages],
        "tasks": [task_view(t) for t in details.tasks],
        "data_requests": [CaseDataRequest(r["id"], r["provider_id"], r["purpose"], r["state"], r["requester_division"],
                                          r["created_at"]) for r in details.data_requests],
        "version": version,
    }


def task_view(t: asyncpg.Record) -> TaskView:
    return TaskView(t["id"], t["division_code"], t["state"], t["request"], t["note"], t["opened_at"], t["done_at"])

