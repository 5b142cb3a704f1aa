"""What an application is checked against comes from the standard governing the handling place, and a
catalogue change takes effect for the next application at once (the terms are kept in memory)."""

from __future__ import annotations

import datetime as dt

from backend.china_time import CHINA_TIME
from tests.cases.conftest import act, applicant, record_application
from tests.factories import bearer, staff_token


async def test_a_variant_published_today_decides_the_form_and_the_result_of_the_next_application(client, services):
    person = await applicant(client, services, "id_card")
    sichuan_admin = bearer(await staff_token(client, services, "admin", "510000"))
    handling = await staff_token(client, services, "handling_officer", "510000")
    before = await client.post("/me/cases", headers=person["headers"], json=record_application(person))
    assert before.status_code == 201, before.text

    item = (await client.get("/catalogue/items/MZ-20-001-00")).json()
    standard = {k: v for k, v in item.items() if k not in ("revision", "variants", "sample", "elements")}
    standard["modes"] = [m["code"] for m in item["modes"]]
    # 四川 hands out a paper record only, and asks where the marriage was registered.
    standard["result"] = {"name": "婚姻登记记录证明（纸质）", "kind": "certificate", "e_certificate_type": None}
    schema = standard["form_schema"]
    schema["properties"]["registered_in"] = {"type": "string", "minLength": 1, "maxLength": 64}
    schema["required"] = [*schema["required"], "registered_in"]
    today = dt.datetime.now(CHINA_TIME).date().isoformat()
    published = await client.post("/admin/catalogue/items/MZ-20-001-00/variants", headers=sichuan_admin,
                                  json={"division": "510000", "effective_date": today, "standard": standard})
    assert published.status_code == 201, published.text

    old_form = await client.post("/me/cases", headers=person["headers"], json=record_application(person))
    application = record_application(person)
    application["form"]["registered_in"] = "成都市锦江区民政局"
    after = await client.post("/me/cases", headers=person["headers"], json=application)

    assert old_form.status_code == 422
    assert any("registered_in" in e["pointer"] + e["detail"] for e in old_form.json()["errors"]), old_form.text
    assert after.status_code == 201, after.text
    decided = {}
    for name, case in (("before", before.json()), ("after", after.json())):
        for action in ("accept", "start_review"):
            assert (await act(client, handling, case["id"], action)).status_code == 200
        decided[name] = await act(client, handling, case["id"], "approve", reasons=["查有登记记录"])
    # The case made under the national standard still issues its e-certificate; the one made under the
    # variant has a paper result and needs no certificate fields.
    assert decided["before"].status_code == 422 and "certificate_fields" in decided["before"].text
    assert decided["after"].status_code == 200, decided["after"].text
    assert decided["after"].json()["certificate_id"] is None
