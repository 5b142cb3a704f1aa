"""The `tongban` command: serve, worker, migrate, demo-data, create-staff, certificates, kiosks, face,
events, pension, calendar, cases, audit verify and checkpoint."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING

import asyncpg
import msgspec

from backend.config import ConfigError, Settings, load_settings
from backend.container import Services
from backend.errors import DomainError
from backend.migrate import apply_migrations
from backend.runtime import EmbeddedServices, with_services

if TYPE_CHECKING:
    from backend.cases.exchange_records import ChainVerdict


def _progress(message: str) -> None:
    print(f"  {message}", file=sys.stderr, flush=True)


def _resolve(args: argparse.Namespace) -> tuple[Settings, EmbeddedServices]:
    settings, embedded = with_services(load_settings())
    if embedded.handles:
        _progress(f"embedded services under {Path(settings.data_dir).resolve()}")
    return settings, embedded


async def _with_services(settings: Settings, work: Callable[[Services], Awaitable[int]]) -> int:
    services = await Services.start(settings)
    try:
        return await work(services)
    finally:
        await services.close()


async def _migrate(settings: Settings) -> None:
    applied = await apply_migrations(settings.database_url or "", progress=_progress)
    _progress(f"{len(applied)} migration(s) applied" if applied else "database is up to date")


async def _demo(services: Services) -> int:
    if services.settings.is_production:
        raise ConfigError("demo data is never loaded in production mode")
    from backend.demo import load_demo_data

    await load_demo_data(services, progress=_progress)
    from kiosk.demo import load_demo_kiosk

    _progress("demo data: kiosk")
    await load_demo_kiosk(services, progress=_progress)
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    settings, _embedded = _resolve(args)
    asyncio.run(_migrate(settings))
    return 0


def cmd_demo_data(args: argparse.Namespace) -> int:
    settings, _embedded = _resolve(args)

    async def run() -> int:
        await _migrate(settings)
        return await _with_services(settings, _demo)

    return asyncio.run(run())


def cmd_create_staff(args: argparse.Namespace) -> int:
    from backend.actors import Actor
    from backend.identity.schemas import StaffCreate

    settings, _embedded = _resolve(args)
    password = os.environ.get("TONGBAN_NEW_STAFF_PASSWORD") or getpass.getpass("password: ")
    # Through msgspec, so the command line gets the same checks as the API (password length, …).
    form = msgspec.convert({"username": args.username, "display_name": args.display_name or args.username,
                            "password": password, "role": args.role, "division_code": args.division},
                           StaffCreate)

    async def work(services: Services) -> int:
        account = await services.identity.create_staff(form, Actor.system())
        print(f"created staff {account.username} ({account.role}, {account.division_code}) id={account.id}")
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_staff_disable(args: argparse.Namespace) -> int:
    from backend.actors import Actor

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        account = await services.identity.disable_staff(Actor.system(), username=args.username)
        print(f"disabled staff {account.username}; its sessions are ended")
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_audit_verify(args: argparse.Namespace) -> int:
    from backend.audit.checkpoints import CheckpointRefused, keys_from_jwks

    if args.checkpoint_keys and not args.checkpoint:
        print("--checkpoint-keys needs --checkpoint FILE", file=sys.stderr)
        return 2
    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        checkpoint = None
        if args.checkpoint:
            try:
                # With --checkpoint-keys, only the keys the auditor kept vouch: not the service's configuration.
                keys = keys_from_jwks(Path(args.checkpoint_keys).read_bytes()) if args.checkpoint_keys else None
                checkpoint = services.audit.open_checkpoint(Path(args.checkpoint).read_text(encoding="ascii"), keys)
            except (OSError, UnicodeDecodeError, CheckpointRefused) as exc:
                print(f"checkpoint {args.checkpoint} refused: {exc}", file=sys.stderr)
                return 2
        async with services.db.connection() as conn:
            report = await services.audit.verify(conn, checkpoint)
        if report.ok:
            against = f", not behind the checkpoint of {checkpoint.iat}" if checkpoint else ""
            print(f"audit chain intact: {report.entries} entries{against}")
            return 0
        print(f"audit chain BROKEN in chain {report.chain} at entry {report.first_bad_seq}: {report.problem} "
              f"({report.entries} entries verified before it)")
        return 1

    return asyncio.run(_with_services(settings, work))


def cmd_audit_checkpoint(args: argparse.Namespace) -> int:
    """Sign a checkpoint now and print it (a compact JWS) on stdout: keep it somewhere else."""
    from backend.actors import Actor

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        print(await services.audit.checkpoint(Actor.system()))
        return 0

    return asyncio.run(_with_services(settings, work))


def _print_keys(keys: list) -> None:
    for key in keys:
        listed = key.last_expiry.isoformat() if key.status == "retired" and key.last_expiry else "-"
        owner = key.authority_id or (f"province-{key.province}" if key.province else "(trust anchor)")
        print(f"{key.kid}  {key.purpose:<13} {owner:<16} {key.status:<9} "
              f"created {key.created_at:%Y-%m-%d}  listed until {listed}  id={key.id}")


def cmd_certificates(args: argparse.Namespace) -> int:
    """Issuing authorities and their signing keys; private keys are never printed."""
    import uuid

    import msgspec

    from backend.actors import Actor
    from backend.certificates.schemas import AuthorityCreate
    from backend.errors import DomainError

    settings, _embedded = _resolve(args)
    authority = None if getattr(args, "trust_anchor", False) else getattr(args, "authority", None)
    province = getattr(args, "exchange_province", None)

    async def work(services: Services) -> int:
        authorities, actor = services.certificates.authorities, Actor.system()
        try:
            if args.certificates_command == "create-authority":
                form = msgspec.convert({"id": args.id, "name": args.name, "certificate_types": args.types.split(",")},
                                       AuthorityCreate)
                created = await authorities.create_authority(form, actor)
                print(f"created authority {created.id} {created.name} ({', '.join(created.certificate_types)})")
            elif args.certificates_command == "create-key":
                _print_keys([await authorities.create_key(authority, actor, exchange_province=province)])
            elif args.certificates_command == "rotate-key":
                _print_keys(await authorities.rotate_key(authority, actor, immediately=args.now,
                                                         exchange_province=province))
            elif args.certificates_command == "withdraw-key":
                _print_keys([await authorities.withdraw_key(uuid.UUID(args.id), actor)])
            else:
                _print_keys(await authorities.list_keys(args.authority))
        except (DomainError, msgspec.ValidationError) as exc:
            print(f"tongban: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_with_services(settings, work))


def _print_kiosk(view) -> None:
    state = "SILENT" if view.silent else ("revoked" if view.status == "revoked" else "ok")
    heard = view.last_heartbeat_at.isoformat(timespec="seconds") if view.last_heartbeat_at else "never"
    print(f"{view.id}  {view.division_code}  {state:<7}  key {view.key_fingerprint} v{view.key_version}  "
          f"last heartbeat {heard}  {','.join(view.capabilities)}  {view.address}")


def _device_public_key(args: argparse.Namespace) -> str:
    """The public key to register: given, or read from a key file made on this machine (made now if missing)."""
    from kiosk.device.keys import DeviceKey

    if args.public_key:
        return args.public_key
    key = DeviceKey.load_or_create(Path(args.key_file))
    _progress(f"device key {args.key_file} (fingerprint {key.fingerprint}); only its public half is registered")
    return key.public_key


def cmd_kiosks(args: argparse.Namespace) -> int:
    """Kiosk devices: key pairs made on the device, registration of the public half, revocation, re-keying."""
    import uuid

    from backend.actors import Actor
    from backend.kiosks.schemas import KioskRegistration, KioskRekey, KioskRevocation
    from kiosk.device.keys import DeviceKey

    if args.kiosks_command == "keygen":
        key = DeviceKey.load_or_create(Path(args.key_file))
        print(f"public key {key.public_key}  fingerprint {key.fingerprint}  (private key stays in {args.key_file})")
        return 0
    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        devices, actor = services.kiosks.devices, Actor.system()
        try:
            if args.kiosks_command == "register":
                form = msgspec.convert({"division_code": args.division, "address": args.address,
                                        "capabilities": args.capabilities.split(","),
                                        "public_key": _device_public_key(args)}, KioskRegistration)
                _print_kiosk(await devices.register(form, actor))
            elif args.kiosks_command == "revoke":
                form = msgspec.convert({"reason": args.reason}, KioskRevocation)
                _print_kiosk(await devices.revoke(uuid.UUID(args.id), form, actor))
            elif args.kiosks_command == "rekey":
                form = msgspec.convert({"public_key": _device_public_key(args)}, KioskRekey)
                _print_kiosk(await devices.rekey(uuid.UUID(args.id), form, actor))
            else:
                staff = Actor(kind="staff", id="cli", role="admin", division=args.division)
                for view in await devices.kiosks_in_scope(staff, silent_only=args.silent):
                    _print_kiosk(view)
        except (DomainError, msgspec.ValidationError, ValueError) as exc:
            print(f"tongban: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_with_services(settings, work))


def _face_models(settings: Settings) -> dict[str, bytes]:
    """Convert (first time) and check the face models; a bad file is a configuration error."""
    from backend.face.policy import model_dir
    from ml_models.models import ModelError, prepare_all

    try:
        return prepare_all(model_dir(settings))
    except ModelError as exc:
        raise ConfigError(f"face models: {exc}") from None


def cmd_face_models(args: argparse.Namespace) -> int:
    from backend.face.policy import model_dir
    from ml_models.models import MODELS, content_digest

    settings = load_settings()
    files = _face_models(settings)
    for spec in MODELS:
        print(f"{content_digest(files[spec.name])}  {model_dir(settings) / spec.converted_file}  (content digest, checked)")
    return 0


def cmd_face_purge(args: argparse.Namespace) -> int:
    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        count = await services.face.purge_retained_photos()
        print(f"{count} retained face photo(s) past their retention deleted")
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_worker(args: argparse.Namespace) -> int:
    """Deliver events and run scheduled jobs until SIGTERM or SIGINT (then finish what is in hand)."""
    from backend.events.worker import Worker
    from backend.jobs import SCHEDULED_JOBS
    from backend.logs import configure_logging

    settings, _embedded = _resolve(args)
    configure_logging(settings.log_level)

    async def work(services: Services) -> int:
        worker = Worker(services, SCHEDULED_JOBS)
        if args.once:
            await worker.run_until_idle()
            return 0
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await worker.run(stop)
        return 0

    async def run() -> int:
        await _migrate(settings)
        return await _with_services(settings, work)

    return asyncio.run(run())


def _start_worker() -> subprocess.Popen[bytes]:
    """The development worker beside `serve`, with the same environment (database, Redis, settings)."""
    return subprocess.Popen([sys.executable, "-m", "backend.cli", "worker"], env=os.environ.copy())


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL if it has not ended within 20 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cmd_events(args: argparse.Namespace) -> int:
    """Webhook subscribers and dead deliveries from the command line (acting as the system)."""
    import msgspec

    from backend.actors import Actor
    from backend.events.schemas import SubscriberCreate

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        events, actor = services.events, Actor.system()
        try:
            if args.events_command == "add-subscriber":
                form = msgspec.convert({"name": args.name, "url": args.url, "kinds": args.kinds.split(","),
                                        "division": args.division}, SubscriberCreate)
                created = await events.create_subscriber(form, actor)
                print(f"created webhook subscriber {created.subscriber.name} id={created.subscriber.id}")
                print(f"secret (shown once, keep it safe): {created.secret}")
            elif args.events_command == "rotate-secret":
                subscriber = await events.subscriber_by_name(args.name)
                rotated = await events.rotate_secret(actor, subscriber.id)
                print(f"new secret for {args.name} (the old one signs too until "
                      f"{rotated.subscriber.previous_secret_until:%Y-%m-%d %H:%M} UTC): {rotated.secret}")
            elif args.events_command == "list-subscribers":
                for sub in await events.list_subscribers(actor):
                    print(f"{sub.name:<24} {'active' if sub.active else 'paused':<7} {sub.division} "
                          f"{','.join(sub.kinds):<30} pending={sub.pending} dead={sub.dead}  {sub.url}")
            elif args.events_command == "redeliver":
                subscriber = await events.subscriber_by_name(args.subscriber) if args.subscriber else None
                ids = await events.redeliver(actor, delivery_id=args.delivery,
                                             subscriber_id=subscriber.id if subscriber else None)
                print(f"{len(ids)} dead deliver{'y' if len(ids) == 1 else 'ies'} due again")
            else:
                status = await events.status()
                print(f"deliveries pending: {status.pending}, dead: {status.dead}, oldest pending since: "
                      f"{status.oldest_pending_at or '-'}")
                for job in status.jobs:
                    print(f"job {job.name:<28} every {job.interval_seconds} s, next {job.next_run_at:%Y-%m-%d %H:%M:%S}, "
                          f"last {job.last_outcome or '-'}: {job.last_summary or '-'}")
        except (DomainError, msgspec.ValidationError) as exc:
            print(f"tongban: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_pension(args: argparse.Namespace) -> int:
    """Data providers, a provider's signs of life (the demo feed) and silent recognition, as the system."""
    import datetime as dt

    import msgspec

    from backend.actors import Actor
    from backend.eligibility.schemas import ProviderCreate, SignalReport

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        eligibility = services.eligibility
        try:
            if args.pension_command == "add-provider":
                form = msgspec.convert({"id": args.id, "name": args.name, "division": args.division,
                                        "signal_kinds": args.kinds.split(",")}, ProviderCreate)
                created = await eligibility.providers.register(Actor.system(), form)
                print(f"registered data provider {created.provider.id} ({', '.join(created.provider.signal_kinds)})")
                print(f"credential (shown once, for the X-Provider-Key header): {created.credential}")
            elif args.pension_command == "signal":
                report = msgspec.convert({"resident_id": args.resident_id, "kind": args.kind,
                                          "occurred_on": args.date or dt.date.today().isoformat(),
                                          "place_division": args.place, "source_reference": args.reference},
                                         SignalReport)
                provider = Actor(kind="system", id=f"data-provider:{args.provider}", role="data_provider")
                await eligibility.providers.report(provider, report)
                print(f"sign of life from {args.provider} recorded ({args.kind}, {report.occurred_on})")
            else:
                run = await eligibility.silent_run(progress=_progress)
                print(f"silent recognition: {run.recognised} of {run.examined} open entries recognised "
                      f"in {run.seconds} s")
        except (DomainError, msgspec.ValidationError) as exc:
            print(f"tongban: {getattr(exc, 'detail', exc)}", file=sys.stderr)
            return 1
        return 0

    return asyncio.run(_with_services(settings, work))


def cmd_calendar(args: argparse.Namespace) -> int:
    """Working-day calendar: load a year table (JSON or CSV, docs/cases.md) or list the loaded years."""
    from backend.actors import Actor
    from backend.calendar.working_days import read_year_tables

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        if args.calendar_command == "load":
            try:
                tables = read_year_tables(Path(args.file), source=args.source)
            except DomainError as exc:
                for error in getattr(exc, "errors", []):
                    print(f"tongban: {args.file} {error.pointer}: {error.detail}", file=sys.stderr)
                return 1
            await services.calendar.load(Actor.system(), tables)
        for year in await services.calendar.loaded_years():
            print(f"{year.year}  {year.holidays} holiday(s), {year.working_days} adjusted working day(s)  "
                  f"loaded {year.loaded_at:%Y-%m-%d %H:%M} by {year.loaded_by}  source: {year.source}")
        return 0

    return asyncio.run(_with_services(settings, work))


def _print_verdict(verdict: ChainVerdict) -> int:
    for warning in verdict.warnings:
        _progress(f"warning: {warning}")
    if verdict.ok:
        held = f"; held by {verdict.holder}" if verdict.holder else ""
        print(f"exchange chain of case {verdict.case_number} intact: {verdict.entries} entries{held}")
        return 0
    print(f"exchange chain of case {verdict.case_number} BROKEN at entry {verdict.position}: {verdict.reason}: "
          f"{verdict.detail} ({verdict.entries} entries verified before it)")
    return 1


def cmd_cases(args: argparse.Namespace) -> int:
    """Hand-over exchange records: export a case's chain, verify it (from the database or a file)."""
    from backend.cases.exchange_records import decode_bundle, verify_chain
    from backend.certificates.trust_lists import ListRefused, anchors_from_jwks, read_trust_list

    if args.cases_command == "verify-exchanges" and args.file:
        # Offline: only the file, the pinned anchors and (optionally) a newer trust list; no database.
        if not args.anchors:
            print("--file needs --anchors: the trust anchors you pinned, to check the file's trust list with",
                  file=sys.stderr)
            return 2
        try:
            case_number, entries, token = decode_bundle(Path(args.file).read_bytes())
            if args.trust_list:
                token = Path(args.trust_list).read_text(encoding="ascii").strip()
            trust = read_trust_list(token, anchors_from_jwks(Path(args.anchors).read_bytes()))
        except (ValueError, ListRefused, OSError) as exc:
            print(f"cannot verify: {exc}", file=sys.stderr)
            return 2
        if case_number != args.case:
            print(f"the file holds case {case_number}, not {args.case}", file=sys.stderr)
            return 2
        return _print_verdict(verify_chain(args.case, entries, trust))

    from backend.cases.exchanges import CaseExchanges

    settings, _embedded = _resolve(args)

    async def work(services: Services) -> int:
        certificates = services.certificates
        exchanges = CaseExchanges(services.db, services.audit, certificates.vault, certificates.lists)
        try:
            if args.cases_command == "export-exchanges":
                sys.stdout.buffer.write(msgspec.json.encode(await exchanges.export(args.case)) + b"\n")
                return 0
            return _print_verdict(await exchanges.verify(args.case))
        except (DomainError, ListRefused) as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2

    return asyncio.run(_with_services(settings, work))


def cmd_serve(args: argparse.Namespace) -> int:
    from granian import Granian
    from granian.constants import Interfaces

    _face_models(load_settings())  # refuse to start on a missing or altered model, naming the file
    settings, embedded = _resolve(args)
    os.environ["DATABASE_URL"] = settings.database_url or ""
    os.environ["REDIS_URL"] = settings.redis_url or ""
    if args.workers > 1:
        # Workers share metrics through files, so /metrics counts every worker's requests.
        metrics_dir = Path(settings.data_dir) / "metrics"
        shutil.rmtree(metrics_dir, ignore_errors=True)
        metrics_dir.mkdir(parents=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir.resolve())

    async def prepare() -> None:
        await _migrate(settings)
        if args.demo_data:
            await _with_services(settings, _demo)
            os.environ["TONGBAN_KIOSK_DEMO_DEVICE"] = "1"  # the demo kiosk's UI works with the simulator

    asyncio.run(prepare())
    host, port = args.host or settings.host, args.port or settings.port
    print(f"Tongban API docs: http://{host}:{port}/docs  (workers: {args.workers})", flush=True)
    # In development one event worker runs beside the API; in production run `tongban worker` yourself.
    worker = _start_worker() if args.worker and not settings.is_production else None
    try:
        Granian("mobile_api.app:create_app", address=host, port=port, interface=Interfaces.ASGI,
                workers=args.workers, factory=True, log_access=False,
                log_level="warning").serve()  # type: ignore[arg-type]
    finally:
        if worker is not None:
            stop_process(worker)
        embedded.close()
    return 0


def _port(text: str) -> int:
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a port from 1 to 65535")
    return int(text)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tongban", description="Cross-province government services")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="migrate and run the API")
    serve.add_argument("--host")
    serve.add_argument("--port", type=_port)
    serve.add_argument("--workers", type=int, default=1)
    serve.add_argument("--demo-data", action="store_true", help="load demonstration data first")
    serve.add_argument("--no-worker", dest="worker", action="store_false",
                       help="do not start the event worker beside the API (development starts one)")
    serve.set_defaults(run=cmd_serve)

    worker = sub.add_parser("worker", help="deliver events and run scheduled jobs until stopped")
    worker.add_argument("--once", action="store_true", help="do what is due now, then exit")
    worker.set_defaults(run=cmd_worker)

    sub.add_parser("migrate", help="apply database migrations").set_defaults(run=cmd_migrate)
    sub.add_parser("demo-data", help="load demonstration data").set_defaults(run=cmd_demo_data)

    staff = sub.add_parser("create-staff", help="create a staff account (password from "
                                                "TONGBAN_NEW_STAFF_PASSWORD or a prompt)")
    staff.add_argument("--username", required=True)
    staff.add_argument("--display-name")
    staff.add_argument("--role", required=True,
                       choices=["receiving_officer", "handling_officer", "supervisor", "admin", "pension_officer"])
    staff.add_argument("--division", required=True, help="GB/T 2260 code; 000000 for national scope")
    staff.set_defaults(run=cmd_create_staff)

    accounts = sub.add_parser("staff", help="staff accounts")
    accounts_sub = accounts.add_subparsers(dest="staff_command", required=True)
    disable = accounts_sub.add_parser("disable", help="disable an account and end its sessions at once")
    disable.add_argument("username")
    disable.set_defaults(run=cmd_staff_disable)

    certificates = sub.add_parser("certificates", help="issuing authorities and signing keys")
    cert_sub = certificates.add_subparsers(dest="certificates_command", required=True)
    authority = cert_sub.add_parser("create-authority", help="register an issuing authority")
    authority.add_argument("--id", required=True, help="<division>-<department>, e.g. 330000-rst")
    authority.add_argument("--name", required=True)
    authority.add_argument("--types", required=True, help="comma-separated certificate type codes it issues")
    for name, text in (("create-key", "make a standby key (activating the oldest standby one if none is in service)"),
                       ("rotate-key", "retire the key in service and activate a standby key verifiers already hold")):
        command = cert_sub.add_parser(name, help=text)
        owner = command.add_mutually_exclusive_group(required=True)
        owner.add_argument("--authority", help="issuing authority id")
        owner.add_argument("--trust-anchor", action="store_true", help="the key signing the published lists")
        owner.add_argument("--exchange-province", metavar="CODE",
                           help="a province's key signing case hand-over records, e.g. 330000")
        if name == "rotate-key":
            command.add_argument("--now", action="store_true",
                                 help="activate a standby (or new) key even if verifiers may not hold it yet")
    withdraw = cert_sub.add_parser("withdraw-key", help="take a compromised key out of every list now")
    withdraw.add_argument("--id", required=True, help="key id (from list-keys)")
    listing = cert_sub.add_parser("list-keys", help="keys with kid, status and how long they stay listed")
    listing.add_argument("--authority")
    certificates.set_defaults(run=cmd_certificates)
    kiosks = sub.add_parser("kiosks", help="township self-service kiosks: device keys and registration")
    kiosk_sub = kiosks.add_subparsers(dest="kiosks_command", required=True)
    keygen = kiosk_sub.add_parser("keygen", help="on the device: make its Ed25519 key pair (if missing), print the "
                                                 "public key to register")
    keygen.add_argument("--key-file", required=True, help="where the private key lives on the device (mode 0600)")
    register = kiosk_sub.add_parser("register", help="register a device by its public key")
    register.add_argument("--division", required=True, help="GB/T 2260 code of the kiosk's place")
    register.add_argument("--address", required=True)
    register.add_argument("--capabilities", required=True, help="comma-separated: reader,camera,printer,scanner")
    rekey = kiosk_sub.add_parser("rekey", help="replace a device's public key after it made a new key pair")
    rekey.add_argument("--id", required=True, help="kiosk id (the keyid it signs with)")
    for command in (register, rekey):
        given = command.add_mutually_exclusive_group(required=True)
        given.add_argument("--public-key", help="the device's public key (from `tongban kiosks keygen` on it)")
        given.add_argument("--key-file", help="a key file on this machine, made now if missing (development)")
    revoke = kiosk_sub.add_parser("revoke", help="refuse a device's requests from now on")
    revoke.add_argument("--id", required=True)
    revoke.add_argument("--reason", required=True)
    listing = kiosk_sub.add_parser("list", help="kiosks with their last heartbeat; silent ones first")
    listing.add_argument("--division", default="000000")
    listing.add_argument("--silent", action="store_true", help="only kiosks without a recent heartbeat")
    kiosks.set_defaults(run=cmd_kiosks)
    face = sub.add_parser("face", help="face verification tools")
    face_sub = face.add_subparsers(dest="face_command", required=True)
    face_sub.add_parser("models", help="convert (once) and check the face models").set_defaults(run=cmd_face_models)
    face_sub.add_parser("purge", help="delete retained face photos past their retention").set_defaults(
        run=cmd_face_purge)

    events = sub.add_parser("events", help="webhook subscribers and event deliveries")
    events_sub = events.add_subparsers(dest="events_command", required=True)
    add = events_sub.add_parser("add-subscriber", help="register a webhook receiver (prints its secret once)")
    add.add_argument("--name", required=True)
    add.add_argument("--url", required=True)
    add.add_argument("--kinds", required=True, help="comma-separated event kinds, `prefix.*` or `*`")
    add.add_argument("--division", required=True, help="events of this division and below; 000000 for all")
    rotate = events_sub.add_parser("rotate-secret", help="new signing secret (the old one signs 24 h more)")
    rotate.add_argument("--name", required=True)
    events_sub.add_parser("list-subscribers", help="subscribers with pending and dead deliveries")
    redeliver = events_sub.add_parser("redeliver", help="send dead deliveries again")
    target = redeliver.add_mutually_exclusive_group(required=True)
    target.add_argument("--delivery", type=int, help="one delivery id")
    target.add_argument("--subscriber", help="every dead delivery of this subscriber (by name)")
    events_sub.add_parser("status", help="deliveries waiting and dead, scheduled jobs")
    events.set_defaults(run=cmd_events)

    pension = sub.add_parser("pension", help="data providers, signs of life and silent recognition")
    pension_sub = pension.add_subparsers(dest="pension_command", required=True)
    provider = pension_sub.add_parser("add-provider", help="register a data provider (prints its credential once)")
    provider.add_argument("--id", required=True)
    provider.add_argument("--name", required=True)
    provider.add_argument("--division", required=True)
    provider.add_argument("--kinds", required=True, help="comma-separated kinds of signs it reports")
    signal_ = pension_sub.add_parser("signal", help="record a sign of life as a registered provider (demo feed)")
    signal_.add_argument("--provider", required=True)
    signal_.add_argument("--resident-id", required=True)
    signal_.add_argument("--kind", required=True)
    signal_.add_argument("--date", help="YYYY-MM-DD; default today")
    signal_.add_argument("--place", required=True, help="division code where it happened")
    signal_.add_argument("--reference", required=True, help="the provider's own reference")
    pension_sub.add_parser("silent-run", help="silent recognition now (the worker runs it every 6 hours)")
    pension.set_defaults(run=cmd_pension)

    calendar = sub.add_parser("calendar", help="working-day calendar: public holidays and adjusted working days")
    calendar_sub = calendar.add_subparsers(dest="calendar_command", required=True)
    load = calendar_sub.add_parser("load", help="load year tables (JSON or CSV); each replaces its year")
    load.add_argument("file")
    load.add_argument("--source", help="where the schedule comes from (a CSV's default: the file's name)")
    load.set_defaults(run=cmd_calendar)
    calendar_sub.add_parser("list", help="the loaded years").set_defaults(run=cmd_calendar)

    cases = sub.add_parser("cases", help="cases: signed hand-over exchange records")
    cases_sub = cases.add_subparsers(dest="cases_command", required=True)
    verify = cases_sub.add_parser("verify-exchanges", help="check a case's chain of signed hand-overs with the "
                                                           "published trust list")
    verify.add_argument("case", help="case number")
    verify.add_argument("--file", help="an export file (`export-exchanges`): verify it offline, without a database")
    verify.add_argument("--anchors", help="with --file: the pinned trust anchors (JWK Set, as served at "
                                          "/.well-known/tongban/trust-anchors)")
    verify.add_argument("--trust-list", help="with --file: a newer signed trust list than the file's")
    export = cases_sub.add_parser("export-exchanges", help="write a case's chain and the signed trust list (JSON)")
    export.add_argument("case", help="case number")
    cases.set_defaults(run=cmd_cases)

    audit = sub.add_parser("audit", help="audit log tools")
    audit_sub = audit.add_subparsers(dest="audit_command", required=True)
    verify = audit_sub.add_parser("verify", help="check the hash chain (exit 1 if broken)")
    verify.add_argument("--checkpoint", metavar="FILE",
                        help="a signed checkpoint kept elsewhere: also report a rollback to before it")
    verify.add_argument("--checkpoint-keys", metavar="FILE",
                        help="with --checkpoint: the checkpoint keys' JWK Set kept with it (as served at "
                             "/.well-known/tongban/audit-checkpoint-keys), instead of the service's configured keys")
    verify.set_defaults(run=cmd_audit_verify)
    audit_sub.add_parser("checkpoint", help="sign every chain's head now and print the checkpoint").set_defaults(
        run=cmd_audit_checkpoint)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except ConfigError as exc:
        print(f"tongban: {exc}", file=sys.stderr)
        return 2
    except (DomainError, msgspec.ValidationError) as exc:
        print(f"tongban: {exc}", file=sys.stderr)
        return 1
    except (OSError, EOFError, ValueError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
        # What the operator gave or set up (a file, an id, a closed input, the database's address or state):
        # said in one line, not traced like a defect.
        print(f"tongban: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
