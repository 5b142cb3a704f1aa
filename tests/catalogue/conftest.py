"""Catalogue tests start from a template that already holds the GB/T 2260 divisions and the SAMPLE
catalogue, loaded once per run; each test still gets its own copy."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import pytest

from backend.catalogue.rules import today
from tests.conftest import template_with_catalogue, with_database


@pytest.fixture(scope="session")
async def template_database(server_urls: tuple[str, str], template_database: str) -> AsyncIterator[str]:
    async with template_with_catalogue(server_urls, template_database, "tongban_cat_tpl") as name:
        yield name


@asynccontextmanager
async def empty_database(admin_url: str, name: str, options: str = "") -> AsyncIterator[str]:
    """A database of its own for a test that needs one other than the template's copy; dropped after.
    The name carries the process id: other test runs may share the server."""
    name = f"{name}_{os.getpid()}"
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.execute(f"CREATE DATABASE {name} {options}")
    await conn.close()
    try:
        yield with_database(admin_url, name)
    finally:
        conn = await asyncpg.connect(admin_url)
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


def in_days(days: int) -> str:
    """An ISO date `days` after today in China."""
    return (today() + dt.timedelta(days=days)).isoformat()


async def standard_of(client, code: str) -> dict:
    """An item's standard as the admin endpoints take it, read through the public API."""
    item = (await client.get(f"/catalogue/items/{code}")).json()
    standard = {k: v for k, v in item.items() if k not in ("revision", "variants", "sample", "elements")}
    standard["modes"] = [m["code"] for m in item["modes"]]
    return standard
