"""Step-up after a face check: tokens from before it stop working, and a weaker check never lowers
a session still inside its step-up window."""

import datetime as dt
import uuid

from backend.actors import Actor
from tests.factories import register_citizen


async def _elevate(services, tokens: dict, level: str):
    claims = services.tokens.read(tokens["access_token"])
    actor = Actor(kind="citizen", id=claims.sub, session_id=claims.session_id)
    async with services.db.transaction() as conn:
        return await services.identity.elevate(conn, actor, level, "test")


async def _session(services, tokens: dict):
    session_id = uuid.UUID(services.tokens.read(tokens["access_token"]).session_id)
    return await services.db.pool.fetchrow("SELECT assurance_level, elevated_at, revoked_at FROM auth_sessions "
                                           "WHERE id = $1", session_id)


async def test_a_refresh_token_from_before_the_step_up_cannot_mint_the_new_level(client, services):
    tokens = await register_citizen(client, services)
    elevated = await _elevate(services, tokens, "L3")

    stale = await client.post("/auth/refresh", json={"refresh_token": tokens["refresh_token"]})

    assert stale.status_code == 401
    assert "access_token" not in stale.json()
    # Presenting a retired token counts as reuse: the session is revoked, the new token with it.
    assert (await _session(services, tokens))["revoked_at"] is not None
    assert (await client.post("/auth/refresh", json={"refresh_token": elevated.refresh_token})).status_code == 401


async def test_the_refresh_token_issued_by_the_step_up_carries_the_new_level(client, services):
    tokens = await register_citizen(client, services)
    elevated = await _elevate(services, tokens, "L3")

    rotated = await client.post("/auth/refresh", json={"refresh_token": elevated.refresh_token})

    assert rotated.status_code == 200 and rotated.json()["assurance_level"] == "L3"


async def test_a_photo_check_after_a_liveness_check_keeps_the_session_at_l3(client, services):
    tokens = await register_citizen(client, services)
    await _elevate(services, tokens, "L3")
    before = await _session(services, tokens)

    after_photo = await _elevate(services, tokens, "L2")

    assert after_photo.assurance_level == "L3"
    assert services.tokens.read(after_photo.access_token).acr == "L3"
    row = await _session(services, tokens)
    assert row["assurance_level"] == "L3" and row["elevated_at"] == before["elevated_at"]


async def test_once_the_step_up_window_has_passed_a_photo_check_raises_the_session_to_l2(client, services):
    tokens = await register_citizen(client, services)
    await _elevate(services, tokens, "L3")
    session_id = uuid.UUID(services.tokens.read(tokens["access_token"]).session_id)
    await services.db.pool.execute(
        "UPDATE auth_sessions SET elevated_at = now() - interval '16 minutes' WHERE id = $1", session_id)

    after_photo = await _elevate(services, tokens, "L2")

    assert after_photo.assurance_level == "L2"
    row = await _session(services, tokens)
    assert row["assurance_level"] == "L2"
    assert (await services.db.pool.fetchval("SELECT now()")) - row["elevated_at"] < dt.timedelta(minutes=1)
