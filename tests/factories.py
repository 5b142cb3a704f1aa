"""Arrange helpers: people, accounts and tokens created through the public API where one exists."""

from __future__ import annotations

import datetime as dt
import itertools
import re
import uuid
from typing import Any

from httpx import AsyncClient

from backend.actors import Actor
from backend.container import Services
from backend.face import repository as face_repository
from backend.identity.resident_id import check_character
from backend.identity.schemas import StaffCreate

STAFF_PASSWORD = "correct horse battery staple"
_phones = itertools.count(13900000000)
_sequence = itertools.count(101)


def resident_id(division: str = "330106", birth: dt.date = dt.date(1958, 3, 15), sequence: int | None = None) -> str:
    """A structurally valid GB 11643 number (invented)."""
    first17 = f"{division}{birth:%Y%m%d}{(sequence or next(_sequence)) % 1000:03d}"
    return first17 + check_character(first17)


def new_phone() -> str:
    return str(next(_phones))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def latest_code(services: Services, phone: str) -> str:
    """The code the development SMS gateway delivered to `phone`."""
    body = await services.db.pool.fetchval(
        "SELECT body FROM sms_outbox WHERE phone_hash = $1 ORDER BY id DESC LIMIT 1",
        services.cipher.lookup_hash(phone, purpose="phone"))
    match = re.search(r"\d{6}", body or "")
    assert match, f"no code was sent to {phone}"
    return match[0]


async def send_code(client: AsyncClient, services: Services, phone: str) -> str:
    response = await client.post("/auth/code", json={"phone": phone})
    assert response.status_code == 202, response.text
    return await latest_code(services, phone)


async def register_citizen(
    client: AsyncClient, services: Services, *, division: str = "330106", phone: str | None = None,
    name: str = "测试居民", number: str | None = None,
) -> dict[str, Any]:
    """Register a citizen through the API; return the token pair plus the phone and ID used."""
    phone = phone or new_phone()
    number = number or resident_id(division)
    code = await send_code(client, services, phone)
    response = await client.post("/citizens", json={
        "phone": phone, "code": code, "resident_id": number, "name": name, "home_division": division})
    assert response.status_code == 201, response.text
    return {**response.json(), "phone": phone, "resident_id": number}


async def create_staff(services: Services, username: str, role: str, division: str) -> None:
    await services.identity.create_staff(
        StaffCreate(username=username, display_name=username, password=STAFF_PASSWORD, role=role,  # type: ignore[arg-type]
                    division_code=division), Actor.system())


async def staff_token(client: AsyncClient, services: Services, role: str, division: str) -> str:
    username = f"{role.split('_')[0]}.{division}.{next(_sequence)}"
    await create_staff(services, username, role, division)
    response = await client.post("/auth/staff/sign-in", json={"username": username, "password": STAFF_PASSWORD})
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


# -- e-certificates -------------------------------------------------------------------------------

RESIDENCE_FIELDS = {"residence_division": "330106", "residence_address": "杭州市西湖区文三路 90 号",
                    "registered_on": "2025-09-01"}


async def certificate_authority(services: Services, authority_id: str = "330100-ga",
                                types: tuple[str, ...] = ("residence_permit", "driving_licence"),
                                name: str = "测试签发机关") -> str:
    """An issuing authority with an active signing key, plus a trust anchor if there is none yet."""
    import msgspec

    from backend.certificates.schemas import AuthorityCreate

    certificates = services.certificates
    await certificates.authorities.create_authority(msgspec.convert(
        {"id": authority_id, "name": name, "certificate_types": list(types)}, AuthorityCreate), Actor.system())
    await certificates.authorities.create_key(authority_id, Actor.system())
    if not [k for k in await certificates.authorities.list_keys() if k.purpose == "trust-anchor"]:
        await certificates.authorities.create_key(None, Actor.system())
    return authority_id


async def exchange_keys(services: Services, provinces: tuple[str, ...] = ("330000", "510000")) -> None:
    """An active case-exchange key for each province (signing hand-over records), plus a trust anchor."""
    authorities = services.certificates.authorities
    held = {k.province for k in await authorities.list_keys() if k.purpose == "case-exchange" and k.status == "active"}
    for province in set(provinces) - held:
        await authorities.create_key(None, Actor.system(), exchange_province=province)
    if not [k for k in await authorities.list_keys() if k.purpose == "trust-anchor"]:
        await authorities.create_key(None, Actor.system())


async def issue_certificate(services: Services, citizen_id: str, authority_id: str = "330100-ga",
                            certificate_type: str = "residence_permit", fields: dict[str, Any] | None = None,
                            **extra: Any) -> Any:
    """Issue through the service as the system (as a case's decision would)."""
    import msgspec

    from backend.certificates.schemas import CertificateIssue

    order = msgspec.convert({"authority_id": authority_id, "certificate_type": certificate_type,
                             "holder": {"kind": "citizen", "citizen_id": citizen_id},
                             "fields": fields or RESIDENCE_FIELDS, **extra}, CertificateIssue)
    return await services.certificates.issue(order, Actor.system())


async def citizen_id(client: AsyncClient, token: str) -> str:
    response = await client.get("/me", headers=bearer(token))
    assert response.status_code == 200, response.text
    return response.json()["id"]


async def enrol_face(client: AsyncClient, services: Services, citizen: dict[str, Any], photo: bytes,
                     *, staff_division: str = "330000") -> Any:
    """A receiving officer of `staff_division` enrols `photo` as the citizen's face reference; return
    the response."""
    token = await staff_token(client, services, "receiving_officer", staff_division)
    return await client.put(f"/staff/citizens/{await citizen_id(client, citizen['access_token'])}/face-enrolment",
                            files={"photo": ("photo.jpg", photo, "image/jpeg")}, data={"consent": "true"},
                            headers=bearer(token))


async def step_up(services: Services, tokens: dict[str, Any], level: str = "L2", capture: str | None = None) -> str:
    """Raise the citizen's session to `level` as a passed face check would (the face checks have their
    own tests); return the new access token. With `capture` (`android-key-attestation`, `kiosk:<id>`,
    `unattested`…), the check is recorded as made through that capture, as `FaceAttempts.conclude` does."""
    claims = services.tokens.read(tokens["access_token"])
    actor = Actor(kind="citizen", id=claims.sub, session_id=claims.session_id)
    async with services.db.transaction() as conn:
        access = (await services.identity.elevate(conn, actor, level, "test")).access_token
        if capture is not None:
            await face_repository.record_session_capture(conn, uuid.UUID(claims.session_id), level, capture, None)
        return access


def credit_code(division: str = "510100", serial: int | None = None) -> str:
    """A GB 32100 code with a correct check character (invented), registered in `division`."""
    from backend.identity.credit_code import check_character

    first17 = f"91{division}MA{(serial or next(_sequence)) % 10**7:07d}"
    return first17 + check_character(first17)
