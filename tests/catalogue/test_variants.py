"""Local variants against the national standard, field by field; receipt standards built on them."""

import copy
import json
import re

import pytest

from backend.catalogue.loader import DATA_DIR
from tests.catalogue.conftest import in_days, standard_of
from tests.concurrency import at_once
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem

VARIANTS = json.loads((DATA_DIR / "variants.json").read_text(encoding="utf-8"))["variants"]
_CHANGED = re.compile(r"^(?P<path>[\w.]+): (?P<old>.+) → (?P<new>.+)$")
_LISTED = re.compile(r"^(?P<path>[\w.]+): (?P<sign>[+−]) (?P<value>.+)$")
# Where the sample file describes a difference in words instead of quoting it: the words that the
# reported value must contain.
_PARAPHRASED = {"省内统一归集说明": "统一归集"}


def _scalar(text):
    return None if text == "null" else int(text) if text.isdigit() else text


def assert_reports(expected, reported):
    """Every expected difference is reported, and nothing else."""
    assert len(reported) == len(expected), [d["summary"] for d in reported]
    for line in expected:
        if (m := _CHANGED.match(line)) is not None:
            found = [d for d in reported if d["path"] == m["path"] and d["change"] == "changed"]
            assert [(d["national"], d["local"]) for d in found] == [(_scalar(m["old"]), _scalar(m["new"]))], line
            continue
        m = _LISTED.match(line)
        assert m is not None, f"cannot read expected difference {line!r}"
        change = "added" if m["sign"] == "+" else "removed"
        found = [d for d in reported if d["path"] == m["path"] and d["change"] == change]
        assert len(found) == 1, line
        value = found[0]["local" if change == "added" else "national"]
        label = value["name"] if isinstance(value, dict) else value
        assert label == m["value"] or _PARAPHRASED.get(m["value"], "\0") in label, line


@pytest.mark.parametrize("variant", VARIANTS, ids=[f"{v['item_code']}@{v['division']}" for v in VARIANTS])
async def test_a_variant_reports_exactly_its_expected_differences(client, variant):
    response = await client.get(f"/catalogue/items/{variant['item_code']}/variants/{variant['division']}",
                                params={"as_of": "2024-01-01"})

    assert response.status_code == 200
    body = response.json()
    assert (body["version"], body["effective_date"], body["sample"]) == (1, variant["effective_date"], True)
    assert_reports(variant["_expected_differences"], body["differences"])


async def test_a_variant_is_not_in_force_before_its_effective_date(client):
    before = await client.get("/catalogue/items/GJ-05-001-00/variants/330000", params={"as_of": "2023-02-28"})
    summary = (await client.get("/catalogue/items/GJ-05-001-00/variants")).json()

    assert_problem(before, 404, "not-found")
    assert summary == [{"division": "330000", "division_name": "浙江省", "version": 1, "effective_date": "2023-03-01",
                        "effective_until": None, "differences": 3, "sample": True}]


async def test_the_receipt_standard_follows_the_handling_provinces_variant(client):
    # A 浙江 housing-fund matter received in 成都: 浙江's local standard governs.
    response = await client.get("/catalogue/items/GJ-05-001-00/receipt-standard", params={
        "receiving_division": "510107", "handling_division": "330106", "as_of": "2024-01-01"})

    assert response.status_code == 200
    body = response.json()
    assert body["governing_variant"]["division"] == "330000"
    assert body["time_limit"] == {"working_days": 1, "legal": "浙江省承诺1个工作日办结"}
    materials = {m["name"]: m for m in body["materials"]}
    assert materials["配偶关系证明"]["origin"] == "local" and materials["配偶关系证明"]["required"] is False
    assert materials["配偶关系证明"]["replaceable_by"] == [{"code": "marriage_certificate", "name": "结婚证"}]
    assert materials["居民身份证"] == {
        "name": "居民身份证", "form": "original", "check": "核验原件后退还", "count": 1, "required": True,
        "replaceable_by": [{"code": "id_card", "name": "居民身份证"}], "note": None, "origin": "national"}
    assert [d["summary"] for d in body["differences"]] == [
        "materials: + 配偶关系证明", "time_limit.working_days: 3 → 1", "time_limit.legal: null → 浙江省承诺1个工作日办结"]
    assert body["differences"][0]["local"]["name"] == "配偶关系证明" and body["differences"][0]["national"] is None
    assert body["receiving_division"]["province_name"] == "四川省"


async def test_a_materials_dropped_locally_are_named_and_the_other_variant_reported(client):
    # A 四川 pension transfer received in 杭州: 四川's variant drops the paper application form.
    sichuan = (await client.get("/catalogue/items/RS-20-001-00/receipt-standard", params={
        "receiving_division": "330106", "handling_division": "510107", "as_of": "2024-01-01"})).json()
    national = (await client.get("/catalogue/items/RS-20-001-00/receipt-standard", params={  # a 浙江 matter
        "receiving_division": "330106", "handling_division": "330106", "as_of": "2024-01-01"})).json()
    both = (await client.get("/catalogue/items/GJ-05-001-00/receipt-standard", params={
        "receiving_division": "330106", "handling_division": "510107", "as_of": "2024-01-01"})).json()

    assert sichuan["not_required_locally"] == ["基本养老保险关系转移接续申请表"]
    assert "基本养老保险关系转移接续申请表" not in [m["name"] for m in sichuan["materials"]]
    assert national["governing_variant"] is None and national["differences"] == []
    assert "基本养老保险关系转移接续申请表" in [m["name"] for m in national["materials"]]
    # 浙江 receives a 四川 matter: 四川 (no variant of this item) governs; 浙江's variant is mentioned.
    assert both["governing_variant"] is None
    assert [v["division"] for v in both["other_variants"]] == ["330000"]


async def test_receipt_standard_bad_input(client):
    unknown_item = await client.get("/catalogue/items/XX-20-001-00/receipt-standard",
                                    params={"receiving_division": "330106", "handling_division": "330106"})
    bad_division = await client.get("/catalogue/items/GJ-05-001-00/receipt-standard",
                                    params={"receiving_division": "330106", "handling_division": "999999"})

    assert_problem(unknown_item, 404, "not-found")
    assert assert_problem(bad_division, 422, "validation-error")["errors"][0]["pointer"] == "#/handling_division"


@pytest.fixture
def sichuan_standard():
    items = json.loads((DATA_DIR / "items.json").read_text(encoding="utf-8"))["items"]
    standard = copy.deepcopy(next(i for i in items if i["code"] == "GJ-05-002-00"))
    standard["time_limit"] = {"working_days": 0, "legal": "四川省即时办结"}
    return standard


async def test_a_provincial_admin_publishes_a_variant_of_their_province_only(client, services, sichuan_standard):
    sichuan = bearer(await staff_token(client, services, "admin", "510000"))
    variant = {"division": "510000", "effective_date": in_days(1), "standard": sichuan_standard}

    created = await client.post("/admin/catalogue/items/GJ-05-002-00/variants", json=variant, headers=sichuan)
    other = await client.post("/admin/catalogue/items/GJ-05-002-00/variants",
                              json={**variant, "division": "500000"}, headers=sichuan)
    same_day = await client.post("/admin/catalogue/items/GJ-05-002-00/variants", json=variant, headers=sichuan)

    assert created.status_code == 201
    assert [d["summary"] for d in created.json()["differences"]] == [
        "time_limit.working_days: 1 → 0", "time_limit.legal: null → 四川省即时办结"]
    assert created.json()["sample"] is False
    assert_problem(other, 403, "outside-division")
    assert_problem(same_day, 409, "overlapping-effective-dates")
    audit = await services.db.pool.fetch(
        "SELECT action, division_code FROM audit_log WHERE record_type = 'catalogue_variant'")
    assert [(a["action"], a["division_code"]) for a in audit] == [("catalogue.variant.published", "510000")]


async def test_a_variant_with_a_broken_form_schema_or_wrong_code_is_refused(client, services, sichuan_standard):
    sichuan = bearer(await staff_token(client, services, "admin", "510000"))
    broken = copy.deepcopy(sichuan_standard)
    broken["form_schema"]["properties"]["applicant_name"]["type"] = "text"
    broken["materials"][0]["replaceable_by"] = ["no_such_certificate"]

    bad_schema = await client.post("/admin/catalogue/items/GJ-05-002-00/variants", headers=sichuan, json={
        "division": "510000", "effective_date": in_days(1), "standard": broken})
    wrong_item = await client.post("/admin/catalogue/items/GJ-05-001-00/variants", headers=sichuan, json={
        "division": "510000", "effective_date": in_days(1), "standard": sichuan_standard})

    pointers = [e["pointer"] for e in assert_problem(bad_schema, 422, "validation-error")["errors"]]
    assert pointers == ["#/standard/materials/0/replaceable_by/0",
                        "#/standard/form_schema/properties/applicant_name/type"]
    assert assert_problem(wrong_item, 422, "validation-error")["errors"][0]["pointer"] == "#/standard/code"
    assert await services.db.pool.fetchval("SELECT count(*) FROM catalogue_variants WHERE division = '510000' "
                                           "AND item_code = 'GJ-05-002-00'") == 0


async def test_the_database_refuses_to_change_a_published_variant(services):
    import asyncpg

    with pytest.raises(asyncpg.RaiseError, match="cannot change"):
        await services.db.pool.execute("UPDATE catalogue_variants SET effective_date = '2020-01-01'")


async def test_concurrent_variants_of_one_item_get_one_number_each_or_a_clear_refusal(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    standard = await standard_of(client, "GA-01-001-00")
    post = lambda days: client.post("/admin/catalogue/items/GA-01-001-00/variants", headers=zhejiang,  # noqa: E731
                                    json={"division": "330000", "effective_date": in_days(days), "standard": standard})

    same_day = await at_once(services, *(post(5) for _ in range(4)))
    later = await at_once(services, *(post(days) for days in (6, 7, 8)))

    assert sorted(r.status_code for r in same_day) == [201, 409, 409, 409], [r.text[:200] for r in same_day]
    assert {r.json()["type"].rsplit("/", 1)[-1] for r in same_day if r.status_code == 409} == {
        "overlapping-effective-dates"}
    assert all(r.status_code in (201, 409) for r in later), [r.text[:200] for r in later]
    numbers = await services.db.pool.fetch(
        "SELECT version, effective_date FROM catalogue_variants WHERE item_code = 'GA-01-001-00' "
        "AND division = '330000' ORDER BY version")
    dates = [r["effective_date"] for r in numbers]
    assert [r["version"] for r in numbers] == list(range(1, len(numbers) + 1)) and dates == sorted(dates)


async def test_the_handling_place_must_be_named_for_a_receipt_standard(client):
    # Without it the receiving province's variant used to govern a matter decided elsewhere.
    response = await client.get("/catalogue/items/GJ-05-001-00/receipt-standard",
                                params={"receiving_division": "330106", "as_of": "2024-01-01"})

    error = assert_problem(response, 422, "validation-error")["errors"][0]
    assert (error["parameter"], error["in"]) == ("handling_division", "query")
