"""Retries of a case's creating POSTs under one `Idempotency-Key` answer the first result and create
nothing more: a liaison message, a rating. The creating POSTs that take no key are the ones README
lists, each for its reason (an upload repeated is the same material)."""

from __future__ import annotations

import uuid

from backend.config import load_settings
from mobile_api.app import create_app
from tests.cases.conftest import applicant, record_application, upload
from tests.cases.test_ratings_and_figures import rejected_case
from tests.factories import bearer, staff_token
from tests.materials.test_store import pdf


async def test_a_retried_liaison_message_answers_the_first_and_is_stored_once(client, services):
    person = await applicant(client, services, "id_card")
    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    officer = await staff_token(client, services, "handling_officer", "510000")
    key = {**bearer(officer), "Idempotency-Key": f"message-{uuid.uuid4()}"}

    first = await client.post(f"/staff/cases/{case['id']}/messages", headers=key, json={"body": "请核对户籍地址"})
    retry = await client.post(f"/staff/cases/{case['id']}/messages", headers=key, json={"body": "请核对户籍地址"})
    other = await client.post(f"/staff/cases/{case['id']}/messages", headers=key, json={"body": "另一条"})

    assert first.status_code == 201, first.text
    assert retry.status_code == 201 and retry.json() == first.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    assert other.status_code == 422 and other.json()["type"] == "/problems/idempotency-key-reused"
    seen = await client.get(f"/staff/cases/{case['id']}", headers=bearer(officer))
    assert [m["body"] for m in seen.json()["messages"]] == ["请核对户籍地址"]
    async with services.db.connection() as conn:
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE record_id = $1 AND action = 'case.message'", case["id"])
    assert audited == 1


async def test_a_retried_rating_answers_the_first_and_a_second_rating_is_still_refused(client, services):
    person = await applicant(client, services, "id_card")
    handling = await staff_token(client, services, "handling_officer", "510000")
    case_id = await rejected_case(client, services, person, handling)
    key = {**person["headers"], "Idempotency-Key": f"rating-{uuid.uuid4()}"}

    rated = await client.post(f"/me/cases/{case_id}/rating", headers=key, json={"score": 1, "comment": "无记录"})
    retry = await client.post(f"/me/cases/{case_id}/rating", headers=key, json={"score": 1, "comment": "无记录"})
    other_key = await client.post(f"/me/cases/{case_id}/rating", json={"score": 5},
                                  headers={**person["headers"], "Idempotency-Key": f"rating-{uuid.uuid4()}"})
    no_key = await client.post(f"/me/cases/{case_id}/rating", headers=person["headers"], json={"score": 5})

    assert rated.status_code == 201, rated.text
    assert retry.status_code == 201 and retry.json() == rated.json()
    assert retry.headers["Idempotent-Replayed"] == "true"
    for refused in (other_key, no_key):
        assert refused.status_code == 409 and refused.json()["type"] == "/problems/already-rated"
    async with services.db.connection() as conn:
        follow_ups = await conn.fetchval("SELECT count(*) FROM rating_follow_ups WHERE case_id = $1", case_id)
        audited = await conn.fetchval(
            "SELECT count(*) FROM audit_log WHERE record_id = $1 AND action = 'case.rated'", case_id)
    assert (follow_ups, audited) == (1, 1)


# README, "Conventions": the creating POSTs that take no Idempotency-Key, each for the reason given there.
NOT_IDEMPOTENT_BY_KEY = {
    "registerCitizen",
    "kioskSignIn", "createLivenessChallenge", "createRepresentedLivenessChallenge", "createPensionerLivenessChallenge",
    "kioskPensionChallenge", "kioskPensionRecognise", "createInstallationNonce",
    "createCertificateConsent", "createWebhookSubscriber", "registerDataProvider",
    "registerInstallation", "kioskFaceEnrolment", "authoriseMyRelative", "authoriseRelativeAtWindow", "suspendPension",
    "uploadMaterial", "kioskUploadMaterial",
}


def test_every_creating_post_takes_an_idempotency_key_or_is_a_listed_exception():
    document = create_app(load_settings({}, mode="test")).openapi_schema.to_schema()
    without_key = {op["operationId"] for op in (item.get("post") for item in document["paths"].values())
                   if op and "201" in op.get("responses", {})
                   and "Idempotency-Key" not in [p.get("name") for p in op.get("parameters", [])]}
    assert without_key == NOT_IDEMPOTENT_BY_KEY


async def test_the_same_upload_again_is_the_same_material(client, services):
    person = await applicant(client, services, "id_card")
    first = await upload(client, person, pdf(1), "声明.pdf", "application/pdf")
    again = await upload(client, person, pdf(1), "声明.pdf", "application/pdf")
    assert again == first
    async with services.db.connection() as conn:
        stored = await conn.fetchval("SELECT count(*) FROM materials WHERE owner_citizen_id = $1",
                                     uuid.UUID(person["id"]))
    assert stored == 1
