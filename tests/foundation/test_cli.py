"""The `tongban` command line: the same checks as the API, clear messages, meaningful exit codes."""

import subprocess
import sys


def tongban(settings, *args, password=None):
    env = {"DATABASE_URL": settings.database_url, "REDIS_URL": settings.redis_url,
           "TONGBAN_REDIS_PREFIX": settings.redis_prefix, "PATH": ""}
    if password is not None:
        env["TONGBAN_NEW_STAFF_PASSWORD"] = password
    return subprocess.run([sys.executable, "-m", "backend.cli", *args], env=env, capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


async def test_create_staff_makes_an_account_that_can_sign_in(settings, client):
    created = tongban(settings, "create-staff", "--username", "gd.window", "--role", "receiving_officer",
                      "--division", "440100", password="a long enough password")
    signed_in = await client.post("/auth/staff/sign-in",
                                  json={"username": "gd.window", "password": "a long enough password"})

    assert created.returncode == 0, created.stderr
    assert "created staff gd.window (receiving_officer, 440100)" in created.stdout
    assert signed_in.status_code == 200


async def test_staff_disable_ends_the_accounts_sessions(settings, client, services):
    from tests.factories import STAFF_PASSWORD, bearer, create_staff

    await create_staff(services, "gd.leaving", "receiving_officer", "440100")
    tokens = (await client.post("/auth/staff/sign-in",
                                json={"username": "gd.leaving", "password": STAFF_PASSWORD})).json()

    disabled = tongban(settings, "staff", "disable", "gd.leaving")
    unknown = tongban(settings, "staff", "disable", "gd.nobody")
    after = await client.get("/staff/citizens/00000000-0000-4000-8000-000000000000",
                             headers=bearer(tokens["access_token"]))

    assert disabled.returncode == 0 and "disabled staff gd.leaving" in disabled.stdout, disabled.stderr
    assert unknown.returncode == 1 and "no such staff account" in unknown.stderr
    assert after.status_code == 401


def test_create_staff_refuses_what_the_api_refuses(settings):
    short = tongban(settings, "create-staff", "--username", "x.short", "--role", "admin", "--division", "330000",
                    password="short")
    bad_division = tongban(settings, "create-staff", "--username", "x.division", "--role", "admin",
                           "--division", "990000", password="a long enough password")
    first = tongban(settings, "create-staff", "--username", "x.twice", "--role", "admin", "--division", "330000",
                    password="a long enough password")
    again = tongban(settings, "create-staff", "--username", "x.twice", "--role", "admin", "--division", "330000",
                    password="a long enough password")

    assert short.returncode == 1 and "length >= 12" in short.stderr and "Traceback" not in short.stderr
    assert bad_division.returncode == 1 and "does not belong to any province" in bad_division.stderr
    assert first.returncode == 0
    assert again.returncode == 1 and "x.twice is taken" in again.stderr and "Traceback" not in again.stderr


def test_bad_input_and_a_missing_file_or_database_are_one_line_not_a_traceback(settings, tmp_path):
    """What the operator gave — a file that is a folder, an id that is no uuid, no password on a closed
    input, a port out of range, an unreachable database — is said in one line with a non-zero exit."""
    unreachable = settings.database_url.rsplit("/", 1)[0].replace("127.0.0.1:5432", "127.0.0.1:9") + "/nowhere"
    answers = {
        "folder": tongban(settings, "calendar", "load", str(tmp_path)),
        "uuid": tongban(settings, "certificates", "withdraw-key", "--id", "not-a-uuid"),
        "stdin": tongban(settings, "create-staff", "--username", "x.nopass", "--role", "admin", "--division", "330000"),
        "port": tongban(settings, "serve", "--port", "70000"),
        "database": subprocess.run([sys.executable, "-m", "backend.cli", "migrate"], capture_output=True, text=True,
                                   timeout=60, env={"DATABASE_URL": unreachable, "REDIS_URL": settings.redis_url,
                                                    "PATH": ""}),
    }
    for name, answer in answers.items():
        assert answer.returncode == 2, (name, answer.stderr)
        assert "Traceback" not in answer.stderr and answer.stderr.strip(), (name, answer.stderr)


def test_a_case_number_no_case_has_is_not_an_intact_chain(settings):
    verified = tongban(settings, "cases", "verify-exchanges", "NO-SUCH-000001")
    exported = tongban(settings, "cases", "export-exchanges", "NO-SUCH-000001")
    for answer in (verified, exported):
        assert answer.returncode == 2 and "no case is numbered NO-SUCH-000001" in answer.stderr, answer.stderr
    assert "intact" not in verified.stdout
