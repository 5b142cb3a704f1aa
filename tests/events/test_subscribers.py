"""Admins register webhook subscribers within their division; the command line does the same as the
system. Secrets are shown once and kept encrypted."""

from backend.events import signing
from tests.events.helpers import publish, subscribe
from tests.factories import bearer, staff_token
from tests.foundation.test_cli import tongban

AGENCY = {"name": "sc-pension-agency", "url": "https://sc.example/hooks", "kinds": ["pension.*"], "division": "510000"}


async def test_an_admin_registers_a_subscriber_and_sees_its_secret_once(services, client):
    token = await staff_token(client, services, "admin", "510000")

    created = await client.post("/admin/webhook-subscribers", json=AGENCY, headers=bearer(token))
    listed = await client.get("/admin/webhook-subscribers", headers=bearer(token))
    again = await client.post("/admin/webhook-subscribers", json=AGENCY, headers=bearer(token))

    assert created.status_code == 201, created.text
    secret = created.json()["secret"]
    assert secret.startswith(signing.SECRET_PREFIX) and secret not in listed.text
    assert [s["name"] for s in listed.json()] == ["sc-pension-agency"]
    stored = await services.db.pool.fetchval("SELECT secret_enc FROM webhook_subscribers")
    assert secret.encode() not in stored
    assert again.status_code == 409
    audit = await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'webhook_subscriber.created'")
    assert audit == 1


async def test_subscribers_stay_inside_the_admins_division(services, client):
    zhejiang = await staff_token(client, services, "admin", "330000")
    sichuan = await staff_token(client, services, "admin", "510000")
    officer = await staff_token(client, services, "handling_officer", "510000")
    created = await client.post("/admin/webhook-subscribers", json=AGENCY, headers=bearer(sichuan))
    subscriber = f"/admin/webhook-subscribers/{created.json()['subscriber']['id']}"

    outside = await client.post("/admin/webhook-subscribers", json=AGENCY | {"name": "zj-wants-sc"},
                                headers=bearer(zhejiang))
    other_read = await client.get(subscriber, headers=bearer(zhejiang))
    missing = await client.get("/admin/webhook-subscribers/00000000-0000-0000-0000-000000000000",
                               headers=bearer(zhejiang))
    other_list = await client.get("/admin/webhook-subscribers", headers=bearer(zhejiang))
    not_admin = await client.get("/admin/webhook-subscribers", headers=bearer(officer))

    assert outside.status_code == 422 and outside.json()["errors"][0]["pointer"] == "#/division"
    assert other_read.status_code == 404
    assert {k: v for k, v in other_read.json().items() if k not in ("instance", "request_id")} == \
        {k: v for k, v in missing.json().items() if k not in ("instance", "request_id")}
    assert other_list.json() == []
    assert not_admin.status_code == 403
    refusals = await services.db.pool.fetch(
        "SELECT detail->>'reason' AS reason FROM audit_log WHERE action = 'webhook_subscriber.refused'")
    assert sorted(r["reason"] for r in refusals) == ["missing", "out-of-reach"]  # every lookup is audited, found or not


async def test_bad_subscriber_input_is_refused_field_by_field(services, client):
    token = await staff_token(client, services, "admin", "000000")
    cases = {
        "#/url": AGENCY | {"url": "ftp://sc.example/hooks"},
        "#/kinds/0": AGENCY | {"kinds": ["Pension Recognised"]},
        "#/name": AGENCY | {"name": "sc-pension\n"},
        "#/division": AGENCY | {"division": "990000"},
    }
    for pointer, body in cases.items():
        response = await client.post("/admin/webhook-subscribers", json=body, headers=bearer(token))
        assert response.status_code == 422, (pointer, response.text)
        assert response.json()["errors"][0]["pointer"] == pointer, response.text
    credentials = await client.post("/admin/webhook-subscribers", json=AGENCY | {"url": "https://u:p@sc.example/"},
                                    headers=bearer(token))
    unknown = await client.post("/admin/webhook-subscribers", json=AGENCY | {"secret": "mine"}, headers=bearer(token))
    assert credentials.status_code == 422 and unknown.status_code == 422
    assert await services.db.pool.fetchval("SELECT count(*) FROM webhook_subscribers") == 0


async def test_the_command_line_registers_lists_and_reports(settings, services):
    added = tongban(settings, "events", "add-subscriber", "--name", "sc-agency", "--url", "http://127.0.0.1:9/hook",
                    "--kinds", "pension.recognised,pension.overdue", "--division", "510000")
    await publish(services, 2)
    listed = tongban(settings, "events", "list-subscribers")
    status = tongban(settings, "events", "status")
    nothing_dead = tongban(settings, "events", "redeliver", "--subscriber", "sc-agency")

    assert added.returncode == 0, added.stderr
    assert "secret (shown once, keep it safe): whsec_" in added.stdout
    assert "sc-agency" in listed.stdout and "pending=2" in listed.stdout
    assert "deliveries pending: 2, dead: 0" in status.stdout
    assert nothing_dead.returncode == 0 and "0 dead deliveries due again" in nothing_dead.stdout
    bad = tongban(settings, "events", "add-subscriber", "--name", "x", "--url", "http://a/", "--kinds", "*",
                  "--division", "510000")
    assert bad.returncode == 1 and "Traceback" not in bad.stderr


async def test_a_removed_subscriber_takes_its_deliveries_with_it(services, client, receiver):
    subscriber_id, _ = await subscribe(services, receiver.url)
    await publish(services, 2)
    token = await staff_token(client, services, "admin", "510000")

    removed = await client.delete(f"/admin/webhook-subscribers/{subscriber_id}", headers=bearer(token))

    assert removed.status_code == 204
    assert await services.db.pool.fetchval("SELECT count(*) FROM event_deliveries") == 0
    assert await services.db.pool.fetchval("SELECT count(*) FROM event_outbox") == 2
