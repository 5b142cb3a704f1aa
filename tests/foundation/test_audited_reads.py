"""Reads of personal data are audited by group commit: each answered read has its own entry, committed
before the answer arrives; reads arriving together share appends instead of a transaction each; the
chain still verifies. One test per module whose reads use `AuditLog.record_read`."""

from __future__ import annotations

import datetime as dt
import uuid

from backend.notifications.schemas import Text
from backend.sharing.demo import register_demo_providers
from tests.concurrency import at_once
from tests.factories import (
    bearer,
    certificate_authority,
    citizen_id,
    issue_certificate,
    register_citizen,
    staff_token,
)
from tests.sharing.conftest import agency_request, handling_officer, person_with_records

READS = 12


async def reads_are_group_committed(client, services, action: str, path: str, token: str,
                                    params: dict | None = None) -> list:
    """GET `path` READS times at once; check each answered read left one committed entry `action` under
    its request id, that the reads shared appends, and that the chain verifies. The answers."""
    ids = [f"{action}-{uuid.uuid4().hex[:8]}-{n}" for n in range(READS)]

    async def read(request_id: str):
        response = await client.get(path, params=params, headers={**bearer(token), "X-Request-ID": request_id})
        # Checked at once, from another connection: committed before the answer, not merely queued.
        entries = await services.db.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE request_id = $1 AND action = $2", request_id, action)
        return response, entries

    answers = await at_once(services, *(read(request_id) for request_id in ids))
    assert [(r.status_code, entries) for r, entries in answers] == [(200, 1)] * READS, answers[0][0].text
    transactions = await services.db.pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM audit_log WHERE request_id = ANY($1::text[])", ids)
    assert transactions < READS  # a transaction per read was the cost this replaces
    async with services.db.connection() as conn:
        report = await services.audit.verify(conn)
    assert report.ok, report
    return [r for r, _ in answers]


async def test_a_staff_read_of_a_citizen(client, services):
    person = await register_citizen(client, services, division="330106")
    officer = await staff_token(client, services, "receiving_officer", "330100")
    answers = await reads_are_group_committed(
        client, services, "citizen.read", f"/staff/citizens/{await citizen_id(client, person['access_token'])}",
        officer)
    assert answers[0].json()["resident_id_masked"] == person["resident_id"][:4] + "*" * 10 + person["resident_id"][-4:]


async def test_certificate_reads(client, services):
    person = await register_citizen(client, services, division="330106")
    await certificate_authority(services)
    certificate = await issue_certificate(services, await citizen_id(client, person["access_token"]))
    officer = await staff_token(client, services, "handling_officer", "330100")

    listed = await reads_are_group_committed(client, services, "certificate.listed", "/me/certificates",
                                             person["access_token"])
    await reads_are_group_committed(client, services, "certificate.qr_read",
                                    f"/me/certificates/{certificate.id}/qr", person["access_token"])
    await reads_are_group_committed(client, services, "certificate.read", f"/staff/certificates/{certificate.id}",
                                    officer)
    await reads_are_group_committed(client, services, "certificate_checks.read", "/me/certificate-checks",
                                    person["access_token"])
    assert [c["id"] for c in listed[0].json()] == [str(certificate.id)]


async def test_face_enrolment_reads(client, services):
    person = await register_citizen(client, services, division="330106")
    officer = await staff_token(client, services, "receiving_officer", "330100")
    await reads_are_group_committed(client, services, "face.enrolment_read", "/face/enrolment",
                                    person["access_token"])
    await reads_are_group_committed(
        client, services, "face.enrolment_read",
        f"/staff/citizens/{await citizen_id(client, person['access_token'])}/face-enrolment", officer)


async def test_the_notification_inbox(client, services):
    person = await register_citizen(client, services)
    async with services.db.transaction() as conn:
        await services.notifications.notify(conn, uuid.UUID(await citizen_id(client, person["access_token"])),
                                            "case.received", title=Text("办件已受理", "Case received"),
                                            body=Text("您的办件已受理。", "Your case was received."))
    answers = await reads_are_group_committed(client, services, "notification.listed", "/me/notifications",
                                              person["access_token"])
    assert answers[0].json()["unread"] == 1  # listing marks nothing read


async def test_the_event_log_of_a_subject(client, services):
    admin = await staff_token(client, services, "admin", "000000")
    await reads_are_group_committed(client, services, "event_log.read", "/admin/events", admin,
                                    params={"subject_type": "citizen", "subject_id": str(uuid.uuid4())})


async def test_the_citizens_information_and_its_changes(client, services):
    person = await register_citizen(client, services)
    await reads_are_group_committed(client, services, "citizen.information_read", "/me/information",
                                    person["access_token"])
    await reads_are_group_committed(client, services, "citizen.information_changes_read", "/me/information/changes",
                                    person["access_token"])


async def test_rating_follow_ups_and_case_figures(client, services):
    supervisor = await staff_token(client, services, "supervisor", "330100")
    await reads_are_group_committed(client, services, "rating_follow_up.listed", "/staff/rating-follow-ups",
                                    supervisor)
    today = dt.date.today()
    await reads_are_group_committed(client, services, "case_report.read", "/staff/monitoring/cases", supervisor,
                                    params={"from": (today - dt.timedelta(days=30)).isoformat(),
                                            "to": today.isoformat()})


async def test_data_request_logs(client, services):
    await register_demo_providers(services, lambda _: None)
    person = await person_with_records(client, services)
    officer = await handling_officer(client, services)
    asked = await agency_request(client, officer, person)
    assert asked.status_code == 201, asked.text

    await reads_are_group_committed(client, services, "data_requests.read", "/me/data-requests",
                                    person["access_token"])
    await reads_are_group_committed(client, services, "data_request.read", f"/staff/data-requests/{asked.json()['id']}",
                                    officer)
