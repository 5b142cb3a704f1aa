"""The API describes itself: every operation documented, secured ones marked, docs page served; and
what it describes is what the server does."""

import httpx
import msgspec
from litestar import post
from litestar.params import JSONBody

from mobile_api.app import create_app


async def test_every_operation_has_an_id_summary_description_and_tag(client):
    document = (await client.get("/docs/openapi.json")).json()
    operations = [(path, method, op) for path, item in document["paths"].items()
                  for method, op in item.items() if method in {"get", "post", "put", "patch", "delete"}]
    assert len(operations) >= 15
    for path, method, op in operations:
        assert op.get("operationId"), (path, method)
        assert op.get("summary") and op.get("description"), (path, method)
        assert op.get("tags"), (path, method)
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    assert document["paths"]["/me"]["get"]["security"] == [{"bearer": []}]


async def test_request_examples_are_published(client):
    document = (await client.get("/docs/openapi.json")).json()
    schema = document["components"]["schemas"]
    registration = next(v for k, v in schema.items() if k.endswith("CitizenRegistration"))
    assert registration["properties"]["resident_id"]["examples"]


async def test_the_interactive_docs_and_their_assets_are_served_locally(client):
    page = await client.get("/docs")
    assert page.status_code == 200 and "/docs/assets/swagger-ui-bundle.js" in page.text
    script = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert script.status_code == 200 and len(script.content) > 100_000


async def test_failures_are_documented_as_problem_details(client):
    document = (await client.get("/docs/openapi.json")).json()
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {"type", "title", "status", "detail"}
    for path, item in document["paths"].items():
        for method, op in item.items():
            failures = {code: r for code, r in op["responses"].items() if code[0] in "45" or code == "default"}
            assert "default" in failures, (path, method)
            for code, response in failures.items():
                assert list(response["content"]) == ["application/problem+json"], (path, method, code)
    assert {"401", "403"} <= set(document["paths"]["/me"]["get"]["responses"])
    assert "422" in document["paths"]["/citizens"]["post"]["responses"]


async def test_a_body_that_refuses_unknown_fields_is_documented_as_closed(client):
    document = (await client.get("/docs/openapi.json")).json()
    schemas = document["components"]["schemas"]
    refused = await client.post("/auth/refresh", json={"refresh_token": "r" * 32, "remember_me": True})

    assert refused.status_code == 422 and refused.json()["errors"][0]["pointer"] == "#/remember_me"
    assert schemas["RefreshRequest"]["additionalProperties"] is False
    # A struct that does not forbid unknown fields (a response here) leaves them allowed.
    assert "additionalProperties" not in schemas["Readiness"]



class _Flags(msgspec.Struct):
    on: bool
    count: int


@post("/test/flags", status_code=200)
async def _echo_flags(data: JSONBody[_Flags]) -> _Flags:
    return data


async def test_a_json_body_is_held_to_its_declared_types_exactly(services):
    # Litestar alone converts bodies leniently: 0 for false, "1" for true, "3" for 3.
    app = create_app(services=services, extra_routes=[_echo_flags])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
        exact = await client.post("/test/flags", json={"on": False, "count": 3.0})  # 3.0 is an integer
        loose = [await client.post("/test/flags", json=body)
                 for body in ({"on": 0, "count": 3}, {"on": "true", "count": 3}, {"on": True, "count": "3"})]

    assert exact.status_code == 200 and exact.json() == {"on": False, "count": 3}
    assert [r.status_code for r in loose] == [422, 422, 422]
    assert [r.json()["errors"][0]["pointer"] for r in loose] == ["#/on", "#/on", "#/count"]
