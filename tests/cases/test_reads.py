"""Case reads are audited by group commit, like every other read of personal data."""

from __future__ import annotations

import uuid

from tests.cases.conftest import act, applicant, household_application, marriage_application, record_application
from tests.cases.test_ratings_and_figures import rejected_case
from tests.factories import bearer, staff_token
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


async def test_every_resident_id_and_phone_in_a_form_is_masked_at_any_depth(client, services):
    """The applicant's own, a partner's (`partner_resident_id`) and a household member's (`members[]`),
    in the applicant's answers and the staff view alike; the stored form keeps them whole."""
    person = await applicant(client, services, "id_card", "household_register", "real_estate_certificate")
    member, partner = "330106201001010016", "510104199001010011"
    application = household_application(person)
    application["form"]["members"] = [{"name": "陈小静", "resident_id": member, "relation": "子女"}]
    applied = await client.post("/me/cases", headers=person["headers"], json=application)
    joint = await client.post("/me/cases", headers=person["headers"], json=await marriage_application(client, person))
    officer = await staff_token(client, services, "handling_officer", "510000")
    staff = await client.get(f"/staff/cases/{joint.json()['id']}", headers=bearer(officer))

    assert applied.status_code == 201 and joint.status_code == 201, applied.text + joint.text
    for answer in (applied, joint, staff):
        for whole in (person["resident_id"], person["phone"], member, partner):
            assert whole not in answer.text
    assert applied.json()["form"]["members"][0]["resident_id"] == "3301**********0016"
    assert staff.json()["form"]["partner_resident_id"] == "5101**********0011"
    assert staff.json()["form"]["phone"] == person["phone"][:3] + "****" + person["phone"][-4:]


async def test_acting_on_a_case_does_not_move_it_between_pages_of_the_staff_list(client, services):
    person = await applicant(client, services, "id_card")
    made = [(await client.post("/me/cases", headers=person["headers"], json=record_application(person))).json()["id"]
            for _ in range(4)]
    officer = await staff_token(client, services, "handling_officer", "510000")

    async def page(offset: int) -> list[str]:
        listed = await client.get("/staff/cases", headers=bearer(officer), params={"limit": 2, "offset": offset})
        return [c["id"] for c in listed.json()["items"]]

    first = await page(0)
    assert (await act(client, officer, made[0], "accept")).status_code == 200  # the oldest, on the next page
    second = await page(2)

    assert set(made) <= set(first + second) and len(first + second) == len(set(first + second))
