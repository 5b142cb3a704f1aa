"""Every kind of bad input becomes an RFC 9457 problem, never a 500."""

import logging

import asyncpg
import httpx
import pytest
from litestar import Controller, get, post
from litestar.params import FromPath

from mobile_api.app import create_app

PROBLEM = "application/problem+json"


def assert_problem(response, status, slug):
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body = response.json()
    assert body["type"] == f"/problems/{slug}"
    assert body["status"] == status and body["title"] and body["detail"]
    return body


@pytest.mark.parametrize(("payload", "pointer"), [
    ({"phone": "12345"}, "#/phone"),
    ({"phone": 13800000000}, "#/phone"),
    ({}, "#/phone"),
    ({"phone": "13800000000", "extra": 1}, "#/extra"),
])
async def test_field_errors_point_at_the_field(client, payload, pointer):
    body = assert_problem(await client.post("/auth/code", json=payload), 422, "validation-error")
    assert body["errors"][0]["pointer"] == pointer


async def test_nested_field_errors_point_into_the_object(client):
    response = await client.post("/citizens", json={
        "phone": "13800000000", "code": "123456", "resident_id": "x", "name": "", "home_division": "330106"})
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["pointer"] == "#/name"


async def test_malformed_json_is_a_bad_request(client):
    response = await client.post("/auth/code", content=b'{"phone": ', headers={"content-type": "application/json"})
    assert_problem(response, 400, "malformed-request")


async def test_json_nested_too_deeply_is_a_bad_request_not_a_crash(client):
    body = '{"phone": ' + "[" * 100_000 + "]" * 100_000 + "}"
    response = await client.post("/auth/code", content=body, headers={"Content-Type": "application/json"})
    assert "nested too deeply" in assert_problem(response, 400, "malformed-request")["detail"]


@pytest.mark.parametrize("depth", [257, 600, 850])  # past ours; and where Python's recursion gave out, not msgspec's
async def test_json_nested_deeper_than_any_body_of_the_api_is_a_bad_request(client, depth):
    body = '{"phone": "13800000000", "x": ' + "[" * depth + "]" * depth + "}"
    response = await client.post("/auth/code", content=body, headers={"Content-Type": "application/json"})
    assert "nested deeper than 256 levels" in assert_problem(response, 400, "malformed-request")["detail"]


async def test_json_nested_as_deep_as_allowed_is_read(client):
    body = '{"phone": "13800000000", "x": ' + "[" * 255 + "]" * 255 + "}"
    response = await client.post("/auth/code", content=body, headers={"Content-Type": "application/json"})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["pointer"] == "#/x"  # unknown member


async def test_unknown_route(client):
    body = assert_problem(await client.get("/no/such/thing"), 404, "not-found")
    assert body["instance"] == "/no/such/thing"


async def test_wrong_method(client):
    assert_problem(await client.delete("/auth/code"), 405, "method-not-allowed")


async def test_oversized_body(client, services):
    too_big = b"{" + b" " * services.settings.max_body_bytes + b"}"
    response = await client.post("/auth/code", content=too_big, headers={"content-type": "application/json"})
    assert_problem(response, 413, "body-too-large")


@pytest.mark.parametrize(("url", "parameter", "where"), [
    ("/catalogue/items/GA%00", "code", "path"),
    ("/catalogue/search?q=%E6%88%B7%00", "q", "query"),
    ("/problems/not%00found", "slug", "path"),
])
async def test_a_nul_character_in_a_parameter_is_refused_naming_it(client, url, parameter, where):
    """PostgreSQL's text cannot hold NUL: refused before any handler runs, never a 500."""
    body = assert_problem(await client.get(url), 422, "validation-error")
    assert body["errors"] == [{"parameter": parameter, "in": where,
                               "detail": "must not contain the NUL character (\\u0000)"}]


async def test_a_nul_character_in_a_body_is_refused_at_its_field(client):
    response = await client.post("/auth/code", content=b'{"phone": "1380000\\u00000000"}',
                                 headers={"content-type": "application/json"})
    assert assert_problem(response, 422, "validation-error")["errors"][0]["pointer"] == "#/phone"


async def test_wrong_query_parameter_type(client):
    response = await client.get("/staff/citizens/not-a-uuid")
    assert response.status_code in (401, 404)
    assert response.headers["content-type"].startswith(PROBLEM)


async def test_problem_types_are_documented_at_their_uri(client):
    listed = (await client.get("/problems")).json()
    assert {"/problems/validation-error", "/problems/step-up-required", "/problems/rate-limited"} <= {
        p["type"] for p in listed}
    one = await client.get("/problems/step-up-required")
    assert one.status_code == 200 and one.json()["status"] == 403


class Contended(Controller):
    path = "/contended"

    @post("/", operation_id="contended", summary="x", description="x")
    async def deadlock(self) -> None:
        raise asyncpg.exceptions.DeadlockDetectedError("deadlock detected")


async def test_a_transaction_undone_by_a_deadlock_is_a_busy_service_to_ask_again(services):
    app = create_app(services=services, extra_routes=[Contended])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        response = await http.post("/contended")
    assert "send it again" in assert_problem(response, 503, "service-busy")["detail"]
    assert response.headers["retry-after"] == "1"


class TwoMethods(Controller):
    """A resource with two methods on one path, registered POST first."""

    path = "/two"

    @post("/{kind:str}/things", operation_id="makeThing", summary="x", description="x")
    async def make(self, kind: FromPath[str]) -> None: ...

    @get("/{kind:str}/things", operation_id="listThings", summary="x", description="x")
    async def list_them(self, kind: FromPath[str]) -> list[str]:
        return []


async def test_options_and_405_name_every_method_of_the_resource(services):
    app = create_app(services=services, extra_routes=[TwoMethods])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as http:
        options = await http.options("/two/red/things")
        wrong = await http.delete("/two/red/things")

    assert options.status_code == 204 and options.headers["allow"] == "GET, OPTIONS, POST"
    assert_problem(wrong, 405, "method-not-allowed")
    assert set(wrong.headers["allow"].replace(" ", "").split(",")) == {"GET", "OPTIONS", "POST"}


async def test_a_client_that_hangs_up_before_its_body_is_read_is_not_a_service_failure(services, caplog):
    app = create_app(services=services)  # configures logging anew, which drops caplog's handler: add it back
    logging.getLogger().addHandler(caplog.handler)
    caplog.set_level(logging.INFO)
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "POST", "scheme": "http",
             "path": "/auth/code", "raw_path": b"/auth/code", "query_string": b"", "root_path": "",
             "headers": [(b"host", b"t"), (b"content-type", b"application/json"), (b"content-length", b"30")],
             "client": ("127.0.0.1", 5000), "server": ("t", 80)}
    sent = []

    async def receive():
        return {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    await app(scope, receive, send)
    assert sent[0]["status"] == 499
    assert not [r for r in caplog.records if r.levelname in ("WARNING", "ERROR")]
    assert any(r.name == "tongban.access" and r.status == 499 for r in caplog.records)
