"""SQL of events: the outbox and its fan-out to subscribers, claiming and settling deliveries, the
delivery log, subscribers, and scheduled jobs."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from backend.db import Write, holds_session_state

NOTIFY_CHANNEL = "tongban_events"
# Namespace of the scheduled jobs' advisory locks (the second key is the job name's hash).
JOB_LOCK_SPACE = 7_316_009

# Which subscribers an event goes to: a kind listed exactly, under a listed `prefix.*`, or `*`; and a
# division inside the subscriber's (an event without a division goes to national subscribers only).
_FAN_OUT = """
    INSERT INTO event_deliveries (event_id, subscriber_id)
    SELECT e.id, s.id FROM {new_events} e JOIN webhook_subscribers s ON
        (s.kinds && ARRAY['*', e.kind]
         OR EXISTS (SELECT 1 FROM unnest(s.kinds) k WHERE right(k, 2) = '.*' AND starts_with(e.kind, left(k, -1))))
        AND starts_with(coalesce(e.division, ''), s.division_prefix)
        AND (e.division IS NOT NULL OR s.division_prefix = '')
"""


def insert_event(event_id: uuid.UUID, kind: str, subject_type: str, subject_id: str, division: str | None,
                 payload: Any) -> list[Write]:
    """The event and its deliveries to every matching subscriber."""
    return [Write("""INSERT INTO event_outbox (id, kind, subject_type, subject_id, division, payload)
                     VALUES ($1, $2, $3, $4, $5, $6) RETURNING id, kind, division""",
                  (event_id, kind, subject_type, subject_id, division, payload), "new_events"),
            Write(_FAN_OUT)]


async def insert_events(conn: asyncpg.Connection,
                        rows: Sequence[tuple[uuid.UUID, str, str, str, str | None, Any]]) -> int:
    """Many events (with their ids) in one statement (a bulk job's), fanned out like `insert_event`."""
    if not rows:
        return 0
    event_ids, kinds, types, ids, divisions, payloads = (list(column) for column in zip(*rows, strict=True))
    return await conn.fetchval(
        f"""WITH new_events AS (
                INSERT INTO event_outbox (id, kind, subject_type, subject_id, division, payload)
                SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::text[], $6::jsonb[])
                RETURNING id, kind, division),
            fanned AS ({_FAN_OUT.replace("{new_events}", "new_events")})
            SELECT count(*) FROM new_events""",
        event_ids, kinds, types, ids, divisions, payloads)


async def notify_workers(conn: asyncpg.Connection) -> None:
    """Wake idle workers: events were committed."""
    await conn.execute(f"NOTIFY {NOTIFY_CHANNEL}")


# -- deliveries ------------------------------------------------------------------------------------

async def claim_deliveries(conn: asyncpg.Connection, limit: int, lease_seconds: float,
                           worker: str) -> list[asyncpg.Record]:
    """Lease up to `limit` due deliveries to `worker`. A claimed delivery is not due again until its
    lease ends, so no other worker takes it meanwhile; if this worker dies, it becomes due again."""
    return await conn.fetch(
        """WITH picked AS (
               SELECT d.id FROM event_deliveries d JOIN webhook_subscribers s ON s.id = d.subscriber_id AND s.active
               WHERE d.status = 'pending' AND d.next_attempt_at <= now()
               ORDER BY d.next_attempt_at LIMIT $1 FOR UPDATE OF d SKIP LOCKED),
           claimed AS (
               UPDATE event_deliveries d
               SET attempts = d.attempts + 1, last_attempt_at = now(),
                   leased_until = now() + make_interval(secs => $2), leased_by = $3,
                   next_attempt_at = now() + make_interval(secs => $2)
               FROM picked WHERE d.id = picked.id
               RETURNING d.id, d.event_id, d.subscriber_id, d.attempts)
           SELECT c.id, c.attempts, e.id AS event_id, e.kind, e.subject_type, e.subject_id, e.division,
                  e.occurred_at, e.payload, s.url, s.secret_enc, s.previous_secret_enc, s.previous_secret_until
           FROM claimed c JOIN event_outbox e ON e.id = c.event_id JOIN webhook_subscribers s ON s.id = c.subscriber_id""",
        limit, lease_seconds, worker)


async def settle_delivery(conn: asyncpg.Connection, delivery_id: int, attempt: int, worker: str, *,
                          status_code: int | None, error: str | None, duration_ms: int, delivered: bool,
                          retry_at: dt.datetime | None) -> str | None:
    """Record an attempt; then, if this worker still holds the lease (the attempt is the latest),
    mark the delivery delivered, due again at `retry_at`, or dead (`retry_at` None). Returns the new
    status, or None when the lease had passed to another worker."""
    await conn.execute(
        """INSERT INTO event_delivery_attempts (delivery_id, attempt, worker, status_code, error, duration_ms)
           VALUES ($1, $2, $3, $4, $5, $6)""",
        delivery_id, attempt, worker, status_code, error, duration_ms)
    status = "delivered" if delivered else ("pending" if retry_at is not None else "dead")
    return await conn.fetchval(
        """UPDATE event_deliveries
           SET status = $3, last_status = $4, last_error = $5, leased_until = NULL, leased_by = NULL,
               delivered_at = CASE WHEN $3 = 'delivered' THEN now() END,
               next_attempt_at = coalesce($6, next_attempt_at)
           WHERE id = $1 AND attempts = $2 AND status = 'pending'
           RETURNING status""",
        delivery_id, attempt, status, status_code, error, retry_at)


async def redeliver(conn: asyncpg.Connection, *, delivery_id: int | None = None,
                    subscriber_id: uuid.UUID | None = None) -> list[int]:
    """Dead deliveries (one, or all of a subscriber's) become due now with a fresh count of attempts."""
    rows = await conn.fetch(
        """UPDATE event_deliveries SET status = 'pending', attempts = 0, next_attempt_at = now(),
                  leased_until = NULL, leased_by = NULL
           WHERE status = 'dead' AND ($1::bigint IS NULL OR id = $1) AND ($2::uuid IS NULL OR subscriber_id = $2)
           RETURNING id""",
        delivery_id, subscriber_id)
    return [r["id"] for r in rows]


_DELIVERY_COLUMNS = """d.id, d.event_id, s.name AS subscriber, s.division AS subscriber_division, d.status, d.attempts,
    CASE WHEN d.status = 'pending' THEN d.next_attempt_at END AS next_attempt_at, d.last_attempt_at,
    d.last_status, d.last_error, d.delivered_at"""


async def delivery(conn: asyncpg.Connection, delivery_id: int) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {_DELIVERY_COLUMNS} FROM event_deliveries d JOIN webhook_subscribers s ON s.id = d.subscriber_id
            WHERE d.id = $1""", delivery_id)


async def deliveries(conn: asyncpg.Connection, *, status: str | None, subscriber_id: uuid.UUID | None,
                     division_prefix: str, limit: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM event_deliveries d JOIN webhook_subscribers s ON s.id = d.subscriber_id
            WHERE ($1::text IS NULL OR d.status = $1) AND ($2::uuid IS NULL OR d.subscriber_id = $2)
              AND starts_with(s.division_prefix, $3)
            ORDER BY d.id DESC LIMIT $4""",
        status, subscriber_id, division_prefix, limit)


async def events_of_subject(conn: asyncpg.Connection, subject_type: str, subject_id: str,
                            limit: int = 200) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, kind, subject_type, subject_id, division, occurred_at, payload FROM event_outbox
           WHERE subject_type = $1 AND subject_id = $2 ORDER BY seq DESC LIMIT $3""",
        subject_type, subject_id, limit)


async def deliveries_of_events(conn: asyncpg.Connection, event_ids: list[uuid.UUID]) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_DELIVERY_COLUMNS} FROM event_deliveries d JOIN webhook_subscribers s ON s.id = d.subscriber_id
            WHERE d.event_id = ANY($1) ORDER BY d.id""", event_ids)


async def attempts_of(conn: asyncpg.Connection, delivery_ids: list[int]) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT delivery_id, attempt, at, status_code, error, duration_ms FROM event_delivery_attempts
           WHERE delivery_id = ANY($1) ORDER BY id""", delivery_ids)


async def backlog(conn: asyncpg.Connection) -> asyncpg.Record:
    return await conn.fetchrow(
        """SELECT count(*) FILTER (WHERE status = 'pending') AS pending, count(*) FILTER (WHERE status = 'dead') AS dead,
                  min(created_at) FILTER (WHERE status = 'pending') AS oldest_pending_at
           FROM event_deliveries""")


async def purge_events(conn: asyncpg.Connection, older_than: dt.datetime) -> int:
    """Events older than `older_than` with nothing left to deliver, with their deliveries and log."""
    status = await conn.execute(
        """DELETE FROM event_outbox e WHERE e.occurred_at < $1
           AND NOT EXISTS (SELECT 1 FROM event_deliveries d WHERE d.event_id = e.id AND d.status = 'pending')""",
        older_than)
    return int(status.split()[-1])


# -- subscribers -----------------------------------------------------------------------------------

_SUBSCRIBER_COLUMNS = """s.id, s.name, s.url, s.kinds, s.division, s.division_prefix, s.active, s.created_at,
    s.updated_at, s.previous_secret_until,
    (SELECT count(*) FROM event_deliveries d WHERE d.subscriber_id = s.id AND d.status = 'pending') AS pending,
    (SELECT count(*) FROM event_deliveries d WHERE d.subscriber_id = s.id AND d.status = 'dead') AS dead"""


async def insert_subscriber(conn: asyncpg.Connection, *, name: str, url: str, kinds: list[str], division: str,
                            division_prefix: str, secret_enc: bytes) -> uuid.UUID | None:
    return await conn.fetchval(
        """INSERT INTO webhook_subscribers (name, url, kinds, division, division_prefix, secret_enc)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (name) DO NOTHING RETURNING id""",
        name, url, kinds, division, division_prefix, secret_enc)


async def subscriber(conn: asyncpg.Connection, *, subscriber_id: uuid.UUID | None = None,
                     name: str | None = None) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"SELECT {_SUBSCRIBER_COLUMNS} FROM webhook_subscribers s WHERE s.id = $1 OR s.name = $2",
        subscriber_id, name)


async def subscribers(conn: asyncpg.Connection, division_prefix: str) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {_SUBSCRIBER_COLUMNS} FROM webhook_subscribers s WHERE starts_with(s.division_prefix, $1)
            ORDER BY s.name""", division_prefix)


async def update_subscriber(conn: asyncpg.Connection, subscriber_id: uuid.UUID, *, url: str | None,
                            kinds: list[str] | None, active: bool | None) -> None:
    await conn.execute(
        """UPDATE webhook_subscribers SET url = coalesce($2, url), kinds = coalesce($3, kinds),
                  active = coalesce($4, active), updated_at = now()
           WHERE id = $1""", subscriber_id, url, kinds, active)


async def rotate_secret(conn: asyncpg.Connection, subscriber_id: uuid.UUID, secret_enc: bytes,
                        previous_until: dt.datetime) -> None:
    await conn.execute(
        """UPDATE webhook_subscribers SET previous_secret_enc = secret_enc, previous_secret_until = $3,
                  secret_enc = $2, updated_at = now()
           WHERE id = $1""", subscriber_id, secret_enc, previous_until)


async def delete_subscriber(conn: asyncpg.Connection, subscriber_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM webhook_subscribers WHERE id = $1", subscriber_id)


# -- scheduled jobs --------------------------------------------------------------------------------

async def register_jobs(conn: asyncpg.Connection, jobs: Sequence[tuple[str, int]]) -> None:
    """A row per job (first due now); a changed interval takes effect from the next run."""
    await conn.executemany(
        """INSERT INTO scheduled_jobs (name, interval_seconds) VALUES ($1, $2)
           ON CONFLICT (name) DO UPDATE SET interval_seconds = EXCLUDED.interval_seconds""", jobs)


async def due_jobs(conn: asyncpg.Connection, names: list[str]) -> list[str]:
    rows = await conn.fetch(
        "SELECT name FROM scheduled_jobs WHERE name = ANY($1) AND next_run_at <= now() ORDER BY next_run_at", names)
    return [r["name"] for r in rows]


async def try_lock_job(conn: asyncpg.Connection, name: str) -> bool:
    holds_session_state(conn)  # a session-level lock: the pool must not hand the session on holding it
    return await conn.fetchval("SELECT pg_try_advisory_lock($1, hashtext($2))", JOB_LOCK_SPACE, name)


async def unlock_job(conn: asyncpg.Connection, name: str) -> None:
    await conn.execute("SELECT pg_advisory_unlock($1, hashtext($2))", JOB_LOCK_SPACE, name)


async def start_job(conn: asyncpg.Connection, name: str, worker: str) -> bool:
    """Mark the run started if the job is (still) due: another worker may have run it just before."""
    return await conn.fetchval(
        """UPDATE scheduled_jobs SET last_started_at = now(), last_worker = $2
           WHERE name = $1 AND next_run_at <= now() RETURNING true""", name, worker) or False


async def finish_job(conn: asyncpg.Connection, name: str, outcome: str, summary: str | None) -> None:
    await conn.execute(
        """UPDATE scheduled_jobs SET last_finished_at = now(), last_outcome = $2, last_summary = $3, runs = runs + 1,
                  next_run_at = greatest(last_started_at + make_interval(secs => interval_seconds), now())
           WHERE name = $1""", name, outcome, summary)


async def jobs(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT name, interval_seconds, next_run_at, last_started_at, last_finished_at, last_outcome,
                  last_summary, runs FROM scheduled_jobs ORDER BY name""")
