"""SQL of organisations, their representatives, annual obligations, filings and reminders."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

# -- organisations and their representatives --------------------------------------------------------

ORGANISATION_COLUMNS = "id, credit_code, name, division_code, created_at"


async def insert_organisation(conn: asyncpg.Connection, credit_code: str, name: str, division: str,
                              registered_by: str) -> asyncpg.Record | None:
    """None when an organisation with this code exists."""
    return await conn.fetchrow(
        f"""INSERT INTO organisations (credit_code, name, division_code, registered_by) VALUES ($1, $2, $3, $4)
            ON CONFLICT (credit_code) DO NOTHING RETURNING {ORGANISATION_COLUMNS}""",
        credit_code, name, division, registered_by)


async def organisation_by_code(conn: asyncpg.Connection, credit_code: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {ORGANISATION_COLUMNS} FROM organisations WHERE credit_code = $1", credit_code)


async def insert_representative(conn: asyncpg.Connection, organisation_id: uuid.UUID, citizen_id: uuid.UUID,
                                role: str, granted_by: str) -> uuid.UUID | None:
    """None when the citizen already acts for the organisation (or it already has a legal representative)."""
    return await conn.fetchval(
        """INSERT INTO organisation_representatives (organisation_id, citizen_id, role, granted_by)
           VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING id""",
        organisation_id, citizen_id, role, granted_by)


_REPRESENTATIVE = """SELECT r.id, r.citizen_id, r.role, r.granted_at, r.revoked_at, c.name, c.resident_id_masked
                     FROM organisation_representatives r JOIN citizens c ON c.id = r.citizen_id"""


async def representatives(conn: asyncpg.Connection, organisation_id: uuid.UUID) -> list[asyncpg.Record]:
    """Who acts for the organisation now: the legal representative first, then filers by grant."""
    return await conn.fetch(
        f"""{_REPRESENTATIVE} WHERE r.organisation_id = $1 AND r.revoked_at IS NULL
            ORDER BY r.role = 'filer', r.granted_at""", organisation_id)


async def representation(conn: asyncpg.Connection, organisation_id: uuid.UUID,
                         citizen_id: uuid.UUID) -> str | None:
    """The citizen's role for the organisation now, or None."""
    return await conn.fetchval(
        """SELECT role FROM organisation_representatives
           WHERE organisation_id = $1 AND citizen_id = $2 AND revoked_at IS NULL""", organisation_id, citizen_id)


async def count_filers(conn: asyncpg.Connection, organisation_id: uuid.UUID) -> int:
    return await conn.fetchval(
        """SELECT count(*) FROM organisation_representatives
           WHERE organisation_id = $1 AND role = 'filer' AND revoked_at IS NULL""", organisation_id)


async def revoke_filer(conn: asyncpg.Connection, organisation_id: uuid.UUID, representative_id: uuid.UUID,
                       revoked_by: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE organisation_representatives SET revoked_at = now(), revoked_by = $3
           WHERE id = $2 AND organisation_id = $1 AND role = 'filer' AND revoked_at IS NULL
           RETURNING id, citizen_id""", organisation_id, representative_id, revoked_by)


async def revoke_representation(conn: asyncpg.Connection, organisation_id: uuid.UUID, *, role: str | None = None,
                                citizen_id: uuid.UUID | None = None, revoked_by: str) -> list[asyncpg.Record]:
    """End the active representation of a role, or of a citizen, for the organisation."""
    return await conn.fetch(
        """UPDATE organisation_representatives SET revoked_at = now(), revoked_by = $4
           WHERE organisation_id = $1 AND revoked_at IS NULL
             AND ($2::text IS NULL OR role = $2) AND ($3::uuid IS NULL OR citizen_id = $3)
           RETURNING id, citizen_id, role""", organisation_id, role, citizen_id, revoked_by)


async def lock_organisation(conn: asyncpg.Connection, organisation_id: uuid.UUID) -> None:
    """Serialise changes to who acts for one organisation (the cap on filers)."""
    await conn.execute("SELECT 1 FROM organisations WHERE id = $1 FOR UPDATE", organisation_id)


async def organisations_of(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT o.id, o.credit_code, o.name, o.division_code, o.created_at, r.role
           FROM organisation_representatives r JOIN organisations o ON o.id = r.organisation_id
           WHERE r.citizen_id = $1 AND r.revoked_at IS NULL ORDER BY o.name""", citizen_id)


# -- obligations ------------------------------------------------------------------------------------

# An obligation with what names its subject: an organisation's name and code, or a citizen's name and
# masked resident ID.
_OBLIGATION = """SELECT b.id, b.kind, b.organisation_id, b.citizen_id, b.division_code, b.reference, b.anchor_date,
                        b.first_period, b.last_period, b.created_at,
                        coalesce(o.name, c.name) AS subject_name,
                        coalesce(o.credit_code, c.resident_id_masked) AS subject_identifier
                 FROM filing_obligations b
                 LEFT JOIN organisations o ON o.id = b.organisation_id
                 LEFT JOIN citizens c ON c.id = b.citizen_id"""


async def insert_obligation(conn: asyncpg.Connection, *, kind: str, organisation_id: uuid.UUID | None,
                            citizen_id: uuid.UUID | None, division: str, reference: str | None,
                            anchor_date: dt.date | None, first_period: int, last_period: int | None,
                            registered_by: str) -> uuid.UUID | None:
    """None when the subject already has this obligation (same kind and reference)."""
    return await conn.fetchval(
        """INSERT INTO filing_obligations (kind, organisation_id, citizen_id, division_code, reference, anchor_date,
                                           first_period, last_period, registered_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT DO NOTHING RETURNING id""",
        kind, organisation_id, citizen_id, division, reference, anchor_date, first_period, last_period, registered_by)


async def obligation(conn: asyncpg.Connection, obligation_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"{_OBLIGATION} WHERE b.id = $1", obligation_id)


async def obligations_of(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    """The citizen's own obligations and those of every organisation they act for now."""
    return await conn.fetch(
        f"""{_OBLIGATION}
            WHERE b.citizen_id = $1
               OR b.organisation_id IN (SELECT organisation_id FROM organisation_representatives
                                        WHERE citizen_id = $1 AND revoked_at IS NULL)
            ORDER BY b.organisation_id NULLS FIRST, b.kind, b.created_at""", citizen_id)


async def acting_citizens(conn: asyncpg.Connection, obligation_id: uuid.UUID) -> list[uuid.UUID]:
    """Who may file for the obligation: the citizen it binds, or everyone acting for its organisation."""
    return [r["citizen_id"] for r in await conn.fetch(
        """SELECT b.citizen_id FROM filing_obligations b WHERE b.id = $1 AND b.citizen_id IS NOT NULL
           UNION
           SELECT r.citizen_id FROM filing_obligations b
           JOIN organisation_representatives r ON r.organisation_id = b.organisation_id AND r.revoked_at IS NULL
           WHERE b.id = $1""", obligation_id)]


async def subject_citizen(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> asyncpg.Record | None:
    """What a citizen's filing binds from the record: name and the encrypted identifiers."""
    return await conn.fetchrow("SELECT name, resident_id_enc, phone_enc FROM citizens WHERE id = $1", citizen_id)


# -- filings ----------------------------------------------------------------------------------------

FILING_COLUMNS = """f.id, f.obligation_id, f.period, f.state, f.amends, f.form_enc, f.form_digest, f.receipt_number,
                    f.late, f.created_by, f.created_at, f.updated_at, f.submitted_by, f.submitted_at, f.amended_at,
                    (SELECT n.id FROM filings n WHERE n.amends = f.id AND n.state <> 'draft') AS amended_by"""


async def insert_draft(conn: asyncpg.Connection, obligation_id: uuid.UUID, period: int, form_enc: bytes,
                       created_by: uuid.UUID, amends: uuid.UUID | None = None) -> uuid.UUID | None:
    """None when the obligation already has a draft for the period."""
    return await conn.fetchval(
        """INSERT INTO filings (obligation_id, period, form_enc, created_by, amends) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT DO NOTHING RETURNING id""",
        obligation_id, period, form_enc, created_by, amends)


async def filing(conn: asyncpg.Connection, filing_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF f" if for_update else ""
    return await conn.fetchrow(f"SELECT {FILING_COLUMNS} FROM filings f WHERE f.id = $1{lock}", filing_id)


async def filings_of(conn: asyncpg.Connection, obligation_id: uuid.UUID,
                     period: int | None = None) -> list[asyncpg.Record]:
    """An obligation's filings (of one period, when given), oldest first."""
    return await conn.fetch(
        f"""SELECT {FILING_COLUMNS} FROM filings f
            WHERE f.obligation_id = $1 AND ($2::integer IS NULL OR f.period = $2)
            ORDER BY f.period DESC, f.created_at""", obligation_id, period)


async def period_statuses(conn: asyncpg.Connection, periods: Sequence[tuple[uuid.UUID, int, dt.date, dt.date]],
                          today: dt.date) -> list[asyncpg.Record]:
    """For each (obligation, period, window opens, window closes): its status on `today` and its
    first submission, current submission and open draft (`filing_period_summary`)."""
    return await conn.fetch(
        """SELECT q.obligation_id, q.period, q.opens, q.closes, s.*,
                  filing_status(s.first_late, q.opens, q.closes, $5) AS status
           FROM unnest($1::uuid[], $2::integer[], $3::date[], $4::date[]) AS q (obligation_id, period, opens, closes)
           CROSS JOIN LATERAL filing_period_summary(q.obligation_id, q.period) s""",
        [p[0] for p in periods], [p[1] for p in periods], [p[2] for p in periods], [p[3] for p in periods], today)


async def current_submission(conn: asyncpg.Connection, obligation_id: uuid.UUID, period: int) -> uuid.UUID | None:
    return await conn.fetchval(
        "SELECT id FROM filings WHERE obligation_id = $1 AND period = $2 AND state = 'submitted'", obligation_id, period)


async def update_draft(conn: asyncpg.Connection, filing_id: uuid.UUID, form_enc: bytes) -> None:
    await conn.execute("UPDATE filings SET form_enc = $2, updated_at = now() WHERE id = $1 AND state = 'draft'",
                       filing_id, form_enc)


async def delete_draft(conn: asyncpg.Connection, filing_id: uuid.UUID) -> None:
    await conn.execute("DELETE FROM filings WHERE id = $1 AND state = 'draft'", filing_id)


async def submit(conn: asyncpg.Connection, filing_id: uuid.UUID, *, form_enc: bytes, digest: bytes, division: str,
                 late: bool, submitted_by: uuid.UUID) -> None:
    """Submit a draft under a new receipt number `<division>-<period>-<serial>`."""
    await conn.execute(
        """UPDATE filings SET state = 'submitted', form_enc = $2, form_digest = $3, late = $5, submitted_by = $6,
                              submitted_at = now(), updated_at = now(),
                              receipt_number = 'NB' || $4 || '-' || period || '-'
                                               || lpad(nextval('filing_receipt_serial')::text, 8, '0')
           WHERE id = $1 AND state = 'draft'""",
        filing_id, form_enc, digest, division, late, submitted_by)


async def mark_amended(conn: asyncpg.Connection, filing_id: uuid.UUID) -> None:
    await conn.execute("UPDATE filings SET state = 'amended', amended_at = now(), updated_at = now() WHERE id = $1",
                       filing_id)


# -- what staff see -----------------------------------------------------------------------------------


# Obligations of a kind in a scope with the status of one period. A window is either fixed ($5, $6)
# or counted in days ($7, $8) from each obligation's anchor anniversary.
_OVERVIEW = """
    WITH scoped AS (
        SELECT b.*,
               coalesce($5::date, filing_anniversary(b.anchor_date, $2) + $7::int) AS opens,
               coalesce($6::date, filing_anniversary(b.anchor_date, $2) + $8::int) AS closes
        FROM filing_obligations b
        WHERE b.kind = $1 AND b.division_code LIKE $3 || '%'
          AND b.first_period <= $2 AND (b.last_period IS NULL OR b.last_period >= $2)
    ), states AS (
        SELECT sc.*, s.filed_at, s.current_id, s.receipt_number, filing_status(s.first_late, sc.opens, sc.closes, $4)
                   AS status
        FROM scoped sc CROSS JOIN LATERAL filing_period_summary(sc.id, $2) s
    )"""


def _overview_args(kind: str, period: int, scope_prefix: str, today: dt.date, opens: dt.date | None,
                   closes: dt.date | None, opens_days: int | None, closes_days: int | None) -> list[object]:
    return [kind, period, scope_prefix, today, opens, closes, opens_days, closes_days]


async def overview(conn: asyncpg.Connection, *, status: str | None, after: uuid.UUID | None, limit: int,
                   **window: object) -> list[asyncpg.Record]:
    """One page of the overview, in obligation id order, after the obligation `after`."""
    return await conn.fetch(
        f"""{_OVERVIEW}
            SELECT st.id, st.kind, st.organisation_id, st.citizen_id, st.division_code, st.reference, st.opens,
                   st.closes, st.status, st.current_id, st.receipt_number, st.filed_at,
                   coalesce(o.name, c.name) AS subject_name,
                   coalesce(o.credit_code, c.resident_id_masked) AS subject_identifier
            FROM states st
            LEFT JOIN organisations o ON o.id = st.organisation_id
            LEFT JOIN citizens c ON c.id = st.citizen_id
            WHERE ($9::text IS NULL OR st.status = $9) AND ($10::uuid IS NULL OR st.id > $10)
            ORDER BY st.id LIMIT $11""",
        *_overview_args(**window), status, after, limit)  # type: ignore[arg-type]


async def overview_counts(conn: asyncpg.Connection, **window: object) -> dict[str, int]:
    """How many obligations of the overview are in each status."""
    rows = await conn.fetch(f"{_OVERVIEW} SELECT status, count(*) AS n FROM states GROUP BY status",
                            *_overview_args(**window))  # type: ignore[arg-type]
    return {row["status"]: row["n"] for row in rows}


# -- reminders ----------------------------------------------------------------------------------------


async def claim_reminder(conn: asyncpg.Connection, obligation_id: uuid.UUID, period: int, stage: str) -> bool:
    """Record that this reminder is being sent; False when it was sent before."""
    return bool(await conn.fetchval(
        """INSERT INTO filing_reminders (obligation_id, period, stage) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", obligation_id, period, stage))
