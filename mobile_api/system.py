"""Health, problem-type documentation, the audit chain check and its published checkpoints."""

from __future__ import annotations

import asyncio
import os
from typing import Any

import msgspec
from litestar import Controller, Response, get
from litestar.di import NamedDependency
from litestar.exceptions import NotFoundException
from litestar.params import FromPath

from backend.actors import Actor
from backend.audit.checkpoints import CheckpointKeySet
from backend.container import Services
from backend.errors import problem_catalogue
from mobile_api.context import staff_guard
from mobile_api.problems import HTTP_PROBLEMS, PROBLEM_BASE


class Check(msgspec.Struct):
    name: str
    ok: bool
    detail: str | None = None


class Readiness(msgspec.Struct):
    status: str
    checks: list[Check]


class ProblemDoc(msgspec.Struct):
    type: str
    title: str
    status: int


class AuditChainReport(msgspec.Struct):
    ok: bool
    entries: int
    chain: int | None
    first_bad_seq: int | None
    problem: str | None


async def _check(name: str, probe: Any) -> Check:
    try:
        await asyncio.wait_for(probe, timeout=2)
        return Check(name, True)
    except Exception as exc:  # a failed probe is the answer, not an error
        return Check(name, False, type(exc).__name__)


def _problem_docs() -> dict[str, ProblemDoc]:
    docs = {cls.slug: ProblemDoc(PROBLEM_BASE + cls.slug, cls.title, cls.status) for cls in problem_catalogue()}
    for status, (slug, title) in HTTP_PROBLEMS.items():
        docs.setdefault(slug, ProblemDoc(PROBLEM_BASE + slug, title, status))
    return docs


class HealthController(Controller):
    path = "/health"
    tags = ["operations"]

    @get("/live", operation_id="liveness", summary="The process is running",
         description="Always 200; names the worker process that answered.")
    async def live(self) -> dict[str, str | int]:
        return {"status": "ok", "worker": os.getpid()}

    @get("/ready", operation_id="readiness", summary="Ready to serve",
         description="200 when PostgreSQL and Redis answer and the face models were loaded and checked at "
                     "start-up; 503 with the failing check otherwise.")
    async def ready(self, services: NamedDependency[Services]) -> Response[Readiness]:
        checks = list(await asyncio.gather(
            _check("postgresql", services.db.pool.fetchval("SELECT 1")),
            _check("redis", services.ephemeral.client.ping()),
        ))
        models = services.face.engine.models_report()
        checks.append(Check("face-models", models is not None, models or "not loaded"))
        ok = all(c.ok for c in checks)
        return Response(Readiness("ok" if ok else "unavailable", checks), status_code=200 if ok else 503)


class ProblemController(Controller):
    path = "/problems"
    tags = ["operations"]

    @get("/", operation_id="listProblemTypes", summary="Every problem type this API returns",
         description="The `type` of each problem-details response resolves to one of these.")
    async def list_types(self) -> list[ProblemDoc]:
        return sorted(_problem_docs().values(), key=lambda d: d.type)

    @get("/{slug:str}", operation_id="getProblemType", summary="One problem type",
         description="What a problem `type` URI means.")
    async def get_type(self, slug: FromPath[str]) -> ProblemDoc:
        doc = _problem_docs().get(slug)
        if doc is None:
            raise NotFoundException(f"no problem type {slug}")
        return doc


class AuditController(Controller):
    path = "/admin/audit"
    tags = ["admin"]
    guards = [staff_guard("admin", "supervisor")]
    security = [{"bearer": []}]

    @get("/verify", operation_id="verifyAuditChain", summary="Check the audit chain",
         description="Walks the whole chain and reports the first changed, inserted or deleted entry.")
    async def verify(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> AuditChainReport:
        async with services.db.connection() as conn:
            report = await services.audit.verify(conn)
        async with services.db.transaction() as conn:
            await services.audit.record(conn, actor, "audit.verified", "audit_log", None,
                                        detail={"ok": report.ok, "entries": report.entries})
        return AuditChainReport(report.ok, report.entries, report.chain, report.first_bad_seq, report.problem)


JOSE = "application/jose"


class AuditCheckpointController(Controller):
    path = "/.well-known/tongban"
    tags = ["operations"]

    @get("/audit-checkpoint", operation_id="getAuditCheckpoint", summary="The latest signed audit checkpoint",
         description="A compact JWS (EdDSA, `typ: tongban-audit-checkpoint`) of every audit chain's head (seq and "
                     "MAC), signed every 15 minutes. Keep copies: `tongban audit verify --checkpoint FILE` shows a "
                     "database rolled back to before one. 404 until the first is signed.", media_type=JOSE)
    async def checkpoint(self, services: NamedDependency[Services]) -> Response[str]:
        token = await services.audit.latest_checkpoint()
        if token is None:
            raise NotFoundException("no audit checkpoint has been signed yet")
        return Response(token, media_type=JOSE, headers={"Cache-Control": "no-cache"})

    @get("/audit-checkpoint-keys", operation_id="getAuditCheckpointKeys", summary="Audit checkpoint public keys",
         description="The JWK Set of the Ed25519 keys of audit checkpoints: the `active` one, which signs new "
                     "checkpoints, then the `retired` ones, which signed earlier checkpoints that still verify. A "
                     "checkpoint names its key by `kid` in its JWS header. Keep a copy: `tongban audit verify "
                     "--checkpoint FILE --checkpoint-keys KEYS` checks a kept checkpoint against it.")
    async def keys(self, services: NamedDependency[Services]) -> CheckpointKeySet:
        return services.audit.checkpoint_keys()


SYSTEM_CONTROLLERS = [HealthController, ProblemController, AuditController, AuditCheckpointController]
