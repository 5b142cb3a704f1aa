"""Application forms must satisfy the item's JSON Schema; a schema that does not parse is refused."""

import copy
import json

from backend.catalogue.forms import checked_form
from backend.catalogue.loader import DATA_DIR
from backend.errors import FieldError
from tests.catalogue.conftest import standard_of
from tests.factories import bearer, staff_token
from tests.foundation.test_problems import assert_problem

HOUSING_FORM = {"applicant_name": "陈静", "resident_id": "330106198806120025", "phone": "13800000003",
                "deposit_division": "330106", "property_division": "510107", "amount": 120000.5,
                "bank_account": "6222020000000000"}


async def test_a_valid_form_passes(client):
    response = await client.post("/catalogue/items/GJ-05-001-00/form-check", json={"form": HOUSING_FORM})

    assert response.status_code == 200
    assert response.json() == {"item_code": "GJ-05-001-00", "valid": True, "errors": [], "schema_from": "national"}


async def test_every_problem_points_at_its_field(client):
    form = {**HOUSING_FORM, "phone": "12345", "amount": -1, "surprise": True}
    del form["bank_account"]

    body = (await client.post("/catalogue/items/GJ-05-001-00/form-check", json={"form": form})).json()

    assert body["valid"] is False
    assert sorted(e["pointer"] for e in body["errors"]) == [
        "#/form/amount", "#/form/bank_account", "#/form/phone", "#/form/surprise"]
    detail = {e["pointer"]: e["detail"] for e in body["errors"]}
    assert detail["#/form/bank_account"] == "is required"
    assert detail["#/form/phone"].startswith("联系电话: ")


async def test_nested_fields_are_pointed_at_inside_arrays(client):
    form = {"applicant_name": "李秀英", "resident_id": "11010519491231002X", "phone": "13800000001",
            "move_out_division": "110105", "move_in_division": "330106", "basis_kind": "family",
            "members": [{"name": "李明", "resident_id": "110105197001010011", "relation": "子"},
                        {"name": "", "resident_id": "x", "relation": "孙"}]}

    body = (await client.post("/catalogue/items/GA-01-001-00/form-check", json={"form": form})).json()

    assert sorted(e["pointer"] for e in body["errors"]) == ["#/form/members/1/name", "#/form/members/1/resident_id"]


async def test_a_form_checked_against_the_schema_the_catalogue_gives_other_domains(services):
    schema = await services.catalogue.form_schema("GJ-05-001-00")
    good = await checked_form(schema, HOUSING_FORM)
    bad = await checked_form(schema, {}, at="#/application")

    assert good == []
    assert FieldError("#/application/applicant_name", "is required") in bad and len(bad) == 7


async def test_form_check_bad_input(client):
    unknown = await client.post("/catalogue/items/GJ-05-999-00/form-check", json={"form": {}})
    not_an_object = await client.post("/catalogue/items/GJ-05-001-00/form-check", json={"form": [1]})
    bad_division = await client.post("/catalogue/items/GJ-05-001-00/form-check",
                                     json={"form": {}, "handling_division": "999999"})

    assert_problem(unknown, 404, "not-found")
    assert assert_problem(not_an_object, 422, "validation-error")["errors"][0]["pointer"] == "#/form"
    assert assert_problem(bad_division, 422, "validation-error")["errors"][0]["pointer"] == "#/handling_division"


def new_item(**changes):
    items = json.loads((DATA_DIR / "items.json").read_text(encoding="utf-8"))["items"]
    item = copy.deepcopy(next(i for i in items if i["code"] == "GJ-05-002-00"))
    item.update(code="GJ-05-009-00", name="公积金测试事项", aliases=[])
    item.update(changes)
    return item


async def test_a_national_admin_adds_an_item_and_a_schema_that_does_not_parse_is_refused(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    unparsable = new_item(form_schema={"type": "object", "properties": {"x": {"type": 5}},
                                       "required": "x"})
    not_an_object = new_item(form_schema={"type": "string"})
    wrong_type_code = new_item(code="GJ-01-009-00")

    refused = await client.post("/admin/catalogue/items", json=unparsable, headers=admin)
    refused_shape = await client.post("/admin/catalogue/items", json=not_an_object, headers=admin)
    refused_code = await client.post("/admin/catalogue/items", json=wrong_type_code, headers=admin)
    created = await client.post("/admin/catalogue/items", json=new_item(), headers=admin)

    assert assert_problem(refused, 422, "validation-error")["errors"][0]["pointer"].startswith("#/form_schema/")
    assert [e["pointer"] for e in assert_problem(refused_shape, 422, "validation-error")["errors"]] == [
        "#/form_schema/type"]
    assert [e["pointer"] for e in assert_problem(refused_code, 422, "validation-error")["errors"]] == ["#/code"]
    assert created.status_code == 201 and created.json()["sample"] is False
    assert await services.db.pool.fetchval("SELECT count(*) FROM catalogue_items WHERE code LIKE 'GJ-0_-009-00'") == 1


async def test_revising_an_item_keeps_the_previous_standard(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    item = (await client.get("/catalogue/items/GJ-05-002-00")).json()
    revised = new_item(code="GJ-05-002-00", name=item["name"], aliases=["公积金交房租"],
                       time_limit={"working_days": 0, "legal": "即时办结"})

    response = await client.put("/admin/catalogue/items/GJ-05-002-00", json=revised, headers=admin)
    found = (await client.get("/catalogue/search", params={"q": "公积金交房租"})).json()

    assert response.status_code == 200 and response.json()["revision"] == 2
    assert response.json()["time_limit"] == {"working_days": 0, "legal": "即时办结"}
    old = await services.db.pool.fetchval(
        "SELECT standard->'time_limit'->>'working_days' FROM catalogue_item_revisions WHERE item_code = 'GJ-05-002-00'")
    assert old == "1"
    assert found["items"][0]["code"] == "GJ-05-002-00" and found["items"][0]["match"] == "exact_alias"
    assert await services.db.pool.fetchval(
        "SELECT count(*) FROM audit_log WHERE action = 'catalogue.item.revised' AND record_id = 'GJ-05-002-00'") == 1


def with_field(schema_field, **schema):
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object",
            "properties": {"name": schema_field}, **schema}


async def revise_form_schema(client, admin, schema, code="GJ-05-002-00"):
    standard = await standard_of(client, code)
    return await client.put(f"/admin/catalogue/items/{code}", json={**standard, "form_schema": schema}, headers=admin)


async def test_patterns_run_in_linear_time_so_a_crafted_value_cannot_freeze_the_service(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    # Catastrophic for a backtracking engine: each extra character doubles the work.
    accepted = await revise_form_schema(client, admin, with_field({"type": "string", "pattern": "^(a+)+$"}))

    # No stopwatch: the bound is the engine's. RE2 matches in time linear in the value (a backtracking
    # engine needs 2^n steps here, minutes for these 33 characters); that RE2 is the engine shows in the
    # next test, where patterns only a backtracking engine runs are refused.
    checked = await client.post("/catalogue/items/GJ-05-002-00/form-check", json={"form": {"name": "a" * 32 + "!"}})

    assert accepted.status_code == 200
    assert checked.status_code == 200 and checked.json()["errors"][0]["pointer"] == "#/form/name"


async def test_patterns_outside_re2_and_oversized_deep_or_recursive_schemas_are_refused(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    deep = {"type": "string"}
    for _ in range(100):
        deep = {"type": "object", "properties": {"x": deep}}
    cases = {
        "#/form_schema/properties/name/pattern": with_field({"type": "string", "pattern": "^(?=a)a+$"}),
        "#/form_schema/patternProperties/(a)\\1": with_field({"type": "string"}, patternProperties={"(a)\\1": {}}),
        "#/form_schema": deep,
        "#/form_schema/additionalProperties/$ref": {"type": "object", "additionalProperties": {"$ref": "#"}},
        "#/form_schema/$defs/b/items/$ref": {"type": "object", "properties": {"a": {"$ref": "#/$defs/b"}},
                                             "$defs": {"b": {"type": "array", "items": {"$ref": "#/$defs/b"}}}},
        "#/form_schema/properties/a/$ref": {"type": "object", "properties": {"a": {"$ref": "#/$defs/missing"}}},
        "#/form_schema/properties/a/$dynamicRef": {"type": "object", "properties": {"a": {"$dynamicRef": "#x"}}},
    }

    for pointer, schema in cases.items():
        response = await revise_form_schema(client, admin, schema)
        assert [e["pointer"] for e in assert_problem(response, 422, "validation-error")["errors"]] == [pointer], pointer
    assert await services.db.pool.fetchval(
        "SELECT revision FROM catalogue_items WHERE code = 'GJ-05-002-00'") == 1


async def test_references_that_multiply_the_schema_are_refused(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    # Each level refers to the next one twice: 2^20 copies of the last level once followed.
    defs = {f"l{n}": {"type": "object", "properties": {"a": {"$ref": f"#/$defs/l{n + 1}"},
                                                       "b": {"$ref": f"#/$defs/l{n + 1}"}}} for n in range(20)}
    defs["l20"] = {"type": "string"}

    response = await revise_form_schema(client, admin, {"type": "object", "$ref": "#/$defs/l0", "$defs": defs})

    assert [e["pointer"] for e in assert_problem(response, 422, "validation-error")["errors"]] == ["#/form_schema"]


async def test_a_schema_stored_before_the_checks_existed_is_reported_not_run(client, services):
    schema = with_field({"type": "string", "pattern": "^(?=a)(a+)+$"})
    await services.db.pool.execute(
        "UPDATE catalogue_items SET standard = jsonb_set(standard, '{form_schema}', $1) WHERE code = 'GJ-05-002-00'",
        schema)

    response = await client.post("/catalogue/items/GJ-05-002-00/form-check", json={"form": {"name": "a" * 12 + "!"}})

    assert_problem(response, 409, "form-schema-unusable")


async def test_oversized_or_deep_forms_are_reported_without_being_walked(client):
    deep = {}
    node = deep
    for _ in range(40):
        node["x"] = {}
        node = node["x"]

    too_deep = await client.post("/catalogue/items/GJ-05-001-00/form-check", json={"form": deep})
    too_big = await client.post("/catalogue/items/GJ-05-001-00/form-check",
                                json={"form": {**HOUSING_FORM, "note": "长" * 30000}})

    assert too_deep.json()["errors"] == [{"pointer": "#/form", "detail": "nests deeper than 16 levels"}]
    assert too_big.json()["errors"] == [{"pointer": "#/form", "detail": "is larger than 64 KB"}]


async def test_unique_items_compares_values_as_json_schema_does(client, services):
    admin = bearer(await staff_token(client, services, "admin", "000000"))
    await revise_form_schema(client, admin, with_field({"type": "array", "uniqueItems": True}))
    check = lambda value: client.post("/catalogue/items/GJ-05-002-00/form-check",  # noqa: E731
                                      json={"form": {"name": value}})

    duplicates = [{"a": 1, "b": [1]}, {"b": [1.0], "a": 1}]
    distinct = [1, True, "1", {"a": 1}, {"a": 2}]

    assert (await check(duplicates)).json()["errors"][0]["pointer"] == "#/form/name"
    assert (await check(distinct)).json()["valid"] is True
    assert (await check([{"k": n} for n in range(3000)])).json()["valid"] is True
