"""Signed hand-over exchange records: a case's chain written through the service verifies with only the
published trust list; an altered, reordered or missing entry, a key of another province and a
countersign by the wrong province are each refused with their own reason."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid

import asyncpg
import msgspec
import pytest

from backend.actors import Actor
from backend.cases.exchange_records import (
    SignedEntry,
    countersign_body,
    digest,
    handover_body,
    material_digest,
    result_body,
    sign,
    task_done_body,
    verify_chain,
)
from backend.cases import exchange_repository
from backend.cases.exchanges import CaseExchanges
from backend.certificates import repository as key_repository
from backend.errors import Conflict, NoSigningKey, ValidationFailed
from backend.migrate import MIGRATIONS_DIR, apply_migrations
from tests.cases.conftest import applicant, record_application
from tests.concurrency import at_once
from tests.conftest import database_copy
from tests.factories import exchange_keys

OFFICER = Actor(kind="staff", id=str(uuid.uuid4()), role="receiving_officer", division="330106")
FORM = b"\x01" * 32
MATERIALS = [material_digest(b"%PDF-1.7 id card"), material_digest(b"%PDF-1.7 certificate of residence")]


@pytest.fixture
async def exchanges(services) -> CaseExchanges:
    await exchange_keys(services)
    certificates = services.certificates
    return CaseExchanges(services.db, services.audit, certificates.vault, certificates.lists)


async def hand_over(services, exchanges: CaseExchanges, case_id: uuid.UUID, number: str, source: str, target: str,
                    outcome: str = "accepted") -> None:
    async with services.db.transaction() as conn:
        await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=number, from_division=source,
                                        to_division=target, role="receiving_officer", form_digest=FORM,
                                        material_digests=MATERIALS)
    async with services.db.transaction() as conn:
        await exchanges.countersign(conn, OFFICER, case_id=case_id, receiving_division=target,
                                    role="handling_officer", outcome=outcome)


async def new_case(client, services) -> tuple[uuid.UUID, str]:
    """A case just applied for (online, so the workflow writes no exchange record of its own): the
    records these tests write belong to it."""
    person = await applicant(client, services, "id_card")
    applied = await client.post("/me/cases", headers=person["headers"], json=record_application(person))
    assert applied.status_code == 201, applied.text
    return uuid.UUID(applied.json()["id"]), applied.json()["number"]


async def a_case(client, services, exchanges: CaseExchanges) -> tuple[uuid.UUID, str]:
    """A case sent from 杭州西湖区 to 成都武侯区, accepted, and its result handed back."""
    case_id, number = await new_case(client, services)
    await hand_over(services, exchanges, case_id, number, "330106", "510107")
    await hand_over(services, exchanges, case_id, number, "510107", "330106")
    return case_id, number


async def signed_entries(exchanges: CaseExchanges, number: str) -> list[SignedEntry]:
    return [SignedEntry(e.body, e.signature) for e in await exchanges.chain(number)]


async def test_a_chain_of_hand_overs_verifies_with_the_published_trust_list(client, services, exchanges):
    case_id, number = await a_case(client, services, exchanges)

    verdict = await exchanges.verify(number)

    assert verdict.ok and verdict.entries == 4 and verdict.holder == "330106", verdict
    entries = await exchanges.chain(number)
    first = json.loads(entries[0].body)
    assert first["materials"] == sorted(m.hex() for m in MATERIALS) and first["role"] == "receiving_officer"
    assert OFFICER.id not in entries[0].body.decode()  # the role, never who
    assert [json.loads(e.body)["prev"] for e in entries[1:]] == [e.digest.hex() for e in entries[:-1]]
    audited = await services.db.pool.fetch(
        r"""SELECT action, detail->>'digest' AS digest FROM audit_log
            WHERE record_id = $1 AND action LIKE 'case\_exchange.%' ORDER BY seq""", str(case_id))
    assert {(r["action"], r["digest"]) for r in audited} == {
        ("case_exchange.handed_over" if e.kind == "handover" else "case_exchange.countersigned", e.digest.hex())
        for e in entries}
    _token, trust = await exchanges.published_trust()
    published = [k.jwk for keys in trust.by_kid.values() for k in keys]
    assert sorted((k.division, k.certificate_types) for k in published if k.purpose == "case-exchange") == [
        ("330000", []), ("510000", [])]


async def test_a_tampered_material_digest_breaks_the_signature(client, services, exchanges):
    _case_id, number = await a_case(client, services, exchanges)
    altered = MATERIALS[0].hex()[:-1] + ("0" if MATERIALS[0].hex()[-1] != "0" else "1")
    await services.db.pool.execute(
        "UPDATE case_exchanges SET body = convert_to(replace(convert_from(body, 'UTF8'), $2, $3), 'UTF8') "
        "WHERE case_number = $1 AND seq = 1", number, MATERIALS[0].hex(), altered)

    verdict = await exchanges.verify(number)

    assert not verdict.ok and (verdict.reason, verdict.position) == ("bad-signature", 1), verdict
    assert "altered" in verdict.detail


async def test_a_reordered_or_missing_entry_is_refused(client, services, exchanges):
    _case_id, number = await a_case(client, services, exchanges)
    entries = await signed_entries(exchanges, number)
    _token, trust = await exchanges.published_trust()

    swapped = verify_chain(number, [entries[1], entries[0], *entries[2:]], trust)
    missing = verify_chain(number, [entries[0], *entries[2:]], trust)
    other_case = verify_chain("ZJ-000000000000", entries, trust)

    assert (swapped.ok, swapped.reason, swapped.position) == (False, "out-of-order", 1)
    assert (missing.ok, missing.reason, missing.position) == (False, "out-of-order", 2)
    assert "entry 2 is missing" in missing.detail
    assert (other_case.ok, other_case.reason) == (False, "wrong-case")


async def _private_key(services, province: str):
    async with services.db.connection() as conn:
        key = await key_repository.active_key(conn, "case-exchange", None, province)
    return services.certificates.vault.unwrap(key["public_key"], key["private_key_wrapped"]), bytes(key["kid"])


async def test_a_hand_over_signed_by_another_provinces_key_is_refused(services, exchanges):
    _token, trust = await exchanges.published_trust()
    sichuan, kid = await _private_key(services, "510000")
    forged = sign(handover_body(case_number="ZJ-forged00001", seq=1, prev=None, at=dt.datetime.now(dt.UTC),
                                from_division="330106", to_division="510107", role="receiving_officer", form=FORM,
                                materials=MATERIALS, kid=kid), sichuan)

    verdict = verify_chain("ZJ-forged00001", [forged], trust)

    assert (verdict.ok, verdict.reason, verdict.position) == (False, "key-not-allowed", 1)
    assert "510000" in verdict.detail and "330000" in verdict.detail


async def test_a_countersign_by_the_wrong_province_is_refused(client, services, exchanges):
    case_id, number = await new_case(client, services)
    async with services.db.transaction() as conn:
        await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=number, from_division="330106",
                                        to_division="510107", role="receiving_officer", form_digest=FORM,
                                        material_digests=MATERIALS)
    handover = (await signed_entries(exchanges, number))[0]
    _token, trust = await exchanges.published_trust()
    zhejiang, kid = await _private_key(services, "330000")
    # The sender countersigning its own hand-over, in the receiver's name.
    self_signed = sign(countersign_body(case_number=number, seq=2, prev=digest(handover.body),
                                        at=dt.datetime.now(dt.UTC), division="510107", role="handling_officer",
                                        outcome="accepted", kid=kid), zhejiang)

    verdict = verify_chain(number, [handover, self_signed], trust)

    assert (verdict.ok, verdict.reason, verdict.position) == (False, "wrong-countersigner", 2), verdict
    assert "510000 must countersign" in verdict.detail


async def test_the_service_keeps_the_chain_in_order(client, services, exchanges):
    case_id, number = await new_case(client, services)

    async def handover(source: str, target: str) -> None:
        async with services.db.transaction() as conn:
            await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=number,
                                            from_division=source, to_division=target, role="receiving_officer",
                                            form_digest=FORM, material_digests=MATERIALS)

    async def countersign(division: str) -> None:
        async with services.db.transaction() as conn:
            await exchanges.countersign(conn, OFFICER, case_id=case_id, receiving_division=division,
                                        role="handling_officer", outcome="refused")

    async def outcome(handing_over) -> str:
        try:
            await handing_over
        except Conflict:
            return "conflict"
        return "written"

    # Two hand-overs at once: exactly one is written.
    results = await at_once(services, outcome(handover("330106", "510107")), outcome(handover("330106", "510104")))
    assert sorted(results) == ["conflict", "written"]
    with pytest.raises(Conflict, match="awaits its countersign"):
        await handover("330106", "510104")
    target = json.loads((await exchanges.chain(number))[0].body)["to"]
    with pytest.raises(Conflict, match=f"handed to {target}"):
        await countersign("510199" if target != "510199" else "510104")
    await countersign(target)  # refused: the case stays with the sender
    with pytest.raises(Conflict, match="held by 330106"):
        await handover(target, "330106")
    await handover("330106", "510104")
    with pytest.raises(NoSigningKey, match="create-key --exchange-province 440000"):
        async with services.db.transaction() as conn:
            await exchanges.record_handover(conn, OFFICER, case_id=uuid.uuid4(), case_number="GD-nokey000001",
                                            from_division="440104", to_division="330106", role="receiving_officer",
                                            form_digest=FORM, material_digests=[])
    assert (await exchanges.verify(number)).ok


def tongban(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix}
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True, text=True,
                          timeout=60)


async def test_a_chain_is_exported_and_verified_offline_from_the_file(client, services, exchanges, settings,
                                                                     tmp_path):
    _case_id, number = await a_case(client, services, exchanges)
    anchors = tmp_path / "anchors.json"
    anchors.write_bytes(msgspec.json.encode(await services.certificates.lists.trust_anchors()))

    exported = tongban(settings, "cases", "export-exchanges", number)
    (tmp_path / "chain.json").write_text(exported.stdout)
    online = tongban(settings, "cases", "verify-exchanges", number)
    bundle = json.loads(exported.stdout)
    bundle["entries"].pop(1)
    (tmp_path / "cut.json").write_text(json.dumps(bundle))
    # Offline: no database in the environment at all.
    offline = subprocess.run([sys.executable, "-m", "backend.cli", "cases", "verify-exchanges", number, "--file",
                              str(tmp_path / "chain.json"), "--anchors", str(anchors)],
                             env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)
    cut = subprocess.run([sys.executable, "-m", "backend.cli", "cases", "verify-exchanges", number, "--file",
                          str(tmp_path / "cut.json"), "--anchors", str(anchors)],
                         env={"PATH": os.environ["PATH"]}, capture_output=True, text=True, timeout=60)

    assert exported.returncode == 0, exported.stderr
    assert online.returncode == 0 and "intact: 4 entries; held by 330106" in online.stdout, online.stdout
    assert offline.returncode == 0 and "intact: 4 entries" in offline.stdout, offline.stdout + offline.stderr
    assert cut.returncode == 1 and "BROKEN at entry 2: out-of-order" in cut.stdout, cut.stdout + cut.stderr


async def test_the_workflow_hook_signs_hand_over_and_countersigns_acceptance_or_refusal(client, services, exchanges):
    """`on_transition` as the cases workflow calls it (proxy and joint cases)."""
    officer = Actor(kind="staff", id=str(uuid.uuid4()), role="handling_officer", division="510107")
    cases = [{"id": case_id, "number": number, "receiving_division": "330106", "handling_division": "510107",
              "form_digest": FORM} for case_id, number in [await new_case(client, services) for _ in range(2)]]
    materials = [{"digest": MATERIALS[0]}, {"digest": None}]
    for case, answer in zip(cases, ("accept", "refuse"), strict=True):
        for action in ("hand_over", answer):
            async with services.db.transaction() as conn:
                await exchanges.on_transition(conn, case, 1, action, officer, materials)

    accepted, refused = [await exchanges.verify(c["number"]) for c in cases]

    assert (accepted.ok, accepted.entries, accepted.holder) == (True, 2, "510107")
    assert (refused.ok, refused.entries, refused.holder) == (True, 2, "330106")
    countersign = json.loads((await exchanges.chain(cases[1]["number"]))[-1].body)
    assert (countersign["outcome"], countersign["role"]) == ("refused", "handling_officer")


async def test_the_database_refuses_an_exchange_record_for_a_case_that_does_not_exist(client, services, exchanges):
    case_id, number = await new_case(client, services)
    async with services.db.connection() as conn:
        key = await key_repository.active_key(conn, "case-exchange", None, "330000")
    row = {"case_number": number, "seq": 1, "kind": "handover", "body": b"{}", "digest": b"\1" * 32,
           "signature": b"\2" * 64, "signing_key_id": key["id"]}

    async with services.db.transaction() as conn:
        assert await exchange_repository.insert(conn, case_id=case_id, **row) is not None
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="case_exchanges_case"):
        async with services.db.transaction() as conn:
            await exchange_repository.insert(conn, case_id=uuid.uuid4(), **row)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        async with services.db.transaction() as conn:
            await exchanges.record_handover(conn, OFFICER, case_id=uuid.uuid4(), case_number=number,
                                            from_division="330106", to_division="510107", role="receiving_officer",
                                            form_digest=FORM, material_digests=MATERIALS)


async def test_a_case_number_with_a_final_newline_or_a_look_alike_digit_is_not_signed(client, services, exchanges):
    case_id, number = await new_case(client, services)

    for look_alike in (f"{number}\n", number[:-1] + "\u0661"):
        with pytest.raises(ValidationFailed, match="cannot be written into an exchange record"):
            async with services.db.transaction() as conn:
                await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=look_alike,
                                                from_division="330106", to_division="510107",
                                                role="receiving_officer", form_digest=FORM, material_digests=MATERIALS)
    assert await exchanges.chain(number) == []


async def test_migration_025_stops_on_an_exchange_record_of_no_case_instead_of_rewriting_it(server_urls, tmp_path):
    before = tmp_path / "before"
    before.mkdir()
    for path in MIGRATIONS_DIR.glob("*.sql"):
        if int(path.name[:3]) < 25:
            (before / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    async with database_copy(server_urls[0], "template0", f"tongban_m025_{os.getpid()}_{os.urandom(3).hex()}") as url:
        await apply_migrations(url, directory=before)
        conn = await asyncpg.connect(url)
        try:
            # An orphan as a damaged database might hold it: foreign keys bypassed to write it at all.
            await conn.execute("SET session_replication_role = replica")
            await conn.execute(
                """INSERT INTO case_exchanges (case_id, case_number, seq, kind, body, digest, signature, signing_key_id)
                   VALUES (gen_random_uuid(), '330106-20270104-000001', 1, 'handover', '{}', $1, $2,
                           gen_random_uuid())""", b"\1" * 32, b"\2" * 64)
        finally:
            await conn.close()

        with pytest.raises(asyncpg.RaiseError, match="1 row\\(s\\) name no case"):
            await apply_migrations(url)
        conn = await asyncpg.connect(url)
        try:
            assert await conn.fetchval("SELECT count(*) FROM case_exchanges") == 1
            assert await conn.fetchval("SELECT max(version) FROM schema_migrations") == 24
        finally:
            await conn.close()


async def test_a_result_is_sent_back_only_by_the_handling_place_holding_the_accepted_case(client, services, exchanges):
    result = b"\x02" * 32
    case_id, number = await new_case(client, services)
    with pytest.raises(Conflict, match="never handed over"):
        async with services.db.transaction() as conn:
            await exchanges.record_result(conn, OFFICER, case_id=case_id, case_number=number, from_division="510107",
                                          to_division="330106", role="handling_officer", result=result)
    await hand_over(services, exchanges, case_id, number, "330106", "510107", outcome="refused")
    with pytest.raises(Conflict, match="held by 330106"):  # refused: the handling place never held it
        async with services.db.transaction() as conn:
            await exchanges.record_result(conn, OFFICER, case_id=case_id, case_number=number, from_division="510107",
                                          to_division="330106", role="handling_officer", result=result)
    entries = await signed_entries(exchanges, number)
    _token, trust = await exchanges.published_trust()
    sichuan, kid = await _private_key(services, "510000")
    # Forged past the service: a result after the refusal, signed by the right province all the same.
    forged = sign(result_body(case_number=number, seq=3, prev=digest(entries[-1].body), at=dt.datetime.now(dt.UTC),
                              from_division="510107", to_division="330106", role="handling_officer",
                              decision="approved", result=result, kid=kid), sichuan)

    after_refusal = verify_chain(number, [*entries, forged], trust)
    # And a result with no hand-over before it at all.
    first = sign(result_body(case_number=number, seq=1, prev=bytes(32), at=dt.datetime.now(dt.UTC),
                             from_division="510107", to_division="330106", role="handling_officer",
                             decision="approved", result=result, kid=kid), sichuan)
    alone = verify_chain(number, [first], trust)

    assert (after_refusal.ok, after_refusal.reason, after_refusal.position) == (False, "wrong-sender", 3)
    assert (alone.ok, alone.reason, alone.position) == (False, "unexpected-result", 1), alone

    accepted_id, accepted_number = await new_case(client, services)
    await hand_over(services, exchanges, accepted_id, accepted_number, "330106", "510107")
    async with services.db.transaction() as conn:
        await exchanges.record_result(conn, OFFICER, case_id=accepted_id, case_number=accepted_number,
                                      from_division="510107", to_division="330106", role="handling_officer",
                                      result=result)
    altered = await signed_entries(exchanges, accepted_number)
    pending = await exchanges.verify(accepted_number)
    assert (pending.ok, pending.entries, pending.holder) == (True, 3, "510107")  # until the receiver countersigns
    tampered = SignedEntry(altered[-1].body.replace(result.hex().encode(), (b"\x03" * 32).hex().encode()),
                           altered[-1].signature)
    assert verify_chain(accepted_number, [*altered[:-1], tampered], trust).reason == "bad-signature"

    # The result goes back where the case came from, and nothing follows its countersign.
    elsewhere = sign(result_body(case_number=accepted_number, seq=3, prev=digest(altered[1].body),
                                 at=dt.datetime.now(dt.UTC), from_division="510107", to_division="330102",
                                 role="handling_officer", decision="approved", result=result, kid=kid), sichuan)
    async with services.db.transaction() as conn:
        await exchanges.countersign(conn, OFFICER, case_id=accepted_id, receiving_division="330106",
                                    role="receiving_officer")
    whole = await signed_entries(exchanges, accepted_number)
    zhejiang, zhejiang_kid = await _private_key(services, "330000")
    onwards = sign(handover_body(case_number=accepted_number, seq=5, prev=digest(whole[-1].body),
                                 at=dt.datetime.now(dt.UTC), from_division="330106", to_division="510107",
                                 role="receiving_officer", form=FORM, materials=MATERIALS, kid=zhejiang_kid), zhejiang)

    third = verify_chain(accepted_number, [*altered[:2], elsewhere], trust)
    done = verify_chain(accepted_number, whole, trust)
    after = verify_chain(accepted_number, [*whole, onwards], trust)

    assert (third.ok, third.reason, third.position) == (False, "unexpected-result", 3), third
    assert (done.ok, done.entries, done.holder) == (True, 4, "330106")
    assert (after.ok, after.reason, after.position) == (False, "after-result", 5), after


async def test_a_joint_case_is_shared_only_by_its_holder_and_each_share_is_answered_once(client, services, exchanges):
    await exchange_keys(services, ("330000", "510000", "110000"))
    case_id, number = await new_case(client, services)
    await hand_over(services, exchanges, case_id, number, "330106", "510107")

    async def share(source: str, target: str) -> None:
        async with services.db.transaction() as conn:
            await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=number, from_division=source,
                                            to_division=target, role="handling_officer", form_digest=FORM,
                                            material_digests=MATERIALS, kind="share")

    async def task_done(division: str) -> None:
        async with services.db.transaction() as conn:
            await exchanges.record_task_done(conn, OFFICER, case_id=case_id, division=division, role="handling_officer")

    with pytest.raises(Conflict, match="held by 510107"):
        await share("330106", "110105")  # the receiving place no longer holds the case
    await share("510107", "110105")
    with pytest.raises(Conflict, match="shared with 110105 already"):
        await share("510107", "110105")
    with pytest.raises(Conflict, match="awaits the task of 330106"):
        await task_done("330106")
    with pytest.raises(Conflict, match="110105 .entry 3. is not done"):
        async with services.db.transaction() as conn:
            await exchanges.record_result(conn, OFFICER, case_id=case_id, case_number=number, from_division="510107",
                                          to_division="330106", role="handling_officer", result=b"\x02" * 32)
    await task_done("110105")
    with pytest.raises(Conflict, match="awaits the task of 110105"):
        await task_done("110105")
    entries = await signed_entries(exchanges, number)
    verdict = await exchanges.verify(number)
    assert (verdict.ok, verdict.entries, verdict.holder) == (True, 4, "510107"), verdict
    assert [json.loads(e.body)["kind"] for e in entries] == ["handover", "acceptance", "share", "task-done"]
    audited = await services.db.pool.fetch(
        r"SELECT action, division_code FROM audit_log WHERE record_id = $1 AND action LIKE 'case\_exchange.%'", str(case_id))
    assert sorted((r["action"], r["division_code"]) for r in audited) == [
        ("case_exchange.countersigned", "510107"), ("case_exchange.handed_over", "330106"),
        ("case_exchange.shared", "510107"), ("case_exchange.task_done", "110105")]

    # Forged past the service, each signed by the right province all the same.
    _token, trust = await exchanges.published_trust()
    sichuan, sichuan_kid = await _private_key(services, "510000")
    beijing, beijing_kid = await _private_key(services, "110000")
    now = dt.datetime.now(dt.UTC)

    def shared(seq: int, prev: SignedEntry, target: str = "110105", materials=MATERIALS, kind="share") -> SignedEntry:
        return sign(handover_body(case_number=number, seq=seq, prev=digest(prev.body), at=now, from_division="510107",
                                  to_division=target, role="handling_officer", form=FORM, materials=materials,
                                  kid=sichuan_kid, kind=kind), sichuan)

    def answered(seq: int, prev: SignedEntry, share_at: int, key=beijing, kid=beijing_kid) -> SignedEntry:
        return sign(task_done_body(case_number=number, seq=seq, prev=digest(prev.body), at=now, division="110105",
                                   role="handling_officer", share=share_at, kid=kid), key)

    early = shared(2, entries[0])                               # before the hand-over is countersigned
    twice = shared(5, entries[3])                               # a second share with the same division
    wrong_answer = answered(4, entries[2], share_at=2)          # names the countersign, not the share
    in_sichuans_name = answered(4, entries[2], share_at=3, key=sichuan, kid=sichuan_kid)
    second_share = shared(3, entries[1], target="110101")
    result_too_soon = sign(result_body(case_number=number, seq=4, prev=digest(second_share.body), at=now,
                                       from_division="510107", to_division="330106", role="handling_officer",
                                       decision="approved", result=b"\x02" * 32, kid=sichuan_kid), sichuan)
    less = shared(3, entries[1], materials=MATERIALS[:1])     # not what was handed over
    onwards = shared(4, entries[2], target="330106", kind="handover")  # the case moves on, the task still open
    verdicts = {
        "early": verify_chain(number, [entries[0], early], trust),
        "less": verify_chain(number, [*entries[:2], less], trust),
        "onwards": verify_chain(number, [*entries[:3], onwards], trust),
        "twice": verify_chain(number, [*entries, twice], trust),
        "wrong answer": verify_chain(number, [*entries[:3], wrong_answer], trust),
        "in Sichuan's name": verify_chain(number, [*entries[:3], in_sichuans_name], trust),
        "result too soon": verify_chain(number, [*entries[:2], second_share, result_too_soon], trust),
    }

    assert {name: (v.ok, v.reason, v.position) for name, v in verdicts.items()} == {
        "early": (False, "missing-countersign", 2),
        "less": (False, "unexpected-share", 3),
        "onwards": (False, "open-share", 4),
        "twice": (False, "unexpected-share", 5),
        "wrong answer": (False, "unexpected-task-done", 4),
        "in Sichuan's name": (False, "wrong-countersigner", 4),
        "result too soon": (False, "open-share", 4),
    }


async def test_nothing_is_signed_on_top_of_a_stored_chain_that_breaks_the_rules(client, services, exchanges):
    case_id, number = await new_case(client, services)
    sichuan, kid = await _private_key(services, "510000")
    # A countersign stored with no hand-over before it (written past the service).
    stray = sign(countersign_body(case_number=number, seq=1, prev=bytes(32), at=dt.datetime.now(dt.UTC),
                                  division="510107", role="handling_officer", outcome="accepted", kid=kid), sichuan)
    async with services.db.connection() as conn:
        key = await key_repository.active_key(conn, "case-exchange", None, "510000")
    async with services.db.transaction() as conn:
        await exchange_repository.insert(conn, case_id=case_id, case_number=number, seq=1, kind="acceptance",
                                         body=stray.body, digest=digest(stray.body), signature=stray.signature,
                                         signing_key_id=key["id"])

    with pytest.raises(Conflict, match="is broken .unexpected-countersign"):
        async with services.db.transaction() as conn:
            await exchanges.record_handover(conn, OFFICER, case_id=case_id, case_number=number, from_division="330106",
                                            to_division="510107", role="receiving_officer", form_digest=FORM,
                                            material_digests=MATERIALS)
    assert len(await exchanges.chain(number)) == 1
