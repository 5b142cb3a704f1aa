"""Case reads are audited by group commit, like every other read of personal data."""

from __future__ import annotations

from tests.cases.conftest import applicant, record_application
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
