"""The citizen's notification inbox: written in the caller's transaction (with an optional text message),
read a page at a time, marked read — each read audited, nobody else's visible."""

from __future__ import annotations

import logging
import uuid

import pytest

from backend.notifications.schemas import Subject, Text
from tests.factories import bearer, citizen_id, register_citizen, staff_token


async def _notify(services, owner: str, n: int, **extra) -> uuid.UUID:
    async with services.db.transaction() as conn:
        return await services.notifications.notify(
            conn, uuid.UUID(owner), extra.pop("kind", "case.received"),
            title=Text(f"办件已受理 {n}", f"Case received {n}"),
            body=Text(f"您的办件 {n} 已受理。", f"Your case {n} was received."),
            subject=Subject("case", f"case-{n}"), **extra)


async def _person(client, services):
    citizen = await register_citizen(client, services)
    return citizen, await citizen_id(client, citizen["access_token"])


async def _sms_bodies(services, phone: str) -> list[str]:
    rows = await services.db.pool.fetch(
        "SELECT body FROM sms_outbox WHERE phone_hash = $1 ORDER BY id",
        services.cipher.lookup_hash(phone, purpose="phone"))
    return [r["body"] for r in rows]


async def test_a_notification_is_written_in_the_callers_transaction_and_lost_with_it(client, services):
    citizen, owner = await _person(client, services)
    sent_before = await _sms_bodies(services, citizen["phone"])

    with pytest.raises(RuntimeError):
        async with services.db.transaction() as conn:
            await services.notifications.notify(conn, uuid.UUID(owner), "case.received", title=Text("甲", "A"),
                                                body=Text("乙", "B"), sms=True)
            raise RuntimeError("the change that caused it failed")

    assert await services.db.pool.fetchval("SELECT count(*) FROM notifications") == 0
    assert await _sms_bodies(services, citizen["phone"]) == sent_before


async def test_a_text_message_goes_to_the_phone_on_record_and_the_phone_is_never_logged(client, services, caplog):
    citizen, owner = await _person(client, services)
    caplog.set_level(logging.DEBUG)

    await _notify(services, owner, 1, sms=True)
    await _notify(services, owner, 2)

    bodies = await _sms_bodies(services, citizen["phone"])
    assert bodies[-1] == "【通办】办件已受理 1：您的办件 1 已受理。"
    assert sum("办件已受理" in b for b in bodies) == 1
    page = (await client.get("/me/notifications?order=newest", headers=bearer(citizen["access_token"]))).json()
    assert [n["sms"] for n in page["items"]] == [False, True]
    assert citizen["phone"] not in caplog.text
    assert citizen["phone"][:3] + "****" + citizen["phone"][-4:] in caplog.text


async def test_the_inbox_lists_unread_first_or_newest_first_with_the_unread_count(client, services):
    citizen, owner = await _person(client, services)
    ids = [await _notify(services, owner, n) for n in range(5)]
    headers = bearer(citizen["access_token"])
    assert (await client.post(f"/me/notifications/{ids[4]}/read", headers=headers)).status_code == 200

    unread_first = (await client.get("/me/notifications", headers=headers)).json()
    newest = (await client.get("/me/notifications?order=newest&limit=2&offset=1", headers=headers)).json()
    unread_only = (await client.get("/me/notifications?unread_only=true", headers=headers)).json()

    assert [n["id"] for n in unread_first["items"]] == [str(i) for i in (ids[3], ids[2], ids[1], ids[0], ids[4])]
    assert unread_first["total"] == 5 and unread_first["unread"] == 4
    assert [n["id"] for n in newest["items"]] == [str(ids[3]), str(ids[2])]
    assert unread_only["total"] == 4 and str(ids[4]) not in [n["id"] for n in unread_only["items"]]
    first = unread_first["items"][0]
    assert first["title"] == {"zh": "办件已受理 3", "en": "Case received 3"}
    assert first["subject"] == {"type": "case", "id": "case-3"} and first["read_at"] is None


async def test_marking_read_keeps_the_first_time_and_read_all_clears_the_count(client, services):
    citizen, owner = await _person(client, services)
    first, _ = await _notify(services, owner, 1), await _notify(services, owner, 2)
    headers = bearer(citizen["access_token"])

    once = (await client.post(f"/me/notifications/{first}/read", headers=headers)).json()
    again = (await client.post(f"/me/notifications/{first}/read", headers=headers)).json()
    cleared = await client.post("/me/notifications/read-all", headers=headers)

    assert once["read_at"] is not None and again["read_at"] == once["read_at"]
    assert cleared.json() == {"marked": 1, "unread": 0}
    assert (await client.get("/me/notifications", headers=headers)).json()["unread"] == 0


async def test_another_citizens_notification_looks_missing_and_the_attempt_is_audited(client, services):
    _, owner = await _person(client, services)
    intruder, intruder_id = await _person(client, services)
    theirs = await _notify(services, owner, 1)
    headers = bearer(intruder["access_token"])

    foreign = await client.post(f"/me/notifications/{theirs}/read", headers=headers)
    missing = await client.post(f"/me/notifications/{uuid.uuid4()}/read", headers=headers)

    assert foreign.status_code == missing.status_code == 404
    assert foreign.json()["detail"] == missing.json()["detail"]
    assert foreign.json()["type"] == missing.json()["type"] == "/problems/not-found"
    assert await services.db.pool.fetchval(
        "SELECT read_at FROM notifications WHERE id = $1", theirs) is None
    refusals = await services.db.pool.fetch(
        "SELECT actor_id FROM audit_log WHERE action = 'notification.read_refused' AND record_id = $1", str(theirs))
    assert [r["actor_id"] for r in refusals] == [intruder_id]
    assert (await client.get("/me/notifications", headers=headers)).json()["total"] == 0


async def test_reading_the_inbox_is_audited(client, services):
    citizen, owner = await _person(client, services)
    await _notify(services, owner, 1)

    await client.get("/me/notifications", headers=bearer(citizen["access_token"]))

    detail = await services.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'notification.listed' AND actor_id = $1", owner)
    assert detail["count"] == 1


async def test_only_a_signed_in_citizen_has_an_inbox(client, services):
    officer = await staff_token(client, services, "receiving_officer", "330000")

    assert (await client.get("/me/notifications")).status_code == 401
    assert (await client.get("/me/notifications", headers=bearer(officer))).status_code == 403


async def test_overlong_text_is_shortened_and_a_malformed_kind_is_a_programming_error(client, services):
    citizen, owner = await _person(client, services)
    async with services.db.transaction() as conn:
        await services.notifications.notify(conn, uuid.UUID(owner), "case.supplement_requested",
                                            title=Text("补正", "Supplement"), body=Text("缺" * 900, "x" * 3000))
        with pytest.raises(ValueError):
            await services.notifications.notify(conn, uuid.UUID(owner), "Case Received\n", title=Text("甲", "A"),
                                                body=Text("乙", "B"))

    item = (await client.get("/me/notifications", headers=bearer(citizen["access_token"]))).json()["items"][0]
    assert len(item["body"]["zh"]) == 500 and item["body"]["zh"].endswith("…")
    assert len(item["body"]["en"]) == 1000
    bad = await client.get("/me/notifications?limit=0", headers=bearer(citizen["access_token"]))
    assert bad.status_code == 422 and bad.json()["errors"][0]["parameter"] == "limit"
