"""Staff issue certificates for authorities inside their division; fields follow the type's schema;
holders are checked; every issue is audited and idempotent; the QR verifies anywhere."""

from __future__ import annotations

import datetime as dt
import zlib

import base45
import cbor2

from backend.certificates.trust_lists import anchors_from_jwks, read_trust_list
from backend.certificates.verifier import verify_qr
from tests.factories import (
    RESIDENCE_FIELDS,
    bearer,
    certificate_authority,
    citizen_id,
    issue_certificate,
    register_citizen,
    resident_id,
    staff_token,
)

BUSINESS_FIELDS = {"entity_type": "有限责任公司", "legal_representative": "王建国", "registered_capital": "100万元人民币",
                   "established_on": "2018-04-16", "address": "成都市高新区天府大道中段 1 号",
                   "business_scope": "软件开发"}


def residence_order(holder: dict, **changes: object) -> dict:
    return {"authority_id": "330100-ga", "certificate_type": "residence_permit", "holder": holder,
            "fields": RESIDENCE_FIELDS} | changes


async def published_trust(client):
    anchors = anchors_from_jwks((await client.get("/.well-known/tongban/trust-anchors")).content)
    response = await client.get("/.well-known/tongban/trust-list")
    assert response.status_code == 200 and response.headers["content-type"].startswith("application/jose")
    return read_trust_list(response.text, anchors)


async def test_a_handling_officer_issues_a_certificate_that_verifies_in_another_province(client, services):
    await certificate_authority(services, "330100-ga")
    number = resident_id("510107")
    citizen = await register_citizen(client, services, division="510107", name="王建国", number=number)
    officer = await staff_token(client, services, "handling_officer", "330000")

    response = await client.post("/staff/certificates", json=residence_order(
        {"kind": "citizen", "resident_id": number}), headers=bearer(officer))

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["status"] == "valid" and body["type_name"] == "居住证"
    assert body["number"].startswith("330100-ga-20") and body["holder"]["name"] == "王建国"
    assert body["holder"]["identifier"] == number[:4] + "*" * 10 + number[-4:]
    # A verifier in Sichuan holds the same national trust list and verifies offline.
    qr_text = (await client.get(f"/me/certificates/{body['id']}/qr",
                                headers=bearer(citizen["access_token"]))).json()["qr_text"]
    sichuan_verifier = await published_trust(client)
    result = verify_qr(qr_text, sichuan_verifier)
    assert result.valid and result.issuer.division_code == "330100"
    assert result.certificate.fields == RESIDENCE_FIELDS
    audit = await services.db.pool.fetchrow(
        "SELECT actor_kind, division_code, detail FROM audit_log WHERE action = 'certificate.issued' AND record_id = $1",
        body["id"])
    assert audit["actor_kind"] == "staff" and audit["division_code"] == "330100"
    assert audit["detail"]["number"] == body["number"]


async def test_the_qr_payload_carries_the_masked_id_and_the_name_only(client, services):
    await certificate_authority(services, "330100-ga")
    number = resident_id("330106")
    await register_citizen(client, services, name="陈静", number=number)
    officer = await staff_token(client, services, "handling_officer", "330100")

    body = (await client.post("/staff/certificates", json=residence_order({"kind": "citizen", "resident_id": number}),
                              headers=bearer(officer))).json()
    qr_text = await services.db.pool.fetchval("SELECT qr_text FROM certificates WHERE id = $1::uuid", body["id"])

    claims = cbor2.loads(cbor2.loads(zlib.decompress(base45.b45decode(qr_text[4:]))).value[2])
    assert claims[-65537]["h"] == {"k": "citizen", "n": "陈静", "id": number[:4] + "**********" + number[-4:]}
    assert number not in str(claims)


async def test_a_retried_issue_with_the_same_key_returns_the_first_certificate(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    officer = await staff_token(client, services, "handling_officer", "330100")
    order = residence_order({"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])})
    headers = {**bearer(officer), "Idempotency-Key": "issue-1"}

    first = await client.post("/staff/certificates", json=order, headers=headers)
    retry = await client.post("/staff/certificates", json=order, headers=headers)

    assert first.status_code == retry.status_code == 201
    assert retry.json() == first.json() and retry.headers["idempotent-replayed"] == "true"
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 1


async def test_a_case_reference_issues_once(services, client):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    holder = await citizen_id(client, citizen["access_token"])

    first = await issue_certificate(services, holder, reference="case:42")
    again = await issue_certificate(services, holder, reference="case:42")

    assert first.id == again.id
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 1


async def test_a_staff_order_names_no_case_and_its_reference_never_takes_a_decisions_certificate(client, services):
    """A case's decision issues its own certificate (linked to the case, reference `case:<number>`): over
    HTTP an order cannot name a case, and a staff reference spelt like a decision's is the staff's own."""
    await certificate_authority(services, "330100-ga")
    holder_id = await citizen_id(client, (await register_citizen(client, services))["access_token"])
    officer = await staff_token(client, services, "handling_officer", "330100")
    holder = {"kind": "citizen", "citizen_id": holder_id}

    with_case = await client.post("/staff/certificates", headers=bearer(officer),
                                  json={**residence_order(holder), "case_id": "00000000-0000-0000-0000-000000000001"})
    by_staff = await client.post("/staff/certificates", headers=bearer(officer),
                                 json=residence_order(holder, reference="case:330106-20261201-000001"))
    by_decision = await issue_certificate(services, holder_id, reference="case:330106-20261201-000001")

    assert with_case.status_code == 422 and with_case.json()["errors"][0]["pointer"] == "#/case_id"
    assert by_staff.status_code == 201, by_staff.text
    assert str(by_decision.id) != by_staff.json()["id"]  # the decision gets a certificate of its own
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 2


async def test_fields_must_satisfy_the_type_schema(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    officer = await staff_token(client, services, "handling_officer", "330100")
    holder = {"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])}

    cases = {
        "#/fields/residence_division": {**RESIDENCE_FIELDS, "residence_division": "33010"},
        "#/fields/registered_on": {**RESIDENCE_FIELDS, "registered_on": "2025-02-30"},
        "#/fields/nickname": {**RESIDENCE_FIELDS, "nickname": "x"},
        "#/fields/residence_address": {k: v for k, v in RESIDENCE_FIELDS.items() if k != "residence_address"},
    }
    for pointer, fields in cases.items():
        response = await client.post("/staff/certificates", json=residence_order(holder, fields=fields),
                                     headers=bearer(officer))
        assert response.status_code == 422, (pointer, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["errors"][0]["pointer"] == pointer
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 0


async def test_validity_follows_the_type(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    officer = await staff_token(client, services, "handling_officer", "330100")
    holder = {"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])}

    too_long = await client.post("/staff/certificates", json=residence_order(holder, expires_on="2099-01-01"),
                                 headers=bearer(officer))
    past = await client.post("/staff/certificates", json=residence_order(holder, expires_on="2020-01-01"),
                             headers=bearer(officer))
    later = await client.post("/staff/certificates", json=residence_order(
        holder, valid_from=str(dt.date.today() + dt.timedelta(days=300)),
        expires_on=str(dt.date.today() + dt.timedelta(days=400))), headers=bearer(officer))

    assert too_long.status_code == 422 and "at most 365 days" in too_long.json()["detail"]
    assert past.status_code == 422 and past.json()["errors"][0]["pointer"] == "#/expires_on"
    for valid_from in ("0001-01-01", "9999-12-31"):
        absurd = await client.post("/staff/certificates", json=residence_order(holder, valid_from=valid_from),
                                   headers=bearer(officer))
        assert absurd.status_code == 422 and absurd.json()["errors"][0]["pointer"] == "#/valid_from"
    assert later.status_code == 201 and later.json()["status"] == "not-yet-valid"
    last_day = dt.date.today() + dt.timedelta(days=400)
    assert later.json()["expires_at"] == f"{last_day}T16:00:00Z"  # end of the last day in China Standard Time


async def test_an_organisation_holder_needs_a_valid_credit_code(client, services):
    await certificate_authority(services, "510000-scjg", types=("business_licence",))
    officer = await staff_token(client, services, "admin", "510000")
    order = {"authority_id": "510000-scjg", "certificate_type": "business_licence", "fields": BUSINESS_FIELDS,
             "holder": {"kind": "organisation", "credit_code": "91510100MA6C7K8R0D", "name": "成都示例科技有限公司"}}

    wrong = await client.post("/staff/certificates", json=order, headers=bearer(officer))
    order["holder"]["credit_code"] = "91510100ma6c7k8r0c"
    right = await client.post("/staff/certificates", json=order, headers=bearer(officer))

    assert wrong.status_code == 422
    assert wrong.json()["errors"] == [{"pointer": "#/holder/credit_code",
                                       "detail": "check character should be C, got D"}]
    assert right.status_code == 201, right.text
    assert right.json()["holder"] == {"kind": "organisation", "name": "成都示例科技有限公司",
                                      "identifier": "91510100MA6C7K8R0C"}


async def test_the_holder_must_be_of_the_kind_the_type_expects(client, services):
    await certificate_authority(services, "330100-ga")
    officer = await staff_token(client, services, "handling_officer", "330100")

    organisation = await client.post("/staff/certificates", json=residence_order(
        {"kind": "organisation", "credit_code": "91510100MA6C7K8R0C", "name": "某公司"}), headers=bearer(officer))
    unknown = await client.post("/staff/certificates", json=residence_order(
        {"kind": "citizen", "resident_id": resident_id()}), headers=bearer(officer))
    both = await client.post("/staff/certificates", json=residence_order(
        {"kind": "citizen"}), headers=bearer(officer))

    assert organisation.status_code == 422 and organisation.json()["errors"][0]["pointer"] == "#/holder"
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["pointer"] == "#/holder/resident_id"
    assert both.status_code == 422


async def test_an_authority_issues_only_its_own_types(client, services):
    await certificate_authority(services, "330100-ga", types=("driving_licence",))
    citizen = await register_citizen(client, services)
    officer = await staff_token(client, services, "handling_officer", "330100")

    response = await client.post("/staff/certificates", json=residence_order(
        {"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])}), headers=bearer(officer))

    assert response.status_code == 422 and response.json()["errors"][0]["pointer"] == "#/certificate_type"


async def test_staff_guard_by_role_and_division(client, services):
    await certificate_authority(services, "330100-ga")
    citizen = await register_citizen(client, services)
    order = residence_order({"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])})
    receiving = await staff_token(client, services, "receiving_officer", "330000")
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    ningbo = await staff_token(client, services, "admin", "330200")

    by_role = await client.post("/staff/certificates", json=order, headers=bearer(receiving))
    by_citizen = await client.post("/staff/certificates", json=order, headers=bearer(citizen["access_token"]))
    outside = [await client.post("/staff/certificates", json=order, headers=bearer(token))
               for token in (sichuan, ningbo)]

    assert by_role.status_code == 403 and by_role.json()["type"] == "/problems/forbidden"
    assert by_citizen.status_code == 403
    for response in outside:
        assert response.status_code == 403 and response.json()["type"] == "/problems/outside-division"
    refused = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.issue_refused' AND record_id = '330100-ga'")
    assert refused == 2
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 0


async def test_an_authority_without_a_key_in_service_cannot_issue(client, services):
    import msgspec

    from backend.actors import Actor
    from backend.certificates.schemas import AuthorityCreate

    await services.certificates.authorities.create_authority(msgspec.convert(
        {"id": "330100-ga", "name": "杭州市公安局", "certificate_types": ["residence_permit"]}, AuthorityCreate),
        Actor.system())
    citizen = await register_citizen(client, services)
    officer = await staff_token(client, services, "handling_officer", "330100")

    response = await client.post("/staff/certificates", json=residence_order(
        {"kind": "citizen", "citizen_id": await citizen_id(client, citizen['access_token'])}), headers=bearer(officer))

    assert response.status_code == 409 and response.json()["type"] == "/problems/no-signing-key"


async def test_certificate_types_are_published_with_their_schemas(client):
    response = await client.get("/certificate-types")

    types = {t["code"]: t for t in response.json()}
    assert types["residence_permit"]["name"] == "居住证"
    assert types["pension_eligibility_record"]["name"] == "养老金领取资格认证记录"
    assert types["driving_licence_review"]["holder_kind"] == "citizen"
    assert types["business_licence"]["holder_kind"] == "organisation"
    assert "residence_address" in types["residence_permit"]["fields_schema"]["required"]
    assert "holder_name" in types["residence_permit"]["scopes"]


def test_every_catalogue_certificate_type_has_a_field_schema():
    import json
    from pathlib import Path

    from backend.certificates.certificate_types import CERTIFICATE_TYPES

    catalogue = json.loads(Path("backend/catalogue/data/items.json").read_text(encoding="utf-8"))
    assert set(catalogue["certificate_types"]) <= set(CERTIFICATE_TYPES)
    for kind in CERTIFICATE_TYPES.values():
        assert kind.fields and kind.default_days <= kind.max_days


async def test_refused_attempts_are_audited_with_an_idempotency_key_or_inside_a_case(client, services):
    import uuid

    import msgspec
    import pytest

    from backend.actors import Actor
    from backend.certificates.schemas import CertificateIssue
    from backend.errors import OutsideDivision

    await certificate_authority(services, "330100-ga")
    sichuan = await staff_token(client, services, "handling_officer", "510000")
    order = residence_order({"kind": "citizen", "citizen_id": str(uuid.uuid4())})

    over_http = await client.post("/staff/certificates", json=order,
                                  headers={**bearer(sichuan), "Idempotency-Key": "refused-1"})
    claims = services.tokens.read(sichuan)
    actor = Actor(kind="staff", id=claims.sub, role=claims.role, division=claims.division)
    with pytest.raises(OutsideDivision):
        async with services.db.transaction():  # a case's decision issuing in its own transaction
            await services.certificates.issue(msgspec.convert(order, CertificateIssue), actor)

    assert over_http.status_code == 403 and over_http.json()["type"] == "/problems/outside-division"
    refused = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.issue_refused' AND record_id = '330100-ga'")
    assert refused == 2


def chinese(length: int, seed: int) -> str:
    """Varied Chinese text, the hardest to compress: what a long business scope looks like to zlib."""
    import random

    pick = random.Random(seed)
    return "".join(chr(pick.randint(0x4E00, 0x9FA5)) for _ in range(length))


async def test_a_certificate_too_large_for_a_qr_code_is_refused_naming_the_field(client, services):
    await certificate_authority(services, "330100-scjg", types=("business_licence",))
    officer = await staff_token(client, services, "handling_officer", "330100")
    fields = BUSINESS_FIELDS | {"business_scope": chinese(512, 1), "address": chinese(60, 2)}
    order = {"authority_id": "330100-scjg", "certificate_type": "business_licence", "fields": fields,
             "holder": {"kind": "organisation", "credit_code": "91510100MA6C7K8R0C", "name": chinese(30, 3)}}

    refused = await client.post("/staff/certificates", json=order, headers=bearer(officer))

    assert refused.status_code == 422, refused.text
    assert refused.json()["errors"][0]["pointer"] == "#/fields/business_scope"
    assert "QR code" in refused.json()["errors"][0]["detail"]
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 0


async def test_a_long_but_fitting_certificate_prints_and_verifies(client, services):
    await certificate_authority(services, "330100-scjg", types=("business_licence",))
    officer = await staff_token(client, services, "handling_officer", "330100")
    fields = BUSINESS_FIELDS | {"business_scope": chinese(300, 4), "address": chinese(60, 5)}

    issued = await client.post("/staff/certificates", headers=bearer(officer), json={
        "authority_id": "330100-scjg", "certificate_type": "business_licence", "fields": fields,
        "holder": {"kind": "organisation", "credit_code": "91510100MA6C7K8R0C", "name": chinese(30, 6)}})
    printed = await client.get(f"/staff/certificates/{issued.json()['id']}/printout.pdf", headers=bearer(officer))
    qr_text = await services.db.pool.fetchval("SELECT qr_text FROM certificates")
    verified = await client.post("/certificates/verify", json={"qr_text": qr_text})

    assert issued.status_code == 201, issued.text
    assert printed.status_code == 200 and printed.content.startswith(b"%PDF")
    assert verified.json()["valid"] is True


async def test_an_organisation_name_of_blanks_is_refused(client, services):
    await certificate_authority(services, "510000-scjg", types=("business_licence",))
    officer = await staff_token(client, services, "admin", "510000")

    response = await client.post("/staff/certificates", headers=bearer(officer), json={
        "authority_id": "510000-scjg", "certificate_type": "business_licence", "fields": BUSINESS_FIELDS,
        "holder": {"kind": "organisation", "credit_code": "91510100MA6C7K8R0C", "name": " \u3000 "}})

    assert response.status_code == 422
    assert response.json()["errors"][0]["pointer"] == "#/holder/name"
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 0


async def test_concurrent_issues_with_one_reference_make_one_certificate(client, services):
    from tests.concurrency import at_once
    from tests.factories import issue_certificate

    await certificate_authority(services, "330100-ga")
    holder = await citizen_id(client, (await register_citizen(client, services))["access_token"])

    for case in range(3):
        issued = await at_once(services, *(issue_certificate(services, holder, reference=f"case:race-{case}")
                                           for _ in range(4)))
        assert len({c.id for c in issued}) == 1

    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 3


async def test_a_reference_used_for_a_different_order_conflicts(client, services):
    import pytest

    from backend.errors import Conflict
    from tests.factories import issue_certificate

    await certificate_authority(services, "330100-ga")
    first_holder = await citizen_id(client, (await register_citizen(client, services))["access_token"])
    other_holder = await citizen_id(client, (await register_citizen(client, services))["access_token"])
    first = await issue_certificate(services, first_holder, reference="case:7")

    with pytest.raises(Conflict, match="case:7"):
        await issue_certificate(services, other_holder, reference="case:7")
    with pytest.raises(Conflict, match="case:7"):
        await issue_certificate(services, first_holder, reference="case:7",
                                fields=RESIDENCE_FIELDS | {"residence_address": "杭州市上城区"})
    again = await issue_certificate(services, first_holder, reference="case:7")

    assert again.id == first.id and again.holder.name == first.holder.name
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificates") == 1
