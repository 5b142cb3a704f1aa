"""HTTP benchmark of the foundation: bare Litestar hello-world (baseline, same run and server),
`/health/ready`, and an authenticated, audited DB read `GET /me` against its own baseline: a bare
Litestar + asyncpg + redis handler doing the same JWT decode, Redis GET, SELECT and a plain INSERT in
one transaction (bench/bare_read_app.py), same server, same run, in alternating rounds.

    python bench/http_foundation.py [--workers N] [--seconds S] [--connections C]
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

ROUNDS = 5  # /me and its bare baseline get --seconds each, in this many alternating runs
# A Redis prefix of this run: the code limits of an earlier run must not refuse this one's sign-up.
PREFIX = f"bench-{os.getpid()}:"


async def prepare(database_url: str, redis_url: str) -> str:
    """Migrate a scratch database and return an access token for one citizen."""
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations

    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix=PREFIX,
                             code_resend_seconds=0)
    services = await Services.start(settings)
    try:
        return await bench_citizen(services, "13912345678", "11010519491231002X", "压测", "110105")
    finally:
        await services.close()


def main() -> None:
    args, load = http_arguments(__doc__)

    with servers() as (admin_url, redis_url):
        database_url = run_async(scratch_database(admin_url, "tongban_bench"))
        token = run_async(prepare(database_url, redis_url))
        auth = {"Authorization": f"Bearer {token}"}
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(args.workers),
                   "--log-level", "warning"]
        port = free_port()
        with running([*granian, "--port", str(port), "bench.hello_app:app"], port, {}) as base:
            wrk("warm-up", base + "/", seconds=2, connections=args.connections)
            baseline = wrk("Litestar hello-world (baseline)", base + "/", **load)
        bare_port, port = free_port(), free_port()
        bare_env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BENCH_POOL_MAX": "20", "BENCH_REDIS_PREFIX": PREFIX}
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TONGBAN_REDIS_PREFIX": PREFIX,
               "TONGBAN_LOG_LEVEL": "WARNING", "TONGBAN_DB_POOL_MAX": "20"}
        command = [sys.executable, "-m", "backend.cli", "serve", "--no-worker", "--workers", str(args.workers),
                   "--port", str(port)]
        with running([*granian, "--port", str(bare_port), "bench.bare_read_app:app"], bare_port, bare_env) as bare, \
                running(command, port, env, "/health/ready") as base:
            wrk("warm-up", base + "/health/ready", seconds=2, connections=args.connections)
            results = [
                wrk("GET /health/live", base + "/health/live", **load),
                wrk("GET /health/ready (PostgreSQL + Redis)", base + "/health/ready", **load),
            ]
            for url in (bare + "/me", base + "/me"):
                wrk("warm-up", url, headers=auth, seconds=2, connections=args.connections)
            # Alternating short rounds, so that load from elsewhere on the machine (which drifts over a
            # minute) falls on both alike; the ratio is taken round by round.
            runs: dict[str, list[LoadResult]] = {"bare": [], "me": []}
            for _ in range(ROUNDS):
                for name, url in (("bare", bare + "/me"), ("me", base + "/me")):
                    runs[name].append(wrk(name, url, headers=auth, seconds=max(1, load["seconds"] // ROUNDS),
                                          connections=load["connections"]))
    bare_read = combined("bare Litestar + asyncpg + redis: JWT, Redis GET, SELECT + INSERT in one transaction",
                         runs["bare"])
    me = combined("GET /me (JWT, revocation check, SELECT, audit append)", runs["me"])
    ratios = [m.requests_per_second / b.requests_per_second for m, b in zip(runs["me"], runs["bare"], strict=True)]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"wrk -t1 -c{args.connections} -d{args.seconds}s over loopback ({ROUNDS} alternating rounds for /me); "
          f"server workers: {args.workers}; load average {os.getloadavg()[0]:.1f}")
    print(report("HTTP foundation", [*results, bare_read, me], baseline))
    print()
    print(report("GET /me against the bare read", [me], bare_read))
    ratio = statistics.median(ratios)
    print(f"\nGET /me / bare read, round by round: {', '.join(f'{r:.2f}' for r in ratios)}; median {ratio:.2f} "
          f"(goal >= 0.8: {'met' if ratio >= 0.8 else 'NOT met'})")


if __name__ == "__main__":
    main()
