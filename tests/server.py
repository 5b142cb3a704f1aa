"""The real server in a child process, for tests that must cross a socket."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests import face_samples


@dataclass
class RunningServer:
    base_url: str
    process: subprocess.Popen[bytes]
    output: Path

    def stop(self) -> str:
        """Stop the server gracefully; return everything it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        return self.output.read_text(encoding="utf-8", errors="replace")

    def kill(self) -> None:
        """SIGKILL to the server and everything it started (its workers, the event worker): a crash, with
        no chance to finish a request, commit or clean up."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def tongban_server(
    settings, data_dir, *, workers: int = 1, demo_data: bool = False, env: dict[str, str] | None = None,
    ready_within: float = 60,
) -> Iterator[RunningServer]:
    """`tongban serve` against the test's database and Redis prefix, ready when this yields (refused
    after `ready_within` seconds)."""
    port = free_port()
    environment = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
                   "TONGBAN_REDIS_PREFIX": settings.redis_prefix, "TONGBAN_CODE_RESEND_SECONDS": "0",
                   "TONGBAN_DATA_DIR": str(data_dir),
                   # The run's one converted-model folder: converting the models anew costs each start seconds.
                   "TONGBAN_FACE_MODEL_DIR": str(face_samples.model_dir()), **(env or {})}
    # Output goes to a file: a pipe nobody reads until the end would fill and stall the server.
    output = Path(data_dir) / "server.log"
    with output.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "backend.cli", "serve", "--workers", str(workers), "--port", str(port),
             *(["--demo-data"] if demo_data else [])],
            # A session of its own, so that `kill` reaches every process it starts and nothing else.
            env=environment, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    server = RunningServer(f"http://127.0.0.1:{port}", process, output)
    deadline = time.monotonic() + ready_within
    while True:
        try:
            if httpx.get(server.base_url + "/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline or process.poll() is not None:
            raise RuntimeError("server did not become ready: " + server.stop()[-2000:])
        time.sleep(0.2)
    try:
        yield server
    finally:
        server.stop()


# Anything shaped like a resident ID number (or an 18-character unified credit code) or a mobile
# number, standing alone: not inside a longer run of letters and digits such as a request id.
_PERSONAL_DATA = re.compile(r"(?<![0-9A-Za-z])(?:\d{17}[\dXx]|(?:\+?86|0086)?[- ]?1[3-9]\d{9})(?![0-9A-Za-z])")


def personal_data_in(output: str) -> list[str]:
    """The lines of a server's output that show an ID or phone number unmasked."""
    return [line for line in output.splitlines() if _PERSONAL_DATA.search(line)]
