"""The asyncpg pool and the one way to run a use case: inside a single transaction."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from contextvars import ContextVar

import asyncpg


async def _init_connection(conn: asyncpg.Connection) -> None:
    for name in ("json", "jsonb"):
        await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


# Server processes of main-pool connections whose session holds more than their transactions did (a
# session-level advisory lock): only they get asyncpg's full reset query when they go back to the pool.
# Every other connection skips that round trip; asyncpg still rolls back a transaction left open.
_session_state: set[int] = set()


def holds_session_state(conn: asyncpg.Connection) -> None:
    """Say that `conn`'s session now holds state beyond a transaction (a session-level lock), so that the
    pool resets it fully when it is released."""
    _session_state.add(conn.get_server_pid())


async def _reset(conn: asyncpg.Connection) -> None:
    if (pid := conn.get_server_pid()) in _session_state:
        _session_state.discard(pid)
        await conn.execute(conn.get_reset_query())


# The transaction open in this task, so that a use case called inside a wider unit of work (an
# idempotent request, a test) joins it instead of committing on its own.
_current: ContextVar[asyncpg.Connection | None] = ContextVar("tongban_transaction", default=None)
# What to do once that transaction has committed (`Database.after_commit`).
_after_commit: ContextVar[list[Callable[[], None]] | None] = ContextVar("tongban_after_commit", default=None)


@asynccontextmanager
async def _own_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a connection from `pool`, which nested calls in this task join."""
    callbacks: list[Callable[[], None]] = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            token, after = _current.set(conn), _after_commit.set(callbacks)
            try:
                yield conn
            finally:
                _current.reset(token)
                _after_commit.reset(after)
        for callback in callbacks:
            callback()


# Connections for `separate_transaction` and the audit group commit. They come from a pool of their own:
# a task asking for one already holds a connection of the main pool, and if every main connection were
# held by such a task, waiting on the main pool would wait forever. The group commit's flushers hold two
# of them while reads keep coming (backend/audit/group_commit.py); two are left for the rest.
SEPARATE_POOL_SIZE = 4


class Database:
    """Owns the connection pools; hands out connections and transactions."""

    def __init__(self, pool: asyncpg.Pool, separate_pool: asyncpg.Pool) -> None:
        self.pool = pool
        self.separate_pool = separate_pool

    @classmethod
    async def connect(cls, dsn: str, *, min_size: int = 1, max_size: int = 10) -> Database:
        pool = await asyncpg.create_pool(
            dsn, min_size=min_size, max_size=max_size, init=_init_connection, reset=_reset,
            command_timeout=30,
        )
        separate_pool = await asyncpg.create_pool(
            dsn, min_size=0, max_size=SEPARATE_POOL_SIZE, init=_init_connection, command_timeout=30)
        return cls(pool, separate_pool)

    async def close(self) -> None:
        await self.separate_pool.close()
        await self.pool.close()

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection inside a transaction that commits on success and rolls back on error.

        Nested calls in the same task share the outer connection through a savepoint.
        """
        outer = _current.get()
        if outer is not None:
            async with outer.transaction():
                yield outer
            return
        async with _own_transaction(self.pool) as conn:
            yield conn

    @staticmethod
    def after_commit(callback: Callable[[], None]) -> None:
        """Call `callback` once the transaction this task is in has committed (never if it rolls back);
        at once outside a transaction. For what must not happen inside it, such as waking other processes."""
        callbacks = _after_commit.get()
        if callbacks is None:
            callback()
        else:
            callbacks.append(callback)

    @asynccontextmanager
    async def separate_transaction(self) -> AsyncIterator[asyncpg.Connection]:
        """A transaction on a connection of its own, committed on its own even when this task is inside
        another transaction that will roll back (what a refusal's audit entry needs). Keep it short and
        never wait in it for anything the task's other transaction holds."""
        async with _own_transaction(self.separate_pool) as conn:
            yield conn

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[asyncpg.Connection]:
        """A connection for reads: the task's open transaction's own, if there is one (a second one from
        the pool could wait forever once every connection is held by a transaction waiting likewise)."""
        outer = _current.get()
        if outer is not None:
            yield outer
            return
        async with self.pool.acquire() as conn:
            yield conn
