"""The asyncpg pool and the one way to run a use case: inside a single transaction."""

from __future__ import annotations

import inspect
import json
import re
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from contextvars import ContextVar
from typing import Any, NamedTuple

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
AfterCommit = Callable[[], Awaitable[None] | None]
_after_commit: ContextVar[list[AfterCommit] | None] = ContextVar("tongban_after_commit", default=None)
# Writes that transaction sends with its next statement (`write_later`), and where the innermost open
# savepoint's own begin: a statement inside a savepoint carries only those, so that rolling it back cannot
# take writes made before it with it.
_pending: ContextVar[list[Sequence[Write]] | None] = ContextVar("tongban_pending_writes", default=None)
_savepoint_floor: ContextVar[int] = ContextVar("tongban_savepoint_floor", default=0)
# What that transaction does last, just before it commits (`Database.before_commit`).
_before_commit: ContextVar[list[Callable[[asyncpg.Connection], Awaitable[None]]] | None] = ContextVar(
    "tongban_before_commit", default=None)


class Write(NamedTuple):
    """One INSERT, UPDATE or DELETE, without a WITH of its own, numbering its arguments from $1.

    `name` lets a later write of the same `write_later` call read this one's RETURNING rows as `{name}`.
    """

    sql: str
    args: Sequence[Any] = ()
    name: str = ""


_PLACEHOLDER = re.compile(r"\$(\d+)")
# At most this many `write_later` calls wait in a transaction; the next is sent with them at once.
MOST_WAITING = 16


def with_writes(units: Sequence[Sequence[Write]], sql: str, args: Sequence[Any]) -> tuple[str, list[Any]]:
    """`sql` (a statement, with or without a WITH of its own) with `units` of writes in front of it as
    data-modifying WITH queries, their arguments numbered after its own: one statement, one round trip.
    PostgreSQL runs every one of them to completion whether or not `sql` reads them; `sql` sees the
    database as it was before them (one snapshot), so it must not read what they write."""
    ctes, all_args = [], list(args)
    for u, unit in enumerate(units):
        names = {w.name: f"tongban_w{u}_{w.name}" for w in unit if w.name}
        for i, write in enumerate(unit):
            offset = len(all_args)
            body = _PLACEHOLDER.sub(lambda m, o=offset: f"${int(m[1]) + o}", write.sql)  # type: ignore[misc]
            for name, cte in names.items():
                body = body.replace("{" + name + "}", cte)
            ctes.append(f"{names.get(write.name) or f'tongban_w{u}_{i}'} AS ({body})")
            all_args.extend(write.args)
    if not ctes:
        return sql, all_args
    statement = sql.lstrip()
    words = statement.split(None, 2)
    if statement.startswith(("--", "/*")) or ";" in statement.rstrip().rstrip(";"):
        raise ValueError("a statement carrying writes starts with its first keyword and is one statement")
    if words[0].upper() == "WITH" and len(words) > 2 and words[1].upper() == "RECURSIVE":
        return f"WITH RECURSIVE {', '.join(ctes)}, {words[2]}", all_args
    if words[0].upper() == "WITH":
        return f"WITH {', '.join(ctes)}, {statement[4:].lstrip()}", all_args
    return f"WITH {', '.join(ctes)} {statement}", all_args


async def write_later(conn: asyncpg.Connection, *writes: Write) -> None:
    """Send `writes` with the transaction's next statement that carries them (`carried`) or just before
    it commits, instead of in a round trip of their own; outside a transaction, now.

    For what the use case rarely reads back in its transaction — the citizen's notification, the text
    message, the event for other systems; a read that must see them calls `send_waiting_writes` first.
    A bulk job's writes go out `MOST_WAITING` calls at a time. They still commit or roll back with the
    transaction (a savepoint rolled back drops those written inside it), and a failure among them fails
    the statement that carries them."""
    pending = _pending.get()
    if pending is None or _current.get() is not conn:
        sql, args = with_writes([writes], "SELECT 1", ())
        await conn.execute(sql, *args)
        return
    pending.append(writes)
    if len(pending) - _savepoint_floor.get() >= MOST_WAITING:
        await send_waiting_writes(conn)  # a bulk job's: keep each statement (and its arguments) small


async def carried(conn: asyncpg.Connection, method: str, sql: str, *args: Any) -> Any:
    """Run `sql` with `conn.<method>` (`fetch`, `fetchrow`, `fetchval`, `execute`), carrying the writes
    waiting in this transaction (`write_later`): see `with_writes` for what `sql` may read."""
    pending = _pending.get() if _current.get() is conn else None
    floor = _savepoint_floor.get()
    if pending is not None and len(pending) > floor:
        units = pending[floor:]
        del pending[floor:]
        sql, combined = with_writes(units, sql, args)
        return await getattr(conn, method)(sql, *combined)
    return await getattr(conn, method)(sql, *args)


async def send_waiting_writes(conn: asyncpg.Connection) -> None:
    """Send the writes waiting in `conn`'s transaction now (one statement, if any wait): for a read that
    must see them, and just before the commit for those no statement carried."""
    if len(_pending.get() or ()) > _savepoint_floor.get():
        await carried(conn, "execute", "SELECT 1")


@asynccontextmanager
async def _own_transaction(pool: asyncpg.Pool) -> AsyncIterator[asyncpg.Connection]:
    """A transaction on a connection from `pool`, which nested calls in this task join."""
    callbacks: list[AfterCommit] = []
    last: list[Callable[[asyncpg.Connection], Awaitable[None]]] = []
    async with pool.acquire() as conn:
        async with conn.transaction():
            token, after, later = _current.set(conn), _after_commit.set(callbacks), _pending.set([])
            floor, before = _savepoint_floor.set(0), _before_commit.set(last)
            try:
                yield conn
                if last:
                    # Before the last steps (the audit chain's lock): the writes' foreign-key checks take
                    # row locks, which must not be waited for while holding a lock every writer needs.
                    await send_waiting_writes(conn)
                for step in last:
                    await step(conn)
                await send_waiting_writes(conn)
            finally:
                _current.reset(token)
                _after_commit.reset(after)
                _pending.reset(later)
                _savepoint_floor.reset(floor)
                _before_commit.reset(before)
        for callback in callbacks:
            if inspect.isawaitable(done := callback()):
                await done


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
            pending, last, after = _pending.get(), _before_commit.get(), _after_commit.get()
            mark, last_mark = len(pending) if pending is not None else 0, len(last) if last is not None else 0
            after_mark = len(after) if after is not None else 0
            floor = _savepoint_floor.set(mark)
            try:
                async with outer.transaction():
                    yield outer
            except BaseException:
                if pending is not None:
                    del pending[mark:]  # written inside the savepoint that rolled back
                if last is not None:
                    del last[last_mark:]
                if after is not None:
                    del after[after_mark:]
                raise
            finally:
                _savepoint_floor.reset(floor)
            return
        async with _own_transaction(self.pool) as conn:
            yield conn

    @staticmethod
    def before_commit(conn: asyncpg.Connection, step: Callable[[asyncpg.Connection], Awaitable[None]]) -> bool:
        """Have the transaction `conn` is in run `step(conn)` last, just before it commits (dropped if the
        savepoint it was asked in rolls back); False, doing nothing, when `conn` is in no such transaction.
        For what should hold its locks as briefly as possible, such as the audit chain's."""
        steps = _before_commit.get()
        if steps is None or _current.get() is not conn:
            return False
        steps.append(step)
        return True

    @staticmethod
    async def after_commit(callback: AfterCommit) -> None:
        """Call `callback` (and await what it returns, if anything) once the transaction this task is in
        has committed — never if it, or the savepoint this was asked in, rolls back; at once outside a
        transaction. For what must not happen before others can see the change: waking other processes,
        telling caches and published lists that what they hold is stale (rebuilt from the database
        before the commit, they would keep the old state under the new version)."""
        callbacks = _after_commit.get()
        if callbacks is not None:
            callbacks.append(callback)
        elif inspect.isawaitable(done := callback()):
            await done

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
