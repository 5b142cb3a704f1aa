"""Information change: each kind at its assurance level (a bank account's L3 from an attested app or a
kiosk only); the change and its event commit together and reach subscribing agencies as signed webhooks; the citizen sees where each change went and when."""

from __future__ import annotations

from backend.events.signing import verify
from backend.events.worker import Worker
from tests.events.helpers import subscribe
from tests.factories import bearer, register_citizen, step_up

ADDRESS = {"division_code": "330106", "detail": "文三路 90 号 3 幢 201 室"}
CONTACT = {"name": "陈晓明", "phone": "13900001111", "relation": "child"}


def account(holder: str) -> dict:
    return {"bank_name": "中国工商银行", "account_number": "6222021234567890123", "holder_name": holder}


async def test_each_change_needs_its_assurance_level(client, services):
    person = await register_citizen(client, services, name="陈静")
    token = person["access_token"]

    contact = await client.put("/me/information/emergency-contact", headers=bearer(token), json=CONTACT)
    address_l1 = await client.put("/me/information/address", headers=bearer(token), json=ADDRESS)
    bank_l1 = await client.put("/me/information/bank-account", headers=bearer(token), json=account("陈静"))
    l2 = await step_up(services, person, "L2")
    address_l2 = await client.put("/me/information/address", headers=bearer(l2), json=ADDRESS)
    bank_l2 = await client.put("/me/information/bank-account", headers=bearer(l2), json=account("陈静"))
    unattested = await step_up(services, person, "L3", capture="unattested")
    bank_unattested = await client.put("/me/information/bank-account", headers=bearer(unattested),
                                       json=account("陈静"))
    l3 = await step_up(services, person, "L3", capture="android-key-attestation")
    bank_l3 = await client.put("/me/information/bank-account", headers=bearer(l3), json=account("陈静"))

    assert contact.status_code == 200, contact.text
    assert contact.json()["value"] == {"name": "陈**", "phone": "139****1111", "relation": "child"}
    for refused, needed, had in ((address_l1, "L2", "L1"), (bank_l1, "L3", "L1"), (bank_l2, "L3", "L2")):
        assert refused.status_code == 403 and refused.json()["type"] == "/problems/step-up-required"
        assert (refused.json()["required_level"], refused.json()["current_level"]) == (needed, had)
    assert bank_unattested.status_code == 403, bank_unattested.text
    problem = bank_unattested.json()
    assert problem["type"] == "/problems/capture-not-accepted" and problem["capture"] == "unattested"
    assert problem["accepted"] == ["attested", "kiosk"]
    refusal = await services.db.pool.fetchrow(
        "SELECT detail FROM audit_log WHERE action = 'citizen.information_change_refused'")
    assert refusal is not None and "unattested" in str(refusal["detail"])
    assert address_l2.status_code == 200 and address_l2.json()["value"]["detail"] == "文三路" + "*" * (len(ADDRESS["detail"]) - 3)
    assert bank_l3.status_code == 200 and bank_l3.json()["assurance_level"] == "L3"
    assert bank_l3.json()["value"] == {"bank_name": "中国工商银行", "account_number": "6222***********0123"}
    kinds = [r["kind"] for r in await services.db.pool.fetch(
        "SELECT kind FROM citizen_information_changes ORDER BY changed_at")]
    assert kinds == ["emergency_contact", "address", "bank_account"]  # the refused ones left nothing
    assert await services.db.pool.fetchval("SELECT count(*) FROM event_outbox") == 3

    mine = (await client.get("/me/information", headers=bearer(token))).json()
    assert mine["bank_account"]["required_level"] == "L3" and mine["address"]["required_level"] == "L2"
    assert mine["bank_account"]["value"]["account_number"] == "6222***********0123"
    assert mine["address"]["changed_at"] is not None and mine["emergency_contact"]["value"]["phone"] == "139****1111"
    row = await services.db.pool.fetchrow(
        "SELECT address_enc, emergency_contact_enc, bank_account_enc FROM citizens WHERE phone_masked = $1",
        person["phone"][:3] + "****" + person["phone"][-4:])
    assert b"6222021234567890123" not in row["bank_account_enc"] and b"13900001111" not in row["emergency_contact_enc"]
    assert "文三路".encode() not in row["address_enc"]
    assert "6222021234567890123" not in str(await services.db.pool.fetch("SELECT payload FROM event_outbox"))


async def test_a_change_reaches_subscribing_agencies_as_a_signed_webhook_and_the_citizen_sees_it(
        client, services, receiver):
    _, secret = await subscribe(services, receiver.url, name="zj-pension-centre",
                                kinds=("citizen.bank_account_changed",), division="330000")
    await subscribe(services, receiver.url, name="zj-post-office", kinds=("citizen.address_changed",),
                    division="330000")
    person = await register_citizen(client, services, name="陈静", division="330106")
    l3 = await step_up(services, person, "L3", capture="kiosk:hz-xihu-01")

    wrong_holder = await client.put("/me/information/bank-account", headers=bearer(l3), json=account("李四"))
    changed = await client.put("/me/information/bank-account", headers=bearer(l3), json=account("陈静"))
    pending = (await client.get("/me/information/changes", headers=bearer(l3))).json()
    await Worker(services, []).run_until_idle()
    delivered = (await client.get("/me/information/changes", headers=bearer(l3))).json()

    assert wrong_holder.status_code == 422 and wrong_holder.json()["errors"][0]["pointer"] == "#/holder_name"
    assert changed.status_code == 200, changed.text
    assert [(d["subscriber"], d["status"]) for d in changed.json()["deliveries"]] == [("zj-pension-centre", "pending")]
    assert len(pending) == 1  # the refused change left nothing: no change, no event
    [received] = receiver.received
    assert verify(secret, received.headers, received.body) == changed.json()["event_id"]
    body = receiver.bodies()[0]
    assert body["kind"] == "citizen.bank_account_changed" and body["division"] == "330106"
    assert body["payload"]["value"]["account_number"] == "6222***********0123"
    assert body["payload"]["kind"] == "bank_account" and body["payload"]["change_id"] == changed.json()["id"]
    assert b"6222021234567890123" not in received.body
    [change] = delivered
    [delivery] = change["deliveries"]
    assert (delivery["subscriber"], delivery["status"], delivery["attempts"]) == ("zj-pension-centre", "delivered", 1)
    assert delivery["delivered_at"] is not None
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE actor_kind = 'citizen' ORDER BY at")]
    assert actions.count("citizen.information_changed") == 1 and "citizen.information_changes_read" in actions
    changed_entry = await services.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'citizen.information_changed'")
    assert "kiosk:hz-xihu-01" in str(changed_entry)
