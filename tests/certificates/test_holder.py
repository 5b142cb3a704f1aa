"""The holder's wallet: list, read, QR text, QR image, printable PNG and PDF — and nobody else's."""

from __future__ import annotations

import io

import cv2
import numpy as np
from PIL import Image

from backend.certificates import render
from backend.certificates.verifier import verify_qr
from tests.factories import (
    bearer,
    certificate_authority,
    citizen_id,
    issue_certificate,
    register_citizen,
    staff_token,
)


def decode_qr(png: bytes) -> str:
    image = cv2.cvtColor(np.array(Image.open(io.BytesIO(png)).convert("RGB")), cv2.COLOR_RGB2BGR)
    # OpenCV's Aruco-based detector locates dense codes more reliably than its classic one.
    text, _, _ = cv2.QRCodeDetectorAruco().detectAndDecode(image)
    return text


async def wallet(client, services):
    await certificate_authority(services, "330100-ga")
    person = await register_citizen(client, services, name="王建国")
    certificate = await issue_certificate(services, await citizen_id(client, person["access_token"]))
    return person["access_token"], certificate


async def test_the_holder_lists_reads_and_fetches_the_qr_of_their_certificates(client, services):
    token, certificate = await wallet(client, services)
    other = await register_citizen(client, services)
    await issue_certificate(services, await citizen_id(client, other["access_token"]))

    listed = (await client.get("/me/certificates", headers=bearer(token))).json()
    detail = (await client.get(f"/me/certificates/{certificate.id}", headers=bearer(token))).json()
    qr = (await client.get(f"/me/certificates/{certificate.id}/qr", headers=bearer(token))).json()

    assert [c["number"] for c in listed] == [certificate.number]
    assert listed[0]["status"] == "valid" and listed[0]["type_name"] == "居住证"
    assert detail["fields"]["residence_address"] == "杭州市西湖区文三路 90 号"
    online = (await client.post("/certificates/verify", json={"qr_text": qr["qr_text"]})).json()
    assert online["valid"] and online["certificate"]["number"] == certificate.number
    actions = {r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_id = $1", str(certificate.id))}
    assert {"certificate.read", "certificate.qr_read"} <= actions


async def test_another_citizen_cannot_see_my_certificate(client, services):
    _, certificate = await wallet(client, services)
    stranger = (await register_citizen(client, services))["access_token"]

    for suffix in ("", "/qr", "/qr.png", "/printout.pdf", "/consents"):
        response = await client.get(f"/me/certificates/{certificate.id}{suffix}", headers=bearer(stranger))
        assert response.status_code == 404, suffix
    assert (await client.get(f"/me/certificates/{certificate.id}")).status_code == 401
    # Each attempt is in the audit log, under the certificate asked for.
    refused = await services.db.pool.fetch(
        "SELECT action, detail->>'reason' AS reason FROM audit_log WHERE record_id = $1 AND action LIKE '%refused'",
        str(certificate.id))
    assert sorted((r["action"], r["reason"]) for r in refused) == sorted([
        ("certificate.read_refused", "out-of-reach"), ("certificate.qr_read_refused", "out-of-reach"),
        ("certificate.qr_read_refused", "out-of-reach"), ("certificate.printed_refused", "out-of-reach"),
        ("certificate_consents.read_refused", "out-of-reach")])


async def test_staff_outside_the_issuing_division_cannot_tell_a_certificate_from_a_missing_one(client, services):
    _, certificate = await wallet(client, services)
    sichuan = await staff_token(client, services, "receiving_officer", "510000")
    missing = "00000000-0000-4000-8000-000000000000"

    answers = [await client.get(f"/staff/certificates/{number}", headers=bearer(sichuan))
               for number in (certificate.id, missing)]

    bodies = [{k: v for k, v in a.json().items() if k not in ("instance", "request_id")} for a in answers]
    assert [a.status_code for a in answers] == [404, 404] and bodies[0] == bodies[1]
    refused = await services.db.pool.fetch(
        "SELECT record_id, detail->>'reason' AS reason FROM audit_log WHERE action = 'certificate.read_refused'")
    assert sorted((r["record_id"], r["reason"]) for r in refused) == sorted([(str(certificate.id), "out-of-reach"),
                                                                             (missing, "missing")])


async def test_the_qr_image_scans_back_to_the_signed_text(client, services):
    token, certificate = await wallet(client, services)
    qr_text = (await client.get(f"/me/certificates/{certificate.id}/qr", headers=bearer(token))).json()["qr_text"]

    response = await client.get(f"/me/certificates/{certificate.id}/qr.png", headers=bearer(token))

    assert response.status_code == 200 and response.headers["content-type"] == "image/png"
    assert decode_qr(response.content) == qr_text


def test_the_qr_code_uses_error_correction_level_q_in_alphanumeric_mode():
    code = render.qr_code("TB1:6BFOXN%TS3DH0YOJ58S S-W5HDC *M0II5XHC9B5G2+$N IOP-IA%NFQGRJPC%OQHIZC4.OI1RM8ZA.A5:S9MKN")

    assert code.error == "Q" and code.mode == "alphanumeric"


async def test_printable_png_and_pdf_carry_the_certificate_and_a_scannable_qr(client, services):
    token, certificate = await wallet(client, services)
    qr_text = (await client.get(f"/me/certificates/{certificate.id}/qr", headers=bearer(token))).json()["qr_text"]

    png = await client.get(f"/me/certificates/{certificate.id}/printout.png", headers=bearer(token))
    pdf = await client.get(f"/me/certificates/{certificate.id}/printout.pdf", headers=bearer(token))

    page = Image.open(io.BytesIO(png.content))
    assert png.headers["content-type"] == "image/png" and page.size == render.PAGE
    assert decode_qr(png.content) == qr_text
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    assert b"/MediaBox" in pdf.content
    printed = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.printed' AND record_id = $1", str(certificate.id))
    assert printed == 2


async def test_staff_of_the_issuing_division_print_at_a_window(client, services):
    _, certificate = await wallet(client, services)
    hangzhou = await staff_token(client, services, "receiving_officer", "330100")
    sichuan = await staff_token(client, services, "receiving_officer", "510000")

    printed = await client.get(f"/staff/certificates/{certificate.id}/printout.pdf", headers=bearer(hangzhou))
    refused = await client.get(f"/staff/certificates/{certificate.id}/printout.pdf", headers=bearer(sichuan))
    read = await client.get(f"/staff/certificates/{certificate.id}", headers=bearer(hangzhou))

    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    assert refused.status_code == 404 and refused.json()["type"] == "/problems/not-found"
    assert read.status_code == 200 and read.json()["number"] == certificate.number


def test_the_page_is_drawn_even_without_the_chinese_font(monkeypatch):
    import datetime as dt
    import uuid

    from backend.certificates.qr_format import CertificateClaim, Claims, HolderClaim, key_id, sign
    from backend.certificates.schemas import CertificateView, HolderView
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    text = sign(Claims("330100-ga", int(now.timestamp()), int(now.timestamp()) + 3600, CertificateClaim(
        1, "330100-ga-2026-00000009", "residence_permit", HolderClaim("citizen", "王建国", "5101**********0010"),
        {"residence_address": "杭州"})), key, key_id(key.public_key()))
    view = CertificateView(
        id=uuid.uuid4(), number="330100-ga-2026-00000009", certificate_type="residence_permit", type_name="居住证",
        authority_id="330100-ga", authority_name="杭州市公安局", division_code="330100",
        holder=HolderView("citizen", "王建国", "5101**********0010"), fields={"residence_address": "杭州"},
        issued_at=now, valid_from=now, expires_at=now + dt.timedelta(hours=1), status="revoked", kid="x")
    monkeypatch.setattr(render, "FONT_PATH", "/nonexistent/font.ttc")
    render._font.cache_clear()
    try:
        png = render.certificate_png(view, text)
    finally:
        render._font.cache_clear()

    assert decode_qr(png) == text
    assert verify_qr(text, _trust_for(key)).valid


def _trust_for(key):
    import time

    from backend.certificates.trust_lists import TrustList, signing_key_jwk, trust_list_document

    now = int(time.time())
    jwk = signing_key_jwk(key.public_key(), issuer="330100-ga", issuer_name="杭州市公安局", division="330100",
                          status="active", valid_from=now - 60, certificate_types=["residence_permit"])
    return TrustList.of(trust_list_document([jwk], now, now + 60))


async def test_rendering_is_limited_per_person(client, services):
    from backend.certificates.registry import RENDERS_PER_MINUTE

    token, certificate = await wallet(client, services)

    answers = [(await client.get(f"/me/certificates/{certificate.id}/qr.png", headers=bearer(token))).status_code
               for _ in range(RENDERS_PER_MINUTE)]
    refused = await client.get(f"/me/certificates/{certificate.id}/printout.pdf", headers=bearer(token))
    text = await client.get(f"/me/certificates/{certificate.id}/qr", headers=bearer(token))  # nothing to draw

    assert answers == [200] * RENDERS_PER_MINUTE
    assert refused.status_code == 429 and int(refused.headers["retry-after"]) >= 1
    assert text.status_code == 200
