"""The audit chain: every change recorded; any changed, inserted, deleted or moved entry detected, a chain
deleted whole too, and a rollback to before a signed checkpoint someone kept."""

import asyncio
import json

import asyncpg
import pytest

from backend import cli

from tests.factories import bearer, register_citizen, staff_token


async def tamper(services, sql, *args):
    """Bypass the append-only trigger the way a database superuser could."""
    async with services.db.transaction() as conn:
        await conn.execute("SET LOCAL session_replication_role = replica")
        await conn.execute(sql, *args)


async def verify(client, services):
    admin = await staff_token(client, services, "admin", "000000")
    response = await client.get("/admin/audit/verify", headers=bearer(admin))
    assert response.status_code == 200
    return response.json()


@pytest.fixture
async def history(client, services):
    """Enough audited actions (registrations, sign-ins, reads) that every chain has several entries."""
    for division in ("330106", "510107", "110105", "440106", "310115", "500103"):
        tokens = await register_citizen(client, services, division=division)
        await client.get("/me", headers=bearer(tokens["access_token"]))
    return await services.db.pool.fetchval("SELECT count(*) FROM audit_log")


async def entry_with_successor(services):
    """(chain, seq) of an entry that is followed by another in its chain."""
    row = await services.db.pool.fetchrow(
        """SELECT chain, seq FROM audit_log a WHERE seq > 1 AND EXISTS (
               SELECT 1 FROM audit_log b WHERE b.chain = a.chain AND b.seq > a.seq)
           ORDER BY chain, seq LIMIT 1""")
    return row["chain"], row["seq"]


async def test_state_changes_and_reads_are_audited_with_the_request_id(client, services):
    tokens = await register_citizen(client, services)
    response = await client.get("/me", headers={**bearer(tokens["access_token"]), "X-Request-ID": "req-42"})

    row = await services.db.pool.fetchrow("SELECT * FROM audit_log WHERE request_id = 'req-42'")
    assert response.headers["x-request-id"] == "req-42"
    assert (row["action"], row["actor_kind"], row["record_id"]) == ("citizen.read", "citizen", response.json()["id"])
    actions = {r["action"] for r in await services.db.pool.fetch("SELECT action FROM audit_log")}
    assert {"otp.sent", "citizen.registered", "citizen.read"} <= actions


async def test_an_intact_chain_verifies(client, services, history):
    report = await verify(client, services)
    assert report["ok"] is True and report["entries"] >= history
    chains = await services.db.pool.fetchval("SELECT count(DISTINCT chain) FROM audit_log")
    assert chains > 1  # concurrent writers do not all queue on one chain


async def test_the_log_refuses_updates_and_deletes(services, history):
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await services.db.pool.execute("UPDATE audit_log SET action = 'x'")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await services.db.pool.execute("DELETE FROM audit_log")


async def test_a_changed_entry_is_detected(client, services, history):
    chain, seq = await entry_with_successor(services)
    await tamper(services, "UPDATE audit_log SET detail = '{\"forged\": true}' WHERE chain = $1 AND seq = $2",
                 chain, seq)
    report = await verify(client, services)
    assert (report["ok"], report["chain"], report["first_bad_seq"], report["problem"]) == (
        False, chain, seq, "entry altered")


async def test_a_deleted_entry_is_detected(client, services, history):
    chain, seq = await entry_with_successor(services)
    await tamper(services, "DELETE FROM audit_log WHERE chain = $1 AND seq = $2", chain, seq)
    report = await verify(client, services)
    assert (report["ok"], report["chain"], report["first_bad_seq"]) == (False, chain, seq)


async def test_an_inserted_entry_is_detected(client, services, history):
    chain, seq = await entry_with_successor(services)
    await tamper(services, "UPDATE audit_log SET seq = -seq - 1 WHERE chain = $1 AND seq > $2", chain, seq)
    await tamper(services, "UPDATE audit_log SET seq = -seq WHERE chain = $1 AND seq < 0", chain)
    await tamper(services, """INSERT INTO audit_log (chain, seq, at, actor_kind, action, record_type, prev_hash, hash)
                              SELECT chain, seq + 1, now(), 'system', 'forged', 'x', hash, hash
                              FROM audit_log WHERE chain = $1 AND seq = $2""", chain, seq)
    # Checked in process: once the log runs past its head, appends to that chain fail (the slot is taken),
    # and the HTTP check records itself on a chain of its own choosing.
    async with services.db.connection() as conn:
        report = await services.audit.verify(conn)
    assert (report.ok, report.chain, report.first_bad_seq) == (False, chain, seq + 1)


async def test_entries_cut_off_the_end_are_detected(client, services, history):
    chain, seq = await services.db.pool.fetchrow(
        "SELECT chain, max(seq) FROM audit_log GROUP BY chain ORDER BY chain LIMIT 1")
    await tamper(services, "DELETE FROM audit_log WHERE chain = $1 AND seq = $2", chain, seq)
    async with services.db.connection() as conn:
        report = await services.audit.verify(conn)
    assert (report.ok, report.chain, report.problem) == (False, chain, "entries cut off the end of the chain")


@pytest.fixture
def audit_cli(settings, monkeypatch, capsys):
    """`tongban audit …` against the test's database: (exit code, stdout, stderr). In a thread of this process,
    as its own event loop, which saves starting an interpreter for each call."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("REDIS_URL", settings.redis_url)

    async def run(*args):
        capsys.readouterr()
        code = await asyncio.to_thread(cli.main, ["audit", *args])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


async def test_the_cli_reports_a_broken_chain_with_a_failing_exit_code(client, services, history, audit_cli):
    intact = await audit_cli("verify")
    chain, seq = await entry_with_successor(services)
    await tamper(services, "UPDATE audit_log SET action = 'citizen.forgotten' WHERE chain = $1 AND seq = $2",
                 chain, seq)
    broken = await audit_cli("verify")

    assert intact[0] == 0 and "intact" in intact[1]
    assert broken[0] == 1 and f"BROKEN in chain {chain} at entry {seq}" in broken[1]


async def test_a_chain_deleted_whole_is_detected(services, history, audit_cli):
    chain = await services.db.pool.fetchval("SELECT max(chain) FROM audit_log")
    await tamper(services, "DELETE FROM audit_log WHERE chain = $1", chain)
    await tamper(services, "DELETE FROM audit_head WHERE chain = $1", chain)

    broken = await audit_cli("verify")
    assert broken[0] == 1 and f"BROKEN in chain {chain} at entry 1: head missing" in broken[1]


async def test_an_emptied_log_is_detected(services, history, audit_cli):
    await tamper(services, "DELETE FROM audit_log")
    await tamper(services, "DELETE FROM audit_head")

    broken = await audit_cli("verify")
    assert broken[0] == 1 and "BROKEN in chain 0 at entry 1: head missing" in broken[1]


async def test_renumbered_chains_are_detected(services, history, audit_cli):
    chains = await services.db.pool.fetchval("SELECT array_agg(DISTINCT chain ORDER BY chain) FROM audit_log")
    first, second = chains[:2]
    for table in ("audit_log", "audit_head"):  # swap the two chains, entries and heads alike
        await tamper(services, f"UPDATE {table} SET chain = 100 WHERE chain = $1", first)
        await tamper(services, f"UPDATE {table} SET chain = $1 WHERE chain = $2", first, second)
        await tamper(services, f"UPDATE {table} SET chain = $1 WHERE chain = 100", second)

    broken = await audit_cli("verify")
    assert broken[0] == 1 and f"BROKEN in chain {first} at entry 1: entry altered" in broken[1]


async def test_a_rollback_to_before_a_kept_checkpoint_is_detected(client, services, history, audit_cli, tmp_path):
    await tamper(services, "CREATE TABLE old_log AS SELECT * FROM audit_log")
    await tamper(services, "CREATE TABLE old_head AS SELECT * FROM audit_head")
    tokens = await register_citizen(client, services, division="330106")
    await client.get("/me", headers=bearer(tokens["access_token"]))
    signed = await audit_cli("checkpoint")
    kept = tmp_path / "checkpoint.jws"
    kept.write_text(signed[1])
    # An older copy of log and heads restored: every entry since the snapshot is gone, the checkpoint too.
    await tamper(services, "DELETE FROM audit_log; DELETE FROM audit_head; DELETE FROM audit_checkpoints")
    await tamper(services, "INSERT INTO audit_log SELECT * FROM old_log; INSERT INTO audit_head SELECT * FROM old_head")

    alone = await audit_cli("verify")
    against_checkpoint = await audit_cli("verify", "--checkpoint", str(kept))
    assert signed[0] == 0
    assert alone[0] == 0  # the database alone cannot tell an older copy of itself
    assert against_checkpoint[0] == 1 and "rolled back behind the checkpoint" in against_checkpoint[1]


async def test_a_checkpoint_whose_entry_differs_is_detected(services, history):
    from backend.audit import checkpoints

    async with services.db.connection() as conn:
        chain, seq = await conn.fetchrow("SELECT chain, seq FROM audit_head WHERE seq > 0 ORDER BY chain LIMIT 1")
        forked = checkpoints.document({chain: (seq, b"\x01" * 32)}, 0)
        token = checkpoints.sign(forked, services.audit._checkpoint_key)
        report = await services.audit.verify(conn, services.audit.open_checkpoint(token))
    assert (report.ok, report.chain, report.first_bad_seq, report.problem) == (
        False, chain, seq, "entry differs from the checkpoint's")


async def test_the_worker_signs_checkpoints_that_are_published_and_logged(client, services, history):
    import jwt

    from backend.jobs import SCHEDULED_JOBS

    assert (await client.get("/.well-known/tongban/audit-checkpoint")).status_code == 404
    job = next(j for j in SCHEDULED_JOBS if j.name == "audit.checkpoint")
    await job.run(services)
    published = await client.get("/.well-known/tongban/audit-checkpoint")
    keys = (await client.get("/.well-known/tongban/audit-checkpoint-keys")).json()["keys"]

    public_key = jwt.PyJWK(keys[0]).key
    claims = jwt.PyJWS().decode_complete(published.text, public_key, algorithms=["EdDSA"])
    heads = {r["chain"]: r["seq"] for r in await services.db.pool.fetch(
        "SELECT chain, seq FROM audit_log a WHERE seq = (SELECT max(seq) FROM audit_log b WHERE b.chain = a.chain)")}
    chains = {h["chain"]: h["seq"] for h in json.loads(claims["payload"])["chains"]}
    logged = await services.db.pool.fetchrow("SELECT chain, detail FROM audit_log WHERE action = 'audit.checkpoint_signed'")
    assert published.headers["content-type"].startswith("application/jose")
    assert set(chains) == set(range(8))
    assert all(chains[c] == heads.get(c, 0) - (c == logged["chain"]) for c in chains)  # its own entry came after
    assert logged["detail"]["heads"] == {str(c): s for c, s in chains.items()}


async def test_a_refusal_is_recorded_even_when_the_callers_transaction_rolls_back(client, services):
    from backend.actors import Actor
    from backend.audit import repository as audit_repository
    from backend.errors import Forbidden

    actor = Actor(kind="staff", id="00000000-0000-0000-0000-000000000001", role="handling_officer",
                  division="510000")
    with pytest.raises(Forbidden):
        async with services.db.transaction() as conn:
            # The caller's own entry is chained when it commits, which it never does. Meanwhile it holds
            # every chain's lock but one (as a transaction that chained entries holds its own chain's until it
            # ends), so waiting for the usual chain would wait forever.
            await services.audit.record(conn, actor, "test.before", "test", "1")
            free = 5
            for chain in range(audit_repository.CHAINS):
                if chain != free:
                    await conn.execute("SELECT pg_advisory_xact_lock($1)", audit_repository._LOCK_BASE + chain)
            await services.audit.record_refusal(services.db, actor, "test.refused", "test", "1", division="510000",
                                                detail={"why": "outside"})
            raise Forbidden("refused")

    rows = await services.db.pool.fetch("SELECT action, chain FROM audit_log WHERE record_type = 'test'")
    assert [(r["action"], r["chain"]) for r in rows] == [("test.refused", free)]  # the caller's entry rolled back
    assert (await verify(client, services))["ok"] is True


async def test_a_reads_entry_is_durable_before_its_response_arrives(client, services):
    tokens = await register_citizen(client, services)

    async def read(n):
        response = await client.get("/me", headers={**bearer(tokens["access_token"]), "X-Request-ID": f"read-{n}"})
        # At once, from another connection: committed, not merely queued.
        recorded = await services.db.pool.fetchval(
            "SELECT count(*) FROM audit_log WHERE request_id = $1 AND action = 'citizen.read'", f"read-{n}")
        return response.status_code, recorded

    assert await asyncio.gather(*(read(n) for n in range(24))) == [(200, 1)] * 24
    transactions = await services.db.pool.fetchval(
        "SELECT count(DISTINCT xmin::text) FROM audit_log WHERE action = 'citizen.read'")
    assert transactions < 24  # reads arriving together share one append (group commit)
    assert (await verify(client, services))["ok"] is True


async def test_a_read_whose_entry_cannot_be_appended_is_not_answered(client, services):
    tokens = await register_citizen(client, services)
    await tamper(services, "DELETE FROM audit_head")  # every append now fails

    responses = await asyncio.gather(*(client.get("/me", headers=bearer(tokens["access_token"])) for _ in range(5)))
    assert [r.status_code for r in responses] == [500] * 5
    assert not any(tokens["phone"][-4:] in r.text for r in responses)


def _seed() -> str:
    import base64
    import os

    return base64.b64encode(os.urandom(32)).decode()


@pytest.fixture
async def rotated(settings, services, history):
    """A checkpoint signed with the first key, then the service restarted on a new key with the first one
    listed as retired: (the old checkpoint, the old keys' JWK Set as published, the restarted services)."""
    import msgspec

    from backend.actors import Actor
    from backend.container import Services

    old_checkpoint = await services.audit.checkpoint(Actor.system())
    old_keys = msgspec.json.encode(services.audit.checkpoint_keys())
    old_x = services.audit.checkpoint_keys().keys[0].x
    restarted = await Services.start(msgspec.structs.replace(
        settings, audit_checkpoint_key=_seed(), audit_checkpoint_retired_keys=old_x))
    yield old_checkpoint, old_keys, restarted
    await restarted.close()


async def test_a_checkpoint_signed_before_the_key_was_rotated_still_verifies(services, rotated):
    import httpx
    import jwt

    from backend.actors import Actor
    from backend.audit import checkpoints
    from mobile_api.app import create_app

    old_checkpoint, old_keys, restarted = rotated
    old_kid = jwt.get_unverified_header(old_checkpoint)["kid"]
    async with restarted.db.connection() as conn:
        report = await restarted.audit.verify(conn, restarted.audit.open_checkpoint(old_checkpoint))
    new_checkpoint = await restarted.audit.checkpoint(Actor.system())
    new_kid = jwt.get_unverified_header(new_checkpoint)["kid"]
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=create_app(services=restarted)),
                                 base_url="http://testserver") as client:
        published = (await client.get("/.well-known/tongban/audit-checkpoint-keys")).json()["keys"]
    logged = await restarted.db.pool.fetchval(
        "SELECT detail FROM audit_log WHERE action = 'audit.checkpoint_signed' ORDER BY at DESC LIMIT 1")

    assert report.ok
    assert new_kid != old_kid
    assert [(k["kid"], k["status"]) for k in published] == [(new_kid, "active"), (old_kid, "retired")]
    assert (logged["kid"], logged["rotated_from"]) == (new_kid, old_kid)
    for key in published:  # each published key opens the checkpoints it signed, and only those
        public_key = jwt.PyJWK(key).key
        assert jwt.PyJWS().decode(new_checkpoint if key["kid"] == new_kid else old_checkpoint, public_key,
                                  algorithms=["EdDSA"])
    unlisted = checkpoints.key_set([restarted.audit._checkpoint_key.public_key()])
    with pytest.raises(checkpoints.CheckpointRefused, match="not among the checkpoint keys"):
        restarted.audit.open_checkpoint(old_checkpoint, unlisted)


async def test_an_auditor_verifies_a_kept_checkpoint_with_the_keys_kept_beside_it(
        services, rotated, audit_cli, monkeypatch, tmp_path):
    """Over the command line: after a rotation, with a configuration that lists no retired key, the old
    checkpoint is refused; with the JWK Set kept beside it, it verifies and shows a rollback; a JWK Set
    without the checkpoint's key is refused."""
    import msgspec

    from backend.audit import checkpoints

    old_checkpoint, old_keys, restarted = rotated
    kept, kept_keys, other_keys = tmp_path / "checkpoint.jws", tmp_path / "keys.json", tmp_path / "other.json"
    kept.write_text(old_checkpoint)
    kept_keys.write_bytes(old_keys)
    other_keys.write_bytes(msgspec.json.encode(checkpoints.CheckpointKeySet(restarted.audit.checkpoint_keys().keys[:1])))
    monkeypatch.setenv("TONGBAN_AUDIT_CHECKPOINT_KEY", _seed())  # the auditor holds no checkpoint key of ours

    without_keys = await audit_cli("verify", "--checkpoint", str(kept))
    with_keys = await audit_cli("verify", "--checkpoint", str(kept), "--checkpoint-keys", str(kept_keys))
    with_other_keys = await audit_cli("verify", "--checkpoint", str(kept), "--checkpoint-keys", str(other_keys))
    heads = checkpoints.heads_of(restarted.audit.open_checkpoint(old_checkpoint))
    chain = max(heads, key=lambda c: heads[c][0])  # reset to empty: a rollback to before the checkpoint
    await tamper(services, "DELETE FROM audit_log WHERE chain = $1", chain)
    await tamper(services, "UPDATE audit_head SET seq = 0, hash = $2, seal = $2 WHERE chain = $1", chain, b"\x00" * 32)
    rolled_back = await audit_cli("verify", "--checkpoint", str(kept), "--checkpoint-keys", str(kept_keys))

    assert without_keys[0] == 2 and "not among the checkpoint keys" in without_keys[2]
    assert with_keys[0] == 0 and "not behind the checkpoint" in with_keys[1]
    assert with_other_keys[0] == 2 and "not among the checkpoint keys" in with_other_keys[2]
    assert rolled_back[0] == 1 and f"BROKEN in chain {chain}" in rolled_back[1]
    assert "rolled back behind the checkpoint" in rolled_back[1]
