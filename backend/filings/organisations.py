"""Organisations and who acts for them: staff register an organisation (GB 32100 code checked) with
its legal representative; the legal representative authorises filers, at most `MAX_FILERS` at a
time, and may withdraw them. Citizens who act for an organisation see it among theirs."""

from __future__ import annotations

import uuid

import asyncpg

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.db import Database
from backend.errors import Conflict, FieldError, Forbidden, NotFound, OutsideDivision, ValidationFailed
from backend.filings import repository
from backend.filings.schemas import (
    FilerGrant,
    MyOrganisation,
    OrganisationRegistration,
    OrganisationView,
    RepresentativeView,
)
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.identity.credit_code import InvalidCreditCode, normalise_credit_code
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.pii import PiiCipher

# Staff who register organisations and obligations, and staff who see filings; all within their division.
REGISTRARS = frozenset({"handling_officer", "admin"})
FILING_READERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})
MAX_FILERS = 5


def credit_code(value: str, pointer: str) -> str:
    """The canonical code, or a 422 naming the field and what is wrong."""
    try:
        code = normalise_credit_code(value)
        divisions.check_division(code[2:8])
    except (InvalidCreditCode, divisions.InvalidDivision) as exc:
        raise ValidationFailed([FieldError(pointer, str(exc))]) from None
    return code


async def citizen_by_resident_id(conn: asyncpg.Connection, cipher: PiiCipher, value: str,
                                 pointer: str) -> asyncpg.Record:
    """The registered citizen with this resident ID, or a 422 at `pointer`."""
    try:
        number = normalise_resident_id(value)
    except InvalidResidentId as exc:
        raise ValidationFailed([FieldError(pointer, str(exc))]) from None
    row = await identity_repository.citizen_by(conn, "resident_id_hash",
                                               cipher.lookup_hash(number, purpose="resident_id"))
    if row is None:
        raise ValidationFailed([FieldError(pointer, "no registered citizen has this resident ID")])
    return row


def require_staff(actor: Actor, roles: frozenset[str]) -> str:
    """The staff member's division scope; the system (demo data, the command line) acts nationally."""
    if actor.kind == "system":
        return divisions.NATIONAL
    if actor.kind != "staff" or actor.role not in roles:
        raise Forbidden("your role may not do this")
    return actor.division or ""


def _representative(row: asyncpg.Record) -> RepresentativeView:
    return RepresentativeView(id=row["id"], citizen_id=row["citizen_id"], name=row["name"],
                              resident_id_masked=row["resident_id_masked"], role=row["role"], granted_at=row["granted_at"])


class OrganisationService:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher) -> None:
        self.db, self.audit, self.cipher = db, audit, cipher

    async def _view(self, conn: asyncpg.Connection, row: asyncpg.Record) -> OrganisationView:
        return OrganisationView(id=row["id"], credit_code=row["credit_code"], name=row["name"],
                                division_code=row["division_code"], created_at=row["created_at"],
                                representatives=[_representative(r) for r in
                                                 await repository.representatives(conn, row["id"])])

    async def register(self, form: OrganisationRegistration, actor: Actor) -> OrganisationView:
        """Staff of the registration division record an organisation and its legal representative."""
        scope = require_staff(actor, REGISTRARS)
        code = credit_code(form.credit_code, "#/credit_code")
        if not divisions.within(scope, code[2:8]):
            raise OutsideDivision(f"the organisation is registered in {code[2:8]}, outside your division")
        async with self.db.transaction() as conn:
            representative = await citizen_by_resident_id(conn, self.cipher, form.legal_representative,
                                                          "#/legal_representative")
            row = await repository.insert_organisation(conn, code, form.name.strip(), code[2:8], who(actor))
            if row is None:
                raise Conflict(f"an organisation with credit code {code} is registered already")
            await repository.insert_representative(conn, row["id"], representative["id"], "legal_representative",
                                                   who(actor))
            await self.audit.record(conn, actor, "organisation.registered", "organisation", str(row["id"]),
                                    division=row["division_code"],
                                    detail={"credit_code": code, "legal_representative": str(representative["id"])})
            return await self._view(conn, row)

    async def _in_scope(self, conn: asyncpg.Connection, code: str, actor: Actor, roles: frozenset[str],
                        refusal: str) -> asyncpg.Record:
        """The organisation, for staff of `roles` whose division covers its registration division; for
        anyone else it does not exist, and the refusal is audited as `refusal`."""
        scope = require_staff(actor, roles)
        row = await repository.organisation_by_code(conn, code)
        if row is None:
            raise NotFound("no such organisation")
        if not divisions.within(scope, row["division_code"]):
            await self.audit.record_refusal(self.db, actor, refusal, "organisation", str(row["id"]),
                                            division=actor.division)
            raise NotFound("no such organisation")
        return row

    async def staff_view(self, code: str, actor: Actor) -> OrganisationView:
        async with self.db.connection() as conn:
            row = await self._in_scope(conn, code, actor, FILING_READERS, "organisation.read_refused")
            view = await self._view(conn, row)
        await self.audit.record_read(actor, "organisation.read", "organisation", str(row["id"]),
                                     division=row["division_code"])
        return view

    async def replace_legal_representative(self, code: str, form: FilerGrant, actor: Actor) -> OrganisationView:
        """The registration authority records a new legal representative; the previous one stops acting
        for the organisation at once (their row is kept). A filer who becomes the representative stops
        being a filer."""
        async with self.db.transaction() as conn:
            row = await self._in_scope(conn, code, actor, REGISTRARS, "organisation.change_refused")
            await repository.lock_organisation(conn, row["id"])
            successor = await citizen_by_resident_id(conn, self.cipher, form.resident_id, "#/resident_id")
            if await repository.representation(conn, row["id"], successor["id"]) == "legal_representative":
                raise Conflict("this citizen is the legal representative already")
            previous = await repository.revoke_representation(conn, row["id"], role="legal_representative",
                                                              revoked_by=who(actor))
            await repository.revoke_representation(conn, row["id"], citizen_id=successor["id"], revoked_by=who(actor))
            await repository.insert_representative(conn, row["id"], successor["id"], "legal_representative", who(actor))
            await self.audit.record(conn, actor, "organisation.legal_representative_replaced", "organisation",
                                    str(row["id"]), division=row["division_code"],
                                    detail={"previous": [str(r["citizen_id"]) for r in previous],
                                            "legal_representative": str(successor["id"])})
            return await self._view(conn, row)

    async def my_organisations(self, actor: Actor) -> list[MyOrganisation]:
        async with self.db.connection() as conn:
            rows = await repository.organisations_of(conn, uuid.UUID(actor.id))
        return [MyOrganisation(id=r["id"], credit_code=r["credit_code"], name=r["name"],
                               division_code=r["division_code"], role=r["role"]) for r in rows]

    async def _represented(self, conn: asyncpg.Connection, code: str, actor: Actor, *,
                           legal_only: bool) -> asyncpg.Record:
        """The organisation the citizen acts for (as its legal representative, with `legal_only`); any
        other looks exactly like one that does not exist, and the refusal is audited."""
        row = await repository.organisation_by_code(conn, code)
        role = await repository.representation(conn, row["id"], uuid.UUID(actor.id)) if row else None
        if row is None or role is None or (legal_only and role != "legal_representative"):
            if row is not None:
                await self.audit.record_refusal(self.db, actor, "organisation.access_refused", "organisation",
                                                str(row["id"]), detail={"role": role})
            raise NotFound("no such organisation among those you act for")
        return row

    async def representatives(self, code: str, actor: Actor) -> OrganisationView:
        """The legal representative's view of who acts for the organisation."""
        async with self.db.connection() as conn:
            row = await self._represented(conn, code, actor, legal_only=True)
            view = await self._view(conn, row)
        await self.audit.record_read(actor, "organisation.read", "organisation", str(row["id"]),
                                     division=row["division_code"])
        return view

    async def grant_filer(self, code: str, form: FilerGrant, actor: Actor) -> RepresentativeView:
        async with self.db.transaction() as conn:
            row = await self._represented(conn, code, actor, legal_only=True)
            await repository.lock_organisation(conn, row["id"])
            filer = await citizen_by_resident_id(conn, self.cipher, form.resident_id, "#/resident_id")
            if await repository.count_filers(conn, row["id"]) >= MAX_FILERS:
                raise Conflict(f"an organisation may have at most {MAX_FILERS} filers; withdraw one first")
            granted = await repository.insert_representative(conn, row["id"], filer["id"], "filer", who(actor))
            if granted is None:
                raise Conflict("this citizen already acts for the organisation")
            await self.audit.record(conn, actor, "organisation.filer_granted", "organisation", str(row["id"]),
                                    division=row["division_code"], detail={"filer": str(filer["id"])})
            views = {r["id"]: r for r in await repository.representatives(conn, row["id"])}
        return _representative(views[granted])

    async def revoke_filer(self, code: str, representative_id: uuid.UUID, actor: Actor) -> None:
        async with self.db.transaction() as conn:
            row = await self._represented(conn, code, actor, legal_only=True)
            revoked = await repository.revoke_filer(conn, row["id"], representative_id, who(actor))
            if revoked is None:
                raise NotFound("no such filer of this organisation")
            await self.audit.record(conn, actor, "organisation.filer_revoked", "organisation", str(row["id"]),
                                    division=row["division_code"], detail={"filer": str(revoked["citizen_id"])})
