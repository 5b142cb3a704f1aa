"""Items carry the ten standard elements; divisions are checked against the GB/T 2260 table."""

import json

import pytest

from backend.identity.divisions import DIVISIONS_FILE
from tests.catalogue.conftest import standard_of
from tests.concurrency import at_once
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem


async def test_an_item_shows_its_ten_elements_modes_in_chinese_and_the_sample_label(client):
    response = await client.get("/catalogue/items/RS-20-001-00")

    assert response.status_code == 200
    item = response.json()
    assert set(item["elements"]) == {"name", "code", "basis", "type", "conditions", "targets", "process",
                                     "materials", "time_limit", "result"}
    for element in item["elements"]:
        assert item[element], element
    assert item["name"] == "企业职工基本养老保险关系转移接续"
    assert {"name": "基本养老保险关系转移接续申请表", "form": "original", "count": 1, "required": True,
            "replaceable_by": [], "note": "可在线填写生成，签名后提交"} in item["materials"]
    assert item["modes"] == [{"code": "online", "name": "全程网办"}, {"code": "proxy", "name": "异地代收代办"}]
    assert item["variants"] == ["510000"]
    assert item["sample"] is True
    assert item["form_schema"]["$schema"] == "https://json-schema.org/draft/2020-12/schema"


async def test_items_are_listed_by_frequency_and_filtered(client):
    everything = (await client.get("/catalogue/items", params={"limit": 200})).json()
    joint = (await client.get("/catalogue/items", params={"mode": "joint"})).json()
    medical = (await client.get("/catalogue/items", params={"department": "YB"})).json()

    assert everything["total"] == 57 and everything["sample"] is True
    frequencies = [i["frequency"] for i in everything["items"]]
    assert frequencies == sorted(frequencies, reverse=True)
    assert joint["total"] > 0 and all("joint" in [m["code"] for m in i["modes"]] for i in joint["items"])
    assert medical["total"] == 7 and all(i["code"].startswith("YB-") for i in medical["items"])


async def test_an_unknown_item_is_a_404_problem(client):
    body = assert_problem(await client.get("/catalogue/items/RS-20-999-00"), 404, "not-found")
    assert body["item_code"] == "RS-20-999-00"


async def test_divisions_are_checked_against_the_table_not_only_the_province(client):
    listed = await client.get("/catalogue/divisions/330106")
    unlisted_county = await client.get("/catalogue/divisions/330108")
    retired = await client.get("/catalogue/divisions/371200")
    no_such_prefecture = await client.get("/catalogue/divisions/339900")
    no_such_district = await client.get("/catalogue/divisions/110199")

    assert listed.json() == {"code": "330106", "name": "西湖区", "level": "county", "province": "330000",
                             "province_name": "浙江省"}
    # The table lists only some counties under prefectures: one under 杭州市 is accepted, unnamed.
    assert unlisted_county.status_code == 200 and unlisted_county.json()["name"] is None
    body = assert_problem(retired, 422, "validation-error")
    assert body["errors"] == [{"pointer": "#/code", "detail": "371200 (莱芜市) was retired in 2019; use 370100"}]
    assert_problem(no_such_prefecture, 422, "validation-error")
    # Beijing's districts are all listed, so an unknown one is refused.
    assert_problem(no_such_district, 422, "validation-error")


async def test_the_divisions_table_holds_exactly_the_file(services):
    raw = json.loads(DIVISIONS_FILE.read_text(encoding="utf-8"))
    rows = await services.db.pool.fetch("SELECT code, name, level, kind, parent, replaced_by FROM divisions")
    table = {r["code"]: (r["name"], r["level"], r["kind"], r["parent"]) for r in rows if r["replaced_by"] is None}
    retired = {r["code"]: r["replaced_by"] for r in rows if r["replaced_by"] is not None}

    assert table == {d["code"]: (d["name"], d["level"], d["kind"], d["parent"]) for d in raw["divisions"]}
    assert retired == {r["code"]: r["replaced_by"] for r in raw["retired"]}
    assert await services.catalogue.sync_reference_data() is False  # unchanged file: nothing reloaded


async def test_a_changed_divisions_file_is_loaded_at_start_up(services, tmp_path):
    raw = json.loads(DIVISIONS_FILE.read_text(encoding="utf-8"))
    raw["divisions"].append({"code": "330199", "name": "新设区", "level": "county", "kind": "市辖区",
                             "parent": "330100"})
    changed = tmp_path / "divisions.json"
    changed.write_text(json.dumps(raw, ensure_ascii=False), encoding="utf-8")

    assert await services.catalogue.sync_reference_data(changed) is True
    assert await services.catalogue.sync_reference_data(changed) is False
    assert await services.db.pool.fetchval("SELECT name FROM divisions WHERE code = '330199'") == "新设区"


async def test_concurrent_creates_of_one_item_add_it_once(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    standard = {**await standard_of(client, "GA-01-001-00"), "code": "GA-01-777-00", "aliases": []}

    responses = await at_once(services, *(client.post("/admin/catalogue/items", json=standard, headers=admin)
                                          for _ in range(4)))

    assert sorted(r.status_code for r in responses) == [201, 422, 422, 422], [r.text[:200] for r in responses]
    for refused in (r for r in responses if r.status_code == 422):
        assert assert_problem(refused, 422, "validation-error")["errors"][0]["pointer"] == "#/code"
    assert await services.db.pool.fetchval("SELECT count(*) FROM catalogue_items WHERE code = 'GA-01-777-00'") == 1


@pytest.mark.parametrize(("code", "name"), [("500105", "江北区"), ("500112", "渝北区")])
async def test_chongqings_jiangbei_and_yubei_districts_are_valid_codes(client, code, name):
    # The data file once retired them into 500157 on an unconfirmed reading of two packages' data.
    response = await client.get(f"/catalogue/divisions/{code}")

    assert response.status_code == 200, response.text
    assert response.json() == {"code": code, "name": name, "level": "county", "province": "500000",
                               "province_name": "重庆市"}
