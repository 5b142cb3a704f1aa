"""Recognitions that race: two answers at once, a silent run beside a phone recognition, two silent
runs. Whatever wins, a pensioner is recognised once — one record, one certificate, one event."""

import datetime as dt
import uuid

from backend.actors import Actor
from backend.china_time import today
from backend.eligibility import repository
from backend.eligibility.schemas import RelativeAuthorise
from tests.concurrency import at_once
from tests.eligibility.helpers import agency, pensioner, step_up
from tests.factories import bearer, citizen_id, register_citizen


async def once_each(services, entries: list[dict]) -> None:
    """Exactly one recognition, certificate and event per entry."""
    for table, column in (("pension_recognitions", "entry_id"), ("event_outbox", "subject_id::uuid")):
        counts = await services.db.pool.fetch(f"SELECT {column} AS entry, count(*) AS n FROM {table} GROUP BY 1")
        assert {str(r["entry"]): r["n"] for r in counts} == {e["entry"]["id"]: 1 for e in entries}, table
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM certificates WHERE certificate_type = 'pension_eligibility_record'") == len(entries)


async def signal_for(services, citizen: dict, reference: str) -> None:
    """A sign of life yesterday, as a registered provider's daily file brings it."""
    async with services.db.transaction() as conn:
        await conn.execute("""INSERT INTO data_providers (id, name, division, signal_kinds, credential_hash)
                              VALUES ('hz-medical', '杭州市医疗保障局', '330100', '{medical_settlement}', '\\x00')
                              ON CONFLICT DO NOTHING""")
        await repository.insert_signals(conn, [("hz-medical", __import__("uuid").UUID(citizen["id"]),
                                                "medical_settlement", today() - dt.timedelta(days=1), "330106",
                                                reference)])


async def test_two_answers_at_once_recognise_once(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    token = await step_up(client, citizen)

    answers = await at_once(services, *(client.post("/me/pension/recognitions", headers=bearer(token))
                                        for _ in range(3)))

    assert sorted(a.status_code for a in answers) == [201, 409, 409], [a.text for a in answers]
    refused = next(a for a in answers if a.status_code == 409).json()
    assert refused["reasons"][0]["code"] == "not-yet-open"
    await once_each(services, [citizen])


async def test_a_silent_run_racing_a_phone_recognition_and_another_run_recognises_once(client, services):
    officer = await agency(client, services)
    citizen = await pensioner(client, services, officer)
    quiet = await pensioner(client, services, officer, enrol=False, consent=False)
    await signal_for(services, citizen, "HZ-1")
    await signal_for(services, quiet, "HZ-2")
    token = await step_up(client, citizen)

    phone, *runs = await at_once(services, client.post("/me/pension/recognitions", headers=bearer(token)),
                                 services.eligibility.silent_run(), services.eligibility.silent_run())

    assert phone.status_code in (201, 409), phone.text
    assert sum(run.recognised for run in runs) + (phone.status_code == 201) == 2
    await once_each(services, [citizen, quiet])


async def test_two_citizens_authorising_each_other_at_once_both_succeed(client, services):
    """Each authorisation locks its own citizen's row (the cap of relatives) while its insert takes a key
    share on the other's row: with FOR UPDATE the two waited on each other and one died in a deadlock."""
    relatives = services.eligibility.relatives
    for _ in range(5):
        a, b = [await register_citizen(client, services) for _ in range(2)]
        ids = [uuid.UUID(await citizen_id(client, person["access_token"])) for person in (a, b)]
        actors = [Actor(kind="citizen", id=str(i), assurance_level="L3") for i in ids]
        answers = await at_once(services,
                                relatives.authorise(actors[0], ids[0], RelativeAuthorise(b["resident_id"], "spouse")),
                                relatives.authorise(actors[1], ids[1], RelativeAuthorise(a["resident_id"], "spouse")))
        assert len(answers) == 2
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM authorised_relatives WHERE revoked_at IS NULL") == 10
