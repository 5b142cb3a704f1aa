"""Demo data: a 四川 agency paying three people who live in 杭州 — one due soon with an authorised
relative, one overdue, one recognised silently — loaded twice without change."""

from backend.actors import Actor
from backend.demo import load_demo_data


async def test_demo_pensioners_load_once(services):
    await load_demo_data(services, progress=lambda _: None)
    counts = await services.db.pool.fetchrow(
        """SELECT (SELECT count(*) FROM pension_roster) AS roster, (SELECT count(*) FROM pension_recognitions) AS done,
                  (SELECT count(*) FROM authorised_relatives) AS relatives, (SELECT count(*) FROM life_signals) AS signals""")
    await load_demo_data(services, progress=lambda _: None)
    again = await services.db.pool.fetchrow(
        """SELECT (SELECT count(*) FROM pension_roster) AS roster, (SELECT count(*) FROM pension_recognitions) AS done,
                  (SELECT count(*) FROM authorised_relatives) AS relatives, (SELECT count(*) FROM life_signals) AS signals""")

    assert dict(counts) == dict(again) == {"roster": 3, "done": 1, "relatives": 1, "signals": 1}
    rows = await services.db.pool.fetch(
        """SELECT c.name, r.residence_division, r.next_due - current_date AS days, p.method
           FROM pension_roster r JOIN citizens c ON c.id = r.citizen_id
           LEFT JOIN pension_recognitions p ON p.entry_id = r.id ORDER BY c.name""")
    by_name = {r["name"]: r for r in rows}
    assert by_name["赵淑芬"]["method"] == "silent"
    assert by_name["张桂兰"]["days"] < 0 and by_name["王建国"]["days"] > 0
    assert {r["residence_division"][:4] for r in rows} == {"3301"}


async def test_the_sample_item_names_the_pension_eligibility_certificate(client, services):
    await services.catalogue.load_catalogue(Actor.system(), progress=lambda _: None)
    item = await client.get("/catalogue/items/RS-20-004-00")
    assert item.status_code == 200, item.text
    assert item.json()["result"]["e_certificate_type"] == "pension_eligibility_record"
