"""Events are published in the caller's transaction and delivered as signed webhooks: retried with
back-off when the receiver is down, slow or failing, dead after the last attempt, sent again on
request — nothing lost."""

import asyncio

import pytest

from backend.events import signing
from tests.events.helpers import delivery_statuses, eventually, publish, running_worker, subscribe


async def test_an_event_exists_only_if_the_change_it_reports_committed(services, receiver):
    await subscribe(services, receiver.url)
    with pytest.raises(RuntimeError):
        async with services.db.transaction() as conn:
            await services.events.publish(conn, kind="pension.recognised", subject_type="pension_roster_entry",
                                          subject_id="rolled-back", division="510107", payload={})
            raise RuntimeError("the use case failed after publishing")
    kept = await publish(services)

    events = await services.db.pool.fetch("SELECT id::text, subject_id FROM event_outbox")
    assert [e["id"] for e in events] == kept
    assert await delivery_statuses(services) == {"pending": 1}


async def test_only_subscribers_of_the_kind_and_division_receive_it(services, receiver):
    await subscribe(services, receiver.url, name="sc-pension", kinds=("pension.*",), division="510000")
    await subscribe(services, receiver.url, name="zj-pension", kinds=("pension.*",), division="330000")
    await subscribe(services, receiver.url, name="national-cases", kinds=("case.submitted",), division="000000")
    await subscribe(services, receiver.url, name="national-all", kinds=("*",), division="000000")

    await publish(services, kind="pension.recognised", division="510107")
    await publish(services, kind="case.submitted", division=None)

    rows = await services.db.pool.fetch(
        """SELECT e.kind, s.name FROM event_deliveries d JOIN event_outbox e ON e.id = d.event_id
           JOIN webhook_subscribers s ON s.id = d.subscriber_id ORDER BY e.kind, s.name""")
    assert [(r["kind"], r["name"]) for r in rows] == [
        ("case.submitted", "national-all"), ("case.submitted", "national-cases"),
        ("pension.recognised", "national-all"), ("pension.recognised", "sc-pension")]


async def test_a_delivery_is_signed_with_the_subscribers_secret_and_carries_the_event_id(services, receiver):
    _, secret = await subscribe(services, receiver.url)
    (event_id,) = await publish(services)

    async with running_worker(services):
        await eventually(lambda: _delivered(services, 1), what="the delivery")

    (request,) = receiver.received
    assert signing.verify(secret, request.headers, request.body) == event_id
    assert request.headers["tongban-event-kind"] == "pension.recognised"
    body = receiver.bodies()[0]
    assert body["id"] == event_id and body["subject"] == {"type": "pension_roster_entry", "id": "entry-0"}
    assert body["division"] == "510107" and body["payload"] == {"n": 0, "method": "face-phone"}
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(signing.new_secret(), request.headers, request.body)
    with pytest.raises(signing.SignatureInvalid):
        signing.verify(secret, request.headers, request.body.replace(b"510107", b"510108"))


async def test_a_receiver_answering_500_gets_the_same_event_again_until_it_accepts(services, receiver):
    await subscribe(services, receiver.url)
    receiver.fail_first = 2
    (event_id,) = await publish(services)

    async with running_worker(services):
        await eventually(lambda: _delivered(services, 1), what="delivery after two failures")

    assert receiver.event_ids() == [event_id] * 3
    assert len({r.body for r in receiver.received}) == 1
    attempts = await services.db.pool.fetch("SELECT attempt, status_code FROM event_delivery_attempts ORDER BY id")
    assert [(a["attempt"], a["status_code"]) for a in attempts] == [(1, 500), (2, 500), (3, 200)]


async def test_a_receiver_that_is_down_leaves_the_event_dead_until_it_is_redelivered(services, receiver, client):
    from tests.factories import bearer, staff_token

    await subscribe(services, receiver.url)
    receiver.stop()
    (event_id,) = await publish(services)

    async with running_worker(services):
        await eventually(lambda: _status_is(services, "dead"), what="the dead letter")
        token = await staff_token(client, services, "admin", "510000")
        dead = await client.get("/admin/event-deliveries", params={"status": "dead"}, headers=bearer(token))
        receiver.start()
        redelivered = await client.post(f"/admin/event-deliveries/{dead.json()[0]['id']}/redelivery",
                                        headers=bearer(token))
        await eventually(lambda: _delivered(services, 1), what="the redelivery")

    assert dead.status_code == 200 and dead.json()[0]["attempts"] == 3
    assert "ConnectError" in dead.json()[0]["last_error"]
    assert redelivered.status_code == 200 and redelivered.json() == [dead.json()[0]["id"]]
    assert receiver.event_ids() == [event_id]
    log = await client.get("/admin/events", params={"subject_type": "pension_roster_entry", "subject_id": "entry-0"},
                           headers=bearer(token))
    (delivery,) = log.json()[0]["deliveries"]
    assert delivery["status"] == "delivered" and len(delivery["log"]) == 4
    assert [a["status_code"] for a in delivery["log"]] == [None, None, None, 200]


async def test_a_url_stored_before_it_was_checked_fails_each_attempt_until_the_delivery_is_dead(services, receiver):
    """A subscriber's URL no request can be sent to (its port out of range, written before URLs were
    checked as the client reads them): each attempt fails with the reason logged, and the delivery goes
    dead after the last, instead of the worker's task failing and the lease coming round for ever."""
    subscriber, _ = await subscribe(services, receiver.url)
    await services.db.pool.execute("UPDATE webhook_subscribers SET url = $2 WHERE id = $1::uuid", subscriber,
                                   receiver.url.replace("http://127.0.0.1:", "http://127.0.0.1:9") + "9999")
    await publish(services)

    async with running_worker(services):
        await eventually(lambda: _status_is(services, "dead"), what="the dead letter")

    errors = await services.db.pool.fetch("SELECT error FROM event_delivery_attempts ORDER BY id")
    assert len(errors) == 3 and all("Port" in e["error"] or "port" in e["error"] for e in errors), errors
    assert receiver.event_ids() == []


async def test_a_slow_receiver_times_out_and_is_retried_without_holding_up_others(services, receiver):
    from tests.events.conftest import Receiver
    from tests.server import free_port

    await subscribe(services, receiver.url, name="slow-agency")
    other = Receiver(free_port())
    other.start()
    await subscribe(services, other.url, name="quick-agency")
    receiver.mode, receiver.delay = "slow", 0.8  # beyond the 0.5 s timeout
    (event_id,) = await publish(services)

    try:
        async with running_worker(services):
            await eventually(lambda: _received(other, 1), timeout=0.6, what="the quick receiver")
            await eventually(lambda: _failed_attempts(services, 1), what="a timed-out attempt")
            receiver.mode = "ok"
            await eventually(lambda: _delivered(services, 2), what="the retried delivery")
    finally:
        other.stop()

    errors = await services.db.pool.fetch("SELECT error FROM event_delivery_attempts WHERE error IS NOT NULL")
    assert errors and {e["error"] for e in errors} == {"timeout"}
    assert set(receiver.event_ids()) == {event_id} and other.event_ids() == [event_id]


async def test_a_receiver_trickling_its_answer_is_cut_off_at_the_timeout_within_the_lease(services, receiver):
    await subscribe(services, receiver.url)
    receiver.mode, receiver.delay = "trickle", 4.0  # a byte every 0.07 s: no single read waits 0.5 s
    await publish(services)

    async with running_worker(services):
        await eventually(lambda: _failed_attempts(services, 1), what="the cut-off attempt")

    attempt = await services.db.pool.fetchrow("SELECT error, duration_ms FROM event_delivery_attempts")
    assert attempt["error"] == "timeout"
    # Cut off by the whole request's deadline, well inside the 2 s lease: no other worker can take it meanwhile.
    assert attempt["duration_ms"] < services.events.policy.lease_seconds * 1000


async def test_a_paused_subscriber_keeps_its_deliveries_until_resumed(services, receiver, client):
    from tests.factories import bearer, staff_token

    subscriber_id, _ = await subscribe(services, receiver.url)
    token = await staff_token(client, services, "admin", "510000")
    paused = await client.patch(f"/admin/webhook-subscribers/{subscriber_id}", json={"active": False},
                                headers=bearer(token))
    await publish(services, 3)

    async with running_worker(services):
        await asyncio.sleep(0.3)
        held = list(receiver.received)
        waiting = await client.get(f"/admin/webhook-subscribers/{subscriber_id}", headers=bearer(token))
        resumed = await client.patch(f"/admin/webhook-subscribers/{subscriber_id}", json={"active": True},
                                     headers=bearer(token))
        await eventually(lambda: _delivered(services, 3), what="deliveries after resuming")

    assert paused.status_code == 200 and paused.json()["active"] is False
    assert held == [] and waiting.json()["pending"] == 3 and resumed.status_code == 200
    assert len(receiver.received) == 3


async def test_after_a_rotation_both_secrets_sign_for_a_day(services, receiver):
    subscriber_id, old_secret = await subscribe(services, receiver.url)
    from backend.actors import Actor

    rotated = await services.events.rotate_secret(Actor.system(), __import__("uuid").UUID(subscriber_id))
    await publish(services)

    async with running_worker(services):
        await eventually(lambda: _delivered(services, 1), what="the delivery")

    (request,) = receiver.received
    assert len(request.headers["webhook-signature"].split()) == 2
    assert signing.verify(rotated.secret, request.headers, request.body)
    assert signing.verify(old_secret, request.headers, request.body)
    assert rotated.secret != old_secret


async def _delivered(services, count: int) -> bool:
    return (await delivery_statuses(services)).get("delivered", 0) >= count


async def _status_is(services, status: str) -> bool:
    return status in await delivery_statuses(services)


async def _failed_attempts(services, count: int) -> bool:
    return await services.db.pool.fetchval(
        "SELECT count(*) FROM event_delivery_attempts WHERE error IS NOT NULL") >= count


async def _received(receiver, count: int) -> bool:
    return len(receiver.received) >= count
