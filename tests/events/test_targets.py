"""Where webhooks may go: with private targets refused (production's default), a subscriber URL naming
or resolving to a loopback, private, link-local or other non-public address is refused when registered
or changed, and a target whose name resolves there later is not contacted; networks the operator lists
are allowed."""

import asyncio
import dataclasses
import ipaddress

import msgspec
import pytest

from backend.events.targets import refusal
from backend.events.worker import Worker
from tests.events.helpers import publish, subscribe
from tests.factories import bearer, staff_token


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, events_refuse_private_targets=True)


async def test_private_subscriber_urls_are_refused_field_by_field(services, client):
    token = await staff_token(client, services, "admin", "510000")
    body = {"name": "sc-agency", "kinds": ["pension.*"], "division": "510000"}

    refused = [await client.post("/admin/webhook-subscribers", headers=bearer(token), json=body | {"url": url})
               for url in ("http://127.0.0.1:9/hook", "http://localhost:9/hook", "http://169.254.169.254/latest",
                           "http://10.1.2.3/hook")]

    for response in refused:
        assert response.status_code == 422, response.text
        assert response.json()["errors"][0]["pointer"] == "#/url" and "public" in response.json()["errors"][0]["detail"]
    assert await services.db.pool.fetchval("SELECT count(*) FROM webhook_subscribers") == 0


@pytest.mark.parametrize(("address", "reached"), [
    ("::1", "::1"), ("::ffff:192.168.0.1", "192.168.0.1"), ("fd00::1", "fd00::1"),
    # IPv6 reaching an IPv4 address through a translator or tunnel: NAT64 to the metadata service, 6to4,
    # IPv4-compatible, Teredo's client
    ("64:ff9b::a9fe:a9fe", "169.254.169.254"), ("2002:7f00:1::", "127.0.0.1"), ("::7f00:1", "127.0.0.1"),
    ("2001:0:4136:e378:8000:63bf:f5ff:fffe", "10.0.0.1"),
])
def test_an_address_a_name_resolves_to_is_judged_by_where_it_leads(address, reached):
    assert refusal(address, ()) == f"{reached} is not a public address"
    assert refusal("2606:4700:4700::1111", ()) is None and refusal("64:ff9b::808:808", ()) is None  # 8.8.8.8


@pytest.mark.parametrize("url", ["https://[::1]/hook", "https://[::1/hook", "https://example.com:99999/hook", "https://example.com:abc/hook",
                                 "https://" + "a" * 64 + ".example.com/hook", "https://a..example.com/hook"])
async def test_a_url_no_request_can_be_sent_to_is_refused_at_the_field(services, client, url):
    token = await staff_token(client, services, "admin", "510000")
    response = await client.post("/admin/webhook-subscribers", headers=bearer(token),
                                 json={"name": "sc-agency", "kinds": ["pension.*"], "division": "510000", "url": url})
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["pointer"] == "#/url"


async def test_a_target_resolving_to_a_private_address_is_not_contacted_unless_its_network_is_listed(
        services, receiver):
    policy = services.events.policy
    services.events.policy = dataclasses.replace(policy, refuse_private_targets=False)
    await subscribe(services, f"http://localhost:{receiver.port}/hook")  # its name resolves elsewhere later
    services.events.policy = policy
    await publish(services)

    await Worker(services, []).run_until_idle()
    refused = await services.db.pool.fetchval("SELECT last_error FROM event_deliveries")
    services.events.policy = dataclasses.replace(policy, private_networks=(ipaddress.ip_network("127.0.0.0/8"),))
    await asyncio.sleep(0.3)  # the retry's back-off
    await Worker(services, []).run_until_idle()

    assert refused == "refused: 127.0.0.1 is not a public address" and len(receiver.received) == 1
    assert receiver.received[0].headers["host"] == f"localhost:{receiver.port}"
    assert await services.db.pool.fetchval("SELECT status FROM event_deliveries") == "delivered"
