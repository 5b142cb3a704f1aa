"""How the gateway reaches a provider: one adapter kind per way of asking (`ADAPTERS`). An adapter
answers the declared fields for one person, or None when the provider holds no record of them; a
provider that fails or takes longer than its timeout raises `ProviderUnavailable` or
`ProviderTimedOut`, and nothing of a partial answer is kept.

The demo providers (`demo-table`) keep their records in PostgreSQL tables of their own (schema
`demo_providers`), keyed by the keyed hash of the resident ID. They are reached through a connection
pool of their own, as a separate system would be: a provider that hangs holds its own connections,
never the ones the rest of the service runs on."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any, Protocol

import asyncpg

from backend.errors import ProviderTimedOut, ProviderUnavailable
from backend.sharing.declarations import ProviderDeclaration

PROVIDER_POOL_SIZE = 4


class Adapter(Protocol):
    async def fetch(self, person_key: bytes, fields: Sequence[str], timeout: float) -> dict[str, Any] | None:
        """The person's values of `fields` (declared names), or None when there is no record."""


class ProviderPool:
    """The demo providers' connection pool, opened at first use."""

    def __init__(self, dsn: str) -> None:
        self.dsn = dsn
        self._pool: asyncpg.Pool | None = None
        self._opening = asyncio.Lock()

    async def get(self) -> asyncpg.Pool:
        if self._pool is None:
            async with self._opening:
                if self._pool is None:
                    self._pool = await asyncpg.create_pool(self.dsn, min_size=0, max_size=PROVIDER_POOL_SIZE)
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None


class DemoTableAdapter:
    def __init__(self, declaration: ProviderDeclaration, pool: ProviderPool) -> None:
        self.declaration, self.pool = declaration, pool

    async def fetch(self, person_key: bytes, fields: Sequence[str], timeout: float) -> dict[str, Any] | None:
        # Column names come from the declaration only (callers pass declared field names).
        declared = {f.name for f in self.declaration.fields}
        assert set(fields) <= declared, "undeclared fields"
        sql = f"SELECT {', '.join(fields)} FROM demo_providers.{self.declaration.table} WHERE person_key = $1"
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        try:
            pool = await asyncio.wait_for(self.pool.get(), timeout)
            async with pool.acquire(timeout=max(0.001, deadline - loop.time())) as conn:
                row = await conn.fetchrow(sql, person_key, timeout=max(0.001, deadline - loop.time()))
        except TimeoutError:
            raise ProviderTimedOut(f"{self.declaration.name} did not answer within {timeout:g} s; nothing was "
                                   "shared, try again later", provider=self.declaration.id) from None
        except (asyncpg.PostgresError, asyncpg.InterfaceError, OSError) as exc:
            raise ProviderUnavailable(f"{self.declaration.name} cannot be reached ({type(exc).__name__}); nothing "
                                      "was shared, try again later", provider=self.declaration.id) from None
        return dict(row) if row is not None else None


ADAPTERS = {"demo-table": DemoTableAdapter}
