"""Case reads are audited by group commit, like every other read of personal data."""

from __future__ import annotations

import uuid

from tests.cases.conftest import applicant, record_application
from tests.cases.test_ratings_and_figures import rejected_case
from tests.factories import staff_token
from tests.foundation.test_audited_reads import reads_are_group_committed


async def test_case_reads_by_the_applicant_and_by_staff(client, services):
    person = await applicant(client, services, "id_card")
    case = (await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()
    officer = await staff_token(client, services, "handling_officer", "510000")

    mine = await reads_are_group_committed(client, services, "case.read", f"/me/cases/{case['id']}",
                                           person["access_token"])
    await reads_are_group_committed(client, services, "case.listed", "/me/cases", person["access_token"])
    staff = await reads_are_group_committed(client, services, "case.read", f"/staff/cases/{case['id']}", officer)
    await reads_are_group_committed(client, services, "case.listed", "/staff/cases", officer)
    assert mine[0].json()["number"] == staff[0].json()["number"] == case["number"]


async def test_reading_my_rating_is_audited_and_someone_elses_looks_missing(client, services):
    person = await applicant(client, services, "id_card")
    stranger = await applicant(client, services, "id_card", name="王芳")
    handling = await staff_token(client, services, "handling_officer", "510000")
    case_id = await rejected_case(client, services, person, handling)
    path = f"/me/cases/{case_id}/rating"

    not_rated = await client.get(path, headers=person["headers"])
    assert (await client.post(path, headers=person["headers"], json={"score": 4})).status_code == 201
    mine = await reads_are_group_committed(client, services, "case.rating_read", path, person["access_token"])
    not_theirs = await client.get(path, headers=stranger["headers"])
    missing = await client.get(f"/me/cases/{uuid.uuid4()}/rating", headers=stranger["headers"])

    assert not_rated.status_code == 404 and mine[0].json()["score"] == 4
    assert not_theirs.status_code == missing.status_code == 404
    assert not_theirs.json()["detail"] == missing.json()["detail"]
    async with services.db.connection() as conn:
        rows = await conn.fetch(
            """SELECT action, detail->>'rated' AS rated, detail->>'reason' AS reason FROM audit_log
                WHERE record_id = $1 AND action IN ('case.rating_read', 'case.access_refused')""", case_id)
    assert [r["rated"] for r in rows if r["action"] == "case.rating_read"].count("false") == 1
    assert [r["reason"] for r in rows if r["action"] == "case.access_refused"] == ["out-of-reach"]
