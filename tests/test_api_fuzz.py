"""Property-based fuzzing of the whole API from its own OpenAPI document, with schemathesis.

Whatever a client sends, the service answers as documented: never a 500, schema-invalid input
refused, every failure a problem-details response, every success matching its schema. A citizen and
a national admin fuzz one server at the same time, so both sides of every guard are explored; and
the server's whole log of those thousands of requests holds no unmasked ID or phone number.

Both actors exercise every operation in the examples, fuzzing and stateful phases; the fuzzing phase
draws `TONGBAN_FUZZ_EXAMPLES` cases per operation (default 8, deterministic; set it higher, e.g. 100,
for a fuller run). The coverage phase (every boundary and invalid value the schema implies, some 40 requests
an operation) runs each operation once, as the actor its guard lets in: the admin on staff and admin
routes, the citizen on the rest (their own, public and kiosk routes). Behind a guard that refuses the
actor every one of those requests would get the same 401/403, which the other phases already check.
"""

import os
import subprocess
import sys

import pytest

from tests.factories import register_citizen, staff_token
from tests.server import personal_data_in, tongban_server

EXAMPLES = int(os.environ.get("TONGBAN_FUZZ_EXAMPLES") or 8)
# Checks that need knowledge the fuzzer cannot have (a valid one-time code, an existing record's
# id) are left out; everything else schemathesis knows how to check is on.
EXCLUDED_CHECKS = "positive_data_acceptance"
# Signing out would revoke the very token the rest of the run uses; sign-out has its own tests.
EXCLUDED_OPERATIONS = "signOut"
# Where each actor skips the coverage phase: the other one covers those paths.
NOT_COVERED_BY = {"citizen": "^/(staff|admin)/", "admin": "^/(?!(staff|admin)/)"}


@pytest.fixture
def api(settings, tmp_path):
    # With the demo data, so that lists, items, keys and certificates exist to be found.
    with tongban_server(settings, tmp_path, demo_data=True) as server:
        yield server


def start_fuzzing(base_url: str, token: str, not_covered: str, out_dir) -> subprocess.Popen[bytes]:
    """One schemathesis run in the background, its output in `out_dir/output.txt`."""
    out_dir.mkdir()
    config = out_dir / "schemathesis.toml"
    config.write_text(f"[[operations]]\ninclude-path-regex = '{not_covered}'\nphases.coverage.enabled = false\n")
    with (out_dir / "output.txt").open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
             base_url + "/docs/openapi.json",
             "--header", f"Authorization: Bearer {token}", "--max-examples", str(EXAMPLES),
             "--generation-deterministic", "--workers", "1", "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
             "--exclude-operation-id", EXCLUDED_OPERATIONS, "--no-color", "--report-dir", str(out_dir / "report")],
            stdout=sink, stderr=subprocess.STDOUT)


async def test_no_request_breaks_the_documented_contract(api, client, services, tmp_path):
    tokens = {"citizen": (await register_citizen(client, services, division="510107"))["access_token"],
              "admin": await staff_token(client, services, "admin", "000000")}

    runs = {who: start_fuzzing(api.base_url, token, NOT_COVERED_BY[who], tmp_path / who)
            for who, token in tokens.items()}
    for who, run in runs.items():
        try:
            run.wait(timeout=900)
        finally:
            run.kill()
        output = (tmp_path / who / "output.txt").read_text(errors="replace")
        assert run.returncode == 0, f"{who}:\n{output[-12000:]}"
        assert "Operations:" in output

    log = api.stop()
    assert log.count('"tongban.access"') > 1000
    assert not personal_data_in(log), personal_data_in(log)[:20]
