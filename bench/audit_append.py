"""The cost of auditing a read: `AuditLog.record_read` (group commit onto the hash chain) against a plain
INSERT in a transaction of its own (the baseline), and against `AuditLog.record` in a transaction of its
own (how reads were audited before group commit), from the same process, with the same number of
concurrent callers, in alternating rounds.

    DATABASE_URL=… REDIS_URL=… python bench/audit_append.py [--callers N] [--seconds S] [--rounds R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.bare_read_app import TABLE  # noqa: E402
from bench.harness import run_async, scratch_database, servers  # noqa: E402


async def measure(database_url: str, redis_url: str, callers: int, seconds: float, rounds: int) -> None:
    from backend.actors import Actor
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations

    await apply_migrations(database_url)
    services = await Services.start(load_settings({}, database_url=database_url, redis_url=redis_url,
                                                  redis_prefix=f"bench-audit-{os.getpid()}:", db_pool_max=callers))
    await services.db.pool.execute(TABLE)
    actor = Actor(kind="citizen", id="00000000-0000-0000-0000-000000000001", request_id="bench")

    async def audited() -> None:
        await services.audit.record_read(actor, "citizen.read", "citizen", actor.id, division="110105")

    async def one_by_one() -> None:
        async with services.db.transaction() as conn:
            await services.audit.record(conn, actor, "citizen.read", "citizen", actor.id, division="110105")

    async def plain() -> None:
        async with services.db.pool.acquire() as conn, conn.transaction():
            await conn.execute(
                """INSERT INTO bench_reads (at, actor_kind, actor_id, action, record_type, record_id, division_code,
                                            request_id, detail) VALUES (now(), 'citizen', $1, 'citizen.read',
                                            'citizen', $1, '110105', 'bench', '{}')""", actor.id)

    async def rate(call) -> float:  # noqa: ANN001
        done, stop = 0, time.monotonic() + seconds

        async def caller() -> None:
            nonlocal done
            while time.monotonic() < stop:
                await call()
                done += 1

        await asyncio.gather(*(caller() for _ in range(callers)))
        return done / seconds

    try:
        await rate(audited), await rate(plain)  # warm-up
        runs = [(await rate(plain), await rate(audited), await rate(one_by_one)) for _ in range(rounds)]
        async with services.db.connection() as conn:
            report = await services.audit.verify(conn)
    finally:
        await services.close()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; {callers} "
          f"concurrent callers, {rounds} alternating rounds of {seconds} s; load average {os.getloadavg()[0]:.1f}")
    print("| round | plain INSERT transactions /s (baseline) | record_read (group commit) /s | ratio | "
          "record, a transaction each /s | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n, (base, grouped, single) in enumerate(runs, 1):
        print(f"| {n} | {base:,.0f} | {grouped:,.0f} | {grouped / base:.2f} | {single:,.0f} | {single / base:.2f} |")
    print(f"median ratio to the baseline: group commit {statistics.median(g / b for b, g, _ in runs):.2f}, "
          f"a transaction each {statistics.median(s / b for b, _, s in runs):.2f}; chain after the run: "
          f"{'intact' if report.ok else 'BROKEN'} ({report.entries} entries)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--callers", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    with servers() as (admin_url, redis_url):
        database_url = run_async(scratch_database(admin_url, "tongban_bench_audit"))
        run_async(measure(database_url, redis_url, args.callers, args.seconds, args.rounds))


if __name__ == "__main__":
    main()
