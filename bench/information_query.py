"""HTTP benchmark of an information query through a demo provider of the data-sharing gateway, against
`GET /me` (the baseline) in the same run and server: both authenticated, audited use cases.

`GET /me/records/demo.housing-fund` checks the provider in the registry, asks it through its adapter
(a query on the provider's own pool, under a timeout), writes the request to the citizen's log and an
audit entry, and answers the structured data with its human-readable copy. Goal (issue #12): at least
0.5 of `GET /me`'s throughput.

    python bench/information_query.py [--workers N] [--seconds S] [--connections C]
"""

from __future__ import annotations

import os
import platform
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import (  # noqa: E402
    LoadResult,
    bench_citizen,
    combined,
    free_port,
    http_arguments,
    report,
    run_async,
    running,
    scratch_database,
    servers,
    wrk,
)

RESIDENT_ID = "330106198806120025"
# A Redis prefix of this run: the code limits of an earlier run must not refuse this one's sign-up.
PREFIX = f"bench-query-{os.getpid()}:"


async def prepare(database_url: str, redis_url: str) -> str:
    """Migrate a scratch database, register one citizen with records at the demo providers, and return
    their access token."""
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations
    from backend.sharing.demo import DEMO_ROWS, load_provider_rows, register_demo_providers

    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix=PREFIX,
                             code_resend_seconds=0)
    services = await Services.start(settings)
    try:
        token = await bench_citizen(services, "13912345678", RESIDENT_ID, "陈静", "330106")
        await register_demo_providers(services, lambda _: None)
        await load_provider_rows(services, RESIDENT_ID, DEMO_ROWS[RESIDENT_ID])
        return token
    finally:
        await services.close()


def main() -> None:
    args, load = http_arguments(__doc__)
    rounds = 5  # each target gets --seconds in all, in this many alternating runs

    with servers() as (admin_url, redis_url):
        database_url = run_async(scratch_database(admin_url, "tongban_bench_query"))
        token = run_async(prepare(database_url, redis_url))
        auth = {"Authorization": f"Bearer {token}"}
        port = free_port()
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TONGBAN_REDIS_PREFIX": PREFIX,
               "TONGBAN_LOG_LEVEL": "WARNING", "TONGBAN_DB_POOL_MAX": "20"}
        command = [sys.executable, "-m", "backend.cli", "serve", "--no-worker", "--workers", str(args.workers),
                   "--port", str(port)]
        targets = {"me": "/me", "query": "/me/records/demo.housing-fund"}
        with running(command, port, env, "/health/ready") as base:
            for path in targets.values():
                wrk("warm-up", base + path, headers=auth, seconds=2, connections=args.connections)
            # The two targets alternate in short rounds, so that load from elsewhere on the machine (which
            # drifts over a minute) falls on both alike; the ratio is taken round by round.
            runs: dict[str, list[LoadResult]] = {name: [] for name in targets}
            for _ in range(rounds):
                for name, path in targets.items():
                    runs[name].append(wrk(name, base + path, headers=auth, seconds=max(1, load["seconds"] // rounds),
                                          connections=load["connections"]))
    baseline = combined("GET /me (baseline: JWT, revocation check, SELECT, audit append)", runs["me"])
    query = combined("GET /me/records/demo.housing-fund (registry, provider query, log row, audit append)",
                      runs["query"])
    ratios = [q.requests_per_second / m.requests_per_second for q, m in zip(runs["query"], runs["me"], strict=True)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"wrk -t1 -c{args.connections}, {rounds} alternating rounds of {max(1, load['seconds'] // rounds)} s per "
          f"target over loopback; server workers: {args.workers}")
    print(report("Information query through a demo provider", [query], baseline))
    ratio = statistics.median(ratios)
    print(f"\nratio to GET /me, round by round: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} "
          f"(goal >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
