"""Changing the catalogue: admins only, each inside their division; reads need no sign-in."""

import pytest

from tests.catalogue.conftest import in_days
from tests.catalogue.test_lists import REGIONAL
from tests.factories import bearer, register_citizen, staff_token
from tests.foundation.test_problems import assert_problem

NATIONAL = {"code": "national-2030", "kind": "national",
            "content": {"name": "新增任务清单（测试）", "entries": [{"item_code": "NY-99-001-00", "modes": ["online"]}]}}


async def test_reads_need_no_sign_in(client):
    for path in ("/catalogue/lists", "/catalogue/items/RS-20-004-00", "/catalogue/search?q=社保",
                 "/catalogue/ask?q=社保卡丢了", "/catalogue/resolution?matter_division=330106&at_division=510107",
                 "/catalogue/items/RS-20-004-00/receipt-standard?receiving_division=510107&handling_division=330106",
                 "/catalogue/faq"):
        assert (await client.get(path)).status_code == 200, path


async def test_changes_need_an_admin(client, services):
    citizen = await register_citizen(client, services)
    officer = bearer(await staff_token(client, services, "receiving_officer", "000000"))
    supervisor = bearer(await staff_token(client, services, "supervisor", "000000"))

    anonymous = await client.post("/admin/catalogue/lists", json=NATIONAL)
    as_citizen = await client.post("/admin/catalogue/lists", json=NATIONAL, headers=bearer(citizen["access_token"]))
    as_officer = await client.post("/admin/catalogue/lists", json=NATIONAL, headers=officer)
    as_supervisor = await client.post("/admin/catalogue/lists/yrd/versions/2/withdraw", json={"reason": "x"},
                                      headers=supervisor)

    assert_problem(anonymous, 401, "unauthenticated")
    for response in (as_citizen, as_officer, as_supervisor):
        assert_problem(response, 403, "forbidden")
    assert await services.db.pool.fetchval("SELECT count(*) FROM catalogue_lists WHERE code = 'national-2030'") == 0


async def test_only_a_national_admin_changes_national_lists(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    national = bearer(await staff_token(client, services, "admin", "000000"))

    refused = await client.post("/admin/catalogue/lists", json=NATIONAL, headers=zhejiang)
    refused_draft = await client.post("/admin/catalogue/lists/national-2022/drafts", json={}, headers=zhejiang)
    created = await client.post("/admin/catalogue/lists", json=NATIONAL, headers=national)

    assert_problem(refused, 403, "outside-division")
    assert_problem(refused_draft, 403, "outside-division")
    assert created.status_code == 201


@pytest.mark.parametrize(("scope", "allowed"), [
    ("000000", True),   # national
    ("330000", True),   # 浙江, a member of 长三角
    ("330100", False),  # 杭州: inside a member province but not the province
    ("510000", False),  # 四川: not a member
])
async def test_a_regional_list_is_changed_by_admins_of_its_member_provinces(client, services, scope, allowed):
    admin = bearer(await staff_token(client, services, "admin", scope))

    response = await client.post("/admin/catalogue/lists/yrd/drafts", json={}, headers=admin)

    if allowed:
        assert response.status_code == 201 and response.json()["version"] == 3
    else:
        assert_problem(response, 403, "outside-division")
        assert await services.db.pool.fetchval(
            "SELECT count(*) FROM catalogue_list_versions WHERE list_code = 'yrd'") == 2


async def test_an_admin_cannot_take_a_regional_list_away_from_their_province(client, services):
    beijing = bearer(await staff_token(client, services, "admin", "110000"))
    national = bearer(await staff_token(client, services, "admin", "000000"))
    await client.post("/admin/catalogue/lists", json=REGIONAL, headers=national)

    moved = await client.put("/admin/catalogue/lists/jjj/versions/1", headers=beijing,
                             json={**REGIONAL["content"], "members": ["120000", "130000"]})

    assert_problem(moved, 403, "outside-division")


async def test_only_a_national_admin_adds_items_and_staff_cannot_publish_variants_elsewhere(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    item = (await client.get("/catalogue/items/GJ-05-002-00")).json()
    standard = {k: v for k, v in item.items() if k not in ("revision", "variants", "sample", "elements")}
    standard["modes"] = [m["code"] for m in item["modes"]]

    revise = await client.put("/admin/catalogue/items/GJ-05-002-00", json=standard, headers=zhejiang)
    variant = await client.post("/admin/catalogue/items/GJ-05-002-00/variants", headers=zhejiang,
                                json={"division": "310000", "effective_date": in_days(1), "standard": standard})
    own = await client.post("/admin/catalogue/items/GJ-05-002-00/variants", headers=zhejiang,
                            json={"division": "330000", "effective_date": in_days(1), "standard": standard})

    assert_problem(revise, 403, "outside-division")
    assert_problem(variant, 403, "outside-division")
    assert own.status_code == 201 and own.json()["differences"] == []


async def test_a_provincial_admin_cannot_commit_other_provinces_to_a_list(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    with_xinjiang = {"code": "zj-xj", "kind": "regional", "content": {
        "name": "浙新协作清单", "members": ["330000", "650000"],
        "entries": [{"item_code": "GA-01-001-00", "modes": ["proxy"]}]}}
    badly_written = {**with_xinjiang, "content": {**with_xinjiang["content"], "members": ["330000", "990000"]}}

    created = await client.post("/admin/catalogue/lists", json=with_xinjiang, headers=zhejiang)
    invalid = await client.post("/admin/catalogue/lists", json=badly_written, headers=zhejiang)

    assert_problem(created, 403, "outside-division")
    assert_problem(invalid, 403, "outside-division")  # the scope decides before the content is read
    assert await services.db.pool.fetchval("SELECT count(*) FROM catalogue_lists WHERE code = 'zj-xj'") == 0


async def test_only_a_national_admin_changes_who_belongs_to_a_regional_list(client, services):
    zhejiang = bearer(await staff_token(client, services, "admin", "330000"))
    national = bearer(await staff_token(client, services, "admin", "000000"))
    yrd = (await client.get("/catalogue/lists/yrd/versions/2")).json()
    content = {k: yrd[k] for k in ("name", "issuer", "document", "note", "members")}
    content["entries"] = [{"item_code": e["item_code"], "modes": [m["code"] for m in e["modes"]]}
                          for e in yrd["entries"]]
    without_shanghai = {**content, "members": ["320000", "330000", "340000"]}

    new_draft = await client.post("/admin/catalogue/lists/yrd/drafts", json={"content": without_shanghai},
                                  headers=zhejiang)
    copied = await client.post("/admin/catalogue/lists/yrd/drafts", json={}, headers=zhejiang)
    edited = await client.put("/admin/catalogue/lists/yrd/versions/3", json=without_shanghai, headers=zhejiang)
    same_members = await client.put("/admin/catalogue/lists/yrd/versions/3", headers=zhejiang,
                                    json={**content, "note": "浙江修订"})
    by_national = await client.put("/admin/catalogue/lists/yrd/versions/3", json=without_shanghai, headers=national)

    assert_problem(new_draft, 403, "outside-division")
    assert copied.status_code == 201
    assert_problem(edited, 403, "outside-division")
    assert same_members.status_code == 200
    assert by_national.status_code == 200 and by_national.json()["members"] == ["320000", "330000", "340000"]
    details = [r["detail"] for r in await services.db.pool.fetch(
        "SELECT detail FROM audit_log WHERE action = 'catalogue.list.draft_updated' AND record_id = 'yrd' ORDER BY at")]
    assert [(d.get("members_added"), d.get("members_removed")) for d in details] == [(None, None), ([], ["310000"])]
