"""Baseline for `GET /me`: a bare Litestar + asyncpg + redis handler doing the same work without Tongban —
decode the JWT, one Redis GET (the revocation check), then in one transaction the citizen's SELECT and a
plain INSERT (a log row, no chain). Run under the same server as the app; see bench/http_foundation.py.

Environment: DATABASE_URL, REDIS_URL, TONGBAN_JWT_SECRET (the app's), BENCH_POOL_MAX, BENCH_REDIS_PREFIX.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid

import asyncpg
import jwt
import redis.asyncio as redis
from litestar import Litestar, Request, get
from litestar.exceptions import NotAuthorizedException

from backend.config import DEV_SECRETS

SECRET = os.environ.get("TONGBAN_JWT_SECRET") or DEV_SECRETS["jwt_secret"]
PREFIX = os.environ.get("BENCH_REDIS_PREFIX", "bench:")
TABLE = """CREATE TABLE IF NOT EXISTS bench_reads (
    id bigserial PRIMARY KEY, at timestamptz NOT NULL, actor_kind text NOT NULL, actor_id text, action text NOT NULL,
    record_type text NOT NULL, record_id text, division_code text, request_id text, detail jsonb NOT NULL)"""
state: dict[str, object] = {}


async def connect() -> None:
    pool = await asyncpg.create_pool(os.environ["DATABASE_URL"], min_size=1,
                                     max_size=int(os.environ.get("BENCH_POOL_MAX", "20")))
    await pool.execute(TABLE)
    state["pool"], state["redis"] = pool, redis.from_url(os.environ["REDIS_URL"])


async def close() -> None:
    await state["pool"].close()  # type: ignore[attr-defined]
    await state["redis"].aclose()  # type: ignore[attr-defined]


async def signed_in(request: Request) -> dict[str, str]:
    """The access token's claims: the JWT checked, and the Redis revocation key looked up."""
    try:
        claims = jwt.decode(request.headers.get("authorization", "").partition(" ")[2], SECRET, algorithms=["HS256"],
                            issuer="tongban", options={"require": ["exp", "iat", "sub"]})
    except jwt.PyJWTError:
        raise NotAuthorizedException() from None
    if await state["redis"].get(f"{PREFIX}revoked:{claims['session_id']}"):  # type: ignore[attr-defined]
        raise NotAuthorizedException()
    return claims


@get("/me")
async def me(request: Request) -> dict[str, str]:
    claims = await signed_in(request)
    async with state["pool"].acquire() as conn, conn.transaction():  # type: ignore[attr-defined]
        row = await conn.fetchrow("SELECT * FROM citizens WHERE id = $1", uuid.UUID(claims["sub"]))
        await conn.execute(
            """INSERT INTO bench_reads (at, actor_kind, actor_id, action, record_type, record_id, division_code,
                                        request_id, detail) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)""",
            dt.datetime.now(dt.UTC), "citizen", claims["sub"], "citizen.read", "citizen", claims["sub"],
            row["home_division"], request.headers.get("x-request-id"), json.dumps({}))
    return {"id": str(row["id"]), "name": row["name"], "phone": row["phone_masked"],
            "resident_id": row["resident_id_masked"], "home_division": row["home_division"]}


app = Litestar([me], on_startup=[connect], on_shutdown=[close])
