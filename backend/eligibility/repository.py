"""SQL of pension eligibility recognition: agencies, rosters, recognitions, decisions, relatives,
face-recognition consents, data providers and signals, service points, bookings and reminders."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import asyncpg

# -- agencies and rosters ---------------------------------------------------------------------------

AGENCY_COLUMNS = """division, name, authority_id, window_months, opens_days_before, due_soon_days,
                    silent_signal_kinds, silent_max_age_days, unattested_in_a_row"""


async def upsert_agency(conn: asyncpg.Connection, division: str, values: dict[str, Any]) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO pension_agencies (division, name, authority_id, window_months, opens_days_before,
                                          due_soon_days, silent_signal_kinds, silent_max_age_days, unattested_in_a_row)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
            ON CONFLICT (division) DO UPDATE SET name = EXCLUDED.name, authority_id = EXCLUDED.authority_id,
                window_months = EXCLUDED.window_months, opens_days_before = EXCLUDED.opens_days_before,
                due_soon_days = EXCLUDED.due_soon_days, silent_signal_kinds = EXCLUDED.silent_signal_kinds,
                silent_max_age_days = EXCLUDED.silent_max_age_days, unattested_in_a_row = EXCLUDED.unattested_in_a_row,
                updated_at = now()
            RETURNING {AGENCY_COLUMNS}""",
        division, values["name"], values["authority_id"], values["window_months"], values["opens_days_before"],
        values["due_soon_days"], values["silent_signal_kinds"], values["silent_max_age_days"],
        values["unattested_in_a_row"])


async def agency(conn: asyncpg.Connection, division: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {AGENCY_COLUMNS} FROM pension_agencies WHERE division = $1", division)


ENTRY_COLUMNS = """r.id, r.agency_division, a.name AS agency_name, r.citizen_id, c.name, c.resident_id_masked,
    r.residence_division, r.scheme, r.status, r.stop_reason, r.last_recognised_on, r.next_due, r.data_issue,
    a.window_months, a.opens_days_before, a.due_soon_days, a.authority_id, c.birth_date, a.unattested_in_a_row"""
_ENTRY_FROM = """pension_roster r JOIN pension_agencies a ON a.division = r.agency_division
                 JOIN citizens c ON c.id = r.citizen_id"""


async def insert_entry(conn: asyncpg.Connection, *, agency_division: str, citizen_id: uuid.UUID,
                       residence_division: str, scheme: str, last_recognised_on: dt.date | None,
                       next_due: dt.date) -> uuid.UUID | None:
    return await conn.fetchval(
        """INSERT INTO pension_roster (agency_division, citizen_id, residence_division, scheme, last_recognised_on,
                                       next_due)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (agency_division, citizen_id) DO NOTHING RETURNING id""",
        agency_division, citizen_id, residence_division, scheme, last_recognised_on, next_due)


async def entry(conn: asyncpg.Connection, entry_id: uuid.UUID, *, for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF r" if for_update else ""
    return await conn.fetchrow(f"SELECT {ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE r.id = $1{lock}", entry_id)


async def entries_of_citizen(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    """A pensioner's roster entries (usually one), the paying ones first, the soonest due first."""
    return await conn.fetch(
        f"""SELECT {ENTRY_COLUMNS} FROM {_ENTRY_FROM} WHERE r.citizen_id = $1
            ORDER BY r.status = 'stopped', r.next_due""", citizen_id)


_STANDING = """CASE WHEN $1 > r.next_due THEN 'overdue' WHEN r.next_due - $1 <= a.due_soon_days THEN 'due-soon'
                    WHEN r.next_due - $1 <= a.opens_days_before THEN 'due' ELSE 'not-due' END"""


async def roster(conn: asyncpg.Connection, *, today: dt.date, agency_prefix: str, residence_prefix: str | None,
                 standing: str | None, status: str | None, limit: int, offset: int) -> list[asyncpg.Record]:
    """An agency's roster (agencies under `agency_prefix`), soonest due first, optionally only one
    residence division, one standing or one status."""
    return await conn.fetch(
        f"""SELECT {ENTRY_COLUMNS} FROM {_ENTRY_FROM}
            WHERE starts_with(r.agency_division, $2) AND ($3::text IS NULL OR starts_with(r.residence_division, $3))
              AND ($4::text IS NULL OR {_STANDING} = $4) AND ($5::text IS NULL OR r.status = $5)
            ORDER BY r.next_due, r.id LIMIT $6 OFFSET $7""",
        today, agency_prefix, residence_prefix, standing, status, limit, offset)


async def summary(conn: asyncpg.Connection, agency_prefix: str, today: dt.date) -> list[asyncpg.Record]:
    """Per residence division: on the roster (not stopped), due, due soon, overdue, suspended."""
    return await conn.fetch(
        """SELECT r.residence_division, count(*) AS on_roster,
                  count(*) FILTER (WHERE $2 > r.next_due) AS overdue,
                  count(*) FILTER (WHERE $2 <= r.next_due AND r.next_due - $2 <= a.due_soon_days) AS due_soon,
                  count(*) FILTER (WHERE r.next_due - $2 > a.due_soon_days
                                     AND r.next_due - $2 <= a.opens_days_before) AS due,
                  count(*) FILTER (WHERE r.status = 'suspended') AS suspended
           FROM pension_roster r JOIN pension_agencies a ON a.division = r.agency_division
           WHERE starts_with(r.agency_division, $1) AND r.status <> 'stopped'
           GROUP BY r.residence_division ORDER BY r.residence_division""",
        agency_prefix, today)


async def update_entry(conn: asyncpg.Connection, entry_id: uuid.UUID, *, residence_division: str | None,
                       stop_reason: str | None, data_issue: str | None, clear_issue: bool) -> None:
    await conn.execute(
        """UPDATE pension_roster SET residence_division = coalesce($2, residence_division),
                  status = CASE WHEN $3::text IS NOT NULL THEN 'stopped' ELSE status END,
                  stop_reason = coalesce($3, stop_reason),
                  data_issue = CASE WHEN $5 THEN NULL ELSE coalesce($4, data_issue) END, updated_at = now()
           WHERE id = $1""", entry_id, residence_division, stop_reason, data_issue, clear_issue)


async def set_status(conn: asyncpg.Connection, entry_id: uuid.UUID, status: str) -> None:
    await conn.execute("UPDATE pension_roster SET status = $2, updated_at = now() WHERE id = $1", entry_id, status)


async def mark_recognised(conn: asyncpg.Connection, entry_id: uuid.UUID, on: dt.date, next_due: dt.date) -> None:
    await conn.execute(
        """UPDATE pension_roster SET last_recognised_on = $2, next_due = $3, updated_at = now(),
                  status = CASE WHEN status = 'suspended' THEN 'paying' ELSE status END
           WHERE id = $1""", entry_id, on, next_due)


async def unattested_in_a_row(conn: asyncpg.Connection, entry_id: uuid.UUID, limit: int) -> int:
    """How many of the entry's latest recognitions (at most `limit`), newest first, were phone
    recognitions on an unattested capture, until the first that was not."""
    return await conn.fetchval(
        """SELECT count(*) FROM (
               SELECT bool_and(method IN ('face-phone', 'family-proxy') AND evidence #>> '{face,capture}' = 'unattested')
                          OVER (ORDER BY recognised_at DESC ROWS UNBOUNDED PRECEDING) AS streak
               FROM (SELECT method, evidence, recognised_at FROM pension_recognitions WHERE entry_id = $1
                     ORDER BY recognised_at DESC LIMIT $2) latest) s
           WHERE streak""", entry_id, limit)


async def insert_recognition(conn: asyncpg.Connection, **values: Any) -> uuid.UUID:
    columns = ", ".join(values)
    placeholders = ", ".join(f"${i}" for i in range(1, len(values) + 1))
    return await conn.fetchval(
        f"INSERT INTO pension_recognitions ({columns}) VALUES ({placeholders}) RETURNING id", *values.values())


async def insert_silent_recognitions(conn: asyncpg.Connection, rows: list[tuple]) -> None:
    """Silent recognitions in one statement: (id, entry, on, place, evidence, actor kind, actor id,
    certificate, event, next due)."""
    columns = list(zip(*rows, strict=True))
    await conn.execute(
        """INSERT INTO pension_recognitions (id, entry_id, method, recognised_on, place_division, evidence, actor_kind,
                                             actor_id, certificate_id, event_id, next_due)
           SELECT id, entry_id, 'silent', recognised_on, place_division, evidence, actor_kind, actor_id, certificate_id,
                  event_id, next_due
           FROM unnest($1::uuid[], $2::uuid[], $3::date[], $4::text[], $5::jsonb[], $6::text[], $7::text[], $8::uuid[],
                       $9::uuid[], $10::date[])
                AS t(id, entry_id, recognised_on, place_division, evidence, actor_kind, actor_id, certificate_id,
                     event_id, next_due)""", *columns)


async def mark_many_recognised(conn: asyncpg.Connection, rows: list[tuple[uuid.UUID, dt.date, dt.date]]) -> None:
    ids, days, dues = (list(c) for c in zip(*rows, strict=True))
    await conn.execute(
        """UPDATE pension_roster r SET last_recognised_on = t.day, next_due = t.due, updated_at = now()
           FROM unnest($1::uuid[], $2::date[], $3::date[]) AS t(id, day, due) WHERE r.id = t.id""", ids, days, dues)


async def set_recognition_links(conn: asyncpg.Connection, recognition_id: uuid.UUID, certificate_id: uuid.UUID | None,
                                event_id: uuid.UUID) -> None:
    await conn.execute("UPDATE pension_recognitions SET certificate_id = $2, event_id = $3 WHERE id = $1",
                       recognition_id, certificate_id, event_id)


RECOGNITION_COLUMNS = """id, entry_id, method, recognised_on, recognised_at, place_division, evidence, next_due,
    certificate_id, event_id, proxy_citizen_id"""


async def last_recognition(conn: asyncpg.Connection, entry_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {RECOGNITION_COLUMNS} FROM pension_recognitions WHERE entry_id = $1
            ORDER BY recognised_at DESC LIMIT 1""", entry_id)


async def insert_decision(conn: asyncpg.Connection, entry_id: uuid.UUID, decision: str, reason: str, *,
                          suspended_from: dt.date | None = None, back_pay_from: dt.date | None = None,
                          back_pay_to: dt.date | None = None, recognition_id: uuid.UUID | None = None,
                          decided_by: uuid.UUID | None = None) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO pension_decisions (entry_id, decision, reason, suspended_from, back_pay_from, back_pay_to,
                                          recognition_id, decided_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
           RETURNING id, decision, reason, suspended_from, back_pay_from, back_pay_to, recognition_id, decided_at""",
        entry_id, decision, reason, suspended_from, back_pay_from, back_pay_to, recognition_id, decided_by)


async def last_suspension(conn: asyncpg.Connection, entry_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT suspended_from FROM pension_decisions WHERE entry_id = $1 AND decision = 'suspended'
           ORDER BY decided_at DESC LIMIT 1""", entry_id)


async def decisions(conn: asyncpg.Connection, entry_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT id, decision, reason, suspended_from, back_pay_from, back_pay_to, recognition_id, decided_at
           FROM pension_decisions WHERE entry_id = $1 ORDER BY decided_at DESC""", entry_id)


# -- relatives and consents -------------------------------------------------------------------------

RELATIVE_COLUMNS = """ar.id, ar.citizen_id, p.name AS citizen_name, ar.relative_id, r.name AS relative_name,
    r.phone_masked AS relative_phone_masked, ar.relationship, ar.authorised_via, ar.authorised_at, ar.revoked_at"""
_RELATIVE_FROM = """authorised_relatives ar JOIN citizens p ON p.id = ar.citizen_id
                    JOIN citizens r ON r.id = ar.relative_id"""


async def insert_relative(conn: asyncpg.Connection, citizen_id: uuid.UUID, relative_id: uuid.UUID,
                          relationship: str, via: str, staff_id: uuid.UUID | None) -> uuid.UUID | None:
    return await conn.fetchval(
        """INSERT INTO authorised_relatives (citizen_id, relative_id, relationship, authorised_via, authorised_by_staff)
           VALUES ($1, $2, $3, $4, $5) ON CONFLICT (citizen_id, relative_id) WHERE revoked_at IS NULL DO NOTHING
           RETURNING id""", citizen_id, relative_id, relationship, via, staff_id)


async def active_relatives(conn: asyncpg.Connection, citizen_id: uuid.UUID, *, lock: bool = False) -> list[asyncpg.Record]:
    if lock:  # serialise authorisations of one citizen, so the cap holds under concurrency; NO KEY, as a
        # relative's own authorisation at the same moment takes KEY SHARE on this row (the foreign key) and
        # FOR UPDATE would deadlock with it
        await conn.execute("SELECT 1 FROM citizens WHERE id = $1 FOR NO KEY UPDATE", citizen_id)
    return await conn.fetch(
        f"""SELECT {RELATIVE_COLUMNS} FROM {_RELATIVE_FROM} WHERE ar.citizen_id = $1 AND ar.revoked_at IS NULL
            ORDER BY ar.authorised_at""", citizen_id)


async def relatives_acting_for(conn: asyncpg.Connection, relative_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {RELATIVE_COLUMNS} FROM {_RELATIVE_FROM} WHERE ar.relative_id = $1 AND ar.revoked_at IS NULL
            ORDER BY ar.authorised_at""", relative_id)


async def authorisation(conn: asyncpg.Connection, citizen_id: uuid.UUID, relative_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {RELATIVE_COLUMNS} FROM {_RELATIVE_FROM}
            WHERE ar.citizen_id = $1 AND ar.relative_id = $2 AND ar.revoked_at IS NULL""", citizen_id, relative_id)


async def revoke_relative(conn: asyncpg.Connection, authorisation_id: uuid.UUID, citizen_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE authorised_relatives SET revoked_at = now()
           WHERE id = $1 AND citizen_id = $2 AND revoked_at IS NULL RETURNING id, relative_id""",
        authorisation_id, citizen_id)


async def face_consent(conn: asyncpg.Connection, citizen_id: uuid.UUID, purpose: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """SELECT purpose, wording, given_at, given_via, withdrawn_at FROM face_recognition_consents
           WHERE citizen_id = $1 AND purpose = $2""", citizen_id, purpose)


async def give_face_consent(conn: asyncpg.Connection, citizen_id: uuid.UUID, purpose: str, wording: str,
                            via: str) -> asyncpg.Record:
    return await conn.fetchrow(
        """INSERT INTO face_recognition_consents (citizen_id, purpose, wording, given_via) VALUES ($1, $2, $3, $4)
           ON CONFLICT (citizen_id, purpose) DO UPDATE SET wording = EXCLUDED.wording, given_at = now(),
               given_via = EXCLUDED.given_via, withdrawn_at = NULL
           RETURNING purpose, wording, given_at, given_via, withdrawn_at""", citizen_id, purpose, wording, via)


async def withdraw_face_consent(conn: asyncpg.Connection, citizen_id: uuid.UUID, purpose: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """UPDATE face_recognition_consents SET withdrawn_at = now()
           WHERE citizen_id = $1 AND purpose = $2 AND withdrawn_at IS NULL
           RETURNING purpose, wording, given_at, given_via, withdrawn_at""", citizen_id, purpose)


async def face_enrolled(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> bool:
    return await conn.fetchval("SELECT EXISTS (SELECT 1 FROM face_enrolments WHERE citizen_id = $1)", citizen_id)


async def citizen_by_resident_hash(conn: asyncpg.Connection, resident_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT id, name, home_division FROM citizens WHERE resident_id_hash = $1",
                               resident_hash)


async def citizen_ids_by_hashes(conn: asyncpg.Connection, hashes: list[bytes]) -> dict[bytes, uuid.UUID]:
    rows = await conn.fetch("SELECT resident_id_hash, id FROM citizens WHERE resident_id_hash = ANY($1)", hashes)
    return {bytes(r["resident_id_hash"]): r["id"] for r in rows}


# -- providers, signals, service points ---------------------------------------------------------------

PROVIDER_COLUMNS = "id, name, division, signal_kinds, active, created_at"


async def insert_provider(conn: asyncpg.Connection, provider_id: str, name: str, division: str, kinds: list[str],
                          credential_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""INSERT INTO data_providers (id, name, division, signal_kinds, credential_hash) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (id) DO NOTHING RETURNING {PROVIDER_COLUMNS}""",
        provider_id, name, division, kinds, credential_hash)


async def provider(conn: asyncpg.Connection, provider_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {PROVIDER_COLUMNS}, credential_hash FROM data_providers WHERE id = $1",
                               provider_id)


async def providers(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(f"SELECT {PROVIDER_COLUMNS} FROM data_providers ORDER BY id")


async def insert_signal(conn: asyncpg.Connection, provider_id: str, citizen_id: uuid.UUID, kind: str,
                        occurred_on: dt.date, place_division: str, source_reference: str) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO life_signals (provider_id, citizen_id, kind, occurred_on, place_division, source_reference)
           VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (provider_id, source_reference) DO NOTHING RETURNING true""",
        provider_id, citizen_id, kind, occurred_on, place_division, source_reference))


async def insert_signals(conn: asyncpg.Connection, rows: list[tuple[str, uuid.UUID, str, dt.date, str, str]]) -> None:
    """Many signals at once (a provider's daily file, the benchmark)."""
    await conn.copy_records_to_table(
        "life_signals", records=rows,
        columns=["provider_id", "citizen_id", "kind", "occurred_on", "place_division", "source_reference"])


async def silent_candidates(conn: asyncpg.Connection, today: dt.date, after_id: uuid.UUID | None,
                            limit: int) -> list[asyncpg.Record]:
    """Roster entries whose recognition is open or overdue and that have a sign of life the agency
    counts — of a kind it chose, recent enough, after the last recognition, from an active provider —
    with the newest such sign; in id order, `limit` at a time, locked for the caller's transaction.

    An entry another transaction holds (a phone recognition, another run) is skipped, and one that a
    transaction recognised after this statement began is looked at again as committed (PostgreSQL
    re-checks a locked row's conditions on its newest version): it is no longer open, so it is left."""
    return await conn.fetch(
        f"""SELECT {ENTRY_COLUMNS}, s.id AS signal_id, s.provider_id, p.name AS provider_name, s.kind AS signal_kind,
                   s.occurred_on, s.place_division AS signal_place, s.source_reference
            FROM {_ENTRY_FROM}
            CROSS JOIN LATERAL (
                SELECT s.* FROM life_signals s JOIN data_providers dp ON dp.id = s.provider_id AND dp.active
                WHERE s.citizen_id = r.citizen_id AND s.kind = ANY(a.silent_signal_kinds)
                  AND s.occurred_on >= $1::date - a.silent_max_age_days::integer AND s.occurred_on <= $1
                  AND (r.last_recognised_on IS NULL OR s.occurred_on > r.last_recognised_on)
                ORDER BY s.occurred_on DESC LIMIT 1) s
            JOIN data_providers p ON p.id = s.provider_id
            WHERE r.status <> 'stopped' AND r.data_issue IS NULL AND cardinality(a.silent_signal_kinds) > 0
              AND r.next_due - $1 <= a.opens_days_before AND ($2::uuid IS NULL OR r.id > $2)
            ORDER BY r.id LIMIT $3 FOR UPDATE OF r SKIP LOCKED""",
        today, after_id, limit)


async def use_signals(conn: asyncpg.Connection, pairs: list[tuple[int, uuid.UUID]]) -> None:
    signal_ids, recognition_ids = (list(c) for c in zip(*pairs, strict=True))
    await conn.execute(
        """UPDATE life_signals s SET used_by = t.recognition FROM unnest($1::bigint[], $2::uuid[]) AS t(id, recognition)
           WHERE s.id = t.id""", signal_ids, recognition_ids)


async def service_points(conn: asyncpg.Connection, residence_division: str, limit: int = 5) -> list[asyncpg.Record]:
    """Active service windows, and registered kiosks with a camera (the kiosk domain's table), nearest
    the residence: the same county first, then the city, then the province."""
    return await conn.fetch(
        """SELECT * FROM (
               SELECT id, kind, division, name, address, hours FROM service_points WHERE active
               UNION ALL
               SELECT id::text, 'kiosk', division_code, '自助终端 Self-service kiosk', address, NULL FROM kiosks
               WHERE status = 'active' AND 'camera' = ANY(capabilities)) p
           WHERE left(division, 2) = left($1, 2)
           ORDER BY (division = $1) DESC, (left(division, 4) = left($1, 4)) DESC, kind DESC, id LIMIT $2""",
        residence_division, limit)


async def upsert_service_point(conn: asyncpg.Connection, point: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO service_points (id, kind, division, name, address, hours) VALUES ($1, $2, $3, $4, $5, $6)
           ON CONFLICT (id) DO NOTHING""",
        point["id"], point["kind"], point["division"], point["name"], point["address"], point.get("hours"))


# -- visits and reminders -------------------------------------------------------------------------------

BOOKING_COLUMNS = """b.id, b.entry_id, b.kind, b.residence_division, b.slot_date, b.slot_part, b.note, b.status,
    c.name AS pensioner_name, b.recognition_id"""
_BOOKING_FROM = "visit_bookings b JOIN pension_roster r ON r.id = b.entry_id JOIN citizens c ON c.id = r.citizen_id"


async def insert_booking(conn: asyncpg.Connection, entry_id: uuid.UUID, kind: str, residence_division: str,
                         slot_date: dt.date, slot_part: str, note: str | None, by_kind: str, by: str) -> uuid.UUID | None:
    return await conn.fetchval(
        """INSERT INTO visit_bookings (entry_id, kind, residence_division, slot_date, slot_part, note, booked_by_kind,
                                       booked_by)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (entry_id) WHERE status = 'booked' DO NOTHING
           RETURNING id""", entry_id, kind, residence_division, slot_date, slot_part, note, by_kind, by)


async def booking(conn: asyncpg.Connection, booking_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {BOOKING_COLUMNS} FROM {_BOOKING_FROM} WHERE b.id = $1", booking_id)


async def open_booking(conn: asyncpg.Connection, entry_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {BOOKING_COLUMNS} FROM {_BOOKING_FROM} WHERE b.entry_id = $1 "
                               "AND b.status = 'booked'", entry_id)


async def bookings_in(conn: asyncpg.Connection, residence_prefix: str, since: dt.date) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {BOOKING_COLUMNS} FROM {_BOOKING_FROM}
            WHERE starts_with(b.residence_division, $1) AND b.status = 'booked' AND b.slot_date >= $2
            ORDER BY b.slot_date, b.slot_part, b.id""", residence_prefix, since)


async def complete_booking(conn: asyncpg.Connection, booking_id: uuid.UUID, recognition_id: uuid.UUID,
                           staff_id: uuid.UUID) -> None:
    await conn.execute(
        """UPDATE visit_bookings SET status = 'completed', recognition_id = $2, completed_by = $3
           WHERE id = $1 AND status = 'booked'""", booking_id, recognition_id, staff_id)


async def reminders_due(conn: asyncpg.Connection, today: dt.date, limit: int) -> list[asyncpg.Record]:
    """Entries that reached a reminder point (30 or 7 days before due, or overdue) and were not yet
    reminded of it for this due date."""
    return await conn.fetch(
        """SELECT r.id, r.citizen_id, r.next_due, r.agency_division, k.kind
           FROM pension_roster r
           CROSS JOIN LATERAL (SELECT CASE WHEN $1 > r.next_due THEN 'overdue'
                                           WHEN r.next_due - $1 <= 7 THEN 'due-7'
                                           WHEN r.next_due - $1 <= 30 THEN 'due-30' END AS kind) k
           WHERE r.status <> 'stopped' AND k.kind IS NOT NULL
             AND NOT EXISTS (SELECT 1 FROM pension_reminders m WHERE m.entry_id = r.id AND m.kind = k.kind
                                                                 AND m.due_date = r.next_due)
           ORDER BY r.next_due LIMIT $2""", today, limit)


async def mark_reminded(conn: asyncpg.Connection, entry_id: uuid.UUID, kind: str, due_date: dt.date) -> bool:
    return bool(await conn.fetchval(
        """INSERT INTO pension_reminders (entry_id, kind, due_date) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING true""", entry_id, kind, due_date))


async def relative_ids(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await conn.fetch(
        "SELECT relative_id FROM authorised_relatives WHERE citizen_id = $1 AND revoked_at IS NULL", citizen_id)
    return [r["relative_id"] for r in rows]


async def last_liveness_check(conn: asyncpg.Connection, citizen_id: str, within_seconds: int) -> asyncpg.Record | None:
    """The citizen's own most recent passed liveness check (its audit entry), if recent enough."""
    return await conn.fetchrow(
        """SELECT at, detail FROM audit_log
           WHERE actor_kind = 'citizen' AND actor_id = $1 AND action = 'face.verified' AND detail->>'check' = 'liveness'
             AND at > now() - make_interval(secs => $2)
           ORDER BY at DESC LIMIT 1""", citizen_id, within_seconds)
