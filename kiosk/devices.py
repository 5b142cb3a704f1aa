"""Kiosk devices over HTTP: the device's own signed calls (heartbeat, configuration), the admins'
registration, revocation, re-keying and configuration, and the staff view of kiosks in scope."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency, Provide
from litestar.openapi import ResponseSpec
from litestar.params import FromPath, FromQuery, JSONBody

from backend.actors import Actor
from backend.container import Services
from backend.kiosks.devices import KIOSK_ADMINS, KIOSK_VIEWERS, Kiosk
from backend.kiosks.schemas import (
    Heartbeat,
    HeartbeatAnswer,
    KioskConfiguration,
    KioskRegistration,
    KioskRekey,
    KioskRevocation,
    KioskView,
    PrintJobView,
    PrintOutcome,
)
from kiosk.context import SIGNED, kiosk_guard, provide_kiosk, provide_kiosk_actor
from kiosk.residents import RESIDENT_CONTROLLERS
from mobile_api.context import staff_guard
from mobile_api.idempotent import IDEMPOTENCY_PARAM, idempotent_create
from mobile_api.identity import BEARER

KIOSK_DEPENDENCIES = {"kiosk": Provide(provide_kiosk), "actor": Provide(provide_kiosk_actor)}


class KioskDeviceController(Controller):
    path = "/kiosk/v1"
    tags = ["kiosk"]
    guards = [kiosk_guard]
    dependencies = KIOSK_DEPENDENCIES
    security = SIGNED

    @post("/heartbeat", operation_id="kioskHeartbeat", summary="Report the kiosk's health",
          description="The device reports its reader, camera, scanner and printer (paper) every "
                      "`heartbeat_seconds`; the answer carries its configuration (idle timeout, enabled tasks, "
                      "language, font scale) and how many print jobs wait for it.", status_code=200)
    async def heartbeat(self, data: JSONBody[Heartbeat], services: NamedDependency[Services],
                        kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor]) -> HeartbeatAnswer:
        return await services.kiosks.devices.heartbeat(kiosk, data, actor)

    @post("/printer/take", operation_id="kioskTakePrintJob", summary="Take the next print job",
          description="The oldest job waiting for this kiosk's printer (queued, or waiting for paper), now marked "
                      "printing; 204 when there is none.", status_code=200,
          responses={204: ResponseSpec(None, description="No job is waiting")})
    async def take(self, services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                   actor: NamedDependency[Actor]) -> Response[PrintJobView | None]:
        job = await services.kiosks.printing.take(kiosk, actor)
        return Response(job, status_code=200 if job else 204)

    @get("/printer/jobs/{job_id:uuid}/document", operation_id="kioskPrintDocument", summary="The page to print",
         description="Rendered now (A4 PNG at 150 dpi) for a job this kiosk has taken.", media_type="image/png")
    async def document(self, job_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       kiosk: NamedDependency[Kiosk]) -> Response[bytes]:
        return Response(await services.kiosks.printing.document(kiosk, job_id), media_type="image/png")

    @post("/printer/jobs/{job_id:uuid}/outcome", operation_id="kioskPrintOutcome", summary="Report what was printed",
          description="`printed` ends the job; `out-of-paper`, `paper-jam` or `printer-offline` make it wait, to be "
                      "taken again once the printer is ready; `failed` ends it unprinted.", status_code=200)
    async def outcome(self, job_id: FromPath[uuid.UUID], data: JSONBody[PrintOutcome],
                      services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                      actor: NamedDependency[Actor]) -> PrintJobView:
        return await services.kiosks.printing.report(kiosk, actor, job_id, data)


class AdminKioskController(Controller):
    path = "/admin/kiosks"
    tags = ["kiosk"]
    guards = [staff_guard(*KIOSK_ADMINS)]
    security = BEARER

    @post("/", operation_id="registerKiosk", summary="Register a kiosk",
          description="An admin registers a device inside their division by the Ed25519 public key the device "
                      "made (`tongban kiosks keygen` on the device); the private key never leaves it. The answer's "
                      "`key_id` is the `keyid` the device signs with. Send an `Idempotency-Key` for safe retries.")
    async def register(self, request: Request[Any, Any, Any], data: JSONBody[KioskRegistration],
                       services: NamedDependency[Services], actor: NamedDependency[Actor],
                       idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[KioskView]:
        return await idempotent_create(request, services, actor, lambda: services.kiosks.devices.register(data, actor))

    @post("/{kiosk_id:uuid}/revocation", operation_id="revokeKiosk", summary="Revoke a kiosk",
          description="Its signed requests are refused from now on (`kiosk-revoked`) and residents' open sessions "
                      "at it end.", status_code=200)
    async def revoke(self, kiosk_id: FromPath[uuid.UUID], data: JSONBody[KioskRevocation],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> KioskView:
        return await services.kiosks.devices.revoke(kiosk_id, data, actor)

    @put("/{kiosk_id:uuid}/key", operation_id="rekeyKiosk", summary="Replace a kiosk's public key",
         description="After the device made a new key pair: the old key stops verifying at once.")
    async def rekey(self, kiosk_id: FromPath[uuid.UUID], data: JSONBody[KioskRekey],
                    services: NamedDependency[Services], actor: NamedDependency[Actor]) -> KioskView:
        return await services.kiosks.devices.rekey(kiosk_id, data, actor)

    @put("/{kiosk_id:uuid}/configuration", operation_id="configureKiosk", summary="Configure a kiosk",
         description="Idle timeout and its warning, enabled tasks, language, font scale, heartbeat interval; the "
                     "kiosk receives it with its next heartbeat answer.")
    async def configure(self, kiosk_id: FromPath[uuid.UUID], data: JSONBody[KioskConfiguration],
                        services: NamedDependency[Services], actor: NamedDependency[Actor]) -> KioskView:
        return await services.kiosks.devices.configure(kiosk_id, data, actor)


class StaffKioskController(Controller):
    path = "/staff/kiosks"
    tags = ["kiosk"]
    guards = [staff_guard(*KIOSK_VIEWERS)]
    security = BEARER

    @get("/", operation_id="listKiosks", summary="Kiosks in my division",
         description="Every kiosk inside the caller's division with its health and last heartbeat; `silent` marks "
                     "those without a heartbeat for three intervals, listed first. `silent=true` lists only those.")
    async def list_kiosks(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                          silent: FromQuery[bool] = False) -> list[KioskView]:
        return await services.kiosks.devices.kiosks_in_scope(actor, silent_only=silent)

    @get("/{kiosk_id:uuid}", operation_id="getKiosk", summary="One kiosk",
         description="A kiosk inside the caller's division (else 404, as for a missing one).")
    async def get_kiosk(self, kiosk_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> KioskView:
        return await services.kiosks.devices.kiosk_view(kiosk_id, actor)


KIOSK_CONTROLLERS = [KioskDeviceController, AdminKioskController, StaffKioskController, *RESIDENT_CONTROLLERS]
