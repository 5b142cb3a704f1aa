"""Shared benchmark plumbing: a scratch database, servers in child processes, wrk runs."""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import asyncpg
import httpx

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class LoadResult:
    name: str
    requests_per_second: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int = 0
    server_cpu_seconds: float | None = None  # used by the server (all its processes) during the run
    database_cpu_seconds: float | None = None  # used by PostgreSQL meanwhile (any of its work on the machine)

    @property
    def server_cpu_ms(self) -> float | None:
        """The server's CPU time per request: what bounds throughput when its worker's core is the limit."""
        return self._per_request_ms(self.server_cpu_seconds)

    @property
    def database_cpu_ms(self) -> float | None:
        """PostgreSQL's CPU time per request."""
        return self._per_request_ms(self.database_cpu_seconds)

    def _per_request_ms(self, seconds: float | None) -> float | None:
        return None if seconds is None or not self.requests else 1000 * seconds / self.requests


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def servers() -> Iterator[tuple[str, str]]:
    """(PostgreSQL admin URL, Redis URL) from the environment, or embedded ones."""
    sys.path.insert(0, str(ROOT))
    from backend.runtime import servers_for_a_run

    with servers_for_a_run("tongban-bench-") as urls:
        yield urls


async def scratch_database(admin_url: str, name: str) -> str:
    conn = await asyncpg.connect(admin_url)
    await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    await conn.execute(f"CREATE DATABASE {name}")
    await conn.close()
    return urlunsplit(urlsplit(admin_url)._replace(path="/" + name))


# The servers `running` started, by base URL: `wrk` measures the CPU time of the one it drives.
_started: dict[str, int] = {}


class Processes:
    """A snapshot of the machine's processes (Linux /proc): parent, name and CPU time (user + system)."""

    def __init__(self) -> None:
        self.parents: dict[int, int] = {}
        self.names: dict[int, str] = {}
        self.seconds: dict[int, float] = {}
        tick = os.sysconf("SC_CLK_TCK")
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                name, _, rest = stat.read_text().partition(" (")[2].rpartition(")")
            except OSError:  # the process ended meanwhile
                continue
            fields = rest.split()
            process = int(stat.parent.name)
            self.parents[process], self.names[process] = int(fields[1]), name
            self.seconds[process] = (int(fields[11]) + int(fields[12])) / tick

    def family_seconds(self, pid: int) -> float:
        """CPU time of process `pid` and its living descendants."""
        family, look = set(), [pid]
        while look:
            process = look.pop()
            family.add(process)
            look += [child for child, parent in self.parents.items() if parent == process and child not in family]
        return sum(self.seconds.get(process, 0.0) for process in family)

    def postgres_seconds(self) -> float:
        """CPU time of every PostgreSQL process on the machine (the server's and the embedded one's alike)."""
        return sum(t for process, t in self.seconds.items() if self.names[process] == "postgres")


@contextmanager
def running(command: list[str], port: int, env: dict[str, str], ready_path: str = "/") -> Iterator[str]:
    """The server started by `command`, answering on `port`. Its log goes to a file, so that an error it
    logged during the run (the cause of a 5xx wrk only counts) is printed when the server stops; what it
    logs while stopping (requests cut off by the stop) is not."""
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(command, env={**os.environ, **env}, cwd=ROOT,
                                   stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + ready_path, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                process.kill()
                log.seek(0)
                raise RuntimeError("server did not start: " + log.read().decode(errors="replace")[-2000:])
            time.sleep(0.2)
        _started[base] = process.pid
        try:
            yield base
        finally:
            del _started[base]
            during_run = os.fstat(log.fileno()).st_size
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
            log.seek(0)
            errors = [line for line in log.read(during_run).decode(errors="replace").splitlines()
                      if '"level": "error"' in line or line.startswith("Traceback")]
            if errors:
                print(f"the server on port {port} logged {len(errors)} error(s) during the run; the first:\n"
                      + errors[0][:4000], file=sys.stderr)


def wrk(name: str, url: str, *, seconds: int, connections: int, headers: dict[str, str] | None = None,
        script: str | None = None) -> LoadResult:
    """Drive `url` with wrk from a separate process and parse its latency distribution; `script` is a
    wrk Lua script (for POSTs and changing paths)."""
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is needed: apt-get install wrk")
    command = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", url]
    if script:
        command += ["-s", script]
    for key, value in (headers or {}).items():
        command += ["-H", f"{key}: {value}"]
    server = next((pid for base, pid in _started.items() if url.startswith(base + "/")), None)
    before = Processes()
    out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    after = Processes()
    used = after.family_seconds(server) - before.family_seconds(server) if server is not None else None
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out)[1])
    p50 = _ms(re.search(r"50%\s+([\d.]+\w+)", out)[1])
    p99 = _ms(re.search(r"99%\s+([\d.]+\w+)", out)[1])
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    requests = int(re.search(r"(\d+) requests in", out)[1])
    if (refusal := re.search(r"first non-2xx answer: .*", out)) is not None:
        print(f"{name}: {refusal[0][:300]}", file=sys.stderr)
    return LoadResult(name, rps, p50, p99, int(errors[1]) if errors else 0, requests, used,
                      after.postgres_seconds() - before.postgres_seconds())


def combined(name: str, runs: list[LoadResult]) -> LoadResult:
    """Several runs of one target as one row: mean throughput, median latencies, all errors and requests,
    the server's CPU time in all."""
    cpu = [r.server_cpu_seconds for r in runs]
    database = [r.database_cpu_seconds for r in runs]
    return LoadResult(name, statistics.mean(r.requests_per_second for r in runs),
                      statistics.median(r.p50_ms for r in runs), statistics.median(r.p99_ms for r in runs),
                      sum(r.errors for r in runs), sum(r.requests for r in runs),
                      None if None in cpu else sum(cpu),  # type: ignore[arg-type]
                      None if None in database else sum(database))  # type: ignore[arg-type]


def _ms(value: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(\w+)", value).groups()
    return float(number) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def report(title: str, results: list[LoadResult], baseline: LoadResult) -> str:
    """A table of `results` against `baseline`, with CPU time per request where it was measured: the
    server's (all its processes), the baseline's ÷ the target's (which the req/s ratio approaches when the
    server's worker core is the bound), and PostgreSQL's (everything it did meanwhile, on this machine)."""
    lines = [f"## {title}", "", "| target | req/s | p50 ms | p99 ms | non-2xx | req/s vs baseline | server CPU ms/req "
             "| server CPU vs baseline | PostgreSQL CPU ms/req |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in [baseline, *results]:
        cpu = "–" if r.server_cpu_ms is None else f"{r.server_cpu_ms:.2f}"
        share = "–" if None in (r.server_cpu_ms, baseline.server_cpu_ms) else \
            f"{baseline.server_cpu_ms / r.server_cpu_ms:.2f}"  # type: ignore[operator]
        database = "–" if r.database_cpu_ms is None else f"{r.database_cpu_ms:.2f}"
        lines.append(f"| {r.name} | {r.requests_per_second:,.0f} | {r.p50_ms:.2f} | {r.p99_ms:.2f} | "
                     f"{r.errors} | {r.requests_per_second / baseline.requests_per_second:.2f} | {cpu} | {share} | "
                     f"{database} |")
    return "\n".join(lines)


def run_async(coro):  # noqa: ANN001, ANN201 - thin convenience for scripts
    return asyncio.run(coro)


async def bench_citizen(services, phone: str, resident_id: str, name: str, division: str) -> str:  # noqa: ANN001
    """Register a citizen through the identity service (code from the development SMS outbox); return
    their access token."""
    from backend.actors import Actor
    from backend.identity.schemas import CitizenRegistration

    await services.identity.request_code(phone, f"bench:{phone}", Actor(kind="anonymous"))
    body = await services.db.pool.fetchval("SELECT body FROM sms_outbox ORDER BY id DESC LIMIT 1")
    tokens = await services.identity.register_citizen(CitizenRegistration(
        phone=phone, code=re.search(r"\d{6}", body)[0], resident_id=resident_id, name=name, home_division=division),
        Actor(kind="anonymous"))
    return tokens.access_token


def http_arguments(description: str | None) -> tuple[argparse.Namespace, dict[str, int]]:
    """The HTTP benchmarks' options (workers, seconds, connections) and the wrk load they make."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--seconds", type=int, default=10)
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    return args, {"seconds": args.seconds, "connections": args.connections}
