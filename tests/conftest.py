"""Shared test infrastructure: real PostgreSQL and Redis (the configured ones, or embedded ones),
one migrated template database per run, and a fresh database plus a fresh Redis key prefix per test."""

from __future__ import annotations

import itertools
import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx
import pytest
from litestar import Litestar

from backend.config import Settings, load_settings
from backend.container import Services
from backend.migrate import apply_migrations
from backend.runtime import servers_for_a_run
from mobile_api.app import create_app

_counter = itertools.count()


def with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def server_urls() -> Iterator[tuple[str, str]]:
    """(PostgreSQL admin URL, Redis URL): from the environment, or embedded servers for this run."""
    with servers_for_a_run("tongban-test-") as urls:
        yield urls


@pytest.fixture(scope="session")
async def template_database(server_urls: tuple[str, str]) -> AsyncIterator[str]:
    """A database migrated once per run; each test copies it."""
    admin_url = server_urls[0]
    name = f"tongban_tpl_{os.getpid()}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name}")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    await apply_migrations(with_database(admin_url, name))
    yield name
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.close()


@asynccontextmanager
async def database_copy(admin_url: str, template: str, name: str) -> AsyncIterator[str]:
    """A database `name` copied from `template` (replacing a leftover of that name), dropped afterwards;
    yields its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.execute(f"CREATE DATABASE {name} TEMPLATE {template}")
    finally:
        await conn.close()
    try:
        yield with_database(admin_url, name)
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


@asynccontextmanager
async def template_with_catalogue(server_urls: tuple[str, str], base: str, name: str) -> AsyncIterator[str]:
    """A template copied from `base` with the GB/T 2260 divisions and the SAMPLE catalogue loaded (for
    tests of domains built on the catalogue), dropped afterwards. The name carries the process id:
    other test runs may share the server."""
    from backend.actors import Actor

    admin_url, redis_url = server_urls
    async with database_copy(admin_url, base, f"{name}_{os.getpid()}") as url:
        name = urlsplit(url).path.lstrip("/")
        services = await Services.start(load_settings(
            {}, mode="test", database_url=url, redis_url=redis_url, redis_prefix=f"{name}:"))
        try:
            await services.catalogue.load_catalogue(Actor.system(), progress=lambda _: None)
        finally:
            await services.close()
        yield name


@pytest.fixture
async def database_url(server_urls: tuple[str, str], template_database: str) -> AsyncIterator[str]:
    async with database_copy(server_urls[0], template_database, f"tongban_t{os.getpid()}_{next(_counter)}") as url:
        yield url


@pytest.fixture
def settings(database_url: str, server_urls: tuple[str, str]) -> Settings:
    return load_settings(
        {}, mode="test", database_url=database_url, redis_url=server_urls[1],
        redis_prefix=f"test{os.getpid()}_{next(_counter)}:", db_pool_max=4,
        # Flows sign in right after registering; the resend limit has its own test.
        code_resend_seconds=0,
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    started = await Services.start(settings)
    yield started
    keys = [k async for k in started.ephemeral.client.scan_iter(match=settings.redis_prefix + "*")]
    if keys:
        await started.ephemeral.client.delete(*keys)
    await started.close()


@pytest.fixture
def app(services: Services) -> Litestar:
    """The test's app (made once: building it takes about a second on a loaded machine)."""
    return create_app(services=services)


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client calling the app in this event loop, so it shares the test's pools."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as test_client:
        yield test_client
