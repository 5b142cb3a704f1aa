"""HTTP benchmark of cross-province cases against `GET /me` (the baseline) in the same run and server.

Requests come from 64 citizens in turn (one per client), each with cases of their own, as real traffic
spreads over many: with one citizen, every notification's foreign-key check would share-lock the same row.

- `POST /me/cases`: a citizen applies online for 婚姻登记记录证明 (MZ-20-001-00, handled in 成都锦江) from
  杭州, the 居民身份证 replaced by their own e-certificate: catalogue resolution (mode offered there
  today), the form checked against the item's schema, the certificate checked, the case written with its
  number, material, timeline step, notification (with SMS), event and audit entry in one transaction.
- `POST /staff/cases/{id}/actions` `{"action": "accept"}`: a handling officer of 四川 accepts a
  submitted case — the state table under the case's row lock, the deadline in working days, the
  timeline step, notification, SMS, event and audit entry. Each request takes the next of the cases
  made beforehand, so every one is a real first acceptance.

Goal (issue #14): each at least 0.5 of `GET /me`'s throughput, at 64 concurrent clients.

Beside them, in its own server process of the same kind, the bare transition (bench/bare_transition_app.py):
the rows an acceptance writes, written by a plain Litestar + asyncpg handler without Tongban, on cases of
its own. Its ratio to `GET /me` says what the rows alone allow on this machine; acceptance's ratio to it
says what Tongban adds.

    python bench/cases.py [--workers N] [--seconds S] [--connections C]
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import statistics
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from bench.harness import (  # noqa: E402
    LoadResult,
    bench_citizen,
    combined,
    free_port,
    http_arguments,
    report,
    run_async,
    running,
    scratch_database,
    servers,
    wrk,
)

CITIZENS = 64  # one per client, as real traffic spreads over many citizens rather than locking one row
OFFICER, PASSWORD = "bench.handling.510000", "bench password 0123456789"
PREFIX = f"bench-cases-{os.getpid()}:"
ROUNDS = 5


def application(resident_id: str, phone: str, certificate_id: str) -> dict:
    return {"item_code": "MZ-20-001-00", "receiving_division": "330106", "handling_division": "510104",
            "mode": "online",
            "form": {"applicant_name": "陈静", "resident_id": resident_id, "phone": phone, "purpose": "购房"},
            "materials": [{"name": "居民身份证", "certificate_id": certificate_id}]}


async def prepare(database_url: str, redis_url: str, cases: int) -> tuple[list[tuple[str, dict]], list[str]]:
    """Migrate a scratch database with the sample catalogue; `CITIZENS` applicants each holding an ID-card
    e-certificate, one handling officer, and `cases` submitted online cases, spread over the applicants,
    waiting for acceptance. Answers each applicant's token and application body, and the case ids."""
    import msgspec

    from backend.actors import Actor
    from backend.cases.schemas import CaseApplication
    from backend.certificates.schemas import AuthorityCreate, CertificateIssue
    from backend.config import load_settings
    from backend.container import Services
    from backend.identity.resident_id import check_character
    from backend.identity.schemas import StaffCreate
    from backend.migrate import apply_migrations

    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, redis_prefix=PREFIX,
                             code_resend_seconds=0, db_pool_max=8)
    services = await Services.start(settings)
    try:
        system = Actor.system()
        await services.catalogue.load_catalogue(system, progress=lambda _: None)
        await services.certificates.authorities.create_authority(msgspec.convert(
            {"id": "330000-gat", "name": "浙江省公安厅", "certificate_types": ["id_card"]}, AuthorityCreate), system)
        await services.certificates.authorities.create_key("330000-gat", system)
        await services.certificates.authorities.create_key(None, system)
        await services.identity.create_staff(msgspec.convert(
            {"username": OFFICER, "display_name": "bench", "password": PASSWORD, "role": "handling_officer",
             "division_code": "510000"}, StaffCreate), system)
        applicants: list[tuple[str, dict, Actor]] = []
        for n in range(CITIZENS):
            first17 = f"33010619880612{2 * n:03d}"
            resident_id, phone = first17 + check_character(first17), f"139123{n:05d}"
            token = await bench_citizen(services, phone, resident_id, "陈静", "330106")
            citizen_id = await services.db.pool.fetchval("SELECT id FROM citizens WHERE resident_id_hash = $1",
                                                         services.cipher.lookup_hash(resident_id, purpose="resident_id"))
            certificate = await services.certificates.issue(msgspec.convert(
                {"authority_id": "330000-gat", "certificate_type": "id_card",
                 "holder": {"kind": "citizen", "citizen_id": str(citizen_id)},
                 "fields": {"ethnicity": "汉", "address": "杭州市西湖区文三路 90 号"}}, CertificateIssue), system)
            applicants.append((token, application(resident_id, phone, str(certificate.id)),
                               Actor(kind="citizen", id=str(citizen_id), role="citizen")))
        made: list[str] = []

        async def apply_some(start: int, n: int) -> None:
            for k in range(start, start + n):
                _, body, applicant = applicants[k % CITIZENS]
                made.append(str((await services.cases.apply(msgspec.convert(body, CaseApplication), applicant)).id))

        share = cases // 8 + 1
        await asyncio.gather(*(apply_some(k * share, share) for k in range(8)))
        return [(token, body) for token, body, _ in applicants], made
    finally:
        await services.close()


# The first refusal's answer is printed (wrk's output keeps it), so a run with non-2xx says why.
REPORT_REFUSAL = """
local told = false
response = function(status, headers, body)
  if status >= 300 and not told then
    told = true
    print("first non-2xx answer: " .. status .. " " .. body)
  end
end
"""

# Each request is the next applicant's: their token, and their application when there is a body to send.
CITIZENS_SCRIPT = """
local people = {{}}
for line in io.lines("{people}") do
  local token, body = line:match("^([^\t]*)\t(.*)$")
  people[#people + 1] = {{token = token, body = body}}
end
local turn = 0
request = function()
  turn = turn + 1
  local person = people[(turn - 1) % #people + 1]
  local headers = {{Authorization = "Bearer " .. person.token}}
  if person.body == "" then return wrk.format("GET", nil, headers) end
  headers["Content-Type"] = "application/json"
  return wrk.format("POST", nil, headers, person.body)
end
""" + REPORT_REFUSAL.replace("{", "{{").replace("}", "}}")


def _citizens_script(scratch: str, name: str, people: list[tuple[str, dict | None]]) -> str:
    """A wrk script sending each request as the next of `people` (token, and body if it is a POST)."""
    people_file, script = os.path.join(scratch, f"{name}.people"), os.path.join(scratch, f"{name}.lua")
    with open(people_file, "w") as f:
        f.writelines(f"{token}\t{json.dumps(body, ensure_ascii=False) if body else ''}\n" for token, body in people)
    with open(script, "w") as f:
        f.write(CITIZENS_SCRIPT.format(people=people_file))
    return script


# Each request accepts the next prepared case; the offset carries on from the previous round.
ACCEPT_SCRIPT = """
local ids = {{}}
for line in io.lines("{ids}") do ids[#ids + 1] = line end
local next_id = tonumber(os.getenv("CASE_OFFSET") or "0")
wrk.method = "POST"
wrk.body = '{{"action": "accept"}}'
wrk.headers["Content-Type"] = "application/json"
request = function()
  next_id = next_id + 1
  return wrk.format(nil, "/staff/cases/" .. ids[(next_id - 1) % #ids + 1] .. "/actions")
end
""" + REPORT_REFUSAL.replace("{", "{{").replace("}", "}}")


def _accept_script(scratch: str, name: str, case_ids: list[str]) -> str:
    """A wrk script accepting `case_ids` one after the other (from $CASE_OFFSET)."""
    ids_file, script = os.path.join(scratch, f"{name}.ids"), os.path.join(scratch, f"{name}.lua")
    with open(ids_file, "w") as f:
        f.write("\n".join(case_ids) + "\n")
    with open(script, "w") as f:
        f.write(ACCEPT_SCRIPT.format(ids=ids_file))
    return script


def main() -> None:
    import httpx

    args, load = http_arguments(__doc__)
    round_seconds = max(1, load["seconds"] // ROUNDS)
    # Enough cases for every acceptance of all rounds at a generous rate (more would only slow the set-up),
    # for Tongban and as many again for the bare transition.
    cases = 1300 * load["seconds"] + 2 * args.connections * ROUNDS
    with servers() as (admin_url, redis_url), tempfile.TemporaryDirectory() as scratch:
        database_url = run_async(scratch_database(admin_url, "tongban_bench_cases"))
        applicants, case_ids = run_async(prepare(database_url, redis_url, 2 * cases))
        case_ids, bare_ids = case_ids[:cases], case_ids[cases:]
        me_script = _citizens_script(scratch, "me", [(token, None) for token, _ in applicants])
        create_script = _citizens_script(scratch, "create", applicants)
        accept_script, bare_script = (_accept_script(scratch, name, ids) for name, ids in (("accept", case_ids),
                                                                                            ("bare", bare_ids)))
        port, bare_port = free_port(), free_port()
        env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "TONGBAN_REDIS_PREFIX": PREFIX,
               "TONGBAN_LOG_LEVEL": "WARNING", "TONGBAN_DB_POOL_MAX": "20"}
        command = [sys.executable, "-m", "backend.cli", "serve", "--no-worker", "--workers", str(args.workers),
                   "--port", str(port)]
        bare_command = [sys.executable, "-m", "granian", "--interface", "asgi", "--workers", str(args.workers),
                        "--log-level", "warning", "--port", str(bare_port), "bench.bare_transition_app:app"]
        bare_env = {"DATABASE_URL": database_url, "REDIS_URL": redis_url, "BENCH_POOL_MAX": "20",
                    "BENCH_REDIS_PREFIX": PREFIX}
        with running(command, port, env, "/health/ready") as base, running(bare_command, bare_port, bare_env) as bare:
            signed_in = httpx.post(base + "/auth/staff/sign-in", json={"username": OFFICER, "password": PASSWORD})
            officer = {"Authorization": f"Bearer {signed_in.json()['access_token']}"}
            wrk("warm-up", base + "/me", seconds=2, connections=args.connections, script=me_script)
            wrk("warm-up", base + "/me/cases", seconds=2, connections=args.connections, script=create_script)
            runs: dict[str, list[LoadResult]] = {"me": [], "create": [], "accept": [], "bare": []}
            offset = bare_offset = 0
            for _ in range(ROUNDS):
                runs["me"].append(wrk("me", base + "/me", seconds=round_seconds, connections=args.connections,
                                      script=me_script))
                runs["create"].append(wrk("create", base + "/me/cases", seconds=round_seconds,
                                          connections=args.connections, script=create_script))
                os.environ["CASE_OFFSET"] = str(offset)
                runs["accept"].append(wrk("accept", base + "/staff/cases", headers=officer, seconds=round_seconds,
                                          connections=args.connections, script=accept_script))
                os.environ["CASE_OFFSET"] = str(bare_offset)
                runs["bare"].append(wrk("bare", bare + "/staff/cases", headers=officer, seconds=round_seconds,
                                        connections=args.connections, script=bare_script))
                # Requests cut off at the end of a run were sent but are not counted: skip past them.
                offset += runs["accept"][-1].requests + 2 * args.connections
                bare_offset += runs["bare"][-1].requests + 2 * args.connections
    if max(offset, bare_offset) > cases:
        print(f"warning: {max(offset, bare_offset)} acceptances asked of {cases} prepared cases; the rest answered 409")
    baseline = combined("GET /me (baseline: JWT, revocation check, SELECT, audit append)", runs["me"])
    results = [combined("POST /me/cases (apply online, e-certificate as material)", runs["create"]),
               combined("POST /staff/cases/{id}/actions accept (state table, row lock, deadline)", runs["accept"]),
               combined("bare transition: the same rows, plain Litestar + asyncpg", runs["bare"])]
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
          f"wrk -t1 -c{args.connections}, {ROUNDS} alternating rounds of {round_seconds} s per target over "
          f"loopback; server workers: {args.workers}")
    print(report("Cross-province cases", results, baseline))
    for name in ("create", "accept", "bare"):
        # A round in which GET /me answered nothing (a stalled server) has no ratio; it is reported, not divided by.
        ratios = [r.requests_per_second / m.requests_per_second
                  for r, m in zip(runs[name], runs["me"], strict=True) if m.requests_per_second]
        if len(ratios) < ROUNDS:
            print(f"warning: {ROUNDS - len(ratios)} round(s) in which GET /me answered nothing were left out")
        p99 = [m.p99_ms / r.p99_ms for r, m in zip(runs[name], runs["me"], strict=True) if r.p99_ms]
        ratio = statistics.median(ratios)
        goal = "" if name == "bare" else f" (goal >= 0.5: {'met' if ratio >= 0.5 else 'NOT met'})"
        print(f"{name}: req/s ratio to GET /me round by round {', '.join(f'{r:.2f}' for r in ratios)}; median "
              f"{ratio:.2f}{goal}; p99 ratio (GET /me p99 / its p99) median {statistics.median(p99):.2f}")
    against_bare = [a.requests_per_second / b.requests_per_second
                    for a, b in zip(runs["accept"], runs["bare"], strict=True) if b.requests_per_second]
    print(f"accept against the bare transition, round by round {', '.join(f'{r:.2f}' for r in against_bare)}; "
          f"median {statistics.median(against_bare):.2f}")


if __name__ == "__main__":
    main()
