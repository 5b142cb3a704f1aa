"""Cross-province applications and my cases at a kiosk over HTTP: each a call into the cases service,
the phone's own (backend/cases), with the resident signed in at the kiosk as the actor. The kiosk adds
only what a touch screen needs (backend/kiosks/cases.py): the items it can fill by touch, their
questions with choices, and a form composed from the resident's record."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from backend.actors import Actor
from backend.cases.schemas import CasePage, CaseView, MaterialView, SupplementAnswer
from backend.config import Settings
from backend.container import Services
from backend.kiosks.cases import KioskApplication, KioskApplyGuide, KioskItem
from backend.kiosks.devices import Kiosk
from kiosk.context import ResidentAtKiosk
from mobile_api.cases import MULTIPART_ALLOWANCE
from mobile_api.idempotent import IDEMPOTENCY_PARAM, idempotent_create


@dataclass
class ScannedMaterial:
    file: UploadFile = field(metadata={"description": "What the kiosk's scanner made: a JPEG or a PDF"})
    kind: str | None = field(default=None, metadata={
        "description": "The receipt standard's material it is meant as (e.g. 居民户口簿)"})


def kiosk_case_controllers(settings: Settings) -> list[type[Controller]]:
    class KioskCaseController(ResidentAtKiosk):
        path = "/kiosk/v1"

        @get("/apply/items", operation_id="kioskApplyItems", summary="What I can apply for here",
             description="The items catalogue resolution offers for a matter of my home division at this kiosk's "
                         "division, in the mode a kiosk prefers (代收代办, else online, else joint), that the "
                         "screen can fill by touch: every required field is on my record or a choice.")
        async def items(self, services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                        actor: NamedDependency[Actor]) -> list[KioskItem]:
            return await services.kiosks.cases.items(kiosk, actor)

        @get("/apply/items/{item_code:str}", operation_id="kioskApplyGuide", summary="How to apply for an item here",
             description="The questions (one per form field, each with its choices), the materials of the receipt "
                         "standard with my e-certificates that may stand for each, and whether a phone must be "
                         "typed (none on record). 404 for an item not offered here.")
        async def guide(self, item_code: FromPath[str], services: NamedDependency[Services],
                        kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor]) -> KioskApplyGuide:
            return await services.kiosks.cases.guide(kiosk, actor, item_code)

        @post("/apply", operation_id="kioskApply", summary="Apply for an item at this kiosk",
              description="The answers and the materials; the form is completed from my record (name, ID number, "
                          "phone) and the case applied for through the cases service with this kiosk's division as "
                          "the receiving place and my home division as the handling place. Its checks and "
                          "problems are the phone's. `Idempotency-Key` honoured.")
        async def apply(self, request: Request[Any, Any, Any], data: JSONBody[KioskApplication],
                        services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                        actor: NamedDependency[Actor],
                        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[CaseView]:
            async def create() -> CaseView:
                return await services.cases.apply(await services.kiosks.cases.application(kiosk, actor, data), actor)

            return await idempotent_create(request, services, actor, create)

        @get("/me/cases", operation_id="kioskMyCases", summary="My cases (at a kiosk)",
             description="Newest first, with state and deadline: the cases service's own list.")
        async def my_cases(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                           limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
                           offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> CasePage:
            return await services.cases.my_cases(actor, limit=limit, offset=offset)

        @get("/me/cases/{case_id:uuid}", operation_id="kioskMyCase", summary="One of my cases (at a kiosk)",
             description="Its progress, what is asked of me now (a 补正: which materials and why), deadline, "
                         "decision. Audited.")
        async def my_case(self, case_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                          actor: NamedDependency[Actor]) -> CaseView:
            return await services.cases.my_case(case_id, actor)

        @post("/me/cases/{case_id:uuid}/supplement", operation_id="kioskAnswerSupplement", status_code=200,
              summary="Answer the 补正 request (at a kiosk)",
              description="Every material the open request lists, in one submission, as on the phone.")
        async def supplement(self, case_id: FromPath[uuid.UUID], data: JSONBody[SupplementAnswer],
                             services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CaseView:
            return await services.cases.supplement(case_id, data, actor)

    class KioskMaterialController(ResidentAtKiosk):
        """The scanner's file, up to `material_max_bytes` whatever `max_body_bytes` says (this route only)."""

        path = "/kiosk/v1"
        request_max_body_size = settings.material_max_bytes + MULTIPART_ALLOWANCE

        @post("/me/materials", operation_id="kioskUploadMaterial", summary="Keep a scanned material",
              description="One file from the kiosk's scanner, kept as the phone's uploads are (checked by content, "
                          "metadata removed, encrypted); name its `id` when applying or answering a 补正.")
        async def upload(self, data: Annotated[ScannedMaterial, Body(media_type=RequestEncodingType.MULTI_PART)],
                         services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Response[MaterialView]:
            content = await data.file.read()
            return Response(await services.cases.upload(actor, content, data.file.filename or "scan",
                                                        data.file.content_type or None, data.kind), status_code=201)

    return [KioskCaseController, KioskMaterialController]
