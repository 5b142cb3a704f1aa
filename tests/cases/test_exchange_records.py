"""docs/cases.md, "Exchange records", is exact: its worked example is regenerated here byte for byte from
its published (and therefore worthless) keys, and checked with plain `hashlib`, `json` and
`cryptography` calls following the document, then with `verify_chain`."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import re
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from backend.cases import exchange_records as records
from backend.cases import service as case_service
from backend.certificates.qr_format import key_id
from backend.certificates.trust_lists import TrustList, b64url, signing_key_jwk, trust_list_document

DOC = Path(__file__).resolve().parents[2] / "docs" / "cases.md"
ZHEJIANG = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tongban exchange example 330000").digest())
SICHUAN = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tongban exchange example 510000").digest())
BEIJING = Ed25519PrivateKey.from_private_bytes(hashlib.sha256(b"tongban exchange example 110000").digest())
AT = dt.datetime(2027, 1, 4, 1, 30, tzinfo=dt.UTC)


def worked_example() -> list[records.SignedEntry]:
    handover = records.sign(records.handover_body(
        case_number="ZJ-20270104-000123", seq=1, prev=None, at=AT, from_division="330106", to_division="510107",
        role="receiving_officer", form=records.form_digest({"name": "王建国", "reason": "异地就医备案"}),
        materials=[records.material_digest(b"material one"), records.material_digest(b"material two")],
        kid=key_id(ZHEJIANG.public_key())), ZHEJIANG)
    acceptance = records.sign(records.countersign_body(
        case_number="ZJ-20270104-000123", seq=2, prev=records.digest(handover.body), at=AT + dt.timedelta(hours=2),
        division="510107", role="handling_officer", outcome="accepted", kid=key_id(SICHUAN.public_key())), SICHUAN)
    return [handover, acceptance]


def joint_example() -> list[records.SignedEntry]:
    """The worked example as a 多地联办 case: 四川 shares it with 北京东城区, which reports its task done."""
    handover, acceptance = worked_example()
    share = records.sign(records.handover_body(
        case_number="ZJ-20270104-000123", seq=3, prev=records.digest(acceptance.body), at=AT + dt.timedelta(hours=2),
        from_division="510107", to_division="110105", role="handling_officer",
        form=records.form_digest({"name": "王建国", "reason": "异地就医备案"}),
        materials=[records.material_digest(b"material one"), records.material_digest(b"material two")],
        kid=key_id(SICHUAN.public_key()), kind="share"), SICHUAN)
    done = records.sign(records.task_done_body(
        case_number="ZJ-20270104-000123", seq=4, prev=records.digest(share.body), at=AT + dt.timedelta(days=1),
        division="110105", role="handling_officer", share=3, kid=key_id(BEIJING.public_key())), BEIJING)
    return [handover, acceptance, share, done]


def published_trust() -> TrustList:
    """A trust list publishing the example's three province keys."""
    return TrustList.of(trust_list_document([
        signing_key_jwk(k.public_key(), purpose="case-exchange", issuer=p, issuer_name=p, division=p,
                        status="active", valid_from=0, certificate_types=[])
        for k, p in ((ZHEJIANG, "330000"), (SICHUAN, "510000"), (BEIJING, "110000"))], 0, 2_000_000_000))


def _section() -> str:
    text = DOC.read_text(encoding="utf-8")
    return text[text.index("## Exchange records"):]


def test_the_documented_example_is_what_the_code_produces():
    section = _section()
    for entry in joint_example():
        assert entry.body.decode() in section
        assert hashlib.sha256(entry.body).hexdigest() in section
        assert b64url(entry.signature) in section
    for key in (ZHEJIANG, SICHUAN, BEIJING):
        assert b64url(key_id(key.public_key())) in section
        assert b64url(key.public_key().public_bytes_raw()) in section


def test_the_example_verifies_by_following_the_document_alone():
    """Section steps: parse, re-encode canonically, check `prev`, verify Ed25519 over the body bytes."""
    publics = {b64url(key_id(k.public_key())): k.public_key() for k in (ZHEJIANG, SICHUAN, BEIJING)}
    previous = "0" * 64
    for entry in joint_example():
        body = json.loads(entry.body)
        assert json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode() == entry.body
        assert body["prev"] == previous
        publics[body["kid"]].verify(entry.signature, entry.body)
        previous = hashlib.sha256(entry.body).hexdigest()
    trust = published_trust()
    verdict = records.verify_chain("ZJ-20270104-000123", worked_example(), trust, at=AT)
    joint = records.verify_chain("ZJ-20270104-000123", joint_example(), trust, at=AT + dt.timedelta(days=1))
    assert verdict.ok and verdict.holder == "510107", verdict
    assert joint.ok and (joint.entries, joint.holder) == (4, "510107"), joint
    # Whitespace or member order other than canonical is refused, even with a valid signature.
    pretty = json.dumps(json.loads(worked_example()[0].body), indent=1).encode()
    resigned = records.SignedEntry(pretty, ZHEJIANG.sign(pretty))
    refused = records.verify_chain("ZJ-20270104-000123", [resigned], trust, at=AT)
    assert (refused.reason, refused.position) == ("malformed", 1) and "canonical" in refused.detail
    assert re.fullmatch(r"[A-Za-z0-9_-]{86}", base64.urlsafe_b64encode(resigned.signature).rstrip(b"=").decode())


def test_a_signed_record_naming_a_look_alike_case_or_division_is_malformed():
    """A case number with a final newline or a division with a non-ASCII digit is refused, even signed
    with the right key and canonically encoded (its JSON then needs escapes the format never has)."""
    handover = json.loads(worked_example()[0].body)
    variants = {"case": "ZJ-20270104-000123\n", "from": "33010\u0666", "to": "５10107",
                "at": "2027-01-04T01:30:0\u0660Z"}
    for member, value in variants.items():
        body = records.canonical({**handover, member: value})
        signed = records.SignedEntry(body, ZHEJIANG.sign(body))
        case = value if member == "case" else "ZJ-20270104-000123"

        verdict = records.verify_chain(case, [signed], published_trust(), at=AT)

        assert (verdict.ok, verdict.reason, verdict.position) == (False, "malformed", 1), (member, verdict)


def test_a_record_dated_on_no_calendar_day_is_malformed_not_a_crash():
    """The time's pattern lets through 30 February or a thirteenth month: such a record, signed or a
    forger's unsigned second entry, is refused as `malformed` and the check goes on answering."""
    handover, acceptance = worked_example()
    first = records.canonical({**json.loads(handover.body), "at": "2027-13-01T00:00:00Z"})
    second = records.canonical({**json.loads(acceptance.body), "at": "2027-02-30T00:00:00Z"})

    signed = records.verify_chain("ZJ-20270104-000123", [records.SignedEntry(first, ZHEJIANG.sign(first))],
                                  published_trust(), at=AT)
    forged = records.verify_chain("ZJ-20270104-000123", [handover, records.SignedEntry(second, b"\0" * 64)],
                                  published_trust(), at=AT)

    assert (signed.ok, signed.reason, signed.position) == (False, "malformed", 1)
    assert (forged.ok, forged.reason, forged.position) == (False, "malformed", 2)
    assert "calendar" in forged.detail


def test_a_case_stores_the_form_digest_its_exchange_records_document():
    """The digest kept with the case (and signed into its hand-over) is the documented one, whatever
    numbers the form holds: one who recomputes it from the form by the document gets the same bytes."""
    form = {"area_square_metres": 1e16, "share": 1e-7, "name": "王建国", "nested": {"b": 1, "a": 2.5}}
    documented = hashlib.sha256(json.dumps(form, sort_keys=True, separators=(",", ":"),
                                           ensure_ascii=False).encode("utf-8")).digest()

    assert case_service.form_digest(form) == records.form_digest(form) == documented  # what `apply` stores
