"""The data-sharing gateway (clause 五(二)): records other agencies hold about a person, from
registered providers through their adapters, for a named purpose on a stated basis.

- A citizen queries their own records (`query_mine`, purpose `self-query`): answered at once.
- An agency asks for a citizen's record (`request`) on a legal basis or the citizen's consent: the
  provider's answer is held (encrypted) as an evidence preview the citizen accepts or refuses
  (`backend/sharing/previews.py`); until then the agency sees nothing. A request made for a case names
  it by number; the case must be one the officer may see (the cases workflow's scope rule).

Every request, answered or failed, is a row of the citizen's log and an audit entry. A provider
that fails or is slow (past the smaller of its own timeout and `provider_timeout_seconds`) is a
clear problem with nothing shared; an undeclared purpose, or fields a purpose does not release, are
refused before the provider is asked."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.cases import repository as case_repository
from backend.cases.workflow import NOT_FOUND as NO_SUCH_CASE
from backend.cases.workflow import Workflow
from backend.db import Database
from backend.eligibility import repository as registry
from backend.errors import (
    ConsentNotCovering,
    DomainError,
    FieldError,
    Forbidden,
    NotFound,
    ProviderTimedOut,
    ProviderUnavailable,
    ValidationFailed,
)
from backend.identity import divisions
from backend.identity import repository as identity_repository
from backend.identity.resident_id import InvalidResidentId, mask_resident_id, normalise_resident_id
from backend.notifications.schemas import Subject, Text
from backend.notifications.service import NotificationService
from backend.security.pii import PiiCipher
from backend.sharing import repository
from backend.sharing.adapters import ADAPTERS, Adapter, ProviderPool
from backend.sharing.declarations import DECLARATIONS, PURPOSES, ProviderDeclaration
from backend.sharing.records import (
    basis_text,
    declaration,
    make_evidence,
    released_fields,
    request_view,
    requester_view,
    staff_requester,
    seal_evidence,
    unseal_evidence,
)
from backend.sharing.schemas import AgencyRequest, Evidence, FieldView, ProviderView, PurposeView, RequestView, SharedEvidence

# Staff who may ask for a citizen's record (the citizen still decides), and who may read the answer.
REQUESTERS = frozenset({"receiving_officer", "handling_officer", "admin"})
_FAILURES = {ProviderUnavailable: "provider-unavailable", ProviderTimedOut: "provider-timeout"}


class Gateway:
    def __init__(self, db: Database, audit: AuditLog, cipher: PiiCipher, notifications: NotificationService,
                 pool: ProviderPool, cases: Workflow, *, timeout_seconds: float, preview_seconds: int) -> None:
        self.db, self.audit, self.cipher, self.notifications = db, audit, cipher, notifications
        self.cases = cases
        self.pool, self.timeout_seconds, self.preview_seconds = pool, timeout_seconds, preview_seconds
        self.adapters: dict[str, Adapter] = {d.id: ADAPTERS[d.adapter](d, pool) for d in DECLARATIONS.values()}

    # -- what the gateway offers --------------------------------------------------------------------------

    @staticmethod
    def purposes() -> list[PurposeView]:
        return [PurposeView(code, zh, en) for code, (zh, en) in PURPOSES.items()]

    async def providers(self) -> list[ProviderView]:
        async with self.db.connection() as conn:
            active = {r["id"] for r in await registry.providers(conn) if r["active"]}
        return [ProviderView(id=d.id, name=d.name, division=d.division, dataset=d.dataset, title=d.title,
                             fields=[FieldView(f.name, f.title) for f in d.fields],
                             purposes={p: list(f) for p, f in d.purposes.items()}, registered=d.id in active)
                for d in DECLARATIONS.values()]

    # -- asking a provider ----------------------------------------------------------------------------------

    async def _fetch(self, provider: ProviderDeclaration, person: asyncpg.Record,
                     fields: Sequence[str]) -> dict[str, Any] | None:
        """The provider's answer, if it is active in the registry and answers in time."""
        if not person["provider_active"]:
            raise ProviderUnavailable(f"{provider.name} is not an active registered provider; nothing was shared",
                                      provider=provider.id)
        timeout = min(provider.timeout_ms / 1000, self.timeout_seconds)
        return await self.adapters[provider.id].fetch(person["resident_id_hash"], fields, timeout)

    async def _log_failure(self, actor: Actor, values: dict[str, Any], failure: DomainError) -> None:
        """A failed request stays in the citizen's log and the audit, whatever transaction the caller
        rolls back as the problem is raised."""
        async with self.db.separate_transaction() as conn:
            row = await repository.insert_request(conn, **values, state="failed", failure=_FAILURES[type(failure)])
            await self.audit.record(conn, actor, "data_request.failed", "citizen", str(row["citizen_id"]),
                                    detail={"request_id": str(row["id"]), "provider": row["provider_id"],
                                            "purpose": row["purpose"], "failure": row["failure"]})

    async def _ask(self, actor: Actor, provider: ProviderDeclaration, person: asyncpg.Record,
                   values: dict[str, Any]) -> dict[str, Any] | None:
        try:
            return await self._fetch(provider, person, values["fields"])
        except (ProviderUnavailable, ProviderTimedOut) as exc:
            await self._log_failure(actor, values, exc)
            raise

    # -- a citizen's own query ------------------------------------------------------------------------------

    async def query_mine(self, actor: Actor, provider_id: str, fields: Sequence[str] | None = None) -> Evidence:
        """The citizen's own record at a provider, answered at once with its human-readable copy."""
        if provider_id not in DECLARATIONS:  # the path names a resource: an unknown one is not there
            raise NotFound(f"no provider {provider_id} in the gateway; one of: {', '.join(DECLARATIONS)}")
        provider = declaration(provider_id, "provider")
        chosen = released_fields(provider, "self-query", fields)
        citizen_id = uuid.UUID(actor.id)
        async with self.db.connection() as conn:
            person = await repository.person_and_provider(conn, citizen_id, provider.id)
        if person is None:
            raise NotFound("citizen not found")
        values = {"citizen_id": citizen_id, "provider_id": provider.id, "fields": chosen, "purpose": "self-query",
                  "basis": "own-request", "requester_kind": "citizen", "requester_id": actor.id}
        record = await self._ask(actor, provider, person, values)
        async with self.db.transaction() as conn:
            row = await repository.insert_request(conn, **values, state="answered",
                                                  disclosed=chosen if record is not None else [])
            evidence = make_evidence(row["id"], provider, "self-query", chosen, record, requester_view(row),
                                     basis_text("own-request", None, None), row["created_at"])
            await self.audit.record(conn, actor, "data_request.answered", "citizen", actor.id,
                                    division=person["home_division"],
                                    detail={"request_id": str(row["id"]), "provider": provider.id,
                                            "purpose": "self-query", "disclosed": list(row["disclosed"])})
        return evidence

    # -- an agency's request --------------------------------------------------------------------------------

    async def request(self, actor: Actor, form: AgencyRequest) -> RequestView:
        """An agency asks for a citizen's record: checked (purpose, fields, basis, consent), the provider
        asked, and its answer held as a preview for the citizen, who is told in their inbox."""
        if actor.kind != "staff" or actor.role not in REQUESTERS:
            raise Forbidden("your role may not ask for citizens' records")
        provider = declaration(form.provider)
        chosen = released_fields(provider, form.purpose, form.fields)
        if (form.legal_reference is None) == (form.consent_id is None):
            raise ValidationFailed([FieldError("#", "state exactly one basis: legal_reference or consent_id")])
        try:
            number = normalise_resident_id(form.resident_id)
        except InvalidResidentId as exc:
            raise ValidationFailed.field("resident_id", str(exc)) from None
        async with self.db.connection() as conn:
            case = await self._case(conn, form.case_number, actor) if form.case_number is not None else None
            citizen = await identity_repository.citizen_by(
                conn, "resident_id_hash", self.cipher.lookup_hash(number, purpose="resident_id"))
            if form.consent_id is not None:
                # First: a consent names a registered citizen, so a made-up one is refused alike for a
                # registered and an unregistered ID — the answer tells nothing of who is registered.
                await self._check_consent(conn, form, citizen["id"] if citizen else None, actor)
            if citizen is None:
                await self.audit.record_refusal(self.db, actor, "data_request.refused", "citizen", None,
                                                detail={"reason": "not-registered",
                                                        "resident_id": mask_resident_id(number)})
                raise ValidationFailed.field("resident_id", "no registered citizen has this resident ID; the "
                                                            "gateway shares only with the person's preview")
            person = await repository.person_and_provider(conn, citizen["id"], provider.id)
        basis = "legal" if form.legal_reference else "consent"
        values = {"citizen_id": citizen["id"], "provider_id": provider.id, "fields": chosen, "purpose": form.purpose,
                  "basis": basis, "legal_reference": form.legal_reference and form.legal_reference.strip(),
                  "consent_id": form.consent_id, "requester_kind": "staff", "requester_id": actor.id,
                  "requester_division": actor.division, "requester_role": actor.role,
                  "case_id": case["id"] if case else None}
        record = await self._ask(actor, provider, person, values)
        request_id = uuid.uuid4()
        async with self.db.transaction() as conn:
            now = await conn.fetchval("SELECT now()")
            row = await repository.insert_request(
                conn, id=request_id, **values, state="awaiting-citizen",
                preview_expires_at=now + dt.timedelta(seconds=self.preview_seconds),
                evidence_enc=seal_evidence(self.cipher, make_evidence(
                    request_id, provider, form.purpose, chosen, record, staff_requester(actor),
                    basis_text(basis, values["legal_reference"], form.consent_id), now)))
            view = request_view(row)
            await self.notifications.notify(
                conn, citizen["id"], "data_request.preview",
                title=Text("有机构请求查询您的信息", "An agency asks for your records"),
                body=Text(f"{view.requester.division_name or actor.division}请求查询您的{provider.title}，用途："
                          f"{view.purpose_name}。请在{row['preview_expires_at']:%Y-%m-%d %H:%M} (UTC) 前预览并确认或拒绝；"
                          "逾期未确认视为拒绝。",
                          f"{view.requester.division_name or actor.division} asks for your {provider.dataset.replace('_', ' ')} "
                          f"for: {PURPOSES[form.purpose][1]}. Preview it and accept or refuse before "
                          f"{row['preview_expires_at']:%Y-%m-%d %H:%M} UTC; without an answer nothing is shared."),
                subject=Subject("data_request", str(request_id)), sms=True)
            await self.audit.record(conn, actor, "data_request.created", "citizen", str(citizen["id"]),
                                    division=citizen["home_division"],
                                    detail={"request_id": str(request_id), "provider": provider.id,
                                            "purpose": form.purpose, "basis": basis, "fields": chosen,
                                            "case_number": form.case_number,
                                            "case_id": str(case["id"]) if case else None})
        return view

    async def _case(self, conn: asyncpg.Connection, number: str, actor: Actor) -> asyncpg.Record:
        """The case a request is made for, if the officer may see it (`Workflow.staff_case`): a missing
        case and one outside their divisions get the same answer, and the latter refusal is audited."""
        case_id = await case_repository.case_id_by_number(conn, number)
        try:
            if case_id is None:
                raise NotFound(NO_SUCH_CASE)
            return await self.cases.staff_case(conn, case_id, actor, refusal="case.data_request_refused")
        except NotFound:
            raise ValidationFailed.field("case_number", NO_SUCH_CASE) from None

    async def _check_consent(self, conn: asyncpg.Connection, form: AgencyRequest, citizen_id: uuid.UUID | None,
                             actor: Actor) -> None:
        """The citizen's consent must be theirs (none is, for an ID no one registered), in force, for this
        agency, purpose and provider."""
        consent = await repository.consent(conn, form.consent_id) if form.consent_id else None
        now = await conn.fetchval("SELECT now()")
        reasons = []
        if consent is None or consent["citizen_id"] != citizen_id:
            reasons.append("no consent of this citizen has this id")
        else:
            if consent["withdrawn_at"] is not None or consent["expires_at"] <= now:
                reasons.append("the consent was withdrawn or has expired")
            if not divisions.within(consent["requester_division"], actor.division or ""):
                reasons.append(f"it was given to {consent['requester_division']}, not to your division")
            if form.purpose not in consent["purposes"]:
                reasons.append(f"it covers the purposes {', '.join(consent['purposes'])}, not {form.purpose}")
            if form.provider not in consent["providers"]:
                reasons.append(f"it covers the providers {', '.join(consent['providers'])}, not {form.provider}")
        if reasons:
            await self.audit.record_refusal(self.db, actor, "data_request.refused", "citizen",
                                            str(citizen_id) if citizen_id else None,
                                            detail={"reason": "consent", "consent_id": str(form.consent_id)})
            raise ConsentNotCovering("the consent does not cover this request: " + "; ".join(reasons))

    async def agency_view(self, actor: Actor, request_id: uuid.UUID) -> SharedEvidence:
        """The requesting agency's view of its request: the evidence only once the citizen accepted, and
        only while it is kept. Staff of another agency get what a missing request gets. Audited."""
        if actor.kind != "staff" or actor.role not in REQUESTERS | {"supervisor"}:
            raise Forbidden("your role may not read data requests")
        async with self.db.connection() as conn:
            row = await repository.request(conn, request_id)
            if row is None or row["requester_kind"] != "staff":
                raise NotFound("no such data request")
            if not divisions.within(actor.division or "", row["requester_division"]):
                await self.audit.record_refusal(self.db, actor, "data_request.read_refused", "citizen",
                                                str(row["citizen_id"]), detail={"request_id": str(request_id)})
                raise NotFound("no such data request")
            evidence = None
            kept = row["evidence_until"] is not None and row["evidence_until"] > await conn.fetchval("SELECT now()")
            if row["state"] == "shared" and row["evidence_enc"] is not None and kept:
                evidence = unseal_evidence(self.cipher, row["evidence_enc"])
        await self.audit.record_read(actor, "data_request.read", "citizen", str(row["citizen_id"]),
                                     detail={"request_id": str(request_id), "state": row["state"],
                                             "evidence": evidence is not None})
        return SharedEvidence(request=request_view(row), evidence=evidence)

