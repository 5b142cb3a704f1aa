"""Cross-province cases (办件): the citizen applies and follows the case; staff at the receiving and
handling places move it along the state table (`workflow.py`); 补正 once and complete; liaison
messages; 多地联办 coordination tasks; the decision issues the e-certificate in its own transaction.

Each use case is one transaction holding the change, its timeline event, the citizen's notification,
the event for other systems and the audit entry.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from collections.abc import Callable, Sequence
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.cases import repository
from backend.cases.schemas import (
    Accept,
    Approve,
    CaseApplication,
    CasePage,
    CaseView,
    Deliver,
    DueCase,
    DueList,
    GivenMaterial,
    MessageCreate,
    MaterialView,
    MessageView,
    Refuse,
    RefuseReceipt,
    Reject,
    RequestSupplement,
    ResultAuthority,
    StaffAction,
    StaffCaseView,
    SupplementAnswer,
    TaskCompletion,
    TaskView,
    TransitionView,
    Withdrawal,
)
from backend.cases.exchange_records import ExchangeBundle, form_digest, material_digest
from backend.cases.exchanges import CaseExchanges
from backend.cases.views import case_view, seal_form, staff_extra, summary, task_view
from backend.cases.workflow import Workflow, seconds_between, staff_scope
from backend.catalogue.forms import checked_form
from backend.catalogue.schemas import MODE_NAMES, ReceiptStandard, mode_names
from backend.catalogue.service import CatalogueService
from backend.certificates import repository as certificate_repository
from backend.certificates.clock import now as clock_now
from backend.certificates.records import status_of
from backend.certificates.schemas import CertificateIssue, CitizenHolder
from backend.certificates.service import CertificateService
from backend.calendar.service import CalendarService
from backend.china_time import CHINA_TIME
from backend.materials.store import Material, MaterialStore
from backend.db import Database
from backend.errors import (
    Conflict,
    CoordinationPending,
    FieldError,
    Forbidden,
    ModeNotOffered,
    NotFound,
    OutsideDivision,
    ValidationFailed,
)
from backend.events.service import EventService
from backend.identity import divisions
from backend.monitoring import metrics
from backend.notifications.service import NotificationService
from backend.security.pii import PiiCipher

# Staff who write liaison messages and do coordination tasks.
TASK_ROLES = frozenset({"receiving_officer", "handling_officer"})
DELIVERY_TEXT = {"e_certificate": "电子证照已发放至您的证照夹", "post": "已邮寄，运单号 {tracking_number}",
                 "window": "请到 {window} 领取"}


class CaseService:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, catalogue: CatalogueService,
                 certificates: CertificateService, notifications: NotificationService, events: EventService,
                 calendar: CalendarService, materials: MaterialStore, exchanges: CaseExchanges) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher
        self.catalogue, self.certificates, self.calendar, self.materials = catalogue, certificates, calendar, materials
        self.places = catalogue.places
        self.exchanges = exchanges
        self.workflow = Workflow(db, audit, notifications, events, exchanges)
        # The clock deadlines are counted on (tests move it).
        self.now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC)

    def today(self) -> dt.date:
        """Today in China, by `now`."""
        return self.now().astimezone(CHINA_TIME).date()

    # -- applying ---------------------------------------------------------------------------------------

    async def apply(self, form: CaseApplication, actor: Actor) -> CaseView:
        """Apply for an item in a mode offered at the receiving division on this day (as catalogue
        resolution answers it), with a form valid for the handling place and the materials of its
        receipt standard (uploads, or the applicant's own e-certificates where the standard allows)."""
        citizen_id = uuid.UUID(actor.id)
        receiving = self.places.lookup(form.receiving_division, "receiving_division")
        self.places.lookup(form.handling_division, "handling_division")
        as_of = self.today()
        item, standard = await self.catalogue.application_terms(form.item_code, form.receiving_division,
                                                                form.handling_division, as_of)
        if item is None or standard is None:
            raise ModeNotOffered(f"{form.item_code} is on no list in force for a matter of {form.handling_division} "
                                 f"at {receiving.code} on {as_of}", pointer="#/item_code")
        if form.mode not in {m.code for m in item.modes}:
            offered = mode_names(m.code for m in item.modes) or "none"
            raise ModeNotOffered(f"{MODE_NAMES[form.mode]} ({form.mode}) is not offered for {item.name} at "
                                 f"{receiving.code} on {as_of}; offered: {offered}", offered=[m.code for m in item.modes])
        if form.mode != "online" and form.receiving_division == form.handling_division:
            # Nothing would cross: the case could be received but never handed over.
            raise ModeNotOffered(f"{MODE_NAMES[form.mode]} ({form.mode}) takes the case from a receiving division "
                                 f"to another that handles it; at {receiving.code} itself apply online",
                                 offered=[m.code for m in item.modes if m.code == "online"])
        # The standard governing the handling place decides the form, the materials and the result.
        if problems := await checked_form(standard.form_schema, form.form):
            raise ValidationFailed(problems)
        governing = standard.governing_variant
        schema_source = f"variant:{governing.division}:{governing.version}" if governing else "national"
        result = standard.result
        by_name = {m.name: m for m in standard.materials}
        errors = [FieldError(f"#/materials/{i}/name", f"{m.name!r} is not a material of the receipt standard")
                  for i, m in enumerate(form.materials) if m.name not in by_name]
        given = {m.name for m in form.materials}
        errors += [FieldError("#/materials", f"the required material {name!r} is missing")
                   for name, m in by_name.items() if m.required and name not in given]
        if errors:
            raise ValidationFailed(errors)
        async with self.db.transaction() as conn:
            rows, uploads = await self._given_materials(conn, citizen_id, form.materials, {
                name: [c.code for c in m.replaceable_by] for name, m in by_name.items()}, "#/materials")
            await self._check_case_size(conn, None, uploads)
            case, details = await repository.insert_case(conn, f"{receiving.code}-{as_of:%Y%m%d}", {
                "item_code": form.item_code, "item_name": item.name, "mode": form.mode,
                "citizen_id": citizen_id, "receiving_division": form.receiving_division,
                "handling_division": form.handling_division, "form_enc": seal_form(self.cipher, form.form),
                "form_digest": form_digest(form.form), "form_schema_source": schema_source,
                "result_kind": result.kind, "e_certificate_type": result.e_certificate_type,
                "time_limit_days": standard.time_limit.working_days,
            }, rows, (form.receiving_division, "citizen", who(actor)))
            number = case["number"]
            await self.workflow.events.publish(conn, kind="case.submitted", subject_type="case", subject_id=str(case["id"]),
                                               division=case["handling_division"],
                                               payload={"number": number, "item_code": form.item_code, "mode": form.mode})
            await self.audit.record(conn, actor, "case.applied", "case", str(case["id"]), division=form.receiving_division,
                                    detail={"number": number, "item_code": form.item_code, "mode": form.mode,
                                            "handling_division": form.handling_division, "materials": len(rows)})
            metrics.case_applied(form.mode)
            return await self._citizen_view(conn, case, actor, details)

    async def _given_materials(self, conn: asyncpg.Connection, citizen_id: uuid.UUID,
                               given: Sequence[GivenMaterial], replaceable: dict[str, list[str]],
                               at: str) -> tuple[list[tuple[Any, ...]], dict[uuid.UUID, Material]]:
        """(name, material id, certificate id, digest) for each given material, and the uploads among
        them by id; or every problem at once: an e-certificate must be the applicant's own, valid, and of
        a type that may replace the material."""
        rows, errors = [], []
        now = clock_now()
        certificate_ids = [m.certificate_id for m in given if m.certificate_id is not None]
        material_ids = [m.material_id for m in given if m.material_id is not None]
        certificates = await certificate_repository.certificates(conn, certificate_ids) if certificate_ids else {}
        uploads = await self.materials.get_many(conn, material_ids) if material_ids else {}
        for i, m in enumerate(given):
            if (m.material_id is None) == (m.certificate_id is None):
                errors.append(FieldError(f"{at}/{i}", "give exactly one of material_id and certificate_id"))
                continue
            if m.certificate_id is not None:
                cert = certificates.get(m.certificate_id)
                if cert is None or cert["citizen_id"] != citizen_id:
                    errors.append(FieldError(f"{at}/{i}/certificate_id", "no such e-certificate among yours"))
                elif cert["certificate_type"] not in replaceable.get(m.name, []):
                    errors.append(FieldError(f"{at}/{i}/certificate_id",
                                             f"a {cert['certificate_type']} cannot replace {m.name!r}"))
                elif (status := status_of(cert, now)) != "valid":
                    errors.append(FieldError(f"{at}/{i}/certificate_id", f"the e-certificate is {status}"))
                else:
                    rows.append((m.name, None, cert["id"], material_digest(cert["qr_text"].encode())))
                continue
            material = uploads.get(m.material_id)  # type: ignore[arg-type]
            if material is None or material.owner_citizen_id != citizen_id:
                errors.append(FieldError(f"{at}/{i}/material_id", "no such material among yours"))
            else:
                rows.append((m.name, material.id, None, material.digest))
        if errors:
            raise ValidationFailed(errors)
        return rows, uploads

    async def _check_case_size(self, conn: asyncpg.Connection, case_id: uuid.UUID | None,
                               uploads: dict[uuid.UUID, Material]) -> None:
        """A case's uploads together stay within the case limits (each file was checked on upload)."""
        kept = dict(uploads)
        if case_id is not None:
            earlier = {m["material_id"] for m in await repository.materials(conn, case_id)
                       if m["material_id"] is not None and m["state"] != "replaced"} - kept.keys()
            kept |= await self.materials.get_many(conn, list(earlier))
        self.materials.limits.check_case([m.size for m in kept.values()])

    async def state_table(self) -> list[TransitionView]:
        """The state machine, as the table that drives it."""
        async with self.db.connection() as conn:
            table = await self.workflow.table(conn)
        return [TransitionView(m.from_state, m.action, m.to_state, list(m.roles), list(m.modes)) for m in table.moves]

    # -- the citizen's side -------------------------------------------------------------------------------

    async def my_cases(self, actor: Actor, *, limit: int = 20, offset: int = 0) -> CasePage:
        citizen_id = uuid.UUID(actor.id)
        async with self.db.connection() as conn:
            rows = await repository.citizen_cases(conn, citizen_id, limit, offset)
            total = await repository.citizen_case_count(conn, citizen_id)
        await self.audit.record_read(actor, "case.listed", "citizen", actor.id, detail={"count": len(rows)})
        return CasePage([summary(r) for r in rows], total)

    async def my_case(self, case_id: uuid.UUID, actor: Actor) -> CaseView:
        async with self.db.connection() as conn:
            case = await self.workflow.citizen_case(conn, case_id, actor)
            view = await self._citizen_view(conn, case, actor)
        await self.audit.record_read(actor, "case.read", "case", str(case_id), division=case["receiving_division"])
        return view

    async def withdraw(self, case_id: uuid.UUID, form: Withdrawal, actor: Actor) -> CaseView:
        async with self.db.transaction() as conn:
            case = await self.workflow.citizen_case(conn, case_id, actor, for_update=True)
            updated = await self.workflow.transit(conn, case, "withdraw", actor, changes={"paused_since": None},
                                                  detail={"reason": form.reason} if form.reason else {})
            await repository.cancel_open_tasks(conn, case_id)
            return await self._citizen_view(conn, updated, actor)

    async def supplement(self, case_id: uuid.UUID, answer: SupplementAnswer, actor: Actor) -> CaseView:
        """Answer the open 补正 request in one submission: a material for every item it lists. The clock
        resumes."""
        async with self.db.transaction() as conn:
            case = await self.workflow.citizen_case(conn, case_id, actor, for_update=True)
            requests = await repository.supplement_requests(conn, case_id)
            open_request = requests[-1] if requests and requests[-1]["answered_at"] is None else None
            await self.workflow.check(conn, case, "supplement", actor)
            assert open_request is not None, "a case waiting for a 补正 answer has an open request"
            asked = {item["material"] for item in open_request["items"]}
            given = {m.name for m in answer.materials}
            errors = [FieldError(f"#/materials/{i}/name", f"{m.name!r} was not asked for in this 补正")
                      for i, m in enumerate(answer.materials) if m.name not in asked]
            errors += [FieldError("#/materials", f"{name!r} is asked for and missing from the answer")
                       for name in sorted(asked - given)]
            if errors:
                raise ValidationFailed(errors)
            standard = await self._standard_of(case)
            rows, uploads = await self._given_materials(conn, case["citizen_id"], answer.materials, {
                m.name: [c.code for c in m.replaceable_by] for m in standard.materials}, "#/materials")
            # What the answer replaces no longer counts towards the case's limits (a refusal rolls this back).
            await repository.set_material_states(conn, case_id, sorted(asked), "replaced", among="refused")
            await self._check_case_size(conn, case_id, uploads)
            await repository.insert_materials(conn, case_id, rows, open_request["id"])
            await repository.answer_supplement_request(conn, open_request["id"])
            changes, paused_days = await self._resumed_clock(case)
            updated = await self.workflow.transit(conn, case, "supplement", actor, changes=changes,
                                                  detail={"round": open_request["round"], "materials": len(rows),
                                                          "paused_working_days": paused_days})
            return await self._citizen_view(conn, updated, actor)

    async def _resumed_clock(self, case: asyncpg.Record) -> tuple[dict[str, Any], int]:
        """The clock resumes: the deadline moves on by the working days the 补正 request stayed open
        (after the day it was made, up to and including today)."""
        calendar = await self.calendar.current()
        paused = calendar.count(case["paused_since"].astimezone(CHINA_TIME).date(), self.today())
        changes: dict[str, Any] = {"paused_since": None}
        if case["deadline"] is not None:
            moved = calendar.add(case["deadline"], paused.days)
            changes |= {"deadline": moved.due,
                        "calendar_estimated": case["calendar_estimated"] or moved.estimated or paused.estimated}
        return changes, paused.days

    async def _standard_of(self, case: asyncpg.Record) -> ReceiptStandard:
        """The receipt standard the case was made under (the one in force on the day it was made)."""
        places = (case["item_code"], case["receiving_division"], case["handling_division"])
        day = case["created_at"].astimezone(CHINA_TIME).date()
        # The item may have left every list since; its standard of that day still governs the case.
        return ((await self.catalogue.application_terms(*places, day)).standard
                or await self.catalogue.receipt.standard(*places, day))

    async def _citizen_view(self, conn: asyncpg.Connection, case: asyncpg.Record, actor: Actor,
                            details: repository.CaseDetails | None = None) -> CaseView:
        details = details or await repository.details(conn, case["id"])
        return case_view(self.places, self.cipher, case, details, await self.workflow.allowed_actions(conn, case, actor))

    # -- materials ----------------------------------------------------------------------------------------

    async def upload(self, actor: Actor, data: bytes, file_name: str, declared_type: str | None,
                     kind: str | None) -> MaterialView:
        """Keep one material of the citizen's (checked, cleaned, encrypted); a case then names it by id,
        and any later case of theirs may name it again without a new upload. Audited."""
        async with self.db.transaction() as conn:
            material = await self.materials.store(conn, actor.id or "", data, file_name, kind=kind,
                                                  declared_type=declared_type)
            await self.audit.record(conn, actor, "material.uploaded", "material", str(material.id),
                                    detail={"content_type": material.content_type, "size": material.size})
        return MaterialView(material.id, material.name, material.kind, material.content_type, material.size,
                            material.digest.hex(), material.created_at)

    async def download(self, case_id: uuid.UUID, case_material_id: uuid.UUID, actor: Actor) -> tuple[bytes, str, str]:
        """An uploaded material of a case, for its applicant or staff in scope: (bytes, type, file name). Audited."""
        async with self.db.connection() as conn:
            if actor.kind == "citizen":
                case = await self.workflow.citizen_case(conn, case_id, actor, refusal="case.material_refused")
            else:
                case = await self.workflow.staff_case(conn, case_id, actor, refusal="case.material_refused")
            row = await repository.case_material(conn, case_id, case_material_id)
            if row is None or row["material_id"] is None:
                raise NotFound("no such uploaded material on this case")
            material = await self.materials.get(conn, row["material_id"])
            data = await self.materials.read(conn, row["material_id"])
        await self.audit.record_read(actor, "case.material_downloaded", "case", str(case_id), division=actor.division,
                                     detail={"number": case["number"], "material": row["name"],
                                             "case_material": str(case_material_id)})
        assert material is not None
        return data, material.content_type, material.name

    # -- the staff's side -------------------------------------------------------------------------------

    async def staff_cases(self, actor: Actor, *, states: Sequence[str] | None = None, limit: int = 50,
                          offset: int = 0) -> CasePage:
        scope = staff_scope(actor)
        async with self.db.connection() as conn:
            rows, total = await repository.staff_cases(conn, divisions.scope_prefix(scope), states, limit, offset)
        await self.audit.record_read(actor, "case.listed", "staff", actor.id, division=actor.division,
                                     detail={"count": len(rows)})
        return CasePage([summary(r) for r in rows], total)

    async def staff_case(self, case_id: uuid.UUID, actor: Actor) -> StaffCaseView:
        async with self.db.connection() as conn:
            case = await self.workflow.staff_case(conn, case_id, actor)
            view = await self._staff_view(conn, case, actor)
        await self.audit.record_read(actor, "case.read", "case", str(case_id), division=actor.division)
        return view

    async def exchange_chain(self, case_id: uuid.UUID, actor: Actor) -> ExchangeBundle:
        """The case's signed exchange chain with the signed trust list, as `tongban cases export-exchanges`
        writes it (empty for a case that never changed hands), for staff in scope. Audited."""
        async with self.db.connection() as conn:
            case = await self.workflow.staff_case(conn, case_id, actor, refusal="case.exchanges_refused")
        chain = await self.exchanges.export(case["number"])
        await self.audit.record_read(actor, "case.exchanges_exported", "case", str(case_id), division=actor.division,
                                     detail={"number": case["number"]})
        return chain

    async def act(self, case_id: uuid.UUID, action: StaffAction, actor: Actor) -> StaffCaseView:
        """A staff action on the case, under its row lock: of two at once, one wins and the other finds
        the state moved on (409)."""
        name = type(action).__struct_config__.tag  # the action's name in the state table
        async with self.db.transaction() as conn:
            case = await self.workflow.staff_case(conn, case_id, actor, for_update=True, refusal="case.action_refused")
            await self.workflow.check(conn, case, str(name), actor)
            updated = await self._act(conn, case, str(name), action, actor)
            return await self._staff_view(conn, updated, actor)

    async def _act(self, conn: asyncpg.Connection, case: asyncpg.Record, name: str, action: StaffAction,
                   actor: Actor) -> asyncpg.Record:
        now = self.now()
        transit = self.workflow.transit
        if isinstance(action, RefuseReceipt | Refuse):
            return await transit(conn, case, name, actor, changes={"decision_reasons": action.reasons},
                                 detail={"reasons": action.reasons})
        if isinstance(action, Accept):
            return await self._accept(conn, case, action, actor, now)
        if isinstance(action, RequestSupplement):
            return await self._request_supplement(conn, case, action, actor)
        if isinstance(action, Approve | Reject):
            return await self._decide(conn, case, action, actor, now)
        if isinstance(action, Deliver):
            return await self._deliver(conn, case, action, actor, now)
        note = getattr(action, "note", None)
        return await transit(conn, case, name, actor, changes={"received_at": now} if name == "receive" else {},
                             detail={"note": note} if note else {})

    async def _accept(self, conn: asyncpg.Connection, case: asyncpg.Record, action: Accept, actor: Actor,
                      now: dt.datetime) -> asyncpg.Record:
        """受理: the hand-over stage ends (from the application, online, or from receipt); in 多地联办 the
        coordination tasks open."""
        started = case["received_at"] if case["mode"] != "online" else case["created_at"]
        coordinating: list[str] = []
        if case["mode"] == "joint":
            coordinating = list(dict.fromkeys(action.coordinating_divisions or [case["receiving_division"]]))
            for i, code in enumerate(coordinating):
                self.places.lookup(code, f"coordinating_divisions/{i}")
                handling = case["handling_division"]
                if divisions.within(code, handling) or divisions.within(handling, code):  # itself, above or below
                    raise ValidationFailed.field(f"coordinating_divisions/{i}", "the accepting place needs no task of "
                                                 f"its own: {code} contains or lies within {handling}")
        elif action.coordinating_divisions:
            raise ValidationFailed.field("coordinating_divisions", "only a 多地联办 (joint) case has coordination tasks")

        async def open_tasks(updated: asyncpg.Record, _: int) -> None:
            await repository.insert_tasks(conn, updated["id"], coordinating, action.coordination_request)
            await self.exchanges.on_tasks_opened(conn, updated, coordinating, actor,
                                                 await repository.materials(conn, updated["id"]))

        due = (await self.calendar.current()).add(self.today(), case["time_limit_days"])
        return await self.workflow.transit(conn, case, "accept", actor,
                                           changes={"handover_seconds": seconds_between(started, now), "accepted_at": now,
                                                    "deadline": due.due, "calendar_estimated": due.estimated},
                                           detail={"coordinating_divisions": coordinating} if coordinating else {},
                                           before_audit=open_tasks if coordinating else None)

    async def _request_supplement(self, conn: asyncpg.Connection, case: asyncpg.Record, action: RequestSupplement,
                                  actor: Actor) -> asyncpg.Record:
        """补正 once and complete: every material not named is accepted now; a later request asks only about
        what the last answer re-submitted (never about one accepted, nor one never given); the clock stops
        until the answer."""
        names = {m.name for m in (await self._standard_of(case)).materials}
        states = {m["name"]: m["state"] for m in await repository.materials(conn, case["id"])
                  if m["state"] in ("submitted", "accepted")}
        errors, seen = [], set()
        for i, item in enumerate(action.items):
            if item.material not in names:
                errors.append(FieldError(f"#/items/{i}/material", f"{item.material!r} is not a material of the receipt standard"))
            elif item.material in seen:
                errors.append(FieldError(f"#/items/{i}/material", "named twice; give all its reasons in one item"))
            elif states.get(item.material) == "accepted":
                errors.append(FieldError(f"#/items/{i}/material",
                                         f"{item.material!r} was accepted with an earlier 补正 request and cannot be asked for again"))
            elif case["supplement_count"] and item.material not in states:
                # Never given and not asked for in the first request, which had to name everything missing.
                errors.append(FieldError(f"#/items/{i}/material", f"{item.material!r} was not re-submitted: a later "
                                                                  "补正 request asks only about what was"))
            seen.add(item.material)
        if errors:
            raise ValidationFailed(errors)
        asked = [item.material for item in action.items]
        round_ = case["supplement_count"] + 1

        async def write_request(updated: asyncpg.Record, _: int) -> None:
            await repository.accept_materials_except(conn, case["id"], asked)
            await repository.set_material_states(conn, case["id"], asked, "refused")
            await repository.insert_supplement_request(
                conn, case["id"], round_, [msgspec.to_builtins(i) for i in action.items], updated["handling_division"])

        reasons = "；".join(f"{i.material}（{i.reason}）" for i in action.items)
        return await self.workflow.transit(
            conn, case, "request_supplement", actor,
            changes={"supplement_count": round_, "paused_since": self.now()},
            detail={"round": round_, "materials": asked}, before_audit=write_request, notice={"reasons": reasons})

    async def _decide(self, conn: asyncpg.Connection, case: asyncpg.Record, action: Approve | Reject, actor: Actor,
                      now: dt.datetime) -> asyncpg.Record:
        """准予 or 不予: when every coordination task is done. Approving an item whose result is an
        e-certificate issues it here, in this transaction, by the authority mapped to the item and the
        handling division."""
        name = "approve" if isinstance(action, Approve) else "reject"
        open_tasks = [t for t in await repository.tasks(conn, case["id"]) if t["state"] == "open"]
        if open_tasks:
            raise CoordinationPending(f"{len(open_tasks)} coordination task(s) are open: "
                                      + ", ".join(t["division_code"] for t in open_tasks))
        changes: dict[str, Any] = {
            "decision": "approved" if name == "approve" else "rejected", "decision_reasons": list(action.reasons),
            "decided_at": now, "review_seconds": seconds_between(case["accepted_at"], now)}
        issue = None
        if isinstance(action, Approve) and case["e_certificate_type"]:
            if action.certificate_fields is None:
                raise ValidationFailed.field("certificate_fields",
                                             f"the result is an e-certificate ({case['e_certificate_type']}); give its fields")
            authority = await repository.result_authority(conn, case["item_code"], case["handling_division"])
            if authority is None:
                raise Conflict(f"no issuing authority is mapped to {case['item_code']} in {case['handling_division']}; "
                               "an admin maps one (PUT /staff/case-result-authorities)")
            issue = CertificateIssue(authority_id=authority, certificate_type=case["e_certificate_type"],
                                     holder=CitizenHolder(citizen_id=case["citizen_id"]),
                                     fields=action.certificate_fields, reference=f"case:{case['number']}",
                                     case_id=case["id"])
        elif isinstance(action, Approve) and action.certificate_fields is not None:
            raise ValidationFailed.field("certificate_fields", "this item's result is not an e-certificate")
        updated = await self.workflow.transit(conn, case, name, actor, changes=changes,
                                              detail={"reasons": list(action.reasons)})
        if issue is not None:
            try:
                certificate = await self.certificates.issue(issue, actor)
            except ValidationFailed as exc:  # the order's `fields` are this request's `certificate_fields`
                raise ValidationFailed([FieldError(re.sub(r"^#/fields(?=/|$)", "#/certificate_fields", e.pointer),
                                                   e.detail) for e in exc.errors]) from None
            updated = await repository.set_certificate(conn, case["id"], certificate.id)
        return updated

    async def _deliver(self, conn: asyncpg.Connection, case: asyncpg.Record, action: Deliver, actor: Actor,
                       now: dt.datetime) -> asyncpg.Record:
        delivery = action.delivery
        if delivery.method == "e_certificate" and case["certificate_id"] is None:
            raise ValidationFailed.field("delivery", "no e-certificate was issued for this case")
        if delivery.method == "post" and not delivery.tracking_number:
            raise ValidationFailed([FieldError("#/delivery/tracking_number", "a posted result needs its tracking number")])
        if delivery.method == "window" and not delivery.window:
            raise ValidationFailed([FieldError("#/delivery/window", "name the window where the result is collected")])
        if delivery.method == "window" and case["state"] == "approved" and case["mode"] != "online":
            # The handling place hands out directly only what needs no counter; a result collected at the
            # receiving place's window goes there first, signed (`send_result`).
            raise ValidationFailed([FieldError("#/delivery/method", "a result collected at a window is sent to the "
                                                                    "receiving place first (send_result)")])
        text = DELIVERY_TEXT[delivery.method].format(tracking_number=delivery.tracking_number, window=delivery.window)
        return await self.workflow.transit(
            conn, case, "deliver", actor,
            changes={"delivery": msgspec.to_builtins(delivery), "delivery_seconds": seconds_between(case["decided_at"], now)},
            detail={"method": delivery.method}, notice={"delivery": text})

    async def _staff_view(self, conn: asyncpg.Connection, case: asyncpg.Record, actor: Actor) -> StaffCaseView:
        details = await repository.details(conn, case["id"], staff_prefix=divisions.scope_prefix(staff_scope(actor)))
        return case_view(self.places, self.cipher, case, details, await self.workflow.allowed_actions(conn, case, actor),
                         cls=StaffCaseView, **staff_extra(details, case["version"]))

    async def due(self, actor: Actor, *, division: str | None = None, days: int = 3) -> DueList:
        """Cases handled in the caller's division (or `division` inside it) whose clock runs: overdue,
        and due within `days` working days."""
        scope = staff_scope(actor)
        if division is not None:
            if not divisions.within(scope, division):
                raise OutsideDivision(f"{division} is outside your division")
            scope = division
        today_ = self.today()
        until = (await self.calendar.current()).add(today_, days).due
        async with self.db.connection() as conn:
            rows = await repository.due_cases(conn, divisions.scope_prefix(scope), until)
        await self.audit.record_read(actor, "case.due_listed", "division", scope, division=scope,
                                     detail={"count": len(rows)})
        listed = [DueCase(r["id"], r["number"], r["item_name"], r["state"], r["handling_division"], r["deadline"],
                          r["deadline"] < today_, r["calendar_estimated"]) for r in rows]
        return DueList(scope, today_, [c for c in listed if c.overdue], [c for c in listed if not c.overdue])

    # -- liaison and coordination -------------------------------------------------------------------------

    async def post_message(self, case_id: uuid.UUID, form: MessageCreate, actor: Actor) -> MessageView:
        """A liaison message between the staff of the places on a case (never shown to the applicant)."""
        if actor.role not in TASK_ROLES:
            raise Forbidden("liaison messages are for receiving and handling officers")
        async with self.db.transaction() as conn:
            case = await self.workflow.staff_case(conn, case_id, actor, refusal="case.message_refused")
            row = await repository.insert_message(conn, case_id, actor.division or "", actor.role or "", who(actor),
                                                  form.body.strip())
            await self.audit.record(conn, actor, "case.message", "case", str(case_id), division=actor.division,
                                    detail={"number": case["number"], "message": str(row["id"])})
        return MessageView(row["id"], row["division_code"], row["actor_role"], row["body"], row["created_at"])

    async def complete_task(self, case_id: uuid.UUID, task_id: uuid.UUID, form: TaskCompletion,
                            actor: Actor) -> TaskView:
        """A coordinating division reports its part of a 多地联办 case done."""
        if actor.role not in TASK_ROLES:
            raise Forbidden("coordination tasks are done by receiving and handling officers")
        async with self.db.transaction() as conn:
            case = await self.workflow.staff_case(conn, case_id, actor, for_update=True, refusal="case.task_refused")
            task = next((t for t in await repository.tasks(conn, case_id) if t["id"] == task_id), None)
            if task is None:
                raise NotFound("no such coordination task on this case")
            if not divisions.within(actor.division or "", task["division_code"]):
                raise OutsideDivision(f"the task is for {task['division_code']}, outside your division")
            if case["state"] not in ("accepted", "in_review", "supplement_requested", "supplemented"):
                raise Conflict(f"the case is {case['state']}; its coordination is over")
            row = await repository.complete_task(conn, case_id, task_id, form.note.strip())
            if row is None:
                raise Conflict("the task is done already")
            await repository.insert_event(conn, case_id, "coordination_done", case["state"], case["state"],
                                          task["division_code"], actor.role or "", who(actor), {"task": str(task_id)})
            await self.exchanges.on_task_done(conn, case, task["division_code"], actor)
            await self.audit.record(conn, actor, "case.task_done", "case", str(case_id), division=task["division_code"],
                                    detail={"number": case["number"], "task": str(task_id)})
        return task_view(row)

    # -- which authority signs a result ---------------------------------------------------------------

    async def map_result_authority(self, form: ResultAuthority, actor: Actor) -> ResultAuthority:
        """An admin whose division contains `division_code` names the authority that signs the item's
        e-certificate for cases handled there."""
        if actor.kind != "system" and (actor.kind != "staff" or actor.role != "admin"):
            raise Forbidden("admins map result authorities")
        if actor.kind == "staff" and not divisions.within(actor.division or "", form.division_code):
            raise OutsideDivision(f"{form.division_code} is outside your division")
        item = await self.catalogue.items.get(form.item_code)
        async with self.db.transaction() as conn:
            authority = await certificate_repository.authority(conn, form.authority_id)
            if authority is None:
                raise ValidationFailed.field("authority_id", f"no issuing authority {form.authority_id}")
            if item.result.e_certificate_type is None:
                raise ValidationFailed.field("item_code", f"{form.item_code}'s result is not an e-certificate")
            if item.result.e_certificate_type not in authority["certificate_types"]:
                raise ValidationFailed.field("authority_id", f"{form.authority_id} does not issue "
                                                             f"{item.result.e_certificate_type}")
            await repository.put_result_authority(conn, form.item_code, form.division_code, form.authority_id)
            await self.audit.record(conn, actor, "case.result_authority_mapped", "catalogue_item", form.item_code,
                                    division=form.division_code, detail={"authority_id": form.authority_id})
        return form

