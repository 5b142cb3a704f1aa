"""Arrange helpers of the pension tests: a 四川 paying agency (510000) with its certificate authority,
and pensioners it pays who live in 杭州 (330106, under 330100) — the cross-province case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from backend.china_time import today
from tests import face_samples
from tests.factories import (
    bearer,
    certificate_authority,
    citizen_id,
    enrol_face,
    register_citizen,
    resident_id,
    staff_token,
)

AGENCY = "510000"
HOME = "510107"        # 成都市武侯区: where the pensioner is registered
RESIDENCE = "330106"   # 杭州市西湖区: where the pensioner lives now
HANGZHOU = "330100"


async def agency(client, services, **settings: Any) -> str:
    """The 四川 agency with its authority; return a pension officer's token."""
    await certificate_authority(services, "510000-rst", types=("pension_eligibility_record",), name="四川省人社厅")
    officer = await staff_token(client, services, "pension_officer", AGENCY)
    response = await client.put(f"/staff/pension/agencies/{AGENCY}", headers=bearer(officer), json={
        "name": "四川省社会保险事业管理局", "authority_id": "510000-rst",
        "silent_signal_kinds": ["medical_settlement", "counter_collection"], **settings})
    assert response.status_code == 200, response.text
    return officer


async def pensioner(client, services, officer: str, *, due_in_days: int = 10, enrol: bool = True,
                    consent: bool = True, residence: str = RESIDENCE, photo: str = "obama3.jpg") -> dict[str, Any]:
    """A registered citizen of 成都 on the 四川 roster, living in `residence`; with a face reference and
    the face-recognition consent unless told otherwise."""
    citizen = await register_citizen(client, services, division=HOME, name="王建国",
                                     number=resident_id(HOME, dt.date(1952, 3, 15)))
    citizen["id"] = await citizen_id(client, citizen["access_token"])
    if enrol:
        assert (await enrol_face(client, services, citizen, face_samples.photo(photo),
                                 staff_division=AGENCY)).status_code == 200
    if consent:
        given = await client.put("/me/face-recognition-consent", headers=bearer(citizen["access_token"]))
        assert given.status_code == 200, given.text
    added = await client.post(f"/staff/pension/agencies/{AGENCY}/roster", headers=bearer(officer), json={
        "resident_id": citizen["resident_id"], "residence_division": residence, "scheme": "employee",
        "next_due": (today() + dt.timedelta(days=due_in_days)).isoformat()})
    assert added.status_code == 201, added.text
    citizen["entry"] = added.json()
    return citizen


def frames_for(challenge: dict, source: str = "obama.jpg") -> list[bytes]:
    poses = ["frontal"]
    for step in challenge["steps"]:
        poses += [step["action"], "frontal"]
    return face_samples.burst(face_samples.photo(source), poses)


def files(frames: list[bytes]) -> list:
    return [("frames", (f"frame{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]


async def step_up(client, citizen: dict) -> str:
    """The citizen's own liveness check; return the L3 access token."""
    challenge = (await client.post("/face/liveness/challenges", json={},
                                   headers=bearer(citizen["access_token"]))).json()
    answered = await client.post(f"/face/liveness/challenges/{challenge['challenge_id']}/answer",
                                 files=files(frames_for(challenge)), headers=bearer(citizen["access_token"]))
    assert answered.status_code == 200, answered.text
    return answered.json()["tokens"]["access_token"]


async def window_staff(client, services, division: str = HANGZHOU, role: str = "receiving_officer") -> str:
    return await staff_token(client, services, role, division)
