"""HTTP benchmark of an information query through a demo provider of the data-sharing gateway, against
`GET /me` (the baseline) in the same run and server: both authenticated, audited use cases.

`GET /me/records/demo.housing-fund` checks the provider in the registry, asks it through its adapter
(a query on the provider's own pool, under a timeout), writes the request to the citizen's log and an
audit entry, and answers the structured data with its human-readable copy. Goal (issue #12): at least
0.5 of `GET /me`'s throughput.

    python bench/information_query.py [--workers N] [--seconds S] [--connections C]
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import bench_citizen, free_port, report, run_async, running, scratch_database, servers, wrk  # noqa: E402

RESIDENT_ID = "330106198806120025"


async def prepare(database_url: str, redis_url: str) -> str:
    """Migrate a scratch database, register one citizen with records at the demo providers, and return
    their access token."""
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations
    from backend.sharing.demo import DEMO_ROWS, load_provider_rows, register_demo_providers

    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix="bench:",
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
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    load = {"seconds": args.seconds, "connections": args.connections}

    with servers() as (admin_url, redis_url):
        database_url = run_async(scratch_database(admin_url, "tongban_bench_query"))
        token = run_async(prepare(database_url, redis_url))
        auth = {"Authorization": f"Bearer {token}"}
        port = free_port()
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TONGBAN_REDIS_PREFIX": "bench:",
               "TONGBAN_LOG_LEVEL": "WARNING", "TONGBAN_DB_POOL_MAX": "20"}
        command = [sys.executable, "-m", "backend.cli", "serve", "--no-worker", "--workers", str(args.workers),
                   "--port", str(port)]
        with running(command, port, env, "/health/ready") as base:
            wrk("warm-up", base + "/me", headers=auth, seconds=2, connections=args.connections)
            baseline = wrk("GET /me (baseline: JWT, revocation check, SELECT, audit append)", base + "/me",
                           headers=auth, **load)
            wrk("warm-up", base + "/me/records/demo.housing-fund", headers=auth, seconds=2,
                connections=args.connections)
            query = wrk("GET /me/records/demo.housing-fund (registry, provider query, log row, audit append)",
                        base + "/me/records/demo.housing-fund", headers=auth, **load)
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"wrk -t1 -c{args.connections} -d{args.seconds}s over loopback; server workers: {args.workers}")
    print(report("Information query through a demo provider", [query], baseline))
    ratio = query.requests_per_second / baseline.requests_per_second
    print(f"\nratio to GET /me: {ratio:.2f} (goal >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})")


if __name__ == "__main__":
    main()
