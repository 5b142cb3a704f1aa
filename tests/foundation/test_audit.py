"""The audit chain: every change recorded; any changed, inserted or deleted entry detected."""

import subprocess
import sys

import asyncpg
import pytest

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
    """A few audited actions: registrations, sign-ins, reads."""
    for division in ("330106", "510107"):
        tokens = await register_citizen(client, services, division=division)
        await client.get("/me", headers=bearer(tokens["access_token"]))
    return await services.db.pool.fetchval("SELECT max(seq) FROM audit_log")


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


async def test_the_log_refuses_updates_and_deletes(services, history):
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await services.db.pool.execute("UPDATE audit_log SET action = 'x' WHERE seq = 1")
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await services.db.pool.execute("DELETE FROM audit_log WHERE seq = 1")


async def test_a_changed_entry_is_detected(client, services, history):
    await tamper(services, "UPDATE audit_log SET detail = '{\"forged\": true}' WHERE seq = 3")
    report = await verify(client, services)
    assert (report["ok"], report["first_bad_seq"], report["problem"]) == (False, 3, "entry altered")


async def test_a_deleted_entry_is_detected(client, services, history):
    await tamper(services, "DELETE FROM audit_log WHERE seq = 2")
    report = await verify(client, services)
    assert (report["ok"], report["first_bad_seq"]) == (False, 2)


async def test_an_inserted_entry_is_detected(client, services, history):
    await tamper(services, "UPDATE audit_log SET seq = seq + 1000 WHERE seq > 2")
    await tamper(services, """INSERT INTO audit_log (seq, at, actor_kind, action, record_type, prev_hash, hash)
                              SELECT 3, now(), 'system', 'forged', 'x', hash, hash FROM audit_log WHERE seq = 2""")
    await tamper(services, "UPDATE audit_log SET seq = seq - 999 WHERE seq > 1000")
    report = await verify(client, services)
    assert (report["ok"], report["first_bad_seq"]) == (False, 3)


async def test_entries_cut_off_the_end_are_detected(client, services, history):
    await tamper(services, "DELETE FROM audit_log WHERE seq = $1", history)
    async with services.db.connection() as conn:
        report = await services.audit.verify(conn)
    assert report.ok is False and report.problem == "entries cut off the end of the chain"


async def test_the_cli_reports_a_broken_chain_with_a_failing_exit_code(client, services, history, settings):
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url, "PATH": ""}
    command = [sys.executable, "-m", "backend.cli", "audit", "verify"]
    intact = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    await tamper(services, "UPDATE audit_log SET action = 'citizen.forgotten' WHERE seq = 2")
    broken = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    assert intact.returncode == 0 and "intact" in intact.stdout
    assert broken.returncode == 1 and "BROKEN at entry 2" in broken.stdout
