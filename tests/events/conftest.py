"""A real webhook receiver on a local port, and settings that make retries quick."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import msgspec
import pytest

from tests.server import free_port

# Quick retries, a short HTTP timeout and a lease above it, a few attempts before the dead letter.
QUICK_EVENTS = {"events_retry_base_seconds": 0.05, "events_retry_max_seconds": 0.2,
                "events_http_timeout_seconds": 0.5, "events_lease_seconds": 2.0, "events_max_attempts": 3,
                "events_poll_seconds": 0.05}


@dataclass
class Received:
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server in a thread of its own. `mode`: `ok`, `fail` (500), `slow` (answers after
    `delay` seconds) or `trickle` (sends its 200 answer a byte at a time over `delay` seconds); `fail_first` requests answer 500 before `mode` applies. `stop()` takes it down
    (connections refused) and `start()` brings it back on the same port."""

    port: int
    mode: str = "ok"
    delay: float = 0.0
    fail_first: int = 0
    received: list[Received] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the standard library's name
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                with receiver._lock:
                    receiver.received.append(Received({k.lower(): v for k, v in self.headers.items()}, body))
                    failing = receiver.fail_first > 0
                    receiver.fail_first -= 1 if failing else 0
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                status = 500 if failing or receiver.mode == "fail" else 200
                if receiver.mode == "trickle":
                    self._trickle(receiver.delay)
                    return
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def _trickle(self, seconds: float) -> None:
                answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                try:
                    for byte in answer:
                        self.wfile.write(bytes([byte]))
                        self.wfile.flush()
                        time.sleep(seconds / len(answer))
                except OSError:  # the sender gave up and closed the connection
                    pass

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def event_ids(self) -> list[str]:
        with self._lock:
            return [r.headers["webhook-id"] for r in self.received]

    def bodies(self) -> list[dict]:
        with self._lock:
            return [msgspec.json.decode(r.body) for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    running = Receiver(free_port())
    running.start()
    yield running
    running.stop()


@pytest.fixture
def settings(settings):
    return msgspec.structs.replace(settings, **QUICK_EVENTS)
