"""Printing at a kiosk: a print job is a record (a retried request never prints twice), the page comes
from the certificate renderer, and a printer out of paper keeps the job, which prints once paper is in."""

import io
import uuid

from PIL import Image

from kiosk.device.printer import FilePrinter
from kiosk.device.reader import SimulatedCardReader
from kiosk.device.runtime import KioskDevice
from tests.factories import certificate_authority, issue_certificate, register_citizen, resident_id
from tests.kiosk.conftest import id_card, session, sign_in


async def signed_in_holder(client, services, register_kiosk):
    """A kiosk, a citizen signed in at it, and a certificate of theirs."""
    citizen = await register_citizen(client, services)
    device = await register_kiosk()
    signed_in = await sign_in(device, id_card(citizen["resident_id"], photo="obama.jpg"), live_photo="obama2.jpg")
    assert signed_in.status_code == 201, signed_in.text
    await certificate_authority(services)
    citizen_id = await services.db.pool.fetchval("SELECT id::text FROM citizens")
    certificate = await issue_certificate(services, citizen_id)
    return device, session(signed_in), str(certificate.id)


async def test_a_retried_print_request_finds_the_first_job(client, services, register_kiosk):
    device, resident, certificate_id = await signed_in_holder(client, services, register_kiosk)
    order = {"document_kind": "certificate", "document_id": certificate_id}

    first = await device.client.post("/kiosk/v1/print-jobs", json=order, headers={**resident, "Idempotency-Key": "k-1"})
    retried = await device.client.post("/kiosk/v1/print-jobs", json=order, headers={**resident, "Idempotency-Key": "k-1"})
    other = await device.client.post("/kiosk/v1/print-jobs", json={**order, "copies": 2},
                                     headers={**resident, "Idempotency-Key": "k-1"})
    keyless = await device.client.post("/kiosk/v1/print-jobs", json=order, headers=resident)
    strangers = await device.client.post("/kiosk/v1/print-jobs", json={**order, "document_id": str(uuid.uuid4())},
                                         headers={**resident, "Idempotency-Key": "k-2"})

    assert first.status_code == 201 and first.json()["status"] == "queued"
    assert retried.status_code == 200 and retried.json()["id"] == first.json()["id"]
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    assert keyless.status_code == 422
    assert strangers.status_code == 404
    assert await services.db.pool.fetchval("SELECT count(*) FROM kiosk_print_jobs") == 1


async def test_out_of_paper_keeps_the_job_which_prints_once_paper_is_in(client, services, register_kiosk, tmp_path):
    device, resident, certificate_id = await signed_in_holder(client, services, register_kiosk)
    printer = FilePrinter(tmp_path / "printed", sheets=0)
    kiosk = KioskDevice(device.key, device.client, SimulatedCardReader({}), printer)
    order = {"document_kind": "certificate", "document_id": certificate_id}
    job = (await device.client.post("/kiosk/v1/print-jobs", json=order,
                                    headers={**resident, "Idempotency-Key": "print-1"})).json()

    assert await kiosk.print_waiting() == 0
    waiting = (await device.client.get(f"/kiosk/v1/print-jobs/{job['id']}", headers=resident)).json()
    beat = await kiosk.heartbeat()
    printer.load_paper(10)
    assert await kiosk.print_waiting() == 1
    printed = (await device.client.get(f"/kiosk/v1/print-jobs/{job['id']}", headers=resident)).json()
    again = await kiosk.print_waiting()
    retried = await device.client.post("/kiosk/v1/print-jobs", json=order,
                                       headers={**resident, "Idempotency-Key": "print-1"})

    assert waiting["status"] == "waiting" and waiting["waiting_reason"] == "out-of-paper"
    assert beat["pending_print_jobs"] == 1
    assert printed["status"] == "printed" and printed["attempts"] == 2 and printed["printed_at"]
    assert again == 0 and retried.status_code == 200 and retried.json()["status"] == "printed"
    pages = printer.printed()
    assert [p.stem for p in pages] == [job["id"]] and printer.sheets == 9
    assert Image.open(io.BytesIO(pages[0].read_bytes())).size == (1240, 1754)  # the certificate renderer's A4 page
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'kiosk_print_job' ORDER BY at")]
    assert actions == ["kiosk.print_requested", "kiosk.print_started", "kiosk.print_waiting",
                       "kiosk.print_started", "kiosk.print_done"]
    printed_audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'certificate.printed'")
    assert printed_audit["detail"]["kiosk"] == device.id


async def test_a_job_is_taken_by_its_own_kiosk_only_and_a_printed_one_never_again(client, services, register_kiosk):
    device, resident, certificate_id = await signed_in_holder(client, services, register_kiosk)
    other = await register_kiosk()
    order = {"document_kind": "certificate", "document_id": certificate_id}
    job = (await device.client.post("/kiosk/v1/print-jobs", json=order,
                                    headers={**resident, "Idempotency-Key": "one"})).json()

    assert (await other.client.post("/kiosk/v1/printer/take")).status_code == 204
    assert (await other.client.get(f"/kiosk/v1/printer/jobs/{job['id']}/document")).status_code == 404
    untaken = await device.client.get(f"/kiosk/v1/printer/jobs/{job['id']}/document")
    taken = await device.client.post("/kiosk/v1/printer/take")
    done = await device.client.post(f"/kiosk/v1/printer/jobs/{job['id']}/outcome", json={"outcome": "printed"})
    repeated = await device.client.post(f"/kiosk/v1/printer/jobs/{job['id']}/outcome", json={"outcome": "printed"})

    assert untaken.status_code == 409
    assert taken.status_code == 200 and taken.json()["id"] == job["id"]
    assert done.json()["status"] == "printed" and repeated.status_code == 200
    assert (await device.client.post("/kiosk/v1/printer/take")).status_code == 204


async def test_a_job_waiting_for_paper_is_cancelled_with_its_session_and_never_prints_for_the_next(
        client, services, register_kiosk, tmp_path):
    device, resident, certificate_id = await signed_in_holder(client, services, register_kiosk)
    printer = FilePrinter(tmp_path / "printed", sheets=0)
    kiosk = KioskDevice(device.key, device.client, SimulatedCardReader({}), printer)
    job = (await device.client.post("/kiosk/v1/print-jobs", json={"document_kind": "certificate",
                                                                 "document_id": certificate_id},
                                    headers={**resident, "Idempotency-Key": "print-gone"})).json()
    assert await kiosk.print_waiting() == 0  # out of paper: the job waits

    await device.client.delete("/kiosk/v1/session", params={"reason": "card-removed"}, headers=resident)
    next_resident = await sign_in(device, id_card(resident_id("330106"), "下一位"))
    printer.load_paper(10)

    assert next_resident.status_code == 201
    assert await kiosk.print_waiting() == 0 and printer.printed() == []
    assert await services.db.pool.fetchval("SELECT status FROM kiosk_print_jobs WHERE id = $1",
                                           uuid.UUID(job["id"])) == "cancelled"
