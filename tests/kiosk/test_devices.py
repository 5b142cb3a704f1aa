"""Kiosk devices: registered by their public key, every request signed (RFC 9421) and checked, health
reported by heartbeat, configuration received remotely, silent ones shown to staff."""

import datetime as dt
import time

import httpx

from kiosk.device.keys import DeviceKey, KioskSignature
from tests.factories import bearer, staff_token
from tests.kiosk.conftest import HEALTHY, signing_client


def problem_type(response: httpx.Response) -> str:
    assert response.headers["content-type"].startswith("application/problem+json"), response.text
    return response.json()["type"].removeprefix("/problems/")


async def test_a_registered_kiosk_reports_health_and_receives_its_configuration(client, services, register_kiosk):
    device = await register_kiosk(configuration={"idle_timeout_seconds": 90, "font_scale": 1.3,
                                                 "enabled_tasks": ["certificates", "cases"]})

    beat = await device.client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert beat.status_code == 200, beat.text
    answer = beat.json()
    assert answer["kiosk_id"] == device.id and answer["status"] == "active"
    assert answer["configuration"]["idle_timeout_seconds"] == 90
    assert answer["configuration"]["font_scale"] == 1.3
    assert answer["configuration"]["enabled_tasks"] == ["certificates", "cases"]
    assert answer["pending_print_jobs"] == 0
    stored = await services.db.pool.fetchrow("SELECT public_key, health, last_heartbeat_at FROM kiosks")
    assert stored["public_key"] == device.key.public_bytes and stored["health"]["printer"]["sheets_left"] == 200
    assert stored["last_heartbeat_at"] is not None
    registered = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE action = 'kiosk.registered'")
    assert registered["record_id"] == device.id and registered["detail"]["key_fingerprint"] == device.key.fingerprint


async def test_the_staff_view_lists_kiosks_in_scope_with_the_silent_ones_first(client, services, register_kiosk):
    quiet = await register_kiosk()
    talking = await register_kiosk()
    sichuan_admin = await staff_token(client, services, "admin", "510000")
    elsewhere = await register_kiosk(division="510107", token=sichuan_admin)
    for device in (talking, elsewhere):
        assert (await device.client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})).status_code == 200
    officer = await staff_token(client, services, "receiving_officer", "330100")

    listed = (await client.get("/staff/kiosks", headers=bearer(officer))).json()

    assert [(k["id"], k["silent"]) for k in listed] == [(quiet.id, True), (talking.id, False)]
    assert listed[1]["health"]["printer"]["status"] == "ok"
    # A kiosk that stopped sending heartbeats three intervals ago turns silent.
    await services.db.pool.execute("UPDATE kiosks SET last_heartbeat_at = now() - interval '181 seconds' "
                                   "WHERE id = $1::uuid", talking.id)
    silent = (await client.get("/staff/kiosks", params={"silent": "true"}, headers=bearer(officer))).json()
    assert {k["id"] for k in silent} == {quiet.id, talking.id}
    # Outside the officer's division: exactly the answer of a missing kiosk, and the refusal audited.
    outside = await client.get(f"/staff/kiosks/{elsewhere.id}", headers=bearer(officer))
    missing = await client.get("/staff/kiosks/00000000-0000-4000-8000-000000000000", headers=bearer(officer))
    assert outside.status_code == missing.status_code == 404
    assert {k: v for k, v in outside.json().items() if k not in ("instance", "request_id")} == \
           {k: v for k, v in missing.json().items() if k not in ("instance", "request_id")}
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'kiosk.read_refused' AND record_id = $1", elsewhere.id) == 1


async def test_an_admin_registers_only_inside_their_division_and_each_key_once(client, services, register_kiosk,
                                                                              admin_token):
    key = DeviceKey.generate()
    outside = await client.post("/admin/kiosks", headers=bearer(admin_token), json={
        "division_code": "510107", "address": "成都", "capabilities": ["reader"], "public_key": key.public_key})
    assert outside.status_code == 422 and outside.json()["errors"][0]["pointer"] == "#/division_code"
    first = await register_kiosk()
    again = await client.post("/admin/kiosks", headers=bearer(admin_token), json={
        "division_code": "330106", "address": "杭州", "capabilities": ["reader"], "public_key": first.key.public_key})
    assert again.status_code == 409
    officer = await staff_token(client, services, "handling_officer", "330000")
    forbidden = await client.post("/admin/kiosks", headers=bearer(officer), json={
        "division_code": "330106", "address": "杭州", "capabilities": ["reader"], "public_key": key.public_key})
    assert forbidden.status_code == 403
    malformed = await client.post("/admin/kiosks", headers=bearer(admin_token), json={
        "division_code": "330106", "address": "杭州", "capabilities": ["fax"], "public_key": "short"})
    assert malformed.status_code == 422
    assert {e["pointer"] for e in malformed.json()["errors"]} <= {"#/capabilities/0", "#/public_key"}


async def test_an_unsigned_request_is_refused(client, register_kiosk):
    await register_kiosk()

    response = await client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert response.status_code == 401 and problem_type(response) == "kiosk-signature-missing"


async def test_a_request_changed_after_signing_is_refused(client, register_kiosk):
    device = await register_kiosk()
    request = device.client.build_request("POST", "/kiosk/v1/heartbeat", json={"health": HEALTHY})
    signed = next(KioskSignature(device.key).auth_flow(request))
    tampered = {**HEALTHY, "printer": {"status": "ok", "sheets_left": 999}}

    response = await client.post("/kiosk/v1/heartbeat", json={"health": tampered},
                                 headers={k: v for k, v in signed.headers.items()
                                          if k.lower() in ("content-digest", "signature", "signature-input")})

    assert response.status_code == 401 and problem_type(response) == "kiosk-signature-invalid"
    assert "Content-Digest" in response.json()["detail"]


async def test_a_signature_by_another_key_under_a_kiosks_id_is_refused(app, register_kiosk):
    device = await register_kiosk()
    impostor = DeviceKey.generate()
    impostor.key_id = device.id
    async with signing_client(app, impostor) as forged:
        response = await forged.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert response.status_code == 401 and problem_type(response) == "kiosk-signature-invalid"


async def test_a_replayed_request_is_refused(client, register_kiosk):
    device = await register_kiosk()
    request = device.client.build_request("POST", "/kiosk/v1/heartbeat", json={"health": HEALTHY})
    signed = next(KioskSignature(device.key).auth_flow(request))

    first = await client.send(signed)
    replay = await client.send(signed)

    assert first.status_code == 200, first.text
    assert replay.status_code == 401 and problem_type(replay) == "kiosk-request-replayed"


async def test_stale_and_future_signatures_are_refused(client, services, register_kiosk):
    device = await register_kiosk()
    window = services.settings.kiosk_signature_window_seconds
    body = b'{"health": {}}'
    for offset in (-window - 5, window + 5):
        headers = device.key.sign("POST", b"/kiosk/v1/heartbeat", [("content-type", "application/json")], body,
                                  created=time.time() + offset)
        response = await client.post("/kiosk/v1/heartbeat", content=body, headers=headers)
        assert response.status_code == 401 and problem_type(response) == "kiosk-signature-stale", response.text
        assert response.json()["server_time"] > 0
    inside = device.key.sign("POST", b"/kiosk/v1/heartbeat", [("content-type", "application/json")], body,
                             created=time.time() - window + 5)
    assert (await client.post("/kiosk/v1/heartbeat", content=body, headers=inside)).status_code == 200


async def test_a_device_that_was_never_registered_is_unknown(app):
    stranger = DeviceKey.generate()
    stranger.key_id = "6f1c2f0e-3c8e-4a51-9a55-0d9d4c1f8e21"
    async with signing_client(app, stranger) as unknown:
        response = await unknown.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})
        stranger.key_id = "not-a-kiosk-id"
        malformed = await unknown.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert response.status_code == 401 and problem_type(response) == "kiosk-unknown"
    assert malformed.status_code == 401 and problem_type(malformed) == "kiosk-unknown"


async def test_a_revoked_kiosk_is_refused(client, services, register_kiosk, admin_token):
    device = await register_kiosk()

    revoked = await client.post(f"/admin/kiosks/{device.id}/revocation", headers=bearer(admin_token),
                                json={"reason": "device stolen"})
    response = await device.client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert revoked.status_code == 200 and revoked.json()["status"] == "revoked"
    assert response.status_code == 403 and problem_type(response) == "kiosk-revoked"
    again = await client.post(f"/admin/kiosks/{device.id}/revocation", headers=bearer(admin_token),
                              json={"reason": "twice"})
    assert again.status_code == 409
    audit = await services.db.pool.fetchrow("SELECT detail FROM audit_log WHERE action = 'kiosk.revoked'")
    assert audit["detail"]["reason"] == "device stolen"


async def test_rekeying_retires_the_old_key_at_once(client, app, register_kiosk, admin_token):
    device = await register_kiosk()
    new_key = DeviceKey.generate()
    new_key.key_id = device.id

    rekeyed = await client.put(f"/admin/kiosks/{device.id}/key", headers=bearer(admin_token),
                               json={"public_key": new_key.public_key})
    old = await device.client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})
    async with signing_client(app, new_key) as renewed:
        new = await renewed.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    assert rekeyed.status_code == 200 and rekeyed.json()["key_version"] == 2
    assert rekeyed.json()["key_fingerprint"] == new_key.fingerprint
    assert old.status_code == 401 and problem_type(old) == "kiosk-signature-invalid"
    assert new.status_code == 200, new.text


async def test_configuration_changes_reach_the_kiosk_and_health_changes_are_audited(client, services,
                                                                                    register_kiosk, admin_token):
    device = await register_kiosk()
    await device.client.post("/kiosk/v1/heartbeat", json={"health": HEALTHY})

    configured = await client.put(f"/admin/kiosks/{device.id}/configuration", headers=bearer(admin_token),
                                  json={"idle_timeout_seconds": 300, "language": "en", "font_scale": 1.5})
    out_of_paper = {**HEALTHY, "printer": {"status": "out-of-paper", "sheets_left": 0}}
    answer = await device.client.post("/kiosk/v1/heartbeat", json={"health": out_of_paper})
    same = await device.client.post("/kiosk/v1/heartbeat", json={"health": out_of_paper})

    assert configured.status_code == 200
    assert answer.json()["configuration"] == {**configured.json()["configuration"]}
    assert answer.json()["configuration"]["language"] == "en"
    assert same.status_code == 200
    changes = await services.db.pool.fetch("SELECT detail FROM audit_log WHERE action = 'kiosk.health_changed' "
                                           "ORDER BY at")
    assert [c["detail"]["to"]["printer"] for c in changes] == ["ok", "out-of-paper"]
    bad = await client.put(f"/admin/kiosks/{device.id}/configuration", headers=bearer(admin_token),
                           json={"idle_timeout_seconds": 5})
    assert bad.status_code == 422 and bad.json()["errors"][0]["pointer"] == "#/idle_timeout_seconds"


async def test_kiosk_views_never_carry_a_private_key(client, register_kiosk, admin_token):
    device = await register_kiosk()
    view = (await client.get(f"/staff/kiosks/{device.id}", headers=bearer(admin_token))).json()
    assert view["public_key"] == device.key.public_key
    assert set(view) >= {"key_id", "key_fingerprint", "last_heartbeat_at", "silent", "configuration"}
    assert view["last_heartbeat_at"] is None and dt.datetime.fromisoformat(view["registered_at"])
