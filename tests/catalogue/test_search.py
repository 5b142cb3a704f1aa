"""Chinese search over items and FAQ: partial names, aliases both ways, exact and frequent first;
and the question-answering endpoint."""

import pytest

from backend.actors import Actor
from backend.config import load_settings
from backend.container import Services
from backend.migrate import apply_migrations
from tests.catalogue.conftest import empty_database, standard_of
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem


async def search(client, q, **params):
    response = await client.get("/catalogue/search", params={"q": q, **params})
    assert response.status_code == 200, response.text
    return response.json()


def names(result):
    return [i["name"] for i in result["items"]]


def codes(result):
    return [i["code"] for i in result["items"]]


async def test_a_partial_name_finds_every_item_containing_it(client):
    result = await search(client, "退休")

    # 退休 also stands for 养老: items named 养老… are found, the most frequent first.
    assert codes(result)[:2] == ["RS-20-004-00", "RS-20-001-00"]
    assert "RS-05-001-00" in codes(result)  # 基本养老金申领, alias 办理退休
    assert all(("养老" in i["name"] or "退休" in i["name"]) for i in result["items"] if i["match"] == "name")
    assert result["relaxed"] is False and result["sample"] is True


async def test_aliases_work_in_both_directions(client):
    short = await search(client, "社保卡补办")
    long = await search(client, "社会保障卡补领")
    licence = await search(client, "驾照")
    formal = await search(client, "机动车驾驶证")

    assert codes(short)[0] == codes(long)[0] == "RS-20-007-01"
    assert set(codes(licence)) == set(codes(formal)) >= {"GA-01-004-00", "GA-01-004-01", "GA-07-002-00"}
    assert short["interpreted_as"] == [["社保卡", "社会保障卡"], ["补办", "补发", "补领"]]


async def test_the_longer_alias_wins(client):
    result = await search(client, "社保卡")

    # 社保卡 is read as 社保卡|社会保障卡, never as 社保 + 卡 (社会保险卡).
    assert result["interpreted_as"] == [["社保卡", "社会保障卡"]]
    assert codes(result)[:2] == ["RS-20-007-00", "RS-20-007-01"]
    assert "SW-20-002-00" not in codes(result)  # 社会保险费缴费证明开具 has no 卡


async def test_exact_names_come_first_then_frequency(client):
    exact = await search(client, "社会保障卡申领")
    alias = await search(client, "良民证")
    by_frequency = await search(client, "医保")

    assert exact["items"][0] == {**exact["items"][0], "code": "RS-20-007-00", "match": "exact_name"}
    assert alias["items"][0]["code"] == "GA-20-001-00" and alias["items"][0]["match"] == "exact_alias"
    in_name = [i for i in by_frequency["items"] if i["match"] == "name"]
    assert [i["frequency"] for i in in_name] == sorted((i["frequency"] for i in in_name), reverse=True)
    assert in_name[0]["code"] == "YB-20-002-00"  # 基本医疗保险关系转移接续, frequency 80


async def test_one_character_and_latin_queries(client):
    tax = await search(client, "税")
    qs = await search(client, "QS认证")

    assert {"SW-20-001-00", "SW-99-001-00"} <= set(codes(tax))
    assert codes(qs) == ["SJ-01-002-00"]


async def test_a_query_that_matches_nothing_whole_is_read_loosely(client):
    result = await search(client, "养老保险关系转移办理")

    assert result["relaxed"] is True
    assert codes(result)[0] == "RS-20-001-00" and result["items"][0]["match"] == "partial"


async def test_nothing_found_is_an_empty_answer_and_punctuation_alone_is_a_problem(client):
    nothing = await search(client, "量子纠缠")
    punctuation = await client.get("/catalogue/search", params={"q": "？！"})

    assert nothing["items"] == [] and nothing["faq"] == []
    assert assert_problem(punctuation, 422, "validation-error")["errors"][0]["pointer"] == "#/q"


async def test_faq_entries_are_searched_too(client):
    result = await search(client, "公积金 转移")

    assert result["faq"][0]["id"] == "FAQ-021"
    assert result["faq"][0]["items"][0]["code"] == "GJ-20-001-00"


@pytest.mark.parametrize(("question", "faq_id", "item"), [
    ("人在外地，社保卡丢了怎么办？", "FAQ-011", "RS-20-007-01"),
    ("驾照年审需要每年去车管所吗", "FAQ-032", "GA-07-002-00"),
    ("老人刷脸认证老是失败", "FAQ-005", "RS-20-004-00"),
    ("在外地住院没备案能报销吗", "FAQ-017", "YB-05-001-00"),
    ("孩子转学到外省学籍怎么办", "FAQ-042", "JY-20-001-00"),
])
async def test_ask_returns_the_best_answer_with_its_items(client, question, faq_id, item):
    response = await client.get("/catalogue/ask", params={"q": question})

    assert response.status_code == 200
    body = response.json()
    assert body["answers"][0]["id"] == faq_id
    assert item in [i["code"] for i in body["answers"][0]["items"]]
    assert item in [i["code"] for i in body["suggested_items"]]
    assert body["sample"] is True


async def test_faq_editing_by_supervisors_is_audited_and_searchable(client, services):
    supervisor = bearer(await staff_token(client, services, "supervisor", "330000"))
    officer = bearer(await staff_token(client, services, "receiving_officer", "330000"))
    entry = {"question": "电子社保卡怎么领取？", "answer": "在掌上12333或支付宝中签发电子社保卡。",
             "item_codes": ["RS-20-007-00"]}

    refused = await client.post("/admin/catalogue/faq", json=entry, headers=officer)
    created = await client.post("/admin/catalogue/faq", json=entry, headers=supervisor)
    faq_id = created.json()["id"]
    updated = await client.put(f"/admin/catalogue/faq/{faq_id}", headers=supervisor,
                               json={**entry, "item_codes": ["RS-20-007-00", "XX-20-000-00"]})
    answer = (await client.get("/catalogue/ask", params={"q": "电子社保卡在哪领"})).json()
    deleted = await client.delete(f"/admin/catalogue/faq/{faq_id}", headers=supervisor)

    assert refused.status_code == 403
    assert created.status_code == 201 and faq_id == "FAQ-049" and created.json()["sample"] is False
    assert assert_problem(updated, 422, "validation-error")["errors"][0]["pointer"] == "#/item_codes/1"
    assert answer["answers"][0]["id"] == faq_id
    assert deleted.status_code == 204
    assert_problem(await client.get(f"/catalogue/faq/{faq_id}"), 404, "not-found")
    actions = [r["action"] for r in await services.db.pool.fetch(
        "SELECT action FROM audit_log WHERE record_type = 'catalogue_faq' ORDER BY at")]
    assert actions == ["catalogue.faq.created", "catalogue.faq.deleted"]


async def test_a_very_long_latin_word_is_indexed_by_its_start(client, services):
    supervisor = bearer(await staff_token(client, services, "supervisor", "000000"))
    word = "z" * 3000  # PostgreSQL refuses a tsvector lexeme over 2047 bytes
    created = await client.post("/admin/catalogue/faq", headers=supervisor, json={
        "question": "超长编号怎么填？", "answer": f"编号 {word} 照抄即可。", "item_codes": []})

    assert created.status_code == 201, created.text
    assert created.json()["id"] in [f["id"] for f in (await search(client, "z" * 80))["faq"]]


async def test_search_does_not_depend_on_the_database_locale(server_urls):
    """Under a `C` ctype pg_trgm sees no Chinese at all; the bigram documents still match."""
    admin_url, redis_url = server_urls
    c_locale = "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
    async with empty_database(admin_url, "tongban_c_locale_search", c_locale) as url:
        await apply_migrations(url)
        services = await Services.start(load_settings({}, mode="test", database_url=url, redis_url=redis_url,
                                                      redis_prefix="c-locale:"))
        try:
            await services.catalogue.load_catalogue(Actor.system(), progress=lambda _: None)
            await services.db.pool.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            trigrams = await services.db.pool.fetchval("SELECT show_trgm('退休金申领')")
            result = await services.catalogue.search.find("退休")
        finally:
            await services.close()

    assert trigrams == []
    assert [i.code for i in result.items][:2] == ["RS-20-004-00", "RS-20-001-00"]


async def test_suggested_items_are_shown_as_they_are(client):
    body = (await client.get("/catalogue/ask", params={"q": "老人刷脸认证老是失败"})).json()

    assert body["suggested_items"]
    for suggestion in body["suggested_items"]:
        item = (await client.get(f"/catalogue/items/{suggestion['code']}")).json()
        assert (suggestion["type"], suggestion["frequency"], suggestion["name"]) == (
            item["type"], item["frequency"], item["name"]), suggestion["code"]


async def test_revising_an_items_aliases_makes_its_faq_entries_findable_by_them(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    standard = await standard_of(client, "RS-20-004-00")
    before = await search(client, "活着证明")

    revised = await client.put("/admin/catalogue/items/RS-20-004-00", headers=admin,
                               json={**standard, "aliases": [*standard["aliases"], "活着证明"]})
    after = await search(client, "活着证明")

    assert revised.status_code == 200
    linked = {f["id"] for f in (await client.get("/catalogue/items/RS-20-004-00/faq")).json()}
    assert before["relaxed"] or not linked & {f["id"] for f in before["faq"]}
    assert after["relaxed"] is False and linked & {f["id"] for f in after["faq"]}
