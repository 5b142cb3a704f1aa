"""Cross-province cases (办件) over HTTP: the citizen applies, follows, withdraws and answers a 补正;
staff at the receiving and handling places act on the cases in their divisions."""

from __future__ import annotations

import uuid
from urllib.parse import quote
from typing import Annotated, Any

from dataclasses import dataclass, field

from litestar import Controller, Request, Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody, QueryParameter

from backend.config import Settings

from backend.actors import Actor
from backend.cases.schemas import (
    CaseApplication,
    CasePage,
    CaseState,
    CaseView,
    DueList,
    MaterialView,
    MessageCreate,
    MessageView,
    ResultAuthority,
    StaffAction,
    StaffCaseView,
    SupplementAnswer,
    TaskCompletion,
    TaskView,
    TransitionView,
    Withdrawal,
)
from backend.cases.exchange_records import ExchangeBundle
from backend.cases.workflow import CASE_READERS
from backend.container import Services
from mobile_api.context import citizen_guard, staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM


class CaseStateController(Controller):
    path = "/case-states"
    tags = ["cases"]

    @get("/", operation_id="listCaseTransitions", summary="The case state table",
         description="Every allowed move: from a state, an action leads to a state, for the roles and modes listed "
                     "(`citizen` is the applicant). Nothing else moves a case.")
    async def table(self, services: NamedDependency[Services]) -> list[TransitionView]:
        return await services.cases.state_table()


# Room for the multipart framing and form fields around one material of the largest size allowed.
MULTIPART_ALLOWANCE = 256 * 1024


@dataclass
class MaterialUpload:
    file: UploadFile = field(metadata={"description": "One PNG, JPEG or PDF (type judged by content)"})
    kind: str | None = field(default=None, metadata={
        "description": "The receipt standard's material this is meant as (e.g. 居民户口簿), for the citizen's own list"})


def material_controller(settings: Settings) -> type[Controller]:
    """The upload route, taking one material of up to `material_max_bytes` whatever `max_body_bytes` says."""

    class MyMaterialController(Controller):
        path = "/me/materials"
        tags = ["cases"]
        guards = [citizen_guard()]
        security = BEARER
        request_max_body_size = settings.material_max_bytes + MULTIPART_ALLOWANCE

        @post("/", operation_id="uploadMaterial", summary="Upload one material",
              description="One file per request (multipart field `file`): PNG, JPEG or PDF judged by content, whole, "
                          "within the size and pixel limits, PDFs unencrypted; EXIF and similar removed. The same file "
                          "again is the same material. Name its `id` when applying or answering a 补正; a material "
                          "may serve later cases too. Audited.")
        async def upload(self, data: Annotated[MaterialUpload, Body(media_type=RequestEncodingType.MULTI_PART)],
                         services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Response[MaterialView]:
            content = await data.file.read()
            return Response(await services.cases.upload(actor, content, data.file.filename or "material",
                                                        data.file.content_type or None, data.kind), status_code=201)

    return MyMaterialController


async def _download(services: Services, case_id: uuid.UUID, material_id: uuid.UUID, actor: Actor) -> Response[bytes]:
    content, media_type, name = await services.cases.download(case_id, material_id, actor)
    return Response(content, media_type=media_type,
                    headers={"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name)}",
                             "Cache-Control": "no-store"})


class MyCaseController(Controller):
    path = "/me/cases"
    tags = ["cases"]
    guards = [citizen_guard()]
    security = BEARER

    @post("/", operation_id="applyForCase", summary="Apply for an item (办件申请)",
          description="For an item, a receiving division (收件地) and a handling division (办理地), in a mode offered "
                      "there today as catalogue resolution says (`422 mode-not-offered` otherwise). The form is checked "
                      "against the item's schema for the handling place; `materials` name every material of the receipt "
                      "standard, each an upload or one of your e-certificates of a type that may replace it. Answers the "
                      "case with its national number. Audited; send an `Idempotency-Key` for safe retries.")
    async def apply(self, request: Request[Any, Any, Any], data: JSONBody[CaseApplication],
                    services: NamedDependency[Services], actor: NamedDependency[Actor],
                    idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[CaseView]:
        return await idempotent_create(request, services, actor, lambda: services.cases.apply(data, actor))

    @get("/", operation_id="listMyCases", summary="My cases", description="Newest first, with state and deadline.")
    async def mine(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                   limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
                   offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> CasePage:
        return await services.cases.my_cases(actor, limit=limit, offset=offset)

    @get("/{case_id:uuid}", operation_id="getMyCase", summary="One of my cases",
         description="Its timeline (step, time, division — never who), what is asked of you now, the deadline, "
                     "materials, 补正 requests, decision and delivery. Audited.")
    async def get_case(self, case_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> CaseView:
        return await services.cases.my_case(case_id, actor)

    @post("/{case_id:uuid}/withdrawal", operation_id="withdrawMyCase", summary="Withdraw before the decision",
          description="`409 invalid-transition` once the case is decided. Audited.", status_code=200)
    async def withdraw(self, case_id: FromPath[uuid.UUID], data: JSONBody[Withdrawal],
                       services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CaseView:
        return await services.cases.withdraw(case_id, data, actor)

    @get("/{case_id:uuid}/materials/{material_id:uuid}", operation_id="downloadMyCaseMaterial",
         summary="Download a material of my case", description="An uploaded material by its id on the case. Audited.",
         media_type="application/octet-stream")
    async def download(self, case_id: FromPath[uuid.UUID], material_id: FromPath[uuid.UUID],
                       services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Response[bytes]:
        return await _download(services, case_id, material_id, actor)

    @post("/{case_id:uuid}/supplement", operation_id="answerSupplementRequest", summary="Answer the 补正 request",
          description="Every material the open request lists, in one submission (422 naming each one missing). "
                      "The deadline's clock resumes. Audited.", status_code=200)
    async def supplement(self, case_id: FromPath[uuid.UUID], data: JSONBody[SupplementAnswer],
                         services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CaseView:
        return await services.cases.supplement(case_id, data, actor)


class StaffCaseController(Controller):
    path = "/staff/cases"
    tags = ["cases"]
    guards = [staff_guard(*CASE_READERS)]
    security = BEARER

    @get("/", operation_id="staffListCases", summary="Cases in my divisions",
         description="Cases whose receiving or handling division, or a coordination task's division, is within yours, "
                     "newest first (by when each was made, so acting on a case does not move it between pages). "
                     "Audited.")
    async def list_cases(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                         states: Annotated[list[CaseState] | None, QueryParameter(name="state")] = None,
                         limit: Annotated[int, QueryParameter(ge=1, le=200)] = 50,
                         offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> CasePage:
        return await services.cases.staff_cases(actor, states=states, limit=limit, offset=offset)

    @get("/due", operation_id="staffDueCases", summary="Overdue and due-soon cases",
         description="Cases handled in your division (or `division`, inside it) whose clock runs: those past their "
                     "deadline and those due within `days` working days. A deadline counted over a year without a "
                     "holiday table says `calendar_estimated`.")
    async def due(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                  division: Annotated[str | None, QueryParameter(pattern=r"^[0-9]{6}(?!\n)$")] = None,
                  days: Annotated[int, QueryParameter(ge=0, le=30)] = 3) -> DueList:
        return await services.cases.due(actor, division=division, days=days)

    @get("/{case_id:uuid}", operation_id="staffGetCase", summary="Read a case",
         description="With the applicant (masked), liaison messages, coordination tasks, the data requests your "
                     "divisions made for it and the actions you may take now. A case outside your divisions answers "
                     "404 as a missing one does. Audited.")
    async def get_case(self, case_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> StaffCaseView:
        return await services.cases.staff_case(case_id, actor)

    @post("/{case_id:uuid}/actions", operation_id="staffActOnCase", summary="Act on a case",
          description="One move of the state table (`GET /case-states`), named by `action`: receive, refuse_receipt, "
                      "hand_over (receiving officers of the receiving division); accept, refuse, start_review, "
                      "request_supplement, approve, reject, send_result (handling officers of the handling division); "
                      "deliver, close (a result sent back is delivered by the receiving place). `409 invalid-transition` "
                      "when the case's state does not allow it (of two actions at once, one wins). Approving an item "
                      "whose result is an e-certificate issues it. Audited; the view answered lists the data requests "
                      "your divisions made for the case.",
          status_code=200)
    async def act(self, case_id: FromPath[uuid.UUID], data: JSONBody[StaffAction],
                  services: NamedDependency[Services], actor: NamedDependency[Actor]) -> StaffCaseView:
        return await services.cases.act(case_id, data, actor)

    @get("/{case_id:uuid}/materials/{material_id:uuid}", operation_id="staffDownloadCaseMaterial",
         summary="Download a material of a case", media_type="application/octet-stream",
         description="Staff whose division the case's receiving, handling or coordination division lies in. Audited.")
    async def download(self, case_id: FromPath[uuid.UUID], material_id: FromPath[uuid.UUID],
                       services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Response[bytes]:
        return await _download(services, case_id, material_id, actor)

    @get("/{case_id:uuid}/exchanges", operation_id="staffExportCaseExchanges", summary="The case's signed exchange chain",
         description="Every signed exchange record of the case (hand-overs, countersigns, 多地联办 shares and tasks done, "
                     "the result's way back) with the signed trust list: the file `tongban cases export-exchanges` "
                     "writes, which `tongban cases verify-exchanges CASE --file F --anchors A` or any verifier "
                     "following docs/cases.md checks offline. Empty `entries` for a case that never changed hands. "
                     "Staff whose division the case's receiving, handling or coordination division lies in. Audited.")
    async def exchanges(self, case_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> ExchangeBundle:
        return await services.cases.exchange_chain(case_id, actor)

    @post("/{case_id:uuid}/messages", operation_id="postCaseMessage", summary="Liaison message",
          description="Between the staff of the places on the case; never shown to the applicant. Audited; send an "
                      "`Idempotency-Key` for safe retries.")
    async def message(self, request: Request[Any, Any, Any], case_id: FromPath[uuid.UUID],
                      data: JSONBody[MessageCreate], services: NamedDependency[Services],
                      actor: NamedDependency[Actor],
                      idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[MessageView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.cases.post_message(case_id, data, actor))

    @post("/{case_id:uuid}/tasks/{task_id:uuid}/completion", operation_id="completeCoordinationTask",
          summary="Report a coordination task done", status_code=200,
          description="多地联办: officers of the task's division report their part done; the case is decided only "
                      "when every task is done. Audited.")
    async def complete_task(self, case_id: FromPath[uuid.UUID], task_id: FromPath[uuid.UUID],
                            data: JSONBody[TaskCompletion], services: NamedDependency[Services],
                            actor: NamedDependency[Actor]) -> TaskView:
        return await services.cases.complete_task(case_id, task_id, data, actor)


class CaseAdminController(Controller):
    path = "/staff/case-result-authorities"
    tags = ["cases"]
    guards = [staff_guard("admin")]
    security = BEARER

    @put("/", operation_id="mapResultAuthority", summary="Name the authority that signs an item's result",
         description="For cases of `item_code` handled within `division_code` (the most specific mapping wins). "
                     "Admins whose division contains it. Audited.")
    async def map_authority(self, data: JSONBody[ResultAuthority], services: NamedDependency[Services],
                            actor: NamedDependency[Actor]) -> ResultAuthority:
        return await services.cases.map_result_authority(data, actor)


def case_controllers(settings: Settings) -> list[type[Controller]]:
    return [CaseStateController, MyCaseController, material_controller(settings), StaffCaseController,
            CaseAdminController]
