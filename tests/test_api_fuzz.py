"""Property-based fuzzing of the whole API from its own OpenAPI document, with schemathesis.

Whatever a client sends, the service answers as documented: never a 500, schema-invalid input
refused, every failure a problem-details response, every success matching its schema. Run as a
citizen and as a national admin, so both sides of every guard are explored.
"""

import subprocess
import sys

import pytest

from tests.factories import register_citizen, staff_token
from tests.server import tongban_server

# Checks that need knowledge the fuzzer cannot have (a valid one-time code, an existing record's
# id) are left out; everything else schemathesis knows how to check is on.
EXCLUDED_CHECKS = "positive_data_acceptance"
# Signing out would revoke the very token the rest of the run uses; sign-out has its own tests.
EXCLUDED_OPERATIONS = "signOut"


@pytest.fixture
def api(settings, tmp_path):
    # With the demo data, so that lists, items, keys and certificates exist to be found.
    with tongban_server(settings, tmp_path, demo_data=True) as server:
        yield server


def fuzz(base_url: str, token: str, report_dir) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "schemathesis.cli", "run", base_url + "/docs/openapi.json",
         "--header", f"Authorization: Bearer {token}", "--max-examples", "25", "--generation-deterministic",
         "--workers", "1", "--checks", "all", "--exclude-checks", EXCLUDED_CHECKS,
         "--exclude-operation-id", EXCLUDED_OPERATIONS, "--no-color", "--report-dir", str(report_dir)],
        capture_output=True, text=True, timeout=600,
    )


@pytest.mark.parametrize("who", ["citizen", "admin"])
async def test_no_request_breaks_the_documented_contract(api, client, services, who, tmp_path):
    if who == "citizen":
        token = (await register_citizen(client, services, division="510107"))["access_token"]
    else:
        token = await staff_token(client, services, "admin", "000000")

    run = fuzz(api.base_url, token, tmp_path / "report")

    assert run.returncode == 0, run.stdout[-12000:]
    assert "Operations:" in run.stdout
