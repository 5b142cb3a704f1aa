"""The data-sharing gateway over HTTP: providers and purposes (public), a citizen's own records, their
previews, log and consents, and agencies' requests."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from backend.actors import Actor
from backend.container import Services
from backend.identifiers import PROVIDER_ID
from backend.sharing.gateway import REQUESTERS
from backend.sharing.schemas import (
    AgencyRequest,
    ConsentCreate,
    ConsentView,
    Evidence,
    Preview,
    ProviderView,
    PurposeView,
    RequestView,
    SharedEvidence,
)
from mobile_api.context import citizen_guard, staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM

ProviderPath = Annotated[str, PathParameter(pattern=PROVIDER_ID,
                                            description="a provider of the gateway")]


class DataSharingController(Controller):
    path = "/data-sharing"
    tags = ["data-sharing"]

    @get("/purposes", operation_id="listDataPurposes", summary="Purposes a request may name",
         description="Every request for a person's data names one of these.")
    async def purposes(self, services: NamedDependency[Services]) -> list[PurposeView]:
        return services.sharing.gateway.purposes()

    @get("/providers", operation_id="listGatewayProviders", summary="Registered data providers",
         description="Each provider's dataset, declared fields, and for every purpose it serves the fields it may "
                     "release (SAMPLE demo providers); `registered` says whether it is active in the registry.")
    async def providers(self, services: NamedDependency[Services]) -> list[ProviderView]:
        return await services.sharing.gateway.providers()


class MyRecordsController(Controller):
    path = "/me"
    tags = ["data-sharing"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/records/{provider:str}", operation_id="queryMyRecord", summary="My record at a provider",
         description="Asks the provider now (purpose `self-query`) and answers the structured data with a "
                     "human-readable copy; `found: false` when it holds no record of me. A provider that cannot be "
                     "reached or is too slow answers 503 `provider-unavailable` / 504 `provider-timeout`, with "
                     "nothing partial. Logged in my data-request log and audited.")
    async def my_record(self, provider: ProviderPath, services: NamedDependency[Services], actor: NamedDependency[Actor],
                        fields: Annotated[list[str] | None, QueryParameter(
                            description="only these fields (repeat the parameter)")] = None) -> Evidence:
        return await services.sharing.gateway.query_mine(actor, provider, fields)

    @get("/data-requests", operation_id="listMyDataRequests", summary="Who asked what about me",
         description="My log: every request for my records — who asked, which provider and fields, when, for which "
                     "purpose on which basis, and what was shared. Audited.")
    async def log(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                  limit: Annotated[int, QueryParameter(ge=1, le=100)] = 20,
                  offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> list[RequestView]:
        return await services.sharing.previews.log(actor, limit, offset)

    @get("/data-requests/{request_id:uuid}", operation_id="previewDataRequest", summary="Preview an agency's request",
         description="What would be shared, with whom and why, and the evidence itself while I decide. Audited.")
    async def preview(self, request_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> Preview:
        return await services.sharing.previews.preview(actor, request_id)

    @post("/data-requests/{request_id:uuid}/acceptance", operation_id="acceptDataRequest",
          summary="Share the previewed evidence", status_code=200,
          description="The agency may read the evidence from now on (kept 30 days). An expired preview answers 410 "
                      "`preview-expired`.")
    async def accept(self, request_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> RequestView:
        return await services.sharing.previews.decide(actor, request_id, "accept")

    @post("/data-requests/{request_id:uuid}/refusal", operation_id="refuseDataRequest",
          summary="Refuse to share", status_code=200, description="The evidence is erased; nothing is shared.")
    async def refuse(self, request_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> RequestView:
        return await services.sharing.previews.decide(actor, request_id, "refuse")

    @post("/data-consents", operation_id="giveDataConsent", summary="Consent to an agency's requests",
          description="An agency (a division) may ask the named providers for my records for the named purposes, "
                      "for a number of days; each request still comes to me as a preview. Send an `Idempotency-Key` "
                      "for safe retries.")
    async def give_consent(self, request: Request[Any, Any, Any], data: JSONBody[ConsentCreate],
                           services: NamedDependency[Services], actor: NamedDependency[Actor],
                           idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[ConsentView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.sharing.previews.give_consent(actor, data))

    @get("/data-consents", operation_id="listMyDataConsents", summary="My consents", description="With status.")
    async def consents(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[ConsentView]:
        return await services.sharing.previews.consents(actor)

    @delete("/data-consents/{consent_id:uuid}", operation_id="withdrawDataConsent", summary="Withdraw a consent",
            status_code=200, description="Requests citing it are refused from now on.")
    async def withdraw(self, consent_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> ConsentView:
        return await services.sharing.previews.withdraw_consent(actor, consent_id)


class StaffDataRequestController(Controller):
    path = "/staff/data-requests"
    tags = ["data-sharing"]
    guards = [staff_guard(*REQUESTERS, "supervisor")]
    security = BEARER

    @post("/", operation_id="requestCitizenData", summary="Ask for a citizen's record",
          description="Names the citizen (resident ID, in the body), the provider, the purpose and exactly one basis: "
                      "a legal reference or the citizen's consent, and optionally the case it is for by its national "
                      "number. Fields a purpose does not release answer 422 `purpose-not-served`; a consent that does not "
                      "cover the request 403 `consent-not-covering`; a case that is missing or outside your divisions 422 "
                      "at `#/case_number`, alike. The provider's answer waits as a preview for the citizen. Send an "
                      "`Idempotency-Key` for safe retries.", guards=[staff_guard(*REQUESTERS)])
    async def create(self, request: Request[Any, Any, Any], data: JSONBody[AgencyRequest],
                     services: NamedDependency[Services], actor: NamedDependency[Actor],
                     idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RequestView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.sharing.gateway.request(actor, data))

    @get("/{request_id:uuid}", operation_id="getCitizenDataRequest", summary="My agency's request and its evidence",
         description="The evidence (structured and human-readable) once the citizen accepted; nothing while awaiting, "
                     "refused or expired. Staff of the requesting division. Audited.")
    async def get_request(self, request_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                          actor: NamedDependency[Actor]) -> SharedEvidence:
        return await services.sharing.gateway.agency_view(actor, request_id)


SHARING_CONTROLLERS = [DataSharingController, MyRecordsController, StaffDataRequestController]
