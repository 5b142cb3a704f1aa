"""HTTP benchmark of the foundation: bare Litestar hello-world (baseline, same run and server),
`/health/ready`, and an authenticated, audited DB read `GET /me` against its own baseline: a bare
Litestar + asyncpg + redis handler doing the same JWT decode, Redis GET, SELECT and a plain INSERT in
one transaction (bench/bare_read_app.py), same server, same run.

    python bench/http_foundation.py [--workers N] [--seconds S] [--connections C]
"""

from __future__ import annotations

import os
import platform
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import bench_citizen, free_port, http_arguments, report, run_async, running, scratch_database, servers, wrk  # noqa: E402


async def prepare(database_url: str, redis_url: str) -> str:
    """Migrate a scratch database and return an access token for one citizen."""
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations

    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix="bench:",
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
        granian = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(args.workers),
                   "--log-level", "warning"]
        port = free_port()
        with running([*granian, "--port", str(port), "bench.hello_app:app"], port, {}) as base:
            wrk("warm-up", base + "/", seconds=2, connections=args.connections)
            baseline = wrk("Litestar hello-world (baseline)", base + "/", **load)
        port = free_port()
        bare_env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BENCH_POOL_MAX": "20"}
        with running([*granian, "--port", str(port), "bench.bare_read_app:app"], port, bare_env) as base:
            me = {"headers": {"Authorization": f"Bearer {token}"}, **load}
            wrk("warm-up", base + "/me", seconds=2, connections=args.connections, headers=me["headers"])
            bare_read = wrk("bare Litestar: JWT, Redis GET, SELECT + INSERT in one transaction (baseline of /me)",
                            base + "/me", **me)
        port = free_port()
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TONGBAN_REDIS_PREFIX": "bench:",
               "TONGBAN_LOG_LEVEL": "WARNING", "TONGBAN_DB_POOL_MAX": "20"}
        command = [sys.executable, "-m", "backend.cli", "serve", "--workers", str(args.workers), "--port", str(port)]
        with running(command, port, env, "/health/ready") as base:
            wrk("warm-up", base + "/health/ready", seconds=2, connections=args.connections)
            results = [
                wrk("GET /health/live", base + "/health/live", **load),
                wrk("GET /health/ready (PostgreSQL + Redis)", base + "/health/ready", **load),
                wrk("GET /me (JWT, revocation check, SELECT, audit append)", base + "/me",
                    headers={"Authorization": f"Bearer {token}"}, **load),
            ]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"wrk -t1 -c{args.connections} -d{args.seconds}s over loopback; server workers: {args.workers}")
    print(report("HTTP foundation", results, baseline))
    print()
    print(report("GET /me against the bare read", [results[-1]], bare_read))


if __name__ == "__main__":
    main()
