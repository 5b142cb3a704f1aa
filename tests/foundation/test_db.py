"""The database layer: callbacks after commit, and what a connection carries back into the pool."""

from __future__ import annotations

import asyncpg
import pytest

from backend.db import Database
from backend.events import repository as events_repository


async def test_after_commit_runs_once_the_outermost_transaction_commits_and_never_after_a_rollback(database_url):
    db = await Database.connect(database_url, max_size=2)
    calls: list[str] = []
    try:
        async with db.transaction():
            async with db.transaction():  # a nested use case joins the outer transaction
                db.after_commit(lambda: calls.append("nested"))
            assert calls == []
            db.after_commit(lambda: calls.append("outer"))
            assert calls == []
        assert calls == ["nested", "outer"]

        with pytest.raises(RuntimeError):
            async with db.transaction():
                db.after_commit(lambda: calls.append("rolled back"))
                raise RuntimeError("the use case fails")
        db.after_commit(lambda: calls.append("outside"))
        assert calls == ["nested", "outer", "outside"]
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
