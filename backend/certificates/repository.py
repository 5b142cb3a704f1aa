"""SQL of e-certificates: authorities, signing keys, certificates, consents and checks."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence

import asyncpg

KEY_COLUMNS = ("k.id, k.purpose, k.authority_id, k.province, k.kid, k.public_key, k.status, k.created_at, "
               "k.activated_at, k.retired_at, k.withdrawn_at")
# The last expiry among the certificates a key signed: how long a retired key stays published.
_LAST_EXPIRY = "(SELECT max(c.expires_at) FROM certificates c WHERE c.signing_key_id = k.id) AS last_expiry"
CERTIFICATE_COLUMNS = """c.id, c.number, c.certificate_type, c.authority_id, c.holder_kind, c.citizen_id,
    c.holder_name, c.holder_identifier, c.fields, c.issued_at, c.valid_from, c.expires_at, c.qr_text,
    c.reference, c.revoked_at, c.revocation_reason, a.name AS authority_name, a.division_code, k.kid,
    k.status AS key_status"""
_CERTIFICATE_FROM = """certificates c JOIN certificate_authorities a ON a.id = c.authority_id
    JOIN certificate_keys k ON k.id = c.signing_key_id"""
CONSENT_COLUMNS = ("id, certificate_id, citizen_id, relying_party, scopes, purpose, created_at, expires_at, "
                   "max_uses, uses, withdrawn_at")


# -- authorities ----------------------------------------------------------------------------------

async def insert_authority(conn: asyncpg.Connection, authority_id: str, name: str, division: str,
                           types: list[str]) -> asyncpg.Record | None:
    return await conn.fetchrow(
        """INSERT INTO certificate_authorities (id, name, division_code, certificate_types)
           VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING
           RETURNING id, name, division_code, certificate_types""",
        authority_id, name, division, types)


async def authority(conn: asyncpg.Connection, authority_id: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        "SELECT id, name, division_code, certificate_types FROM certificate_authorities WHERE id = $1",
        authority_id)


# -- keys -----------------------------------------------------------------------------------------

async def insert_key(conn: asyncpg.Connection, purpose: str, authority_id: str | None, kid: bytes,
                     public_key: bytes, wrapped: bytes, province: str | None = None) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO certificate_keys AS k (purpose, authority_id, kid, public_key, private_key_wrapped, status,
                province)
            VALUES ($1, $2, $3, $4, $5, 'standby', $6) RETURNING {KEY_COLUMNS}, NULL::timestamptz AS last_expiry""",
        purpose, authority_id, kid, public_key, wrapped, province)


async def keys(conn: asyncpg.Connection, purpose: str | None = None,
               authority_id: str | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"""SELECT {KEY_COLUMNS}, {_LAST_EXPIRY} FROM certificate_keys k
            WHERE ($1::text IS NULL OR k.purpose = $1) AND ($2::text IS NULL OR k.authority_id = $2)
            ORDER BY k.purpose, k.authority_id NULLS FIRST, k.province, k.created_at""",
        purpose, authority_id)


async def lock_keys(conn: asyncpg.Connection, purpose: str, authority_id: str | None,
                    province: str | None = None) -> list[asyncpg.Record]:
    """The keys of one authority (or the anchors, or one province's exchange keys), row-locked, so that
    a rotation wins alone."""
    return await conn.fetch(
        f"""SELECT {KEY_COLUMNS}, NULL::timestamptz AS last_expiry FROM certificate_keys k
            WHERE k.purpose = $1 AND k.authority_id IS NOT DISTINCT FROM $2 AND k.province IS NOT DISTINCT FROM $3
            ORDER BY k.created_at FOR UPDATE""",
        purpose, authority_id, province)


async def lock_key(conn: asyncpg.Connection, key_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow("SELECT status, authority_id, province FROM certificate_keys WHERE id = $1 FOR UPDATE",
                               key_id)


async def set_key_status(conn: asyncpg.Connection, key_id: uuid.UUID, status: str) -> asyncpg.Record:
    stamp = {"active": "activated_at", "retired": "retired_at", "withdrawn": "withdrawn_at"}[status]
    return await conn.fetchrow(
        f"""UPDATE certificate_keys k SET status = $2, {stamp} = now() WHERE id = $1
            RETURNING {KEY_COLUMNS}, {_LAST_EXPIRY}""",
        key_id, status)


async def active_key(conn: asyncpg.Connection, purpose: str, authority_id: str | None,
                     province: str | None = None) -> asyncpg.Record | None:
    """The signing key in service, share-locked: issuing may go on in parallel, a rotation waits."""
    return await conn.fetchrow(
        """SELECT id, kid, public_key, private_key_wrapped FROM certificate_keys
           WHERE purpose = $1 AND authority_id IS NOT DISTINCT FROM $2 AND province IS NOT DISTINCT FROM $3
             AND status = 'active' FOR SHARE""",
        purpose, authority_id, province)


async def published_keys(conn: asyncpg.Connection, kid: bytes | None = None) -> list[asyncpg.Record]:
    """Every certificate key that may still be published (or only those with `kid`), with its
    authority and last expiry."""
    return await conn.fetch(
        f"""SELECT {KEY_COLUMNS}, {_LAST_EXPIRY}, a.name AS authority_name, a.division_code, a.certificate_types
            FROM certificate_keys k JOIN certificate_authorities a ON a.id = k.authority_id
            WHERE k.purpose = 'certificate' AND k.status IN ('standby', 'active', 'retired')
              AND ($1::bytea IS NULL OR k.kid = $1)
            ORDER BY k.authority_id, k.created_at""", kid)


async def published_exchange_keys(conn: asyncpg.Connection, kid: bytes | None = None) -> list[asyncpg.Record]:
    """Every province's case-exchange key that is published (or only those with `kid`). A retired one
    stays: the hand-over records it signed are evidence with no expiry."""
    return await conn.fetch(
        f"""SELECT {KEY_COLUMNS} FROM certificate_keys k
            WHERE k.purpose = 'case-exchange' AND k.status IN ('standby', 'active', 'retired')
              AND ($1::bytea IS NULL OR k.kid = $1)
            ORDER BY k.province, k.created_at""", kid)


async def anchor_keys(conn: asyncpg.Connection) -> list[asyncpg.Record]:
    return await conn.fetch(
        "SELECT kid, public_key, status FROM certificate_keys WHERE purpose = 'trust-anchor' "
        "AND status IN ('standby', 'active') ORDER BY created_at")


# -- certificates ---------------------------------------------------------------------------------

async def next_serial(conn: asyncpg.Connection) -> int:
    return await conn.fetchval("SELECT nextval('certificate_serial')")


async def insert_certificate(conn: asyncpg.Connection, **values: object) -> uuid.UUID | None:
    """The new certificate's id, or None when the authority already issued one under the same reference
    (a concurrent insert of it is waited for)."""
    return await conn.fetchval(
        """INSERT INTO certificates (number, certificate_type, authority_id, signing_key_id, holder_kind,
               citizen_id, holder_name, holder_identifier, fields, issued_at, valid_from, expires_at, qr_text,
               reference, case_id, issued_by, order_fingerprint)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)
           ON CONFLICT (authority_id, reference) DO NOTHING RETURNING id""",
        values["number"], values["certificate_type"], values["authority_id"], values["signing_key_id"],
        values["holder_kind"], values["citizen_id"], values["holder_name"], values["holder_identifier"],
        values["fields"], values["issued_at"], values["valid_from"], values["expires_at"], values["qr_text"],
        values["reference"], values["case_id"], values["issued_by"], values["order_fingerprint"])


async def next_serials(conn: asyncpg.Connection, count: int) -> list[int]:
    return [r[0] for r in await conn.fetch("SELECT nextval('certificate_serial') FROM generate_series(1, $1)", count)]


async def insert_certificates(conn: asyncpg.Connection, rows: list[tuple]) -> list[asyncpg.Record]:
    """Many certificates in one statement (columns as `insert_certificate`'s, with `id` first); those
    whose (authority, reference) was taken meanwhile are skipped. Returns (id, reference) of those written."""
    columns = list(zip(*rows, strict=True))
    return await conn.fetch(
        """INSERT INTO certificates (id, number, certificate_type, authority_id, signing_key_id, holder_kind, citizen_id,
               holder_name, holder_identifier, fields, issued_at, valid_from, expires_at, qr_text, reference, case_id,
               issued_by, order_fingerprint)
           SELECT * FROM unnest($1::uuid[], $2::text[], $3::text[], $4::text[], $5::uuid[], $6::text[], $7::uuid[],
                                $8::text[], $9::text[], $10::jsonb[], $11::timestamptz[], $12::timestamptz[],
                                $13::timestamptz[], $14::text[], $15::text[], $16::uuid[], $17::text[], $18::bytea[])
           ON CONFLICT (authority_id, reference) DO NOTHING RETURNING id, reference""", *columns)


async def certificates_by_references(conn: asyncpg.Connection, authority_id: str,
                                     references: list[str]) -> dict[str, uuid.UUID]:
    rows = await conn.fetch("SELECT reference, id FROM certificates WHERE authority_id = $1 AND reference = ANY($2)",
                            authority_id, references)
    return {r["reference"]: r["id"] for r in rows}


async def holders(conn: asyncpg.Connection, citizen_ids: list[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    rows = await conn.fetch("SELECT id, name, resident_id_masked FROM citizens WHERE id = ANY($1)", citizen_ids)
    return {r["id"]: r for r in rows}


async def certificate(conn: asyncpg.Connection, certificate_id: uuid.UUID, *,
                      for_update: bool = False) -> asyncpg.Record | None:
    lock = " FOR UPDATE OF c" if for_update else ""
    return await conn.fetchrow(f"SELECT {CERTIFICATE_COLUMNS} FROM {_CERTIFICATE_FROM} WHERE c.id = $1{lock}",
                               certificate_id)


async def certificates(conn: asyncpg.Connection, certificate_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, asyncpg.Record]:
    """The certificates of these ids that exist, by id."""
    rows = await conn.fetch(f"SELECT {CERTIFICATE_COLUMNS} FROM {_CERTIFICATE_FROM} WHERE c.id = ANY ($1::uuid[])",
                            list(certificate_ids))
    return {r["id"]: r for r in rows}


async def certificate_by_reference(conn: asyncpg.Connection, authority_id: str,
                                   reference: str) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""SELECT {CERTIFICATE_COLUMNS}, c.order_fingerprint FROM {_CERTIFICATE_FROM}
            WHERE c.authority_id = $1 AND c.reference = $2""",
        authority_id, reference)


async def registered(conn: asyncpg.Connection, number: str) -> asyncpg.Record | None:
    """What the registry holds under a certificate number: issuer, signed text and revocation."""
    return await conn.fetchrow(
        "SELECT authority_id, qr_text, revoked_at, revocation_reason FROM certificates WHERE number = $1", number)


async def certificates_of_citizen(conn: asyncpg.Connection, citizen_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {CERTIFICATE_COLUMNS} FROM {_CERTIFICATE_FROM} WHERE c.citizen_id = $1 ORDER BY c.issued_at DESC",
        citizen_id)


async def revoke(conn: asyncpg.Connection, certificate_id: uuid.UUID, reason: str, note: str,
                 revoked_by: str) -> bool:
    status = await conn.execute(
        """UPDATE certificates SET revoked_at = now(), revocation_reason = $2, revocation_note = $3,
               revoked_by = $4
           WHERE id = $1 AND revoked_at IS NULL""",
        certificate_id, reason, note, revoked_by)
    return status.endswith(" 1")


async def revoked_unexpired(conn: asyncpg.Connection, at: dt.datetime) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT number, authority_id, revoked_at, revocation_reason, expires_at FROM certificates
           WHERE revoked_at IS NOT NULL AND expires_at > $1 ORDER BY revoked_at, number""",
        at)


# -- consents and checks --------------------------------------------------------------------------

async def insert_consent(conn: asyncpg.Connection, **values: object) -> asyncpg.Record:
    return await conn.fetchrow(
        f"""INSERT INTO certificate_consents (token_hash, certificate_id, citizen_id, relying_party, scopes,
                purpose, expires_at, max_uses)
            VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING {CONSENT_COLUMNS}""",
        values["token_hash"], values["certificate_id"], values["citizen_id"], values["relying_party"],
        values["scopes"], values["purpose"], values["expires_at"], values["max_uses"])


async def consents_of(conn: asyncpg.Connection, certificate_id: uuid.UUID) -> list[asyncpg.Record]:
    return await conn.fetch(
        f"SELECT {CONSENT_COLUMNS} FROM certificate_consents WHERE certificate_id = $1 ORDER BY created_at DESC",
        certificate_id)


async def withdraw_consent(conn: asyncpg.Connection, consent_id: uuid.UUID,
                           citizen_id: uuid.UUID) -> asyncpg.Record | None:
    return await conn.fetchrow(
        f"""UPDATE certificate_consents SET withdrawn_at = coalesce(withdrawn_at, now())
            WHERE id = $1 AND citizen_id = $2 RETURNING {CONSENT_COLUMNS}""",
        consent_id, citizen_id)


async def use_consent(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    """Count one use if the consent is live; None when it is unknown, expired, used up or withdrawn.

    One conditional UPDATE: of two concurrent uses of the last remaining one, the second waits on the
    row lock, re-reads the row and no longer matches.
    """
    return await conn.fetchrow(
        f"""UPDATE certificate_consents SET uses = uses + 1
            WHERE token_hash = $1 AND withdrawn_at IS NULL AND expires_at > now() AND uses < max_uses
            RETURNING {CONSENT_COLUMNS}""",
        token_hash)


async def consent_by_token(conn: asyncpg.Connection, token_hash: bytes) -> asyncpg.Record | None:
    return await conn.fetchrow(f"SELECT {CONSENT_COLUMNS} FROM certificate_consents WHERE token_hash = $1",
                               token_hash)


async def insert_check(conn: asyncpg.Connection, **values: object) -> None:
    await conn.execute(
        """INSERT INTO certificate_checks (consent_id, certificate_id, citizen_id, presented_by, client, outcome,
               disclosed)
           VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        values["consent_id"], values["certificate_id"], values["citizen_id"], values["presented_by"],
        values["client"], values["outcome"], values["disclosed"])


async def checks_of_citizen(conn: asyncpg.Connection, citizen_id: uuid.UUID,
                            certificate_id: uuid.UUID | None = None) -> list[asyncpg.Record]:
    return await conn.fetch(
        """SELECT ch.id, ch.certificate_id, c.number AS certificate_number, ch.consent_id, co.relying_party,
                  ch.presented_by, ch.client, ch.checked_at, ch.outcome, ch.disclosed
           FROM certificate_checks ch JOIN certificates c ON c.id = ch.certificate_id
           JOIN certificate_consents co ON co.id = ch.consent_id
           WHERE ch.citizen_id = $1 AND ($2::uuid IS NULL OR ch.certificate_id = $2)
           ORDER BY ch.checked_at DESC, ch.id DESC LIMIT 500""",
        citizen_id, certificate_id)
