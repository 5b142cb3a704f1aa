"""Group commit of audit entries for reads: entries wait in an in-process queue and one statement appends
a batch of them to a chain, so a read costs a share of one append instead of a transaction of its own.

`submit` returns once its entry is committed (durable: `synchronous_commit` is on), and raises if its
batch failed, so a caller that answers only after it returns never serves data without its record.
Up to `flushers` batches are in flight at once, each on its own connection and chain; what arrives
meanwhile forms the next batch, so batches grow with the load and an idle service appends each entry
at once. While entries keep coming, a flusher keeps its chain's lock (a session-level advisory lock)
and the chain's tip in memory, so each further batch is one round trip; it lets the chain go when the
queue is empty or after `HOLD_SECONDS`, since state changes whose transaction maps to that chain wait.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from contextvars import Context
from typing import Any

import asyncpg

from backend.audit import repository

HOLD_SECONDS = 0.05
log = logging.getLogger("tongban.audit")

Entry = dict[str, Any]
# Chains entries onto a tip {chain, seq, hash} and appends them in one statement (AuditLog._append).
Append = Callable[[asyncpg.Connection, dict[str, Any], list[Entry]], Awaitable[int]]


class GroupCommit:
    def __init__(self, pool: asyncpg.Pool, append: Append, *, flushers: int, max_batch: int = 500) -> None:
        self._pool = pool
        self._append = append
        self._flushers_allowed = flushers
        self._max_batch = max_batch
        self._pending: list[tuple[Entry, asyncio.Future[None]]] = []
        self._flushers: set[asyncio.Task[None]] = set()
        self._started = 0

    async def submit(self, entry: Entry) -> None:
        done = asyncio.get_running_loop().create_future()
        self._pending.append((entry, done))
        if len(self._flushers) < self._flushers_allowed:
            self._started += 1
            # In a fresh context: a flusher serves every request, not the one that happened to start it.
            self._flushers.add(asyncio.create_task(self._run(self._started), name="audit-group-commit",
                                                   context=Context()))
        await done  # a caller cancelled meanwhile leaves its entry in the batch: it is written all the same

    async def _run(self, number: int) -> None:
        me = asyncio.current_task()
        held: dict[str, Any] | None = None  # the tip of the chain this flusher holds
        since = 0.0
        try:
            async with self._pool.acquire() as conn:
                try:
                    while self._pending:
                        batch, self._pending = self._pending[:self._max_batch], self._pending[self._max_batch:]
                        try:
                            if held is None:
                                held, since = await self._claim(conn, number), time.monotonic()
                            await self._append(conn, held, [entry for entry, _ in batch])
                            last = batch[-1][0]
                            held = {"chain": held["chain"], "seq": last["seq"], "hash": last["hash"]}
                        except Exception as exc:  # every request of the batch fails: none is served unrecorded
                            _settle(batch, exc)
                            if held is not None:
                                await repository.release_chain(conn, held["chain"])
                                held = None
                            continue
                        _settle(batch, None)
                        if held is not None and (not self._pending or time.monotonic() - since > HOLD_SECONDS):
                            await repository.release_chain(conn, held["chain"])
                            held = None
                    # With no await since the last look at the queue: an entry submitted from now on finds
                    # a free place and starts a flusher of its own.
                    self._flushers.discard(me)  # type: ignore[arg-type]
                finally:
                    if held is not None:
                        await repository.release_chain(conn, held["chain"])
        except Exception as exc:  # no connection, or it broke: fail what waits rather than leave it hanging
            log.exception("audit group commit: flusher failed")
            self._flushers.discard(me)  # type: ignore[arg-type]
            if not self._flushers:
                waiting, self._pending = self._pending, []
                _settle(waiting, exc)
        finally:
            self._flushers.discard(me)  # type: ignore[arg-type]

    async def _claim(self, conn: asyncpg.Connection, number: int) -> dict[str, Any]:
        """Lock a free chain (waiting while every chain is busy) and read its tip after the lock."""
        while (chain := await repository.claim_free_chain(conn, number)) is None:
            await asyncio.sleep(0.005)
        tip = await repository.head(conn, chain)
        if tip is None:
            await repository.release_chain(conn, chain)
            raise RuntimeError(f"audit chain {chain} has no head: run tongban audit verify")
        return dict(tip)


def _settle(batch: list[tuple[Entry, asyncio.Future[None]]], error: Exception | None) -> None:
    for _, done in batch:
        if not done.done():
            if error is None:
                done.set_result(None)
            else:
                done.set_exception(error)
