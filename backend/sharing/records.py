"""Requests and evidence as the gateway's services answer with them: the declaration a request names,
the fields a purpose may release, the log entry, the evidence and its human-readable copy."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import asyncpg
import msgspec

from backend.actors import Actor
from backend.china_time import CHINA_TIME
from backend.errors import FieldError, PurposeNotServed, ValidationFailed
from backend.identity.divisions import NATIONAL, InvalidDivision, division_table
from backend.security.pii import PiiCipher
from backend.sharing.declarations import DECLARATIONS, PURPOSES, ProviderDeclaration
from backend.sharing.schemas import Evidence, FieldView, Requester, RequestView

EVIDENCE_PURPOSE = "data_request.evidence"
ROLE_NAMES = {"receiving_officer": "收件窗口", "handling_officer": "办理窗口", "admin": "管理员", "supervisor": "监督员"}


def declaration(provider_id: str, pointer: str = "#/provider") -> ProviderDeclaration:
    found = DECLARATIONS.get(provider_id)
    if found is None:
        raise ValidationFailed([FieldError(pointer, f"not a provider of the gateway; one of: {', '.join(DECLARATIONS)}")])
    return found


def released_fields(provider: ProviderDeclaration, purpose: str, fields: Sequence[str] | None) -> list[str]:
    """The fields a request for `purpose` receives: those asked for (all the purpose allows by default),
    each of which the provider must release for that purpose."""
    if purpose not in PURPOSES:
        raise ValidationFailed.field("purpose", f"not a purpose; one of: {', '.join(PURPOSES)}")
    allowed = provider.purposes.get(purpose)
    if allowed is None:
        raise PurposeNotServed(f"{provider.name} does not serve the purpose {purpose} ({PURPOSES[purpose][0]}); it "
                               f"serves: {', '.join(provider.purposes)}", served=list(provider.purposes))
    if fields is None:
        return list(allowed)
    for n, name in enumerate(fields):
        if name not in allowed:
            raise PurposeNotServed(f"{provider.name} does not release {name} for {purpose}; it releases: "
                                   f"{', '.join(allowed)}", pointer=f"#/fields/{n}", released=list(allowed))
    return list(dict.fromkeys(fields))


def division_name(code: str | None) -> str | None:
    if code is None:
        return None
    if code == NATIONAL:
        return "全国"
    try:
        return division_table().lookup(code).name
    except InvalidDivision:
        return None


def requester_view(row: asyncpg.Record) -> Requester:
    return Requester(kind=row["requester_kind"], division=row["requester_division"],
                     division_name=division_name(row["requester_division"]), role=row["requester_role"])


def staff_requester(actor: Actor) -> Requester:
    return Requester(kind="staff", division=actor.division, division_name=division_name(actor.division), role=actor.role)


def requester_text(requester: Requester) -> str:
    if requester.kind == "citizen":
        return "本人"
    return f"{requester.division_name or requester.division}{ROLE_NAMES.get(requester.role or '', '工作人员')}"


def request_view(row: asyncpg.Record) -> RequestView:
    provider = DECLARATIONS.get(row["provider_id"])
    titles = {f.name: f.title for f in provider.fields} if provider else {}
    return RequestView(
        id=row["id"], provider=row["provider_id"], provider_name=provider.name if provider else row["provider_id"],
        title=provider.title if provider else row["provider_id"],
        fields=[FieldView(name, titles.get(name, name)) for name in row["fields"]], purpose=row["purpose"],
        purpose_name=PURPOSES.get(row["purpose"], (row["purpose"],))[0], basis=row["basis"],
        requester=requester_view(row), state=row["state"], disclosed=list(row["disclosed"]),
        created_at=row["created_at"], legal_reference=row["legal_reference"], consent_id=row["consent_id"],
        case_number=row["case_number"], case_reference=row["case_reference"], failure=row["failure"],
        preview_expires_at=row["preview_expires_at"], decided_at=row["decided_at"])


def basis_text(basis: str, legal_reference: str | None, consent_id: uuid.UUID | None) -> str:
    if basis == "legal":
        return f"法定依据：{legal_reference}"
    if basis == "consent":
        return f"本人同意（同意书 {consent_id}）"
    return "本人查询"


def make_evidence(request_id: uuid.UUID, provider: ProviderDeclaration, purpose: str, fields: Sequence[str],
                  record: dict[str, Any] | None, requester: Requester, basis: str, at: dt.datetime) -> Evidence:
    """The structured answer and its human-readable copy, from what the adapter returned."""
    data = {name: provider.field(name).structured(record[name]) for name in fields} if record is not None else {}
    lines = [provider.title, f"提供方：{provider.name}", f"查询方：{requester_text(requester)}",
             f"用途：{PURPOSES[purpose][0]}；{basis}",
             f"查询时间：{at.astimezone(CHINA_TIME):%Y年%m月%d日 %H:%M}", ""]
    if record is None:
        lines.append("提供方未查到本人的记录。")
    else:
        lines += [f"{provider.field(name).title}：{provider.field(name).readable(record[name])}" for name in fields]
    return Evidence(request_id=request_id, provider=provider.id, provider_name=provider.name, title=provider.title,
                    purpose=purpose, retrieved_at=at, found=record is not None, data=data, readable="\n".join(lines))


def seal_evidence(cipher: PiiCipher, evidence: Evidence) -> bytes:
    return cipher.encrypt(msgspec.json.encode(evidence).decode(), purpose=EVIDENCE_PURPOSE)


def unseal_evidence(cipher: PiiCipher, blob: bytes) -> Evidence:
    return msgspec.json.decode(cipher.decrypt(blob, purpose=EVIDENCE_PURPOSE), type=Evidence)
