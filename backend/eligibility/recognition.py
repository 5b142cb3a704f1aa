"""Recognitions: the pre-check before any attempt is spent, the recording of a recognition by any
method (one transaction: the record, the pension-eligibility e-certificate, the lifting of a
suspension with its back-payment period, the event to the paying agency, the audit entry), the
pensioner's status page, and what to offer when face checks fail."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates.schemas import CertificateIssue
from backend.certificates.service import CertificateService
from backend.china_time import today as china_today
from backend.db import Database
from backend.eligibility import repository, rules
from backend.eligibility.methods import FACE_ALTERNATIVES, METHODS, Method
from backend.eligibility.roster import decision_view, entry_standing
from backend.eligibility.schemas import (
    Advice,
    BookingView,
    Offers,
    PensionStatus,
    Precheck,
    RecognitionView,
    ServicePoint,
)
from backend.errors import RecognitionNotPossible
from backend.events.service import Event, EventService
from backend.face.capture import UNATTESTED
from backend.face.service import FaceService
from backend.notifications.schemas import Subject, Text
from backend.notifications.service import NotificationService

CONSENT_PURPOSE = "pension-recognition"
# The capture policy (`TONGBAN_FACE_CAPTURE_POLICIES`) every face method's check must satisfy.
CAPTURE_USE = "pension-recognition"
# Which wording of the face-recognition consent the person agreed to; recorded with the consent.
CONSENT_WORDING = "pension-face-recognition-consent/1"
# Reasons that block every method, and those that only take face checks away.
BLOCKING = frozenset({"not-on-roster", "status-stopped", "not-yet-open", "roster-data-issue"})
FACE_ONLY = frozenset({"not-enrolled", "no-face-consent", "attempts-used-up"})
FACE_METHODS = frozenset({"face-phone", "family-proxy", "kiosk"})
# Methods whose face check comes from a phone: the agency's later-check rule for unattested captures
# (`unattested_in_a_row`) applies to them.
PHONE_METHODS = frozenset({"face-phone", "family-proxy"})
RECOGNISED_KIND = "pension.recognised"


def entry_reasons(entry: asyncpg.Record, today: dt.date) -> list[Advice]:
    """What in the roster entry itself blocks every method: a stopped pension, recognition not open
    yet, roster data the agency flagged."""
    reasons = []
    if entry["status"] == "stopped":
        reasons.append(rules.advice("status-stopped", reason=entry["stop_reason"]))
    elif entry_standing(entry, today) == "not-due":
        reasons.append(rules.advice("not-yet-open", due=entry["next_due"].isoformat(),
                                    opens=rules.window_opens(entry["next_due"], entry["opens_days_before"]).isoformat()))
    if entry["data_issue"]:
        reasons.append(rules.advice("roster-data-issue", issue=entry["data_issue"]))
    return reasons


def refusal(reasons: list[Advice], methods: list[Method]) -> RecognitionNotPossible:
    return RecognitionNotPossible("; ".join(r.en for r in reasons), reasons=msgspec.to_builtins(reasons),
                                  methods=list(methods))


def booking_view(row: asyncpg.Record | None) -> BookingView | None:
    if row is None:
        return None
    return BookingView(id=row["id"], entry_id=row["entry_id"], kind=row["kind"],
                       residence_division=row["residence_division"], slot_date=row["slot_date"],
                       slot_part=row["slot_part"], note=row["note"], status=row["status"],
                       pensioner_name=row["pensioner_name"], recognition_id=row["recognition_id"])


def _source(method: str, evidence: dict[str, Any]) -> str | None:
    """Where a recognition came from, in a line: the signal's provider for a silent one."""
    signal = evidence.get("signal")
    if method == "silent" and signal:
        return f"{signal['provider_name']} · {signal['kind']} · {signal['occurred_on']} · {signal['place_division']}"
    return evidence.get("source")


def recognition_view(row: asyncpg.Record, resumed: Any = None) -> RecognitionView:
    zh, en = METHODS[row["method"]]
    return RecognitionView(
        id=row["id"], entry_id=row["entry_id"], method=row["method"], method_zh=zh, method_en=en,
        recognised_on=row["recognised_on"], recognised_at=row["recognised_at"], place_division=row["place_division"],
        source=_source(row["method"], row["evidence"]), next_due=row["next_due"],
        certificate_id=row["certificate_id"], event_id=row["event_id"], proxy=row["proxy_citizen_id"] is not None,
        resumed=resumed)


def recognised_notice(method: str, on: dt.date, next_due: dt.date, evidence: dict[str, Any],
                      entry: asyncpg.Record) -> dict[str, Any]:
    """The inbox message after a recognition: how, from what source, the next due date."""
    zh, en = METHODS[method]
    source = _source(method, evidence)
    return {"title": Text("养老金领取资格认证已完成", "Pension recognition done"),
            "body": Text(f"您已于 {on} 通过{zh}完成认证" + (f"（{source}）" if source else "") +
                         f"，无需操作。下次认证日期：{next_due}。如非本人或授权亲属所为，请联系{entry['agency_name']}。",
                         f"You were recognised on {on} by {en}" + (f" ({source})" if source else "") +
                         f"; nothing to do. Next due: {next_due}. If neither you nor an authorised relative did "
                         f"this, contact {entry['agency_name']}."),
            "subject": Subject("pension_roster_entry", str(entry["id"]))}


class Recognitions:
    def __init__(self, db: Database, audit: AuditLog, certificates: CertificateService, events: EventService,
                 face: FaceService, notifications: NotificationService) -> None:
        self.db, self.audit, self.certificates, self.events, self.face = db, audit, certificates, events, face
        self.notifications = notifications

    # -- the pre-check -----------------------------------------------------------------------------

    async def precheck(self, actor: Actor, citizen_id: uuid.UUID, today: dt.date | None = None) -> Precheck:
        """Every reason a recognition of `citizen_id` would fail or be rejected later, with what to do,
        and the methods still open; nothing is spent."""
        today = today or china_today()
        async with self.db.connection() as conn:
            entries = await repository.entries_of_citizen(conn, citizen_id)
            enrolled = await repository.face_enrolled(conn, citizen_id)
            consent = await repository.face_consent(conn, citizen_id, CONSENT_PURPOSE)
            suspension = (await repository.last_suspension(conn, entries[0]["id"])
                          if entries and entries[0]["status"] == "suspended" else None)
            later_check = await self._later_check(conn, entries[0]) if entries else None
        left_now, left_today = await self.face.attempts_left(actor, citizen_id)
        if not entries:
            return Precheck(ready=False, methods=[], reasons=[rules.advice("not-on-roster")])
        entry = entries[0]
        reasons = entry_reasons(entry, today)
        if not enrolled:
            reasons.append(await self._where_to_enrol(entry["residence_division"]))
        if consent is None or consent["withdrawn_at"] is not None:
            reasons.append(rules.advice("no-face-consent"))
        if min(left_now, left_today) <= 0:
            reasons.append(rules.advice("attempts-used-up"))
        if later_check is not None:
            reasons.append(later_check)
        if entry["status"] == "suspended":
            reasons.append(rules.advice("suspended", since=str(suspension["suspended_from"]) if suspension else "-"))
        elif entry["status"] == "paying" and entry_standing(entry, today) == "overdue":
            reasons.append(rules.advice("overdue", due=entry["next_due"].isoformat()))
        codes = {r.code for r in reasons}
        methods: list[Method] = [] if codes & BLOCKING else [
            m for m in METHODS if m != "silent" and not (m in FACE_METHODS and codes & FACE_ONLY)]  # type: ignore[misc]
        return Precheck(ready=not codes & (BLOCKING | FACE_ONLY), methods=methods, reasons=reasons, entry_id=entry["id"],
                        next_due=entry["next_due"], attempts_left_hour=left_now, attempts_left_day=left_today)

    @staticmethod
    async def _later_check(conn: asyncpg.Connection, entry: asyncpg.Record) -> Advice | None:
        """`attested-capture-required` when the agency's later-check rule says the next recognition may
        not rest on an unattested phone capture again, else None."""
        limit = entry["unattested_in_a_row"]
        if limit is None or await repository.unattested_in_a_row(conn, entry["id"], limit) < limit:
            return None
        return rules.advice("attested-capture-required", count=str(limit))

    async def _where_to_enrol(self, residence_division: str) -> Advice:
        """`not-enrolled`, naming the nearest service window of the residence division when one is known."""
        found = rules.advice("not-enrolled")
        async with self.db.connection() as conn:
            windows = [p for p in await repository.service_points(conn, residence_division)
                       if p["kind"] == "service-window"]
        if not windows:
            return found
        window = windows[0]
        return msgspec.structs.replace(
            found, todo_zh=f"{found.todo_zh}最近的窗口：{window['name']}（{window['address']}）。",
            todo_en=f"{found.todo_en} Nearest window: {window['name']}, {window['address']}.")

    # -- recording ---------------------------------------------------------------------------------

    async def record(self, conn: asyncpg.Connection, entry: asyncpg.Record, method: Method, actor: Actor, *,
                     evidence: dict[str, Any], place_division: str | None, proxy_citizen_id: uuid.UUID | None = None,
                     staff_id: uuid.UUID | None = None, today: dt.date | None = None) -> RecognitionView:
        """Record a recognition in the caller's transaction: the record, a new due date, the lifting of
        a suspension with its back-payment period, the e-certificate, the event to the paying agency,
        and the audit entry — all or nothing.

        The caller read `entry` locked (`FOR UPDATE`): the pre-check ran before the face step, and a
        recognition that committed meanwhile (a second answer, a silent run) has closed the window."""
        today = today or china_today()
        if blocked := entry_reasons(entry, today):
            raise refusal(blocked, [])
        if method in PHONE_METHODS and evidence.get("face", {}).get("capture") == UNATTESTED and (
                later_check := await self._later_check(conn, entry)):
            raise refusal([later_check], [m for m in METHODS if m != "silent"])  # type: ignore[misc]
        next_due = rules.next_due_after(today, entry["window_months"])
        recognition_id = await repository.insert_recognition(
            conn, entry_id=entry["id"], method=method, recognised_on=today, place_division=place_division,
            evidence=evidence, actor_kind=actor.kind, actor_id=actor.id, proxy_citizen_id=proxy_citizen_id,
            staff_id=staff_id, next_due=next_due)
        resumed = None
        if entry["status"] == "suspended":
            suspension = await repository.last_suspension(conn, entry["id"])
            since = suspension["suspended_from"] if suspension else today
            resumed = decision_view(await repository.insert_decision(
                conn, entry["id"], "resumed", f"recognised ({method}) on {today.isoformat()}",
                back_pay_from=since, back_pay_to=today, recognition_id=recognition_id))
        await repository.mark_recognised(conn, entry["id"], today, next_due)
        certificate_id = None
        if entry["authority_id"] is not None:
            certificate = await self.certificates.issue(msgspec.convert({
                "authority_id": entry["authority_id"], "certificate_type": "pension_eligibility_record",
                "holder": {"kind": "citizen", "citizen_id": str(entry["citizen_id"])},
                "fields": {"pension_scheme": entry["scheme"], "paying_division": entry["agency_division"],
                           "recognised_on": today.isoformat(), "method": method, "next_due": next_due.isoformat()},
                "reference": f"pension-recognition:{recognition_id}"}, CertificateIssue), Actor.system(actor.request_id))
            certificate_id = certificate.id
        event_id = await self.events.publish(
            conn, kind=RECOGNISED_KIND, subject_type="pension_roster_entry", subject_id=str(entry["id"]),
            division=entry["agency_division"], payload={
                "recognition_id": str(recognition_id), "citizen_id": str(entry["citizen_id"]), "method": method,
                "recognised_on": today, "next_due": next_due, "place_division": place_division,
                "residence_division": entry["residence_division"], "proxy": proxy_citizen_id is not None,
                "certificate_id": str(certificate_id) if certificate_id else None,
                "resumed": msgspec.to_builtins(resumed) if resumed else None,
                "evidence": evidence})
        await repository.set_recognition_links(conn, recognition_id, certificate_id, event_id)
        # The pensioner hears of every recognition; by text message too when someone else made it, so that
        # a recognition they did not know of (a misused authorisation) does not pass unnoticed.
        await self.notifications.notify(conn, entry["citizen_id"], "pension.recognised",
                                        **recognised_notice(method, today, next_due, evidence, entry),
                                        sms=method not in ("face-phone", "silent"))
        await self.audit.record(conn, actor, "pension.recognised", "pension_roster_entry", str(entry["id"]),
                                division=entry["agency_division"],
                                detail={"recognition": str(recognition_id), "method": method,
                                        "place_division": place_division, "proxy": str(proxy_citizen_id or "") or None,
                                        "resumed": resumed is not None, "event": str(event_id)})
        row = await repository.last_recognition(conn, entry["id"])
        return recognition_view(row, resumed)

    async def record_silent(self, conn: asyncpg.Connection, candidates: list[asyncpg.Record], actor: Actor,
                            today: dt.date) -> list[tuple[int, uuid.UUID]]:
        """Silent recognitions of many entries at once, each with its sign of life as evidence, in the
        caller's transaction: what `record` does for one, in a few statements for all (records,
        certificates, events, new due dates, one audit entry). A suspended entry goes through `record`
        (its suspension is lifted with the back-payment period). Returns (signal id, recognition id)."""
        done = []
        bulk = []
        for entry in candidates:
            if entry_reasons(entry, today):  # recognised (or stopped) by a transaction that committed meanwhile
                continue
            evidence = {"signal": {
                "id": entry["signal_id"], "provider": entry["provider_id"], "provider_name": entry["provider_name"],
                "kind": entry["signal_kind"], "occurred_on": entry["occurred_on"].isoformat(),
                "place_division": entry["signal_place"], "reference": entry["source_reference"]}}
            if entry["status"] == "suspended":
                view = await self.record(conn, entry, "silent", actor, evidence=evidence,
                                         place_division=entry["signal_place"], today=today)
                done.append((entry["signal_id"], view.id))
            else:
                bulk.append((entry, evidence, uuid.uuid4(), rules.next_due_after(today, entry["window_months"])))
        if not bulk:
            return done
        orders = [msgspec.convert({
            "authority_id": entry["authority_id"], "certificate_type": "pension_eligibility_record",
            "holder": {"kind": "citizen", "citizen_id": str(entry["citizen_id"])},
            "fields": {"pension_scheme": entry["scheme"], "paying_division": entry["agency_division"],
                       "recognised_on": today.isoformat(), "method": "silent", "next_due": next_due.isoformat()},
            "reference": f"pension-recognition:{recognition_id}"}, CertificateIssue)
            for entry, _, recognition_id, next_due in bulk if entry["authority_id"] is not None]
        certificates: dict[str, uuid.UUID] = {}
        for authority in {o.authority_id for o in orders}:
            certificates |= await self.certificates.issue_many([o for o in orders if o.authority_id == authority],
                                                                Actor.system(actor.request_id))
        rows = []
        events = []
        for entry, evidence, recognition_id, next_due in bulk:
            certificate_id = certificates.get(f"pension-recognition:{recognition_id}")
            event = Event(kind=RECOGNISED_KIND, subject_type="pension_roster_entry", subject_id=str(entry["id"]),
                          division=entry["agency_division"], id=uuid.uuid4(), payload={
                              "recognition_id": str(recognition_id), "citizen_id": str(entry["citizen_id"]),
                              "method": "silent", "recognised_on": today, "next_due": next_due,
                              "place_division": entry["signal_place"], "residence_division": entry["residence_division"],
                              "proxy": False, "certificate_id": str(certificate_id) if certificate_id else None,
                              "resumed": None, "evidence": evidence})
            events.append(event)
            rows.append((recognition_id, entry["id"], today, entry["signal_place"], evidence, actor.kind, actor.id,
                         certificate_id, event.id, next_due))
        await self.events.publish_many(conn, events)
        await self.notifications.notify_many(conn, [
            (entry["citizen_id"], "pension.recognised", *recognised_notice("silent", today, next_due, evidence, entry).values())
            for entry, evidence, _, next_due in bulk])
        await repository.insert_silent_recognitions(conn, rows)
        await repository.mark_many_recognised(conn, [(entry["id"], today, next_due) for entry, _, _, next_due in bulk])
        await self.audit.record(conn, actor, "pension.recognised_silently", "pension_recognition", None,
                                detail={"count": len(rows), "recognitions": [str(r[0]) for r in rows],
                                        "on": today.isoformat()})
        return done + [(entry["signal_id"], recognition_id) for entry, _, recognition_id, _ in bulk]

    # -- the status page and offers ----------------------------------------------------------------

    async def status(self, citizen_id: uuid.UUID, today: dt.date | None = None) -> PensionStatus | None:
        """Recognised or not, when, how and from what source; the next due date; what to do now."""
        today = today or china_today()
        async with self.db.connection() as conn:
            entries = await repository.entries_of_citizen(conn, citizen_id)
            if not entries:
                return None
            entry = entries[0]
            last = await repository.last_recognition(conn, entry["id"])
            booking = await repository.open_booking(conn, entry["id"])
        standing = entry_standing(entry, today)
        view = recognition_view(last) if last is not None else None
        summary_zh, summary_en = self._summary(entry, standing, view)
        todo = []
        if entry["status"] != "stopped" and standing in ("due", "due-soon", "overdue") and booking is None:
            todo.append(rules.advice("overdue", due=entry["next_due"].isoformat()) if standing == "overdue" else Advice(
                code="recognise-now", zh=f"请在 {entry['next_due']} 前完成认证。", en=f"Please be recognised by {entry['next_due']}.",
                todo_zh="可用手机刷脸、请亲属代办、到自助终端或窗口认证，或预约上门认证。",
                todo_en="Use the phone face check, a relative, a kiosk or a window, or book a home visit."))
        if entry["data_issue"]:
            todo.append(rules.advice("roster-data-issue", issue=entry["data_issue"]))
        return PensionStatus(
            entry_id=entry["id"], agency_division=entry["agency_division"], agency_name=entry["agency_name"],
            residence_division=entry["residence_division"], status=entry["status"], standing=standing,
            next_due=entry["next_due"], last=view, summary_zh=summary_zh, summary_en=summary_en, todo=todo,
            booking=booking_view(booking))

    @staticmethod
    def _summary(entry: asyncpg.Record, standing: str, last: RecognitionView | None) -> tuple[str, str]:
        if entry["status"] == "stopped":
            return "养老金已停发，无需认证。", "The pension is stopped; no recognition is needed."
        if last is not None and standing == "not-due":
            how_zh = f"（{last.source}）" if last.source else ""
            how_en = f" ({last.source})" if last.source else ""
            return (f"已于 {last.recognised_on} 通过{last.method_zh}完成认证{how_zh}，无需操作。下次认证日期：{entry['next_due']}。",
                    f"Recognised on {last.recognised_on} by {last.method_en}{how_en}; nothing to do. "
                    f"Next due: {entry['next_due']}.")
        if standing == "overdue":
            return (f"认证已逾期（应于 {entry['next_due']} 前完成）。", f"Recognition is overdue (due by {entry['next_due']}).")
        if standing == "not-due":
            return (f"下次认证日期：{entry['next_due']}，现在无需操作。", f"Next due: {entry['next_due']}; nothing to do now.")
        return (f"请在 {entry['next_due']} 前完成认证。", f"Please be recognised by {entry['next_due']}.")

    async def offers(self, citizen_id: uuid.UUID) -> Offers:
        """What to offer after face failures: the nearest windows and kiosks of the residence division,
        family proxy, and booking an assisted or home visit."""
        async with self.db.connection() as conn:
            entries = await repository.entries_of_citizen(conn, citizen_id)
            if not entries:
                return Offers(methods=[], service_points=[], relatives_authorised=0, booking=None)
            entry = entries[0]
            points = await repository.service_points(conn, entry["residence_division"])
            relatives = await repository.relative_ids(conn, citizen_id)
            booking = await repository.open_booking(conn, entry["id"])
        return Offers(methods=list(FACE_ALTERNATIVES),  # type: ignore[arg-type]
                      service_points=[ServicePoint(**dict(p)) for p in points],
                      relatives_authorised=len(relatives), booking=booking_view(booking))
