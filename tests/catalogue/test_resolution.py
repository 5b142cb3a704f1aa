"""Resolution: which items a person whose matter belongs to division A can handle in division B, in
which modes, on a date — national lists everywhere, a regional list only between its members."""

from tests.catalogue.conftest import in_days, standard_of
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem


async def resolve(client, matter, at, as_of=None):
    params = {"matter_division": matter, "at_division": at} | ({"as_of": as_of} if as_of else {})
    response = await client.get("/catalogue/resolution", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def by_code(resolution):
    return {i["code"]: i for i in resolution["items"]}


def modes(item):
    return [m["code"] for m in item["modes"]]


async def test_national_lists_apply_between_any_two_provinces(client):
    body = await resolve(client, "440106", "620102", "2024-01-01")  # 广州 matter, handled from 兰州

    items = by_code(body)
    assert body["cross_province"] is True and body["sample"] is True
    assert (body["matter_division"]["province_name"], body["at_division"]["province"]) == ("广东省", "620000")
    assert len(items) == 34 + 22  # both national batches, no regional list covers 广东 and 甘肃
    assert modes(items["GA-01-001-00"]) == ["proxy"]
    assert [s["list_code"] for s in items["GA-01-001-00"]["sources"]] == ["national-2020"]
    frequencies = [i["frequency"] for i in body["items"]]
    assert frequencies == sorted(frequencies, reverse=True)


async def test_a_regional_list_applies_only_when_both_places_are_members(client):
    inside = by_code(await resolve(client, "330106", "310115", "2024-01-01"))   # 杭州 → 上海: both 长三角
    one_member = by_code(await resolve(client, "330106", "510107", "2024-01-01"))  # 杭州 → 成都
    chengyu = by_code(await resolve(client, "510107", "500103", "2024-01-01"))  # 成都 → 重庆: 川渝

    assert modes(inside["GA-01-001-00"]) == ["online", "proxy", "joint"]
    assert [s["list_code"] for s in inside["GA-01-001-00"]["sources"]] == ["national-2020", "yrd"]
    assert "NY-99-001-00" in inside and "NY-99-001-00" not in one_member
    assert modes(one_member["GA-01-001-00"]) == ["proxy"]
    assert modes(chengyu["RS-20-004-00"]) == ["online", "proxy", "joint"]
    assert "SJ-01-001-00" in chengyu and modes(chengyu["SJ-01-001-00"]) == ["online", "proxy"]


async def test_the_date_decides_which_versions_apply(client):
    before_v2 = by_code(await resolve(client, "330106", "310115", "2023-06-30"))
    from_v2 = by_code(await resolve(client, "330106", "310115", "2023-07-01"))
    before_2022_batch = by_code(await resolve(client, "330106", "310115", "2022-09-27"))
    before_any = await resolve(client, "330106", "310115", "2020-09-23")

    assert modes(before_v2["GA-01-001-00"]) == ["proxy", "joint"]   # yrd v1 plus national proxy
    assert modes(from_v2["GA-01-001-00"]) == ["online", "proxy", "joint"]  # yrd v2 adds online
    assert "SJ-01-001-00" in from_v2 and {"list_code": "yrd", "version": 2} == {
        k: v for k, v in from_v2["SJ-01-001-00"]["sources"][1].items() if k in ("list_code", "version")}
    assert "RS-05-001-00" not in before_2022_batch and "RS-05-001-00" in from_v2
    assert before_any["items"] == []


async def test_an_entry_before_its_deadline_is_listed_but_not_yet_guaranteed(client):
    early = by_code(await resolve(client, "110105", "310115", "2021-03-01"))
    later = by_code(await resolve(client, "110105", "310115", "2022-03-01"))

    source = early["RS-20-002-00"]["sources"][0]
    assert (source["available_by"], source["guaranteed"]) == ("2021-12-31", False)
    assert later["RS-20-002-00"]["sources"][0]["guaranteed"] is True


async def test_the_local_variant_of_the_matters_province_is_named(client):
    hangzhou = by_code(await resolve(client, "330106", "510107", "2024-01-01"))
    chengdu = by_code(await resolve(client, "510107", "330106", "2024-01-01"))

    assert hangzhou["GJ-05-001-00"]["local_variant"] == 1
    assert chengdu["GJ-05-001-00"]["local_variant"] is None
    assert chengdu["RS-20-001-00"]["local_variant"] == 1


async def test_bad_divisions_and_dates_are_problems_with_a_pointer(client):
    unknown = await client.get("/catalogue/resolution", params={"matter_division": "990101", "at_division": "330106"})
    retired = await client.get("/catalogue/resolution", params={"matter_division": "330106", "at_division": "371200"})
    malformed = await client.get("/catalogue/resolution", params={"matter_division": "33", "at_division": "330106"})
    bad_date = await client.get("/catalogue/resolution", params={
        "matter_division": "330106", "at_division": "310115", "as_of": "2023-02-30"})
    missing = await client.get("/catalogue/resolution", params={"matter_division": "330106"})

    assert assert_problem(unknown, 422, "validation-error")["errors"][0]["pointer"] == "#/matter_division"
    assert "retired" in assert_problem(retired, 422, "validation-error")["errors"][0]["detail"]
    for response, name in ((malformed, "matter_division"), (bad_date, "as_of"), (missing, "at_division")):
        body = assert_problem(response, 422, "validation-error")
        assert body["errors"][0]["parameter"] == name and body["errors"][0]["in"] == "query"


async def test_modes_not_yet_due_are_reported_apart_from_guaranteed_ones(client):
    early = by_code(await resolve(client, "110105", "310115", "2021-03-01"))["RS-20-002-00"]
    later = by_code(await resolve(client, "110105", "310115", "2022-03-01"))["RS-20-002-00"]

    # national-2020 lists it online and by proxy, to be offered by 2021-12-31.
    assert (modes(early), [m["code"] for m in early["upcoming_modes"]]) == ([], ["online", "proxy"])
    assert (modes(later), later["upcoming_modes"]) == (["online", "proxy"], [])


async def test_a_mode_the_matter_provinces_own_standard_lacks_is_not_offered(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    standard = {**await standard_of(client, "GA-01-001-00"), "modes": ["proxy"]}
    published = await client.post("/admin/catalogue/items/GA-01-001-00/variants", headers=zhejiang,
                                  json={"division": "330000", "effective_date": in_days(1), "standard": standard})

    before = by_code(await resolve(client, "330106", "310115", in_days(0)))["GA-01-001-00"]
    after = by_code(await resolve(client, "330106", "310115", in_days(1)))["GA-01-001-00"]
    shanghai_matter = by_code(await resolve(client, "310115", "330106", in_days(1)))["GA-01-001-00"]

    assert published.status_code == 201, published.text
    assert modes(before) == ["online", "proxy", "joint"] and before["unsupported_modes"] == []
    assert modes(after) == ["proxy"] and after["local_variant"] == 1
    assert [m["code"] for m in after["unsupported_modes"]] == ["online", "joint"]
    assert modes(shanghai_matter) == ["online", "proxy", "joint"]  # 上海 handles by its own standard
