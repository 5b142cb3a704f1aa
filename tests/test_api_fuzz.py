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

import json
import os
import subprocess
import sys

import pytest

from tests.factories import register_citizen, staff_token
from tests.server import personal_data_in, tongban_server

EXAMPLES = int(os.environ.get("TONGBAN_FUZZ_EXAMPLES") or 8)
# Every check is on, `positive_data_acceptance` included: input the schema calls valid must not be
# refused as invalid (400/422). These operations may still answer 422 to schema-valid input, because
# they check what JSON Schema cannot say; each says which rule (docs/security.md, "API contract").
SEMANTIC_422 = {
    "citizenSignIn": "the one-time code must be the one sent",
    "registerCitizen": "the one-time code must be the one sent; the resident ID's check character",
    "staffLookupCitizen": "the resident ID's check character and birth date",
    "registerOrganisation": "the credit code's and the legal representative's ID's check characters",
    "registerFilingObligation": "exactly one subject; its check character; the kind's rules",
    "getDivision": "the code must be in the GB/T 2260 table",
    "getReceiptStandard": "divisions in the GB/T 2260 table",
    "getItemVariant": "divisions in the GB/T 2260 table",
    "resolveItems": "divisions in the GB/T 2260 table",
    "registerDataProvider": "divisions in the GB/T 2260 table",
    "registerKiosk": "divisions in the GB/T 2260 table",
    "createStaff": "divisions in the GB/T 2260 table",
    "createWebhookSubscriber": "divisions in the GB/T 2260 table",
    "setPensionAgency": "divisions in the GB/T 2260 table; the authority must exist",
    "searchCatalogue": "the query must hold a character, letter or digit after normalisation",
    "askCatalogue": "the question must hold words",
    "staffFilingOverview": "the kind must be one of the filing kinds (data)",
    "giveDataConsent": "purposes and providers of the gateway's registry (data)",
    "requestCitizenData": "the provider must release those fields for that purpose (data)",
    "createFaq": "item codes must name items of the catalogue (data)",
    "updateFaq": "item codes must name items of the catalogue (data)",
    "createItem": "the code's type segment must match the item's kind; a form schema describes an object",
    "reviseItem": "the standard's code must be the item's",
    "publishItemVariant": "the standard's code must be the item's",
    "createServiceList": "a list offers only the modes of each item's standard (data)",
    "issueCertificate": "the fields the certificate type requires (per type)",
    "registerInstallation": "which attestation fields go together depends on the kind",
    "applyForCase": "the mode must be offered for the item at that place on that day (data)",
    # The file's content is checked (type, size, pixels); the form's text fields carry no constraints
    # in the schema (multipart).
    "uploadMaterial": "the file's content and the material's kind",
    "staffActOnCase": "an action's fields against the case: the receipt standard's materials, the item's result",
    "answerSupplementRequest": "the answer must hold every material the open 补正 asks for",
    "mapResultAuthority": "the authority must issue the item's e-certificate type (data)",
    "caseFigures": "a report covers at most 366 days, `from` before `to`",
    "publishServiceListVersion": "a list takes effect today or later (the date of the run)",
    # An empty burst is no part at all in multipart, so the server sees no `frames`; and a burst needs
    # the challenge's frames.
    "answerLivenessChallenge": "the frames of the challenge's burst",
    "recogniseRepresentedPension": "the frames of the challenge's burst",
    "recordAssistedRecognition": "the frames of the challenge's burst",
}
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]  # schemathesis' default
# A challenge id the session was not issued answers 410 (expired, replaced or never issued: one answer
# for all three, so that ids cannot be probed).
GONE_410 = ["answerLivenessChallenge", "recogniseRepresentedPension", "recordAssistedRecognition"]
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
    config.write_text(
        f"[[operations]]\ninclude-path-regex = '{not_covered}'\nphases.coverage.enabled = false\n\n"
        f"[[operations]]\ninclude-operation-id = {json.dumps(sorted(set(SEMANTIC_422) - set(GONE_410)))}\n"
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps([*ACCEPTED, '422'])}\n\n"
        f"[[operations]]\ninclude-operation-id = {json.dumps(GONE_410)}\n"
        f"checks.positive_data_acceptance.expected-statuses = {json.dumps([*ACCEPTED, '410', '422'])}\n")
    with (out_dir / "output.txt").open("wb") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "schemathesis.cli", "--config-file", str(config), "run",
             base_url + "/docs/openapi.json",
             "--header", f"Authorization: Bearer {token}", "--max-examples", str(EXAMPLES),
             "--generation-deterministic", "--workers", "1", "--checks", "all",
             "--exclude-operation-id", EXCLUDED_OPERATIONS, "--no-color", "--report-dir", str(out_dir / "report")],
            stdout=sink, stderr=subprocess.STDOUT, env={**os.environ, "SCHEMATHESIS_HOOKS": "tests.fuzz_hooks"})


async def test_no_request_breaks_the_documented_contract(api, client, services, tmp_path):
    tokens = {"citizen": (await register_citizen(client, services, division="510107"))["access_token"],
              "admin": await staff_token(client, services, "admin", "000000")}

    runs = {who: start_fuzzing(api.base_url, token, NOT_COVERED_BY[who], tmp_path / who)
            for who, token in tokens.items()}
    for run in runs.values():  # both finish before anything is judged: the server stops after that
        try:
            run.wait(timeout=900)
        finally:
            run.kill()
    for who, run in runs.items():
        output = (tmp_path / who / "output.txt").read_text(errors="replace")
        assert run.returncode == 0, f"{who}:\n{output[-12000:]}"
        assert "Operations:" in output

    log = api.stop()
    assert log.count('"tongban.access"') > 1000
    assert not personal_data_in(log), personal_data_in(log)[:20]
