"""Versioned lists: draft → published (from an effective date) → superseded / withdrawn; a published
version never changes; history and diffs between any two versions."""

import asyncpg
import pytest

from tests.catalogue.conftest import in_days
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem

REGIONAL = {
    "code": "jjj",
    "kind": "regional",
    "content": {
        "name": "京津冀政务服务“跨省通办”事项清单（测试）",
        "issuer": "京津冀协同办",
        "members": ["110000", "120000", "130000"],
        "entries": [
            {"item_code": "GA-01-001-00", "modes": ["online", "proxy"]},
            {"item_code": "YB-05-001-00", "modes": ["proxy"], "available_by": "2030-12-31"},
        ],
    },
}


@pytest.fixture
async def beijing_admin(client, services):
    return bearer(await staff_token(client, services, "admin", "110000"))


@pytest.fixture
async def national_admin(client, services):
    return bearer(await staff_token(client, services, "admin", "000000"))


@pytest.fixture
async def jjj(client, national_admin):
    """The regional list above as a draft, created by a national admin: only they choose who belongs."""
    created = await client.post("/admin/catalogue/lists", json=REGIONAL, headers=national_admin)
    assert created.status_code == 201, created.text
    return created.json()


async def published_list(client, headers, effective=3):
    """Version 1 of the `jjj` list (the fixture) published by `headers`, `effective` days from today."""
    published = await client.post("/admin/catalogue/lists/jjj/versions/1/publish",
                                  json={"effective_date": in_days(effective)}, headers=headers)
    assert published.status_code == 200, published.text
    return published.json()


async def test_a_draft_is_private_until_published(client, beijing_admin, jjj):
    assert jjj["state"] == "draft" and jjj["effective_date"] is None
    assert (await client.get("/catalogue/lists/jjj/versions/1")).status_code == 404
    assert (await client.get("/admin/catalogue/lists/jjj/versions/1", headers=beijing_admin)).status_code == 200

    published = await client.post("/admin/catalogue/lists/jjj/versions/1/publish",
                                  json={"effective_date": in_days(3)}, headers=beijing_admin)
    public = await client.get("/catalogue/lists/jjj/versions/1")

    assert published.status_code == 200
    assert public.status_code == 200
    body = public.json()
    assert (body["state"], body["effective_date"], body["members"]) == (
        "published", in_days(3), ["110000", "120000", "130000"])
    assert [e["item_code"] for e in body["entries"]] == ["GA-01-001-00", "YB-05-001-00"]
    assert body["entries"][1]["modes"] == [{"code": "proxy", "name": "异地代收代办"}]


async def test_a_draft_can_be_edited_and_a_published_version_cannot(client, services, beijing_admin, jjj):
    edited = {**REGIONAL["content"], "entries": [{"item_code": "GA-01-001-00", "modes": ["joint"]}]}

    first_edit = await client.put("/admin/catalogue/lists/jjj/versions/1", json=edited, headers=beijing_admin)
    await client.post("/admin/catalogue/lists/jjj/versions/1/publish", json={"effective_date": in_days(1)},
                      headers=beijing_admin)
    second_edit = await client.put("/admin/catalogue/lists/jjj/versions/1", json=REGIONAL["content"],
                                   headers=beijing_admin)
    discard = await client.delete("/admin/catalogue/lists/jjj/versions/1", headers=beijing_admin)

    assert first_edit.status_code == 200 and len(first_edit.json()["entries"]) == 1
    assert_problem(second_edit, 409, "version-immutable")
    assert_problem(discard, 409, "version-immutable")
    entries = await services.db.pool.fetch(
        "SELECT item_code, modes FROM catalogue_list_entries e JOIN catalogue_list_versions v ON v.id = e.version_id "
        "WHERE v.list_code = 'jjj'")
    assert [(r["item_code"], r["modes"]) for r in entries] == [("GA-01-001-00", ["joint"])]


async def test_the_database_itself_refuses_to_change_a_published_version(services):
    version_id = await services.db.pool.fetchval(
        "SELECT id FROM catalogue_list_versions WHERE list_code = 'national-2022' AND version = 1")

    attempts = [
        ("UPDATE catalogue_list_versions SET name = 'forged' WHERE id = $1", version_id),
        ("UPDATE catalogue_list_versions SET effective_date = '2019-01-01' WHERE id = $1", version_id),
        ("UPDATE catalogue_list_versions SET state = 'draft' WHERE id = $1", version_id),
        ("DELETE FROM catalogue_list_versions WHERE id = $1", version_id),
        ("UPDATE catalogue_list_entries SET modes = '{joint}' WHERE version_id = $1", version_id),
        ("DELETE FROM catalogue_list_entries WHERE version_id = $1", version_id),
        ("INSERT INTO catalogue_list_entries (version_id, item_code, modes) VALUES ($1, 'NY-99-001-00', '{online}')",
         version_id),
    ]
    for sql, arg in attempts:
        with pytest.raises(asyncpg.RaiseError):
            await services.db.pool.execute(sql, arg)
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM catalogue_list_entries WHERE version_id = $1", version_id) == 22


async def test_publishing_a_new_version_supersedes_the_old_one_from_its_effective_date(
        client, beijing_admin, national_admin, jjj):
    await published_list(client, beijing_admin, effective=3)

    draft = await client.post("/admin/catalogue/lists/jjj/drafts", json={}, headers=beijing_admin)
    assert draft.status_code == 201 and draft.json()["version"] == 2
    assert [e["item_code"] for e in draft.json()["entries"]] == ["GA-01-001-00", "YB-05-001-00"]  # a copy
    changed = {**REGIONAL["content"], "members": ["110000", "120000"],
               "entries": [{"item_code": "GA-01-001-00", "modes": ["online", "proxy", "joint"]},
                           {"item_code": "SJ-01-001-00", "modes": ["online"]}]}
    await client.put("/admin/catalogue/lists/jjj/versions/2", json=changed, headers=national_admin)  # members
    published = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                                  json={"effective_date": in_days(10)}, headers=beijing_admin)

    assert published.status_code == 200
    assert (published.json()["state"], published.json()["supersedes"]) == ("published", 1)
    old = (await client.get("/catalogue/lists/jjj/versions/1")).json()
    # In force until version 2 takes effect: it reads as superseded from that day.
    assert (old["state"], old["effective_until"]) == ("published", in_days(10))
    overview = (await client.get("/catalogue/lists/jjj")).json()
    assert [(v["version"], v["state"], v["effective_until"]) for v in overview["versions"]] == [
        (1, "published", in_days(10)), (2, "published", None)]

    diff = (await client.get("/catalogue/lists/jjj/diff", params={"from": 1, "to": 2})).json()
    assert diff["members_removed"] == ["130000"] and diff["members_added"] == []
    assert [e["item_code"] for e in diff["entries_added"]] == ["SJ-01-001-00"]
    assert [e["item_code"] for e in diff["entries_removed"]] == ["YB-05-001-00"]
    assert [(c["item_code"], c["modes_added"]) for c in diff["entries_changed"]] == [("GA-01-001-00", ["joint"])]

    history = (await client.get("/catalogue/lists/jjj/history")).json()["events"]
    assert [(e["version"], e["action"]) for e in history] == [(1, "published"), (1, "superseded"), (2, "published")]
    assert {e["actor_division"] for e in history} == {"110000"}
    drafts_too = (await client.get("/admin/catalogue/lists/jjj/history", headers=beijing_admin)).json()["events"]
    assert [e["action"] for e in drafts_too].count("draft_created") == 2


async def test_the_diff_of_the_sample_regional_list_shows_its_update(client):
    diff = (await client.get("/catalogue/lists/yrd/diff", params={"from": 1, "to": 2})).json()
    backwards = (await client.get("/catalogue/lists/yrd/diff", params={"from": 2, "to": 1})).json()

    assert sorted(e["item_code"] for e in diff["entries_added"]) == ["NY-99-001-00", "SJ-01-001-00"]
    assert diff["entries_removed"] == []
    assert [(c["item_code"], c["modes_added"]) for c in diff["entries_changed"]] == [("GA-01-001-00", ["online"])]
    assert {"field": "effective_date", "old": "2021-06-01", "new": "2023-07-01"} in diff["fields"]
    assert sorted(e["item_code"] for e in backwards["entries_removed"]) == ["NY-99-001-00", "SJ-01-001-00"]


async def test_overlapping_or_retroactive_effective_dates_are_refused(client, services, beijing_admin, jjj):
    await published_list(client, beijing_admin, effective=10)
    await client.post("/admin/catalogue/lists/jjj/drafts", json={}, headers=beijing_admin)

    same_day = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                                 json={"effective_date": in_days(10)}, headers=beijing_admin)
    before = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                               json={"effective_date": in_days(5)}, headers=beijing_admin)
    past = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                             json={"effective_date": in_days(-1)}, headers=beijing_admin)
    not_a_date = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                                   json={"effective_date": "2026-02-30"}, headers=beijing_admin)

    for response in (same_day, before):
        body = assert_problem(response, 409, "overlapping-effective-dates")
        assert body["errors"][0]["pointer"] == "#/effective_date" and body["conflicts_with"] == 1
    assert assert_problem(past, 422, "validation-error")["errors"][0]["pointer"] == "#/effective_date"
    assert assert_problem(not_a_date, 422, "validation-error")["errors"][0]["pointer"] == "#/effective_date"
    # Nothing half-written: version 1 still open, version 2 still a draft.
    states = await services.db.pool.fetch(
        "SELECT version, state, effective_until FROM catalogue_list_versions WHERE list_code = 'jjj' ORDER BY version")
    assert [(r["version"], r["state"], r["effective_until"]) for r in states] == [
        (1, "published", None), (2, "draft", None)]


async def test_the_database_refuses_overlapping_periods_too(services):
    async with services.db.transaction() as conn:
        version_id = await conn.fetchval(
            """INSERT INTO catalogue_list_versions (list_code, version, name) VALUES ('yrd', 9, 'x') RETURNING id""")
    with pytest.raises(asyncpg.ExclusionViolationError):
        await services.db.pool.execute(
            "UPDATE catalogue_list_versions SET state = 'published', published_on = '2024-01-01', "
            "effective_date = '2024-01-01' WHERE id = $1", version_id)


async def test_a_withdrawn_version_stops_applying_but_stays_in_the_history(client, beijing_admin, jjj):
    await published_list(client, beijing_admin, effective=0)

    withdrawn = await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw",
                                  json={"reason": "协议到期", "effective_until": in_days(30)}, headers=beijing_admin)
    again = await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw", json={"reason": "x"},
                              headers=beijing_admin)

    assert withdrawn.status_code == 200
    assert (withdrawn.json()["state"], withdrawn.json()["effective_until"],
            withdrawn.json()["withdrawal_reason"]) == ("withdrawn", in_days(30), "协议到期")
    assert_problem(again, 409, "invalid-transition")
    in_force = await client.get("/catalogue/resolution", params={
        "matter_division": "110105", "at_division": "120101", "as_of": in_days(29)})
    after = await client.get("/catalogue/resolution", params={
        "matter_division": "110105", "at_division": "120101", "as_of": in_days(30)})
    jjj = lambda r: [s for i in r.json()["items"] for s in i["sources"] if s["list_code"] == "jjj"]  # noqa: E731
    assert jjj(in_force) and not jjj(after)


async def test_a_draft_cannot_be_withdrawn_and_only_one_draft_exists_at_a_time(client, beijing_admin, jjj):

    withdraw = await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw", json={"reason": "x"},
                                 headers=beijing_admin)
    second_draft = await client.post("/admin/catalogue/lists/jjj/drafts", json={}, headers=beijing_admin)
    discarded = await client.delete("/admin/catalogue/lists/jjj/versions/1", headers=beijing_admin)

    assert_problem(withdraw, 409, "invalid-transition")
    assert_problem(second_draft, 409, "invalid-transition")
    assert discarded.status_code == 204
    assert (await client.get("/admin/catalogue/lists/jjj/versions/1", headers=beijing_admin)).status_code == 404


async def test_bad_list_content_is_refused_field_by_field_and_nothing_is_written(client, services, national_admin):
    bad = {"code": "jjj", "kind": "regional", "content": {
        "name": "x", "members": ["110000", "990000", "120000"],
        "entries": [{"item_code": "RS-20-999-00", "modes": ["online"]},
                    {"item_code": "GA-01-001-00", "modes": ["teleport"]}]}}
    national_with_members = {"code": "national-2030", "kind": "national",
                             "content": {"name": "x", "members": ["110000"], "entries": []}}

    response = await client.post("/admin/catalogue/lists", json=bad, headers=national_admin)
    fixed_modes = {**bad, "content": {**bad["content"], "entries": [bad["content"]["entries"][0]]}}
    semantic = await client.post("/admin/catalogue/lists", json=fixed_modes, headers=national_admin)
    national = await client.post("/admin/catalogue/lists", json=national_with_members, headers=national_admin)

    assert assert_problem(response, 422, "validation-error")["errors"][0]["pointer"] == "#/content/entries/1/modes/0"
    pointers = [e["pointer"] for e in assert_problem(semantic, 422, "validation-error")["errors"]]
    assert pointers == ["#/content/members/1", "#/content/entries/0/item_code"]
    assert [e["pointer"] for e in assert_problem(national, 422, "validation-error")["errors"]] == [
        "#/content/members"]
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM catalogue_lists WHERE code IN ('jjj', 'national-2030')") == 0


async def test_creating_a_list_is_idempotent_and_audited(client, services, national_admin):
    headers = {**national_admin, "Idempotency-Key": "jjj-1"}

    first = await client.post("/admin/catalogue/lists", json=REGIONAL, headers=headers)
    retry = await client.post("/admin/catalogue/lists", json=REGIONAL, headers=headers)
    duplicate = await client.post("/admin/catalogue/lists", json=REGIONAL, headers=national_admin)

    assert first.status_code == retry.status_code == 201
    assert retry.headers["idempotent-replayed"] == "true" and retry.json() == first.json()
    assert assert_problem(duplicate, 422, "validation-error")["errors"][0]["pointer"] == "#/code"
    audit = await services.db.pool.fetch(
        "SELECT action, actor_kind, division_code, detail FROM audit_log WHERE record_type = 'catalogue_list' "
        "AND record_id = 'jjj'")
    assert [(a["action"], a["actor_kind"], a["division_code"]) for a in audit] == [
        ("catalogue.list.created", "staff", "000000")]
    assert audit[0]["detail"]["members"] == ["110000", "120000", "130000"]


async def test_publishing_and_withdrawing_are_audited(client, services, beijing_admin, jjj):
    await published_list(client, beijing_admin)
    await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw", json={"reason": "测试"},
                      headers=beijing_admin)

    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_id = 'jjj' ORDER BY at")]
    assert actions == ["catalogue.list.created", "catalogue.list.published", "catalogue.list.withdrawn"]


async def test_unknown_lists_and_versions_are_404(client):
    assert_problem(await client.get("/catalogue/lists/nope"), 404, "not-found")
    assert_problem(await client.get("/catalogue/lists/yrd/versions/7"), 404, "not-found")
    assert_problem(await client.get("/catalogue/lists/yrd/diff", params={"from": 1, "to": 7}), 404, "not-found")


async def test_the_overview_shows_each_list_with_its_version_in_force(client):
    before = {v["code"]: v for v in (await client.get("/catalogue/lists", params={"as_of": "2022-01-01"})).json()}
    now = {v["code"]: v for v in (await client.get("/catalogue/lists")).json()}

    assert before["yrd"]["in_force_version"] == 1 and now["yrd"]["in_force_version"] == 2
    assert before["national-2022"]["in_force_version"] is None
    assert now["chengyu"]["members"] == ["500000", "510000"]
    assert all(v["sample"] for v in now.values())


async def jjj_sources(client, days):
    """The jjj versions resolution names, `days` from today, for a 北京 matter handled from 天津."""
    body = (await client.get("/catalogue/resolution", params={
        "matter_division": "110105", "at_division": "120101", "as_of": in_days(days)})).json()
    return sorted({s["version"] for i in body["items"] for s in i["sources"] if s["list_code"] == "jjj"})


async def published_twice(client, headers, second=30):  # needs the `jjj` fixture
    """jjj version 1 in force from today, version 2 published to take effect `second` days from today."""
    await published_list(client, headers, effective=0)
    await client.post("/admin/catalogue/lists/jjj/drafts", json={}, headers=headers)
    published = await client.post("/admin/catalogue/lists/jjj/versions/2/publish",
                                  json={"effective_date": in_days(second)}, headers=headers)
    assert published.status_code == 200, published.text


async def test_a_version_stays_published_and_withdrawable_until_its_successor_takes_effect(client, national_admin, jjj):
    await published_twice(client, national_admin)

    current = (await client.get("/catalogue/lists/jjj/versions/1")).json()
    withdrawn = await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw", json={"reason": "法规废止"},
                                  headers=national_admin)

    assert (current["state"], current["effective_until"]) == ("published", in_days(30))
    assert withdrawn.status_code == 200, withdrawn.text
    assert (withdrawn.json()["state"], withdrawn.json()["effective_until"]) == ("withdrawn", in_days(0))
    assert await jjj_sources(client, 0) == [] and await jjj_sources(client, 30) == [2]


async def test_withdrawing_a_successor_before_it_takes_effect_keeps_its_predecessor_in_force(
        client, national_admin, jjj):
    await published_twice(client, national_admin)

    cancelled = await client.post("/admin/catalogue/lists/jjj/versions/2/withdraw", json={"reason": "暂缓实施"},
                                  headers=national_admin)
    predecessor = (await client.get("/catalogue/lists/jjj/versions/1")).json()
    days = [await jjj_sources(client, d) for d in (29, 30, 31)]
    await client.post("/admin/catalogue/lists/jjj/drafts", json={}, headers=national_admin)
    third = await client.post("/admin/catalogue/lists/jjj/versions/3/publish", json={"effective_date": in_days(30)},
                              headers=national_admin)

    assert cancelled.status_code == 200
    assert (cancelled.json()["state"], cancelled.json()["effective_date"], cancelled.json()["effective_until"]) == (
        "withdrawn", in_days(30), in_days(30))  # never in force
    assert (predecessor["state"], predecessor["effective_until"]) == ("published", None)
    assert days == [[1], [1], [1]]
    assert third.status_code == 200, third.text
    assert third.json()["supersedes"] == 1
    assert await jjj_sources(client, 29) == [1] and await jjj_sources(client, 30) == [3]
    history = (await client.get("/catalogue/lists/jjj/history")).json()["events"]
    assert [(e["version"], e["action"]) for e in history] == [
        (1, "published"), (1, "superseded"), (2, "published"), (2, "withdrawn"), (1, "reopened"),
        (1, "superseded"), (3, "published")]


async def test_a_version_cannot_be_withdrawn_after_its_successor_set_its_end(client, national_admin, jjj):
    await published_twice(client, national_admin, second=10)

    later = await client.post("/admin/catalogue/lists/jjj/versions/1/withdraw",
                              json={"reason": "x", "effective_until": in_days(20)}, headers=national_admin)

    assert assert_problem(later, 422, "validation-error")["errors"][0]["pointer"] == "#/effective_until"


async def test_the_database_allows_reopening_a_version_only_for_a_successor_that_never_took_effect(
        client, services, national_admin, jjj):
    await published_twice(client, national_admin)
    ids = {r["version"]: r["id"] for r in await services.db.pool.fetch(
        "SELECT version, id FROM catalogue_list_versions WHERE list_code = 'jjj'")}

    with pytest.raises(asyncpg.RaiseError, match="already ends"):
        await services.db.pool.execute(
            "UPDATE catalogue_list_versions SET effective_until = NULL WHERE id = $1", ids[1])
    async with services.db.transaction() as conn:
        await conn.execute("UPDATE catalogue_list_versions SET state = 'withdrawn', withdrawal_reason = 'x', "
                           "effective_until = effective_date WHERE id = $1", ids[2])
        await conn.execute("UPDATE catalogue_list_versions SET effective_until = NULL WHERE id = $1", ids[1])
    assert await services.db.pool.fetchval(
        "SELECT effective_until FROM catalogue_list_versions WHERE id = $1", ids[1]) is None


async def test_the_database_guards_lifecycle_columns_and_list_kinds(services):
    yrd_v2 = await services.db.pool.fetchval(
        "SELECT id FROM catalogue_list_versions WHERE list_code = 'yrd' AND version = 2")

    attempts = [
        ("UPDATE catalogue_list_versions SET withdrawal_reason = 'forged' WHERE id = $1", yrd_v2),
        ("UPDATE catalogue_list_versions SET state = 'withdrawn', effective_until = NULL, withdrawal_reason = 'x' "
         "WHERE id = $1", yrd_v2),
        ("UPDATE catalogue_lists SET kind = 'national' WHERE code = 'yrd' AND $1::bigint IS NOT NULL", yrd_v2),
    ]
    for sql, arg in attempts:
        with pytest.raises((asyncpg.RaiseError, asyncpg.CheckViolationError)):
            await services.db.pool.execute(sql, arg)
    with pytest.raises(asyncpg.UniqueViolationError):  # one action per move between two states
        await services.db.pool.execute(
            "INSERT INTO catalogue_list_transitions VALUES ('published', 'retire', 'withdrawn')")


async def test_a_list_with_only_a_draft_is_not_public_and_keeps_its_kind(client, national_admin, jjj):

    public = await client.get("/catalogue/lists/jjj")
    public_history = await client.get("/catalogue/lists/jjj/history")
    overview = [v["code"] for v in (await client.get("/catalogue/lists")).json()]
    admin = await client.get("/admin/catalogue/lists/jjj", headers=national_admin)

    assert_problem(public, 404, "not-found")
    assert_problem(public_history, 404, "not-found")
    assert "jjj" not in overview
    assert admin.status_code == 200
    body = admin.json()
    assert (body["kind"], body["name"], body["members"], body["in_force_version"]) == (
        "regional", REGIONAL["content"]["name"], ["110000", "120000", "130000"], None)
    assert [(v["version"], v["state"]) for v in body["versions"]] == [(1, "draft")]


async def test_a_list_offers_only_modes_its_items_support(client, services, national_admin):
    # 医师执业注册 supports 全程网办 only.
    body = {"code": "national-2031", "kind": "national", "content": {
        "name": "测试清单", "entries": [{"item_code": "WJ-01-001-00", "modes": ["online", "proxy"]}]}}

    response = await client.post("/admin/catalogue/lists", json=body, headers=national_admin)

    error = assert_problem(response, 422, "validation-error")["errors"][0]
    assert error["pointer"] == "#/content/entries/0/modes/1" and "全程网办" in error["detail"]
    assert await services.db.pool.fetchval(
        """SELECT count(*) FROM catalogue_list_entries e JOIN catalogue_items i ON i.code = e.item_code
           WHERE NOT e.modes <@ i.modes""") == 0  # the sample lists keep the rule too


async def test_list_content_is_bounded_before_it_is_read(client, national_admin):
    entries = [{"item_code": f"RS-20-{n % 1000:03d}-{n // 1000:02d}", "modes": ["online"]} for n in range(2000)]
    body = {"code": "national-2032", "kind": "national", "content": {"name": "过长的清单", "entries": entries}}

    response = await client.post("/admin/catalogue/lists", json=body, headers=national_admin)

    errors = assert_problem(response, 422, "validation-error")["errors"]
    assert [e["pointer"] for e in errors] == ["#/content/entries"]
