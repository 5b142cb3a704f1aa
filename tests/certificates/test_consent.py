"""Third-party checks (证明证照查验): the holder consents to named fields for one relying party, a few
times, for a while; the relying party sees only those fields; the holder sees every check."""

from __future__ import annotations

from tests.concurrency import at_once
from tests.factories import bearer, certificate_authority, citizen_id, issue_certificate, register_citizen


async def holder_with_certificate(client, services, **citizen):
    await certificate_authority(services, "330100-ga")
    person = await register_citizen(client, services, name="王建国", **citizen)
    certificate = await issue_certificate(services, await citizen_id(client, person["access_token"]))
    return person["access_token"], certificate


async def consent(client, token, certificate_id, **form):
    body = {"relying_party": "中国工商银行杭州分行", "scopes": ["holder_name", "residence_address"]} | form
    response = await client.post(f"/me/certificates/{certificate_id}/consents", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()


async def check(client, token, who="工商银行杭州分行 柜员 0371"):
    return await client.post("/certificate-checks", json={"token": token, "presented_by": who})


async def test_the_relying_party_sees_only_the_consented_fields(client, services):
    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id, max_uses=2)

    response = await check(client, given["token"])

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["disclosed"] == {"holder_name": "王建国", "residence_address": "杭州市西湖区文三路 90 号"}
    assert body["status"] == "valid" and body["type_name"] == "居住证" and body["uses_left"] == 1
    for withheld in ("residence_division", "registered_on", "holder_identifier", "number"):
        assert withheld not in body["disclosed"]
    assert certificate.number not in response.text and "**********" not in response.text
    granted = await services.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'certificate_consent.created' AND record_id = $1",
        str(certificate.id))
    assert granted["relying_party"] == "中国工商银行杭州分行" and granted["scopes"] == ["holder_name", "residence_address"]


async def test_a_used_up_token_is_refused_and_the_holder_sees_every_check(client, services):
    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id, max_uses=2, scopes=["number"])

    outcomes = [(await check(client, given["token"], who=f"柜员 {n}")).status_code for n in range(3)]
    refused = await check(client, given["token"])

    assert outcomes == [200, 200, 410]
    assert refused.json()["type"] == "/problems/consent-used-up"
    log = (await client.get("/me/certificate-checks", headers=bearer(token))).json()
    assert [(e["outcome"], e["presented_by"]) for e in log] == [
        ("used-up", "工商银行杭州分行 柜员 0371"), ("used-up", "柜员 2"), ("answered", "柜员 1"), ("answered", "柜员 0")]
    assert log[-1]["disclosed"] == ["number"] and log[-1]["relying_party"] == "中国工商银行杭州分行"
    assert log[0]["disclosed"] == [] and log[0]["certificate_number"] == certificate.number
    consents = (await client.get(f"/me/certificates/{certificate.id}/consents", headers=bearer(token))).json()
    assert consents[0]["uses"] == 2 and consents[0]["status"] == "used-up"
    audit = await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_id = $1 AND action LIKE 'certificate.check%'", str(certificate.id))
    assert sorted(a["action"] for a in audit) == ["certificate.check_refused"] * 2 + ["certificate.checked"] * 2


async def test_uses_are_counted_atomically(client, services):
    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id, max_uses=1)

    responses = await at_once(services, *(check(client, given["token"], who=f"并发 {n}") for n in range(6)))

    assert sorted(r.status_code for r in responses) == [200] + [410] * 5
    assert await services.db.pool.fetchval("SELECT uses FROM certificate_consents") == 1


async def test_an_expired_or_withdrawn_token_is_refused(client, services):
    token, certificate = await holder_with_certificate(client, services)
    expiring = await consent(client, token, certificate.id, valid_minutes=1)
    withdrawn = await consent(client, token, certificate.id)
    await services.db.pool.execute("UPDATE certificate_consents SET expires_at = now() - interval '1 second' "
                                   "WHERE id = $1::uuid", expiring["consent"]["id"])
    revoke = await client.delete(f"/me/certificate-consents/{withdrawn['consent']['id']}", headers=bearer(token))

    expired = await check(client, expiring["token"])
    gone = await check(client, withdrawn["token"])
    unknown = await check(client, "tbc_" + "x" * 43)

    assert revoke.status_code == 200 and revoke.json()["status"] == "withdrawn"
    assert expired.status_code == 410 and expired.json()["type"] == "/problems/consent-expired"
    assert gone.status_code == 410 and gone.json()["type"] == "/problems/consent-withdrawn"
    assert unknown.status_code == 404
    outcomes = {e["outcome"] for e in (await client.get("/me/certificate-checks", headers=bearer(token))).json()}
    assert outcomes == {"expired", "withdrawn"}


async def test_consent_scopes_must_exist_and_the_certificate_must_be_mine(client, services):
    token, certificate = await holder_with_certificate(client, services)
    stranger = await register_citizen(client, services)

    unknown_scope = await client.post(f"/me/certificates/{certificate.id}/consents", headers=bearer(token), json={
        "relying_party": "某银行", "scopes": ["residence_address", "salary"]})
    not_mine = await client.post(f"/me/certificates/{certificate.id}/consents",
                                 headers=bearer(stranger["access_token"]),
                                 json={"relying_party": "某银行", "scopes": ["holder_name"]})
    their_log = (await client.get("/me/certificate-checks", headers=bearer(stranger["access_token"]))).json()

    assert unknown_scope.status_code == 422 and unknown_scope.json()["errors"][0]["pointer"] == "#/scopes/1"
    assert not_mine.status_code == 404
    assert their_log == []
    assert await services.db.pool.fetchval("SELECT count(*) FROM certificate_consents") == 0


async def test_the_token_is_stored_only_as_a_hash(client, services):
    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id)

    stored = await services.db.pool.fetchrow("SELECT * FROM certificate_consents")

    assert given["token"].startswith("tbc_")
    assert given["token"].encode() not in b"".join(v if isinstance(v, bytes) else str(v).encode()
                                                   for v in stored.values())


async def test_a_certificate_whose_key_was_withdrawn_is_shown_as_such_and_no_longer_shared(client, services):
    from backend.actors import Actor

    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id, max_uses=2)
    key = next(k for k in await services.certificates.authorities.list_keys("330100-ga") if k.kid == certificate.kid)

    await services.certificates.authorities.withdraw_key(key.id, Actor.system())

    detail = (await client.get(f"/me/certificates/{certificate.id}", headers=bearer(token))).json()
    listed = (await client.get("/me/certificates", headers=bearer(token))).json()
    refused = await check(client, given["token"])
    new_consent = await client.post(f"/me/certificates/{certificate.id}/consents", headers=bearer(token),
                                    json={"relying_party": "某银行", "scopes": ["holder_name"]})
    assert detail["status"] == listed[0]["status"] == "key-withdrawn"
    assert refused.status_code == 410 and refused.json()["type"] == "/problems/certificate-key-withdrawn"
    assert "王建国" not in refused.text
    assert new_consent.status_code == 409
    log = (await client.get("/me/certificate-checks", headers=bearer(token))).json()
    assert [(e["outcome"], e["disclosed"]) for e in log] == [("key-withdrawn", [])]
    consents = (await client.get(f"/me/certificates/{certificate.id}/consents", headers=bearer(token))).json()
    assert consents[0]["uses"] == 0  # a refused check does not use the consent up


async def test_a_revoked_certificate_is_no_longer_disclosed(client, services):
    from tests.factories import staff_token

    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id)
    officer = await staff_token(client, services, "handling_officer", "330100")
    await client.post(f"/staff/certificates/{certificate.id}/revocation", headers=bearer(officer),
                      json={"reason": "issued-in-error", "note": "录入错误"})

    refused = await check(client, given["token"])

    assert refused.status_code == 410 and refused.json()["type"] == "/problems/certificate-revoked"
    assert "杭州市西湖区" not in refused.text
    log = (await client.get("/me/certificate-checks", headers=bearer(token))).json()
    assert [e["outcome"] for e in log] == ["revoked"]
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'certificate.check_refused' AND record_id = $1",
        str(certificate.id)) == 1


async def test_the_relying_party_and_the_presenter_must_be_named(client, services):
    token, certificate = await holder_with_certificate(client, services)
    given = await consent(client, token, certificate.id, max_uses=3)

    blank_party = await client.post(f"/me/certificates/{certificate.id}/consents", headers=bearer(token),
                                    json={"relying_party": " \u3000 ", "scopes": ["holder_name"]})
    blank_presenter = await check(client, given["token"], who="  \t ")
    padded = await check(client, given["token"], who="  柜员 0371  ")

    assert blank_party.status_code == 422 and blank_party.json()["errors"][0]["pointer"] == "#/relying_party"
    assert blank_presenter.status_code == 422 and blank_presenter.json()["errors"][0]["pointer"] == "#/presented_by"
    assert padded.status_code == 200
    log = (await client.get("/me/certificate-checks", headers=bearer(token))).json()
    assert [e["presented_by"] for e in log] == ["柜员 0371"]
    audited = await services.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'certificate.checked' AND record_id = $1", str(certificate.id))
    assert audited["presented_by"] == "柜员 0371"
