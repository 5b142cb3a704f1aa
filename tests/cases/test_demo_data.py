"""The demo desk: cases between 浙江 and 四川 in each mode and every state, one overdue, one waiting for
a 补正 answer, one whose result is an e-certificate; loading twice changes nothing."""

from __future__ import annotations

from backend.demo import DEMO_PASSWORD, load_demo_data
from tests.factories import bearer


async def test_demo_cases_show_a_working_desk(client, services):
    await load_demo_data(services, progress=lambda _: None)
    count = await services.db.pool.fetchval("SELECT count(*) FROM cases")
    await load_demo_data(services, progress=lambda _: None)

    assert await services.db.pool.fetchval("SELECT count(*) FROM cases") == count
    states = {r["state"] for r in await services.db.pool.fetch("SELECT state FROM cases")}
    table = {r["to_state"] for r in await services.db.pool.fetch("SELECT to_state FROM case_transitions")}
    assert states == table | {"submitted"}
    modes = {r["mode"] for r in await services.db.pool.fetch("SELECT mode FROM cases")}
    assert modes == {"online", "proxy", "joint"}
    signed_in = await client.post("/auth/staff/sign-in", json={"username": "sc.handling", "password": DEMO_PASSWORD})
    token = signed_in.json()["access_token"]
    due = (await client.get("/staff/cases/due", headers=bearer(token))).json()
    assert len(due["overdue"]) == 1
    waiting = (await client.get("/staff/cases", headers=bearer(token), params={"state": "supplement_requested"})).json()
    assert waiting["total"] == 1
    results = await services.db.pool.fetchval(
        "SELECT count(*) FROM cases c JOIN certificates x ON x.id = c.certificate_id WHERE c.state = 'delivered'")
    assert results == 1
    exchanges = await services.cases.workflow.hand_over.verify(
        await services.db.pool.fetchval("SELECT number FROM cases WHERE state = 'delivered'"))
    assert exchanges.ok and exchanges.holder == "510107"
    joint = await services.db.pool.fetchval("SELECT number FROM cases WHERE mode = 'joint'")
    shared = await services.cases.workflow.hand_over.verify(joint)
    kinds = [e.kind for e in await services.cases.workflow.hand_over.chain(joint)]
    assert shared.ok and kinds == ["handover", "acceptance", "share"], (shared, kinds)
    linked = await services.db.pool.fetch(
        "SELECT d.id, c.number, c.state FROM data_requests d JOIN cases c ON c.id = d.case_id")
    assert [r["state"] for r in linked] == ["supplement_requested"]
    request = (await client.get(f"/staff/data-requests/{linked[0]['id']}", headers=bearer(token))).json()["request"]
    assert (request["case_number"], request["state"]) == (linked[0]["number"], "awaiting-citizen")
