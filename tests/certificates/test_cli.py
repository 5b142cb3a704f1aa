"""The `tongban certificates` commands: authorities, keys, rotation, listing; no private key printed."""

from __future__ import annotations

import os
import subprocess
import sys

from backend.certificates.trust_lists import b64url


def tongban(settings, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix}
    return subprocess.run([sys.executable, "-m", "backend.cli", "certificates", *args], env=env,
                          capture_output=True, text=True, timeout=60)


async def test_authorities_and_keys_are_managed_from_the_command_line(settings, services):
    created = tongban(settings, "create-authority", "--id", "510000-gat", "--name", "四川省公安厅",
                      "--types", "residence_permit,driving_licence")
    first = tongban(settings, "create-key", "--authority", "510000-gat")
    anchor = tongban(settings, "create-key", "--trust-anchor")
    rotated = tongban(settings, "rotate-key", "--authority", "510000-gat", "--now")
    listed = tongban(settings, "list-keys")
    unknown = tongban(settings, "create-authority", "--id", "510000-gat", "--name", "重复", "--types", "nope")

    assert created.returncode == 0 and "created authority 510000-gat" in created.stdout
    assert first.returncode == anchor.returncode == rotated.returncode == listed.returncode == 0
    assert " active " in first.stdout and "trust-anchor" in anchor.stdout
    assert [line.split()[3] for line in rotated.stdout.splitlines()] == ["retired", "active"]
    rows = await services.db.pool.fetch("SELECT kid, status, public_key, private_key_wrapped FROM certificate_keys")
    assert sorted(r["status"] for r in rows) == ["active", "active", "retired"]
    for row in rows:
        assert b64url(row["kid"]) in listed.stdout
        secret = services.certificates.vault.unwrap(row["public_key"], row["private_key_wrapped"]).private_bytes_raw()
        for output in (first, anchor, rotated, listed):
            assert secret.hex() not in output.stdout + output.stderr
            assert b64url(secret) not in output.stdout + output.stderr
    assert unknown.returncode == 1 and "certificate_types/0" in unknown.stderr


async def test_rotation_from_the_command_line_needs_now_for_a_key_verifiers_may_not_hold(settings, services):
    tongban(settings, "create-authority", "--id", "510000-gat", "--name", "四川省公安厅", "--types", "residence_permit")
    tongban(settings, "create-key", "--authority", "510000-gat")

    refused = tongban(settings, "rotate-key", "--authority", "510000-gat")
    forced = tongban(settings, "rotate-key", "--authority", "510000-gat", "--now")

    assert refused.returncode == 1 and "--now" in refused.stderr
    assert forced.returncode == 0
    assert [line.split()[3] for line in forced.stdout.splitlines()] == ["retired", "active"]
