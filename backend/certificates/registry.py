"""The register of issued certificates: issuing, revoking, and reading or printing them — by staff
within their division, by a holder their own."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import uuid
from typing import Any, Literal

import asyncpg
import msgspec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from backend.actors import Actor, who
from backend.audit.service import AuditLog
from backend.certificates import clock, render, repository
from backend.certificates.certificate_types import CERTIFICATE_TYPES, CertificateType, certificate_type
from backend.certificates.keys import KeyVault
from backend.certificates.published import PublishedLists
from backend.certificates.qr_format import MAX_QR_TEXT, CertificateClaim, Claims, sign
from backend.certificates.records import certificate_view, holder_certificate, summary_view
from backend.certificates.schemas import (
    CertificateIssue,
    CertificateSummary,
    CertificateTypeView,
    CertificateView,
    CitizenHolder,
    QrCode,
    RevocationRequest,
)
from backend.certificates.trust_lists import TrustList, b64url, signing_key_jwk, trust_list_document
from backend.certificates.verifier import verify_qr
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.errors import (
    Conflict,
    FieldError,
    Forbidden,
    NoSigningKey,
    OutsideDivision,
    ValidationFailed,
)
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.identity.credit_code import InvalidCreditCode, normalise_credit_code
from backend.identity.resident_id import InvalidResidentId, normalise_resident_id
from backend.security.reach import reachable
from backend.security.pii import PiiCipher

# Staff roles that issue and revoke, and that read and print, for authorities inside their division
# (the HTTP guards use the same sets).
ISSUERS = frozenset({"handling_officer", "admin"})
CERTIFICATE_READERS = frozenset({"receiving_officer", "handling_officer", "supervisor", "admin"})
# A certificate may record an older validity start (an e-certificate of a licence held for years) or
# start up to a year ahead, no further either way.
EARLIEST_VALID_FROM = dt.date(1949, 10, 1)
MAX_LEAD = dt.timedelta(days=366)
# Pictures cost tens of milliseconds of CPU each (a QR code, an A4 page): a person gets this many a minute.
RENDERS_PER_MINUTE = 30


def _shorten(excess_characters: int, holder: dict[str, Any], fields: dict[str, Any]) -> list[FieldError]:
    """The longest texts of an order whose QR text is `excess_characters` too long: as many as together
    make up the excess (Base45 writes 2 bytes as 3 characters; varied Chinese text hardly compresses)."""
    texts = {f"#/fields/{name}": value for name, value in fields.items() if isinstance(value, str)}
    if holder["kind"] == "organisation":
        texts["#/holder/name"] = holder["name"]
    excess_bytes = -(-excess_characters * 2 // 3)
    detail = (f"the certificate is {excess_characters} characters too long for a QR code (at most {MAX_QR_TEXT} "
              "at error-correction level Q); shorten this text")
    errors, covered = [], 0
    for pointer, text in sorted(texts.items(), key=lambda item: -len(item[1].encode())):
        errors.append(FieldError(pointer, detail))
        covered += len(text.encode())
        if covered >= excess_bytes:
            break
    return errors


def _order_fingerprint(order: CertificateIssue, kind: CertificateType, holder: dict[str, Any],
                       fields: dict[str, Any]) -> bytes:
    """A digest of what was ordered: type, the resolved holder, the canonical fields, the dates asked for."""
    ordered = {"type": kind.code, "holder": [holder["kind"], str(holder["citizen_id"] or holder["identifier"]),
                                             holder["name"]],
               "fields": fields, "valid_from": order.valid_from, "expires_on": order.expires_on,
               "case_id": order.case_id}
    return hashlib.sha256(json.dumps(ordered, sort_keys=True, ensure_ascii=False, default=str).encode()).digest()


class CertificateRegistry:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher, vault: KeyVault,
                 lists: PublishedLists) -> None:
        self.db, self.ephemeral, self.audit, self.cipher, self.vault, self.lists = (
            db, ephemeral, audit, cipher, vault, lists)

    @staticmethod
    def certificate_types() -> list[CertificateTypeView]:
        return [CertificateTypeView(code=t.code, name=t.name, holder_kind=t.holder_kind,  # type: ignore[arg-type]
                                    default_validity_days=t.default_days, max_validity_days=t.max_days,
                                    scopes=t.scopes, fields_schema=t.json_schema())
                for t in CERTIFICATE_TYPES.values()]

    async def issue(self, order: CertificateIssue, actor: Actor) -> CertificateView:
        """Sign and store a certificate. Joins the caller's transaction when there is one (a case's
        decision), so the certificate exists exactly when the decision does. With `reference` set, a
        repeated call returns the certificate issued the first time."""
        kind = certificate_type(order.certificate_type)
        fields = kind.validate(order.fields)
        if actor.kind == "staff" and actor.role not in ISSUERS:
            raise Forbidden("your role may not issue certificates")
        if actor.kind not in ("staff", "system"):
            raise Forbidden("only staff or the system issue certificates")
        holder_kind = "citizen" if isinstance(order.holder, CitizenHolder) else "organisation"
        if holder_kind != kind.holder_kind:
            raise ValidationFailed.field("holder", f"a {kind.name} is held by a {kind.holder_kind}, not a {holder_kind}")
        async with self.db.transaction() as conn:
            authority = await repository.authority(conn, order.authority_id)
            if authority is None:
                raise ValidationFailed.field("authority_id", f"no issuing authority {order.authority_id}")
            if actor.kind == "staff" and not divisions.within(actor.division or "", authority["division_code"]):
                await self.audit.record_refusal(self.db, actor, "certificate.issue_refused", "certificate_authority",
                                                authority["id"], division=actor.division,
                                                detail={"certificate_type": kind.code})
                raise OutsideDivision("this issuing authority is outside your division")
            row = await self._issue(conn, order, kind, fields, authority, actor)
        return certificate_view(row)

    async def issue_many(self, orders: list[CertificateIssue], actor: Actor) -> dict[str, uuid.UUID]:
        """Issue many certificates of one type, by one authority, to citizens named by id, each under its
        `reference` (a bulk job's: silent pension recognition), in the caller's transaction. Returns
        reference → certificate id; a reference issued before keeps its certificate (as `issue` does).

        The same rules as `issue`, applied in bulk: one authority and key lookup, one holder query, one
        insert; our verifier checks the first certificate signed (the key and the code path are the
        same for the rest); one audit entry names every number issued."""
        if not orders:
            return {}
        if actor.kind != "system":
            raise Forbidden("bulk issuing is for the system's jobs")
        first = orders[0]
        kind = certificate_type(first.certificate_type)
        if any(o.authority_id != first.authority_id or o.certificate_type != kind.code or o.reference is None
               or not isinstance(o.holder, CitizenHolder) or o.holder.citizen_id is None for o in orders):
            raise ValueError("issue_many takes one authority, one type, citizen holders by id and a reference each")
        fields = [kind.validate(o.fields) for o in orders]
        async with self.db.transaction() as conn:
            authority = await repository.authority(conn, first.authority_id)
            if authority is None or kind.code not in authority["certificate_types"]:
                raise ValidationFailed.field("authority_id", f"{first.authority_id} does not issue {kind.name}")
            issued = await repository.certificates_by_references(conn, authority["id"], [o.reference for o in orders])
            pending = [(o, f) for o, f in zip(orders, fields, strict=True) if o.reference not in issued]
            if not pending:
                return issued
            key = await repository.active_key(conn, "certificate", authority["id"])
            if key is None:
                raise NoSigningKey(f"{authority['id']} has no signing key in service; "
                                   "run `tongban certificates create-key`")
            private_key = self.vault.unwrap(key["public_key"], key["private_key_wrapped"])
            holders = await repository.holders(conn, [o.holder.citizen_id for o, _ in pending])  # type: ignore[union-attr]
            serials = await repository.next_serials(conn, len(pending))
            issued_at = clock.now()
            year = issued_at.astimezone(clock.CHINA_TIME).year
            rows = []
            for index, ((order, values), serial) in enumerate(zip(pending, serials, strict=True)):
                row = holders.get(order.holder.citizen_id)  # type: ignore[union-attr]
                if row is None:
                    raise ValidationFailed([FieldError("#/holder/citizen_id", "no registered citizen matches")])
                holder = {"kind": "citizen", "citizen_id": row["id"], "name": row["name"],
                          "identifier": row["resident_id_masked"]}
                valid_from, expires_at = self._validity(order, kind, issued_at)
                number = f"{authority['id']}-{year}-{serial:08d}"
                claims = Claims(
                    issuer=authority["id"], issued_at=clock.epoch(issued_at), expires_at=clock.epoch(expires_at),
                    not_before=clock.epoch(valid_from) if valid_from != issued_at else None,
                    certificate=self._certificate_claim(number, kind, holder, values))
                qr_text = sign(claims, private_key, key["kid"])
                if index == 0:
                    self._check_signed(qr_text, claims, key, authority, holder, values)
                rows.append((uuid.uuid4(), number, kind.code, authority["id"], key["id"], "citizen", row["id"],
                             row["name"], row["resident_id_masked"], values, issued_at, valid_from, expires_at, qr_text,
                             order.reference, order.case_id, who(actor),
                             _order_fingerprint(order, kind, holder, values)))
            written = await repository.insert_certificates(conn, rows)
            issued |= {r["reference"]: r["id"] for r in written}
            await self.audit.record(conn, actor, "certificate.issued_batch", "certificate_authority", authority["id"],
                                    division=authority["division_code"],
                                    detail={"certificate_type": kind.code, "kid": b64url(key["kid"]), "count": len(written),
                                            "numbers": [r[1] for r in rows]})
        return issued

    async def _issue(self, conn: asyncpg.Connection, order: CertificateIssue, kind: CertificateType,
                     fields: dict[str, Any], authority: asyncpg.Record, actor: Actor) -> asyncpg.Record:
        if kind.code not in authority["certificate_types"]:
            raise ValidationFailed.field("certificate_type", f"{authority['name']} does not issue {kind.name}")
        holder = await self._holder(conn, order)
        fingerprint = _order_fingerprint(order, kind, holder, fields) if order.reference is not None else None
        if order.reference is not None:
            existing = await repository.certificate_by_reference(conn, authority["id"], order.reference)
            if existing is not None:
                return self._same_order(existing, order.reference, kind, fingerprint)
        issued_at = clock.now()
        valid_from, expires_at = self._validity(order, kind, issued_at)
        key = await repository.active_key(conn, "certificate", authority["id"])
        if key is None:
            raise NoSigningKey(f"{authority['id']} has no signing key in service; "
                               "run `tongban certificates create-key`")
        serial = await repository.next_serial(conn)
        number = f"{authority['id']}-{issued_at.astimezone(clock.CHINA_TIME).year}-{serial:08d}"
        claims = Claims(
            issuer=authority["id"], issued_at=clock.epoch(issued_at), expires_at=clock.epoch(expires_at),
            not_before=clock.epoch(valid_from) if valid_from != issued_at else None,
            certificate=self._certificate_claim(number, kind, holder, fields))
        qr_text = sign(claims, self.vault.unwrap(key["public_key"], key["private_key_wrapped"]), key["kid"])
        self._check_signed(qr_text, claims, key, authority, holder, fields)
        certificate_id = await repository.insert_certificate(
            conn, number=number, certificate_type=kind.code, authority_id=authority["id"], signing_key_id=key["id"],
            holder_kind=holder["kind"], citizen_id=holder["citizen_id"], holder_name=holder["name"],
            holder_identifier=holder["identifier"], fields=fields, issued_at=issued_at, valid_from=valid_from,
            expires_at=expires_at, qr_text=qr_text, reference=order.reference, case_id=order.case_id,
            issued_by=who(actor), order_fingerprint=fingerprint)
        if certificate_id is None:  # a concurrent call with the same reference issued first
            existing = await repository.certificate_by_reference(conn, authority["id"], order.reference or "")
            return self._same_order(existing, order.reference or "", kind, fingerprint)
        await self.audit.record(conn, actor, "certificate.issued", "certificate", str(certificate_id),
                                division=authority["division_code"],
                                detail={"number": number, "certificate_type": kind.code, "kid": b64url(key["kid"]),
                                        "holder_kind": holder["kind"], "case_id": str(order.case_id or "") or None})
        return await repository.certificate(conn, certificate_id)

    @staticmethod
    def _same_order(existing: asyncpg.Record, reference: str, kind: CertificateType,
                    fingerprint: bytes | None) -> asyncpg.Record:
        """The certificate issued earlier under `reference`, if it was issued for this very order."""
        if existing["order_fingerprint"] is None:  # issued before orders were fingerprinted
            same = existing["certificate_type"] == kind.code
        else:
            same = existing["order_fingerprint"] == fingerprint
        if not same:
            raise Conflict(f"reference {reference} was already used for a different order "
                           f"(certificate {existing['number']})")
        return existing

    @staticmethod
    def _certificate_claim(number: str, kind: CertificateType, holder: dict[str, Any],
                           fields: dict[str, Any]) -> CertificateClaim:
        """The private claim, built through msgspec so its constraints are checked (a constructor is not)."""
        try:
            return msgspec.convert({"v": 1, "no": number, "t": kind.code, "f": fields, "h": {
                "k": holder["kind"], "n": holder["name"], "id": holder["identifier"]}}, CertificateClaim)
        except msgspec.ValidationError as exc:
            raise ValidationFailed([FieldError("#", f"the certificate cannot be encoded: {exc}")]) from None

    @staticmethod
    def _check_signed(qr_text: str, claims: Claims, key: asyncpg.Record, authority: asyncpg.Record,
                      holder: dict[str, Any], fields: dict[str, Any]) -> None:
        """Our own verifier must accept what we sign, and its QR code must fit at level Q: else nothing
        is stored (a certificate that cannot be printed or verified is worse than none)."""
        if len(qr_text) > MAX_QR_TEXT:
            raise ValidationFailed(_shorten(len(qr_text) - MAX_QR_TEXT, holder, fields))
        public_key = Ed25519PublicKey.from_public_bytes(key["public_key"])
        own_key = signing_key_jwk(public_key, issuer=authority["id"], issuer_name=authority["name"],
                                  division=authority["division_code"], status="active", valid_from=claims.issued_at,
                                  certificate_types=list(authority["certificate_types"]))
        starts = max(claims.issued_at, claims.not_before or 0)
        result = verify_qr(qr_text, TrustList.of(trust_list_document([own_key], starts, starts + 60)), at=starts)
        if not result.valid:
            raise RuntimeError(f"a signed certificate fails verification ({result.reason}: {result.detail})")

    async def _holder(self, conn: asyncpg.Connection, order: CertificateIssue) -> dict[str, Any]:
        holder = order.holder
        if not isinstance(holder, CitizenHolder):
            try:
                code = normalise_credit_code(holder.credit_code)
            except InvalidCreditCode as exc:
                raise ValidationFailed([FieldError("#/holder/credit_code", str(exc))]) from None
            name = holder.name.strip()
            if not name:
                raise ValidationFailed([FieldError("#/holder/name", "must not be blank")])
            return {"kind": "organisation", "citizen_id": None, "name": name, "identifier": code}
        if (holder.citizen_id is None) == (holder.resident_id is None):
            raise ValidationFailed([FieldError("#/holder", "give exactly one of citizen_id and resident_id")])
        if holder.citizen_id is not None:
            row = await identity_repository.citizen_by(conn, "id", holder.citizen_id)
            pointer = "#/holder/citizen_id"
        else:
            try:
                number = normalise_resident_id(holder.resident_id or "")
            except InvalidResidentId as exc:
                raise ValidationFailed([FieldError("#/holder/resident_id", str(exc))]) from None
            row = await identity_repository.citizen_by(
                conn, "resident_id_hash", self.cipher.lookup_hash(number, purpose="resident_id"))
            pointer = "#/holder/resident_id"
        if row is None:
            raise ValidationFailed([FieldError(pointer, "no registered citizen matches")])
        return {"kind": "citizen", "citizen_id": row["id"], "name": row["name"],
                "identifier": row["resident_id_masked"]}

    @staticmethod
    def _validity(order: CertificateIssue, kind: CertificateType,
                  issued_at: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
        """(valid from, expires at): dates are whole days in China Standard Time."""
        today = issued_at.astimezone(clock.CHINA_TIME).date()
        if order.valid_from is not None and not EARLIEST_VALID_FROM <= order.valid_from <= today + MAX_LEAD:
            raise ValidationFailed.field("valid_from", f"must lie between {EARLIEST_VALID_FROM} and a year from today")
        start_day = order.valid_from or today
        valid_from = clock.day_start(order.valid_from) if order.valid_from else issued_at
        last_day = order.expires_on or start_day + dt.timedelta(days=kind.default_days - 1)
        days = (last_day - start_day).days + 1
        if days > kind.max_days:
            raise ValidationFailed.field("expires_on", f"a {kind.name} is valid for at most {kind.max_days} days")
        expires_at = clock.day_start(last_day + dt.timedelta(days=1))
        if expires_at <= max(valid_from, issued_at):
            raise ValidationFailed.field("expires_on", "the certificate would never be valid")
        return valid_from, expires_at

    async def _staff_certificate(self, conn: asyncpg.Connection, certificate_id: uuid.UUID, actor: Actor,
                                 roles: frozenset[str], action: str, *, for_update: bool = False) -> asyncpg.Record:
        """The certificate if the staff member's role and division reach it; one outside the division looks
        exactly like a missing one, and either refusal is audited."""
        if actor.role not in roles:
            raise Forbidden("your role may not do this")
        row = await repository.certificate(conn, certificate_id, for_update=for_update)
        return await reachable(self.audit, self.db, actor, row,
                               row is not None and divisions.within(actor.division or "", row["division_code"]),
                               refused=f"{action}_refused", record_type="certificate", record_id=str(certificate_id),
                               missing="no such certificate")

    async def revoke(self, certificate_id: uuid.UUID, request: RevocationRequest, actor: Actor) -> CertificateView:
        """Revoke a certificate with a reason; only staff of the issuing authority's division."""
        async with self.db.transaction() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, ISSUERS, "certificate.revoked",
                                                for_update=True)
            if not await repository.revoke(conn, certificate_id, request.reason, request.note, who(actor)):
                raise Conflict("the certificate is already revoked")
            await self.audit.record(conn, actor, "certificate.revoked", "certificate", str(certificate_id),
                                    division=row["division_code"],
                                    detail={"number": row["number"], "reason": request.reason})
            row = await repository.certificate(conn, certificate_id)
            await self.db.after_commit(self.lists.changed)
        return certificate_view(row)

    async def staff_certificate(self, certificate_id: uuid.UUID, actor: Actor) -> CertificateView:
        async with self.db.connection() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, CERTIFICATE_READERS, "certificate.read")
        await self.audit.record_read(actor, "certificate.read", "certificate", str(certificate_id),
                                     division=row["division_code"])
        return certificate_view(row)

    async def staff_printout(self, certificate_id: uuid.UUID, actor: Actor, kind: Literal["png", "pdf"]) -> bytes:
        """The printable page, for handing a certificate over at a window (organisations included)."""
        await self._limit_renders(actor)
        async with self.db.connection() as conn:
            row = await self._staff_certificate(conn, certificate_id, actor, CERTIFICATE_READERS,
                                                "certificate.printed")
        await self.audit.record_read(actor, "certificate.printed", "certificate", str(certificate_id),
                                     division=row["division_code"], detail={"format": kind})
        return await self._render(row, kind)

    async def my_certificates(self, actor: Actor) -> list[CertificateSummary]:
        now = clock.now()
        async with self.db.connection() as conn:
            rows = await repository.certificates_of_citizen(conn, uuid.UUID(actor.id))
        await self.audit.record_read(actor, "certificate.listed", "citizen", actor.id, detail={"count": len(rows)})
        return [summary_view(row, now) for row in rows]

    async def my_certificate(self, actor: Actor, certificate_id: uuid.UUID,
                             action: str = "certificate.read", **detail: str) -> asyncpg.Record:
        """The holder's own certificate row, the read audited under `action`."""
        async with self.db.connection() as conn:
            row = await holder_certificate(conn, self.audit, self.db, actor, certificate_id, f"{action}_refused")
        await self.audit.record_read(actor, action, "certificate", str(certificate_id),
                                     division=row["division_code"], detail=detail or None)
        return row

    async def my_certificate_view(self, actor: Actor, certificate_id: uuid.UUID) -> CertificateView:
        return certificate_view(await self.my_certificate(actor, certificate_id))

    async def my_qr(self, actor: Actor, certificate_id: uuid.UUID) -> QrCode:
        row = await self.my_certificate(actor, certificate_id, "certificate.qr_read")
        return QrCode(number=row["number"], qr_text=row["qr_text"], expires_at=row["expires_at"])

    async def my_qr_png(self, actor: Actor, certificate_id: uuid.UUID) -> bytes:
        await self._limit_renders(actor)
        row = await self.my_certificate(actor, certificate_id, "certificate.qr_read", format="png")
        return await asyncio.to_thread(render.qr_png, row["qr_text"])

    async def my_printout(self, actor: Actor, certificate_id: uuid.UUID, kind: Literal["png", "pdf"]) -> bytes:
        await self._limit_renders(actor)
        row = await self.my_certificate(actor, certificate_id, "certificate.printed", format=kind)
        return await self._render(row, kind)

    async def _limit_renders(self, actor: Actor) -> None:
        await self.ephemeral.limit("certificate-render", who(actor), limit=RENDERS_PER_MINUTE, window_seconds=60,
                                   what="certificate images")

    async def _render(self, row: asyncpg.Record, kind: Literal["png", "pdf"]) -> bytes:
        draw = render.certificate_pdf if kind == "pdf" else render.certificate_png
        return await asyncio.to_thread(draw, certificate_view(row), row["qr_text"])
