"""Annual filings (年审年报) over HTTP: kinds (public), the filer's organisations, obligations and
filings, and staff registering organisations and obligations and overseeing filings in their division."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody, PathParameter, QueryParameter

from backend.actors import Actor
from backend.container import Services
from backend.filings.organisations import FILING_READERS, REGISTRARS
from backend.filings.schemas import (
    AmendmentCreate,
    DraftChange,
    DraftCreate,
    FilerGrant,
    FilingSummary,
    FilingView,
    KindView,
    MyOrganisation,
    ObligationCreate,
    ObligationPeriods,
    ObligationView,
    OrganisationRegistration,
    OrganisationView,
    Overview,
    PeriodStatus,
    RepresentativeView,
)
from backend.identifiers import CREDIT_CODE, DIVISION, TYPE_CODE
from mobile_api.context import citizen_guard, staff_guard
from mobile_api.idempotent import idempotent_create
from mobile_api.identity import BEARER, IDEMPOTENCY_PARAM

CreditCode = Annotated[str, PathParameter(pattern=CREDIT_CODE, description="GB 32100 unified social credit code")]
PDF = "application/pdf"


class FilingKindController(Controller):
    path = "/filing-kinds"
    tags = ["filings"]

    @get("/", operation_id="listFilingKinds", summary="Kinds of annual obligation and their forms",
         description="Each kind (SAMPLE data): whom it binds, its window rule and legal basis, the fields the service "
                     "fills in from the record (`bound_fields`, never sent by the filer) and the form schema a "
                     "filing meets (the catalogue item's national one; a province's variant may differ).")
    async def kinds(self, services: NamedDependency[Services]) -> list[KindView]:
        return await services.filings.obligations.kinds()


class MyOrganisationController(Controller):
    path = "/me/organisations"
    tags = ["filings"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/", operation_id="listMyOrganisations", summary="Organisations I act for",
         description="As legal representative or as an authorised filer.")
    async def mine(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[MyOrganisation]:
        return await services.filings.organisations.my_organisations(actor)

    @get("/{credit_code:str}/representatives", operation_id="listOrganisationRepresentatives",
         summary="Who acts for my organisation", description="For its legal representative. Audited.")
    async def representatives(self, credit_code: CreditCode, services: NamedDependency[Services],
                              actor: NamedDependency[Actor]) -> OrganisationView:
        return await services.filings.organisations.representatives(credit_code, actor)

    @post("/{credit_code:str}/filers", operation_id="grantOrganisationFiler", summary="Authorise a filer",
          description="The legal representative authorises a registered citizen (by resident ID, in the body) to file "
                      "for the organisation; at most five at a time. Needs assurance L2. Audited; send an "
                      "`Idempotency-Key` for safe retries.", guards=[citizen_guard("L2")])
    async def grant(self, request: Request[Any, Any, Any], credit_code: CreditCode, data: JSONBody[FilerGrant],
                    services: NamedDependency[Services], actor: NamedDependency[Actor],
                    idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RepresentativeView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.filings.organisations.grant_filer(credit_code, data, actor))

    @delete("/{credit_code:str}/filers/{representative_id:uuid}", operation_id="revokeOrganisationFiler",
            summary="Withdraw a filer's authority", description="At once; the legal representative only. Audited.",
            status_code=204)
    async def revoke(self, credit_code: CreditCode, representative_id: FromPath[uuid.UUID],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> None:
        await services.filings.organisations.revoke_filer(credit_code, representative_id, actor)


class MyFilingController(Controller):
    path = "/me"
    tags = ["filings"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/obligations", operation_id="listMyObligations", summary="What I must file, period by period",
         description="My own obligations and those of the organisations I act for, each with its recent periods: "
                     "window, and status `not-open`, `due`, `filed`, `late` or `missing`, with the open draft and "
                     "the current filing.")
    async def obligations(self, services: NamedDependency[Services],
                          actor: NamedDependency[Actor]) -> list[ObligationPeriods]:
        return await services.filings.obligations.mine(actor)

    @get("/obligations/{obligation_id:uuid}/filings", operation_id="listObligationFilings",
         summary="Filings of one obligation", description="Drafts, submissions and amendments, newest period first.")
    async def filings_of(self, obligation_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                         actor: NamedDependency[Actor]) -> list[FilingSummary]:
        return await services.filings.filings.filings_of(obligation_id, actor)

    @post("/filings", operation_id="startFiling", summary="Start a filing (a draft)",
          description="For a period whose window has opened (`409 filing-window-not-open` before). Bound fields are "
                      "filled in by the service; `problems` says what submitting would be refused for. Send an "
                      "`Idempotency-Key` for safe retries.")
    async def start(self, request: Request[Any, Any, Any], data: JSONBody[DraftCreate],
                    services: NamedDependency[Services], actor: NamedDependency[Actor],
                    idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[FilingView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.filings.filings.create_draft(data, actor))

    @get("/filings/{filing_id:uuid}", operation_id="getMyFiling", summary="One filing",
         description="Its fields (phones and resident IDs masked), state and receipt. Audited.")
    async def get_filing(self, filing_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                         actor: NamedDependency[Actor]) -> FilingView:
        return await services.filings.filings.my_filing(filing_id, actor)

    @patch("/filings/{filing_id:uuid}", operation_id="saveFilingDraft", summary="Save a draft",
           description="A JSON merge patch of the draft's form (`null` removes a field).")
    async def save(self, filing_id: FromPath[uuid.UUID], data: JSONBody[DraftChange],
                   services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FilingView:
        return await services.filings.filings.change_draft(filing_id, data, actor)

    @delete("/filings/{filing_id:uuid}", operation_id="discardFilingDraft", summary="Discard a draft",
            description="Deletes the draft; a submitted filing is never deleted.", status_code=204)
    async def discard(self, filing_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> None:
        await services.filings.filings.discard_draft(filing_id, actor)

    @post("/filings/{filing_id:uuid}/submission", operation_id="submitFiling", summary="Submit a draft",
          description="Checks the whole form against the kind's schema (422 naming each field). After the window has "
                      "closed the filing is accepted and marked `late`; a period filed already answers 409 "
                      "`filing-exists`. Answers the filing with its receipt number.", status_code=200)
    async def submit(self, filing_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> FilingView:
        return await services.filings.filings.submit(filing_id, actor)

    @post("/filings/{filing_id:uuid}/amendments", operation_id="amendFiling", summary="Amend a submitted filing",
          description="Opens a draft holding the filing's fields, changed by `form` (a merge patch). Submitting it "
                      "supersedes the filing, which is kept as it was. Send an `Idempotency-Key` for safe retries.")
    async def amend(self, request: Request[Any, Any, Any], filing_id: FromPath[uuid.UUID],
                    data: JSONBody[AmendmentCreate], services: NamedDependency[Services],
                    actor: NamedDependency[Actor],
                    idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[FilingView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.filings.filings.amend(filing_id, data, actor))

    @get("/filings/{filing_id:uuid}/receipt.pdf", operation_id="getFilingReceipt", summary="A filing's receipt (PDF)",
         description="回执: receipt number, subject, period, window, when and by whom, on time or late, the fields and "
                     "the form's SHA-256. At most 30 a minute. Audited.", media_type=PDF)
    async def receipt(self, filing_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> Response[bytes]:
        return Response(await services.filings.filings.receipt(filing_id, actor), media_type=PDF)


class StaffFilingController(Controller):
    path = "/staff"
    tags = ["filings"]
    guards = [staff_guard(*FILING_READERS)]
    security = BEARER

    @post("/organisations", operation_id="registerOrganisation", summary="Register an organisation",
          description="Handling officers and admins of the code's registration division record an organisation and "
                      "its legal representative (a registered citizen, by resident ID). Audited; send an "
                      "`Idempotency-Key` for safe retries.", guards=[staff_guard(*REGISTRARS)])
    async def register_organisation(
        self, request: Request[Any, Any, Any], data: JSONBody[OrganisationRegistration],
        services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[OrganisationView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.filings.organisations.register(data, actor))

    @get("/organisations/{credit_code:str}", operation_id="staffGetOrganisation", summary="Read an organisation",
         description="With who acts for it; staff whose division covers its registration division. Audited.")
    async def get_organisation(self, credit_code: CreditCode, services: NamedDependency[Services],
                               actor: NamedDependency[Actor]) -> OrganisationView:
        return await services.filings.organisations.staff_view(credit_code, actor)

    @put("/organisations/{credit_code:str}/legal-representative", operation_id="replaceLegalRepresentative",
         summary="Record a new legal representative",
         description="Handling officers and admins of the registration division; the previous representative stops "
                     "acting for the organisation at once (the filers they authorised stay). The resident ID travels in "
                     "the body. Audited.", guards=[staff_guard(*REGISTRARS)])
    async def replace_legal_representative(self, credit_code: CreditCode, data: JSONBody[FilerGrant],
                                           services: NamedDependency[Services],
                                           actor: NamedDependency[Actor]) -> OrganisationView:
        return await services.filings.organisations.replace_legal_representative(credit_code, data, actor)

    @post("/filing-obligations", operation_id="registerFilingObligation", summary="Register an annual obligation",
          description="An organisation (by credit code) or a citizen (by resident ID) must file a kind every year "
                      "from `first_period`. Handling officers and admins, for a receiving division inside theirs. "
                      "Audited; send an `Idempotency-Key` for safe retries.", guards=[staff_guard(*REGISTRARS)])
    async def register_obligation(
        self, request: Request[Any, Any, Any], data: JSONBody[ObligationCreate], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[ObligationView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.filings.obligations.register(data, actor))

    @get("/filings", operation_id="staffFilingOverview", summary="Filings due, filed, late and missing",
         description="Obligations of a kind in your division (or a division inside it) with the status of one period "
                      "today, counts per status, and one page of rows (pass `next_after` as `after`). Audited.")
    async def overview(
        self, services: NamedDependency[Services], actor: NamedDependency[Actor],
        kind: Annotated[str, QueryParameter(pattern=TYPE_CODE)],
        period: Annotated[int, QueryParameter(ge=2000, le=2100)],
        status: Annotated[PeriodStatus | None, QueryParameter()] = None,
        division: Annotated[str | None, QueryParameter(pattern=DIVISION)] = None,
        after: Annotated[uuid.UUID | None, QueryParameter()] = None,
        limit: Annotated[int, QueryParameter(ge=1, le=500)] = 100,
    ) -> Overview:
        return await services.filings.obligations.overview(actor, kind=kind, period=period, status=status,
                                                           division=division, after=after, limit=limit)

    @get("/filings/{filing_id:uuid}", operation_id="staffGetFiling", summary="Read a submitted filing",
         description="Staff whose division covers the receiving division; drafts stay the filer's. Audited.")
    async def get_filing(self, filing_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                         actor: NamedDependency[Actor]) -> FilingView:
        return await services.filings.filings.staff_filing(filing_id, actor)


FILING_CONTROLLERS = [FilingKindController, MyOrganisationController, MyFilingController, StaffFilingController]
