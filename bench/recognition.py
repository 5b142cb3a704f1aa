"""Pension recognition: phone recognition end to end against the face API alone, in the same run; and
silent recognition of a roster from a day's signs of life against reading those signs alone.

1. Phone recognition end to end — pre-check, liveness challenge, answer with a 9-frame burst, record
   (certificate, event) — through the app, `--clients` pensioners at once, against the face API alone
   (challenge and answer) with the same pensioners and bursts. Goal (#10): ratio ≥ 0.8.
2. Silent recognition of `--entries` roster entries (default 100,000) that each have a qualifying
   sign of life from the day: the whole run (records, certificates, events) against a scan of the
   candidates alone. Goal (#10): under 60 s for 100,000.

    DATABASE_URL=… REDIS_URL=… .venv/bin/python bench/recognition.py [--seconds 8] [--clients 4] [--entries 100000]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import gc
import hashlib
import logging
import os
import re
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import scratch_database, servers  # noqa: E402


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q / 100 * len(ordered)))] if ordered else float("nan")


async def start(admin_url: str, redis_url: str, name: str):
    from backend.config import load_settings
    from backend.container import Services
    from backend.migrate import apply_migrations
    from tests.face_samples import model_dir

    database_url = await scratch_database(admin_url, name)
    await apply_migrations(database_url)
    settings = load_settings({}, database_url=database_url, redis_url=redis_url, log_level="WARNING",
                             redis_prefix=f"bench-recognition-{os.getpid()}:", code_resend_seconds=0,
                             face_model_dir=str(model_dir()), db_pool_max=8, face_queue=64,
                             face_attempts_per_citizen_hour=1_000_000, face_attempts_per_citizen_day=1_000_000,
                             face_attempts_per_device_hour=1_000_000, face_attempts_per_session_hour=1_000_000,
                             face_attempts_per_address_hour=1_000_000)
    return await Services.start(settings)


async def agency(services) -> None:
    import msgspec

    from backend.actors import Actor
    from backend.certificates.schemas import AuthorityCreate
    from backend.eligibility.schemas import AgencySettings

    system = Actor.system()
    certificates = services.certificates.authorities
    await certificates.create_authority(msgspec.convert(
        {"id": "510000-rst", "name": "四川省人社厅", "certificate_types": ["pension_eligibility_record"]},
        AuthorityCreate), system)
    await certificates.create_key("510000-rst", system)
    await certificates.create_key(None, system)
    await services.eligibility.rosters.set_agency(system, "510000", AgencySettings(
        name="四川省社会保险事业管理局", authority_id="510000-rst", silent_signal_kinds=["medical_settlement"]))


# -- 1. phone recognition end to end ------------------------------------------------------------------

async def phone(admin_url: str, redis_url: str, seconds: float, clients: int, rounds: int = 4) -> list[str]:
    import httpx

    from backend.actors import Actor
    from backend.china_time import today
    from backend.eligibility.schemas import RosterEntryCreate
    from backend.identity.resident_id import check_character
    from backend.identity.schemas import CitizenRegistration, StaffCreate
    from mobile_api.app import create_app
    from tests.face_samples import POSES, burst, photo

    logging.disable(logging.INFO)
    services = await start(admin_url, redis_url, "tongban_bench_recognition")
    await services.face.start()
    try:
        await agency(services)
        system = Actor.system()
        await services.identity.create_staff(StaffCreate(
            username="bench.window", display_name="bench", password="bench-password-0123", role="receiving_officer",
            division_code="510000"), system)
        staff = await services.identity.sign_in_staff("bench.window", "bench-password-0123", "bench", system)
        transport = httpx.ASGITransport(app=create_app(services=services))
        people = []
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as client:
            for index in range(clients):
                phone_number = f"139{index:08d}"
                await services.identity.request_code(phone_number, "bench", Actor(kind="anonymous"))
                body = await services.db.pool.fetchval("SELECT body FROM sms_outbox ORDER BY id DESC LIMIT 1")
                first17 = f"510107{1950 + index:04d}0315{index % 1000:03d}"
                number = first17 + check_character(first17)
                tokens = await services.identity.register_citizen(CitizenRegistration(
                    phone=phone_number, code=re.search(r"\d{6}", body)[0], resident_id=number, name="压测",
                    home_division="510107"), Actor(kind="anonymous"))
                auth = {"Authorization": f"Bearer {tokens.access_token}"}
                me = (await client.get("/me", headers=auth)).json()
                enrolled = await client.put(f"/staff/citizens/{me['id']}/face-enrolment", data={"consent": "true"},
                                            files={"photo": ("p.jpg", photo("obama3.jpg"), "image/jpeg")},
                                            headers={"Authorization": f"Bearer {staff.access_token}"})
                assert enrolled.status_code == 200, enrolled.text
                assert (await client.put("/me/face-recognition-consent", headers=auth)).status_code == 200
                entry = await services.eligibility.rosters.add_entry(system, "510000", RosterEntryCreate(
                    resident_id=number, residence_division="330106", scheme="employee", next_due=today()))
                people.append({"token": tokens.access_token, "entry": entry.id})
            source = photo("obama.jpg")
            for pose in POSES:  # render every pose at every place of a burst once, before anything is timed
                burst(source, [pose] * 9)

            async def face_alone(person: dict) -> bool:
                headers = {"Authorization": f"Bearer {person['token']}"}
                challenge = (await client.post("/face/liveness/challenges", json={"movement": "any"},
                                               headers=headers)).json()
                actions = [s["action"] for s in challenge["steps"]]
                answer = await client.post(f"/face/liveness/challenges/{challenge['challenge_id']}/answer",
                                           files=_files(burst(source, _poses(actions))), headers=headers)
                person["token"] = answer.json()["tokens"]["access_token"] if answer.status_code == 200 else person["token"]
                return answer.status_code == 200

            async def end_to_end(person: dict) -> bool:
                headers = {"Authorization": f"Bearer {person['token']}"}
                precheck = (await client.get("/me/pension/precheck", headers=headers)).json()
                if not precheck["ready"]:
                    return False
                if not await face_alone(person):
                    return False
                recognised = await client.post("/me/pension/recognitions",
                                               headers={"Authorization": f"Bearer {person['token']}"})
                return recognised.status_code == 201

            async def reopen(person: dict) -> None:
                """Between flows, outside the timings: the entry is due again, as for the next pensioner."""
                await services.db.pool.execute("UPDATE pension_roster SET next_due = current_date WHERE id = $1",
                                               person["entry"])

            async def run(flow) -> tuple[float, list[float], int]:
                deadline = time.perf_counter() + seconds / rounds
                latencies: list[float] = []
                failures = 0
                busy = 0.0

                async def worker(person: dict) -> None:
                    nonlocal failures, busy
                    while time.perf_counter() < deadline:
                        started = time.perf_counter()
                        ok = await flow(person)
                        elapsed = time.perf_counter() - started
                        latencies.append(elapsed * 1000)
                        busy += elapsed
                        failures += not ok
                        await reopen(person)

                await asyncio.gather(*(worker(p) for p in people))
                # Flows per second of the clients' time in flows (the re-opening between them excluded).
                return len(latencies) / (busy / clients), latencies, failures

            for _ in range(3):  # warm-up: pools open, frames are rendered, caches fill
                for person in people:
                    assert await end_to_end(person), "a warm-up recognition failed"
                    await reopen(person)
            gc.collect()
            gc.freeze()
            # Alternate short rounds of each, so that a change in the machine's load falls on both alike.
            totals: dict[str, list] = {"alone": [0.0, [], 0], "e2e": [0.0, [], 0]}
            for _ in range(rounds):
                for name, flow in (("alone", face_alone), ("e2e", end_to_end)):
                    rate, latencies, failures = await run(flow)
                    totals[name][0] += rate / rounds
                    totals[name][1] += latencies
                    totals[name][2] += failures
            (alone_rate, alone_latencies, alone_failures), (e2e_rate, e2e_latencies, e2e_failures) = (
                totals["alone"], totals["e2e"])
    finally:
        await services.close()
    ratio = e2e_rate / alone_rate
    return ["### Phone recognition end to end against the face API alone", "",
            f"{clients} pensioners at once, {rounds} alternating rounds of {seconds / rounds:.0f} s each way; a flow "
            "is one 9-frame liveness burst.", "",
            "| flow | flows/s | p50 ms | p95 ms | failed |", "|---|---:|---:|---:|---:|",
            f"| face API alone: challenge + answer (baseline) | {alone_rate:.1f} | {percentile(alone_latencies, 50):.0f} | "
            f"{percentile(alone_latencies, 95):.0f} | {alone_failures} |",
            f"| recognition end to end: pre-check + challenge + answer + record | {e2e_rate:.1f} | "
            f"{percentile(e2e_latencies, 50):.0f} | {percentile(e2e_latencies, 95):.0f} | {e2e_failures} |", "",
            f"**Ratio end to end / face API alone: {ratio:.2f} flows/s** (goal ≥ 0.8); p95 "
            f"{percentile(alone_latencies, 95) / percentile(e2e_latencies, 95):.2f} of the baseline's speed."]


def _poses(actions: list[str]) -> list[str]:
    """Frontal, then each action and a return to frontal (frames are rendered once per pose and place)."""
    return ["frontal", *[pose for action in actions for pose in (action, "frontal")]]


def _files(frames: list[bytes]) -> list:
    return [("frames", (f"f{i}.jpg", frame, "image/jpeg")) for i, frame in enumerate(frames)]


# -- 2. silent recognition ---------------------------------------------------------------------------------

async def silent(admin_url: str, redis_url: str, entries: int) -> list[str]:
    from backend.china_time import today
    from backend.eligibility import repository
    from backend.eligibility.providers import CREDENTIAL_PURPOSE

    logging.disable(logging.INFO)
    services = await start(admin_url, redis_url, "tongban_bench_silent")
    try:
        await agency(services)
        day = today()
        fill_started = time.perf_counter()
        async with services.db.transaction() as conn:
            await repository.insert_provider(conn, "bench-medical", "医保", "330100", ["medical_settlement"],
                                             services.cipher.lookup_hash("x", purpose=CREDENTIAL_PURPOSE))
            ids = [uuid.uuid4() for _ in range(entries)]
            await conn.copy_records_to_table("citizens", columns=[
                "id", "resident_id_enc", "resident_id_hash", "resident_id_masked", "name", "phone_enc", "phone_hash",
                "phone_masked", "home_division", "birth_date"], records=[
                (ids[i], b"x", hashlib.sha256(b"r%d" % i).digest(), "5101**********0000", "压测",
                 b"x", hashlib.sha256(b"p%d" % i).digest(), "139****0000", "510107", dt.date(1950, 1, 1))
                for i in range(entries)])
            await conn.copy_records_to_table("pension_roster", columns=[
                "agency_division", "citizen_id", "residence_division", "scheme", "next_due"], records=[
                ("510000", ids[i], "330106", "employee", day + dt.timedelta(days=i % 60)) for i in range(entries)])
            await repository.insert_signals(conn, [
                ("bench-medical", ids[i], "medical_settlement", day - dt.timedelta(days=1), "330106", f"B{i}")
                for i in range(entries)])
        await services.db.pool.execute("ANALYZE")
        fill = time.perf_counter() - fill_started
        async with services.db.connection() as conn:
            started = time.perf_counter()
            scanned = 0
            after = None
            while rows := await repository.silent_candidates(conn, day, after, 500):
                scanned += len(rows)
                after = rows[-1]["id"]
            scan = time.perf_counter() - started
        run = await services.eligibility.silent_run(day)
        counts = await services.db.pool.fetchrow(
            """SELECT (SELECT count(*) FROM pension_recognitions) AS recognitions,
                      (SELECT count(*) FROM certificates) AS certificates,
                      (SELECT count(*) FROM event_outbox) AS events""")
    finally:
        await services.close()
    return ["### Silent recognition of a roster from a day's signs of life", "",
            f"{entries:,} roster entries, each with a medical settlement from yesterday (setting up took {fill:.0f} s).", "",
            "| step | seconds | entries/s |", "|---|---:|---:|",
            f"| reading the candidates alone (baseline) | {scan:.1f} | {scanned / scan:,.0f} |",
            f"| silent run: records, certificates, events, audit | {run.seconds:.1f} | {run.recognised / run.seconds:,.0f} |",
            "", f"**{run.recognised:,} recognised in {run.seconds:.1f} s** (goal < 60 s for 100,000), "
            f"{run.seconds / scan:.1f}× the scan alone; {counts['certificates']:,} certificates and "
            f"{counts['events']:,} events written."]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--entries", type=int, default=100_000)
    parser.add_argument("--only", choices=["phone", "silent"])
    args = parser.parse_args()
    with servers() as (admin_url, redis_url):
        lines: list[str] = []
        if args.only in (None, "phone"):
            lines += asyncio.run(phone(admin_url, redis_url, args.seconds, args.clients)) + [""]
        if args.only in (None, "silent"):
            lines += asyncio.run(silent(admin_url, redis_url, args.entries))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
