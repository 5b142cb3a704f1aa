"""The database layer: callbacks after commit, writes sent later, and what a connection carries back into the pool."""

from __future__ import annotations

import asyncpg
import pytest

from backend.actors import Actor
from backend.db import Database, Write, carried, write_later
from backend.events import repository as events_repository


async def test_after_commit_runs_once_the_outermost_transaction_commits_and_never_after_a_rollback(database_url):
    db = await Database.connect(database_url, max_size=2)
    calls: list[str] = []
    try:
        async with db.transaction():
            async with db.transaction():  # a nested use case joins the outer transaction
                await db.after_commit(lambda: calls.append("nested"))
            assert calls == []
            await db.after_commit(lambda: calls.append("outer"))
            assert calls == []
        assert calls == ["nested", "outer"]

        with pytest.raises(RuntimeError):
            async with db.transaction():
                await db.after_commit(lambda: calls.append("rolled back"))
                raise RuntimeError("the use case fails")
        await db.after_commit(lambda: calls.append("outside"))
        assert calls == ["nested", "outer", "outside"]

        async def told() -> None:  # awaited, as a published list's version bump is
            calls.append("told")

        async with db.transaction():
            with pytest.raises(RuntimeError):
                async with db.transaction():  # a refusal inside a savepoint: its step goes with it
                    await db.after_commit(lambda: calls.append("savepoint rolled back"))
                    raise RuntimeError("refused")
            await db.after_commit(told)
            assert calls[-1] == "outside"
        assert calls == ["nested", "outer", "outside", "told"]
    finally:
        await db.close()


async def test_a_session_lock_left_behind_is_released_when_the_connection_goes_back_to_the_pool(database_url):
    db = await Database.connect(database_url, min_size=1, max_size=1)
    observer = await asyncpg.connect(database_url)
    try:
        async with db.connection() as conn:
            assert await events_repository.try_lock_job(conn, "forgotten")  # and never unlocked
            pid = conn.get_server_pid()
        held = await observer.fetchval(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = $1", pid)
        async with db.connection() as conn:  # the one connection again, usable and without the lock
            assert conn.get_server_pid() == pid
            assert await conn.fetchval("SELECT 1") == 1
    finally:
        await observer.close()
        await db.close()
    assert held == 0


async def test_a_read_inside_a_transaction_uses_its_connection_rather_than_waiting_for_a_second(database_url):
    db = await Database.connect(database_url, min_size=1, max_size=1)
    try:
        async with db.transaction() as conn:
            await conn.execute("CREATE TEMPORARY TABLE seen_only_here (n int) ON COMMIT DROP")
            # With one connection in the pool, a second acquire would wait for ever.
            async with db.connection() as reader:
                assert reader is conn
                assert await reader.fetchval("SELECT count(*) FROM seen_only_here") == 0
    finally:
        await db.close()


async def _table(database_url: str) -> asyncpg.Connection:
    conn = await asyncpg.connect(database_url)
    await conn.execute("DROP TABLE IF EXISTS later_writes; CREATE TABLE later_writes (id serial PRIMARY KEY, note text)")
    return conn


def _note(text: str) -> Write:
    return Write("INSERT INTO later_writes (note) VALUES ($1) RETURNING id", (text,), "note")


async def test_writes_sent_later_ride_on_the_next_carried_statement_and_commit_with_the_transaction(database_url):
    observer = await _table(database_url)
    db = await Database.connect(database_url, max_size=2)
    try:
        async with db.transaction() as conn:
            await write_later(conn, _note("first"),
                              Write("INSERT INTO later_writes (note) SELECT 'after ' || id FROM {note}"))
            assert await conn.fetchval("SELECT count(*) FROM later_writes") == 0  # not sent yet
            # One statement: the carried one sees the table as it was before the writes it carries.
            assert await carried(conn, "fetchval", "SELECT count(*) + $1 FROM later_writes", 10) == 10
            assert await conn.fetchval("SELECT count(*) FROM later_writes") == 2
            await write_later(conn, _note("sent just before the commit"))
            assert await observer.fetchval("SELECT count(*) FROM later_writes") == 0
        assert sorted(await observer.fetchval("SELECT array_agg(note) FROM later_writes")) == [
            "after 1", "first", "sent just before the commit"]

        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await write_later(conn, _note("rolled back"))
                raise RuntimeError("the use case fails")
        assert await observer.fetchval("SELECT count(*) FROM later_writes WHERE note = 'rolled back'") == 0

        async with db.connection() as conn:  # outside a transaction: at once
            await write_later(conn, _note("at once"))
            assert await observer.fetchval("SELECT count(*) FROM later_writes WHERE note = 'at once'") == 1
    finally:
        await db.close()
        await observer.close()


async def test_a_savepoint_that_rolls_back_drops_its_own_later_writes_and_audit_entries_but_no_earlier_ones(
        database_url, services):
    observer = await _table(database_url)
    actor = Actor.system()
    db = services.db
    try:
        async with db.transaction() as conn:
            await write_later(conn, _note("before the savepoint"))
            await services.audit.record(conn, actor, "test.kept", "test", "savepoint")
            with pytest.raises(RuntimeError):
                async with db.transaction() as inner:
                    await write_later(inner, _note("inside the savepoint"))
                    await services.audit.record(inner, actor, "test.dropped", "test", "savepoint")
                    # A statement inside the savepoint carries only the savepoint's own writes.
                    await carried(inner, "execute", "SELECT 1")
                    assert await inner.fetchval("SELECT array_agg(note) FROM later_writes") == ["inside the savepoint"]
                    raise RuntimeError("the nested use case fails")
        assert await observer.fetchval("SELECT array_agg(note) FROM later_writes") == ["before the savepoint"]
        actions = await observer.fetch("SELECT action FROM audit_log WHERE record_id = 'savepoint'")
        assert [r["action"] for r in actions] == ["test.kept"]
        async with db.connection() as conn:
            assert (await services.audit.verify(conn)).ok
    finally:
        await observer.close()


async def test_a_bulk_job_sends_its_waiting_writes_in_bounded_statements(database_url):
    from backend.db import MOST_WAITING

    observer = await _table(database_url)
    db = await Database.connect(database_url, max_size=2)
    try:
        async with db.transaction() as conn:
            for n in range(2 * MOST_WAITING + 3):
                await write_later(conn, _note(f"reminder {n}"))
            # Two full batches went out with the 32nd call; three still wait for the commit.
            assert await conn.fetchval("SELECT count(*) FROM later_writes") == 2 * MOST_WAITING
        assert await observer.fetchval("SELECT count(*) FROM later_writes") == 2 * MOST_WAITING + 3
    finally:
        await db.close()
        await observer.close()


async def test_waiting_writes_go_out_before_the_last_steps_that_take_the_audit_chain_lock(database_url):
    # The writes' foreign-key checks take row locks; waiting for one while holding a chain lock every
    # writer needs could deadlock with a transaction that holds the row and waits for the chain.
    observer = await _table(database_url)
    db = await Database.connect(database_url, max_size=2)
    seen: list[int] = []

    async def last_step(conn: asyncpg.Connection) -> None:
        seen.append(await conn.fetchval("SELECT count(*) FROM later_writes"))

    try:
        async with db.transaction() as conn:
            await write_later(conn, _note("the change's notification"))
            assert db.before_commit(conn, last_step)
        assert seen == [1]
        async with db.connection() as conn:  # outside a transaction there is no last step
            assert not db.before_commit(conn, last_step)
    finally:
        await db.close()
        await observer.close()


def test_writes_go_in_front_of_any_statement_shape_they_can_ride_on():
    from backend.db import with_writes

    unit = [_note("x"), Write("INSERT INTO later_writes (note) SELECT 'after ' || id FROM {note} WHERE $1", (True,))]
    plain, args = with_writes([unit], "SELECT $1::int", (7,))
    own, _ = with_writes([unit], "with a AS (SELECT 1) SELECT * FROM a", ())
    recursive, _ = with_writes([unit], "WITH RECURSIVE r(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM r WHERE n < 3) "
                                       "SELECT sum(n) FROM r", ())

    assert plain == ("WITH tongban_w0_note AS (INSERT INTO later_writes (note) VALUES ($2) RETURNING id), "
                     "tongban_w0_1 AS (INSERT INTO later_writes (note) SELECT 'after ' || id FROM tongban_w0_note "
                     "WHERE $3) SELECT $1::int")
    assert args == [7, "x", True]
    assert own.startswith("WITH tongban_w0_note AS (") and own.endswith(", a AS (SELECT 1) SELECT * FROM a")
    assert recursive.startswith("WITH RECURSIVE tongban_w0_note AS (") and ", r(n) AS (SELECT 1" in recursive
    for shape in ("-- a comment\nSELECT 1", "/* c */ SELECT 1", "SELECT 1; SELECT 2"):
        with pytest.raises(ValueError):
            with_writes([unit], shape, ())
