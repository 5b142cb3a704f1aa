"""SQL of the data-sharing gateway: requests (the citizen's log), evidence previews, consents."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

# The case a request was made for is named by its number (a scalar subquery, so that INSERT and UPDATE
# … RETURNING answer it too).
REQUEST_COLUMNS = """id, citizen_id, provider_id, fields, purpose, basis, legal_reference, consent_id, requester_kind,
                     requester_id, requester_division, requester_role, case_reference, case_id,
                     (SELECT c.number FROM cases c WHERE c.id = data_requests.case_id) AS case_number, state, failure,
                     evidence_enc, disclosed, created_at, preview_expires_at, decided_at, evidence_until"""


async def person_and_provider(conn: asyncpg.Connection, citizen_id: uuid.UUID, provider_id: str) -> asyncpg.Record | None:
    """In one round trip: what a provider knows the person by (the keyed hash of the resident ID), the
    person's division, and whether the provider is active in the data-provider registry."""
    return await conn.fetchrow(
        """SELECT c.resident_id_hash, c.home_division,
                  coalesce((SELECT active FROM data_providers WHERE id = $2), false) AS provider_active
           FROM citizens c WHERE c.id = $1""", citizen_id, provider_id)


async def insert_request(conn: asyncpg.Connection, **values: object) -> asyncpg.Record:
    names = list(values)
    return await conn.fetchrow(
        f"""INSERT INTO data_requests ({', '.join(names)}) VALUES ({', '.join(f'${n}' for n in range(1, len(names) + 1))})
            RETURNING {REQUEST_COLUMNS}""", *values.values())


async def request(conn: asyncpg.Connection, request_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE" if for_update else ""
    return await conn.fetchrow(f"SELECT {REQUEST_COLUMNS} FROM data_requests WHERE id = $1{lock}", request_id)


async def decide(conn: asyncpg.Connection, request_id: uuid.UUID, state: str, *, keep_evidence_until: dt.datetime | None,
                 disclosed: Sequence[str] = ()) -> asyncpg.Record | None:
    """Move an awaiting request on: `shared` keeps the evidence until `keep_evidence_until`; any other
    state erases it."""
    return await conn.fetchrow(
        f"""UPDATE data_requests SET state = $2, decided_at = now(), disclosed = $4,
                   evidence_until = $3, evidence_enc = CASE WHEN $3::timestamptz IS NULL THEN NULL ELSE evidence_enc END
            WHERE id = $1 AND state = 'awaiting-citizen' RETURNING {REQUEST_COLUMNS}""",
        request_id, state, keep_evidence_until, list(disclosed))


async def requests_of(conn: asyncpg.Connection, citizen_id: uuid.UUID, limit: int, offset: int) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {REQUEST_COLUMNS} FROM data_requests WHERE citizen_id = $1
            ORDER BY created_at DESC, id LIMIT $2 OFFSET $3""", citizen_id, limit, offset)


async def expire_previews(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    """Every preview left unanswered past its time: expired, its evidence erased."""
    return await conn.fetch(
        """UPDATE data_requests SET state = 'expired', decided_at = now(), evidence_enc = NULL
           WHERE state = 'awaiting-citizen' AND preview_expires_at <= now()
           RETURNING id, citizen_id, provider_id, requester_division""")


async def erase_old_evidence(conn: asyncpg.Connection) -> int:
    """Shared evidence kept past its time is erased (the log row stays)."""
    status = await conn.execute(
        "UPDATE data_requests SET evidence_enc = NULL WHERE evidence_enc IS NOT NULL AND evidence_until <= now()")
    return int(status.split()[-1])


# -- consents -----------------------------------------------------------------------------------------

CONSENT_COLUMNS = "id, citizen_id, requester_division, purposes, providers, created_at, expires_at, withdrawn_at"


async def insert_consent(conn: asyncpg.Connection, citizen_id: uuid.UUID, requester_division: str,
                         purposes: Sequence[str], providers: Sequence[str], expires_at: dt.datetime) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO data_sharing_consents (citizen_id, requester_division, purposes, providers, expires_at)
            VALUES ($1, $2, $3, $4, $5) RETURNING {CONSENT_COLUMNS}""",
        citizen_id, requester_division, list(purposes), list(providers), expires_at)


async def consent(conn: asyncpg.Connection, consent_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {CONSENT_COLUMNS} FROM data_sharing_consents WHERE id = $1", consent_id)


async def consents_of(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {CONSENT_COLUMNS} FROM data_sharing_consents WHERE citizen_id = $1 ORDER BY created_at DESC",
        citizen_id)


async def withdraw_consent(conn: asyncpg.Connection, consent_id: uuid.UUID, citizen_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE data_sharing_consents SET withdrawn_at = coalesce(withdrawn_at, now())
            WHERE id = $1 AND citizen_id = $2 RETURNING {CONSENT_COLUMNS}""", consent_id, citizen_id)


# -- demo providers' own rows ------------------------------------------------------------------------------


async def insert_demo_rows(conn: asyncpg.Connection, table: str, rows: Sequence[dict[str, object]]) -> int:
    """Load a demo provider's SAMPLE rows (keyed by `person_key`); rows already there are left alone."""
    inserted = 0
    for row in rows:
        names = list(row)
        status = await conn.execute(
            f"""INSERT INTO demo_providers.{table} ({', '.join(names)})
                VALUES ({', '.join(f'${n}' for n in range(1, len(names) + 1))}) ON CONFLICT DO NOTHING""",
            *row.values())
        inserted += int(status.split()[-1])
    return inserted
