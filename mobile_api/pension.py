"""Pension eligibility recognition over HTTP: the pensioner and their authorised relatives on phones,
paying-agency officers running rosters, residence-division staff assisting and visiting, data
providers reporting signs of life."""

from __future__ import annotations

import hashlib
import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, patch, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, HeaderParameter, JSONBody, Parameter

from backend.actors import Actor
from backend.container import Services
from backend.eligibility.roster import AGENCY_ROLES, RESIDENCE_ROLES, ROSTER_ROLES
from backend.eligibility.schemas import (
    AgencySettings,
    AgencyView,
    BookingCreate,
    BookingView,
    DeclarationForm,
    DecisionView,
    DivisionSummary,
    FaceConsentView,
    Offers,
    PensionStatus,
    Precheck,
    ProviderCreate,
    ProviderCredential,
    ProviderView,
    RecognitionView,
    RelativeAuthorise,
    RelativeView,
    RosterEntryCreate,
    RosterEntryUpdate,
    RosterEntryView,
    SignalReceipt,
    SignalReport,
    Standing,
    Status,
    SuspensionRequest,
    VisitKind,
)
from backend.errors import ValidationFailed
from backend.face.schemas import ChallengeRequest, LivenessChallenge
from backend import identifiers
from mobile_api.context import citizen_guard, client_address, staff_guard
from mobile_api.face import (
    ANSWER_PROBLEMS,
    CHALLENGE_ID_PARAM,
    DEVICE_PARAM,
    FACE_EXCEPTION_HANDLERS,
    MULTIPART,
    FramesForm,
    client_of,
    proof_of,
)
from mobile_api.idempotent import IDEMPOTENCY_PARAM, idempotent_create
from mobile_api.identity import BEARER

DIVISION = Parameter(pattern=identifiers.DIVISION, description="GB/T 2260 code of the paying agency")
PROVIDER_KEY = HeaderParameter(name="X-Provider-Key", required=True,
                               description="The provider's credential `<provider id>:<secret>`")


def _burst_content(frames: list[bytes]) -> bytes:
    """What identifies a multipart burst for `Idempotency-Key` (its body was parsed as a form)."""
    return b"".join(hashlib.sha256(frame).digest() for frame in frames)


class PensionController(Controller):
    path = "/me"
    tags = ["pension"]
    guards = [citizen_guard()]
    security = BEARER
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/pension", operation_id="getMyPensionStatus", summary="My pension recognition status",
         description="Recognised or not, when, by which method and from what source (silent ones included), the "
                     "next due date and what to do now. Audited.")
    async def status(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> PensionStatus:
        return await services.eligibility.status(actor)

    @get("/pension/precheck", operation_id="precheckMyPensionRecognition", summary="Pre-check before recognising",
         description="Every reason a recognition would fail or be rejected later — not on a roster, stopped, not "
                     "yet open, no face enrolment, no face consent, attempts used up, roster data to fix — each in "
                     "Chinese and English with what to do, and the methods still open. Spends nothing.")
    async def precheck(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Precheck:
        return await services.eligibility.precheck(actor)

    @get("/pension/offers", operation_id="getMyPensionOffers", summary="Other ways to be recognised",
         description="After face checks fail: the nearest service windows and kiosks of my residence division, "
                     "family proxy, and booking an assisted or home visit.")
    async def offers(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> Offers:
        return await services.eligibility.offers(actor)

    @post("/pension/recognitions", operation_id="recogniseMyPension", summary="Be recognised with my phone",
          description="After passing a liveness challenge (`/face/liveness/...`) this session is at L3; this records "
                      "the recognition with that check's scores as evidence, issues the pension-eligibility "
                      "e-certificate and tells the paying agency. Needs L3 (`step-up-required`) and the separate "
                      "face-recognition consent. Send an `Idempotency-Key` for safe retries.",
          guards=[citizen_guard("L3")])
    async def recognise(
        self, request: Request[Any, Any, Any], services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[RecognitionView]:
        return await idempotent_create(request, services, actor, lambda: services.eligibility.recognise_self(actor))

    @post("/pension/bookings", operation_id="bookMyPensionVisit", summary="Book an assisted or home visit",
          description="A slot with the staff of my residence division, who see it and complete it by recording the "
                      "recognition. One open booking at a time. Send an `Idempotency-Key` for safe retries.")
    async def book(
        self, request: Request[Any, Any, Any], data: JSONBody[BookingCreate], services: NamedDependency[Services],
        actor: NamedDependency[Actor], idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[BookingView]:
        return await idempotent_create(request, services, actor, lambda: services.eligibility.book(actor, data))

    @get("/face-recognition-consent", operation_id="getMyFaceRecognitionConsent",
         summary="My consent to face recognition", description="Whether I agreed, separately, to face recognition "
         "for pension recognition; without it face checks are not offered.")
    async def consent(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FaceConsentView:
        return await services.eligibility.face_consent(actor)

    @put("/face-recognition-consent", operation_id="giveMyFaceRecognitionConsent",
         summary="Agree to face recognition", description="The separate consent the 2025 face-recognition rules "
         "require; withdrawable at any time. Audited.")
    async def give_consent(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FaceConsentView:
        return await services.eligibility.give_face_consent(actor)

    @delete("/face-recognition-consent", operation_id="withdrawMyFaceRecognitionConsent",
            summary="Withdraw my consent to face recognition", description="Face checks stop being offered at once; "
            "every other way of being recognised remains. Audited.", status_code=200)
    async def withdraw_consent(self, services: NamedDependency[Services],
                               actor: NamedDependency[Actor]) -> FaceConsentView:
        return await services.eligibility.withdraw_face_consent(actor)

    @get("/relatives", operation_id="listMyRelatives", summary="Relatives I authorised",
         description="Who may act for me (亲情代办): see my status, be recognised on their phone with my face, book "
                     "a visit. Audited.")
    async def relatives(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[RelativeView]:
        return await services.eligibility.relatives.of_citizen(actor, uuid.UUID(actor.id))

    @post("/relatives", operation_id="authoriseMyRelative", summary="Authorise a relative",
          description="Needs L3 (a liveness check in this session). The relative is named by resident ID and must "
                      "have registered with their own phone. At most three at a time. Audited.",
          guards=[citizen_guard("L3")])
    async def authorise(self, data: JSONBody[RelativeAuthorise], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> RelativeView:
        return await services.eligibility.relatives.authorise(actor, uuid.UUID(actor.id), data)

    @delete("/relatives/{authorisation_id:uuid}", operation_id="revokeMyRelative", summary="Revoke a relative",
            description="Stops working at once. Audited.")
    async def revoke(self, authorisation_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> None:
        await services.eligibility.relatives.revoke(actor, uuid.UUID(actor.id), authorisation_id)

    @get("/represented", operation_id="listPeopleIRepresent", summary="People I may act for",
         description="Everyone who authorised me as their relative.")
    async def represented(self, services: NamedDependency[Services],
                          actor: NamedDependency[Actor]) -> list[RelativeView]:
        return await services.eligibility.relatives.acting_for(actor)


class RepresentedPensionController(Controller):
    """A relative, signed in on their own phone, acting for a pensioner who authorised them."""

    path = "/me/represented/{citizen_id:uuid}/pension"
    tags = ["pension"]
    guards = [citizen_guard()]
    security = BEARER
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/", operation_id="getRepresentedPensionStatus", summary="A relative's pension status",
         description="The status page of a pensioner who authorised me. Anyone else is answered as missing. Audited.")
    async def status(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> PensionStatus:
        return await services.eligibility.status(actor, citizen_id)

    @get("/precheck", operation_id="precheckRepresentedPension", summary="Pre-check for a relative",
         description="The pre-check of the pensioner I act for.")
    async def precheck(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> Precheck:
        return await services.eligibility.precheck(actor, citizen_id)

    @get("/offers", operation_id="getRepresentedPensionOffers", summary="Other ways, for a relative",
         description="Windows, kiosks and visits near where the pensioner I act for lives.")
    async def offers(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> Offers:
        return await services.eligibility.offers(actor, citizen_id)

    @post("/face-challenges", operation_id="createRepresentedLivenessChallenge",
          summary="Start the pensioner's liveness challenge", description="On my phone, for the pensioner's face; "
          "counted against the pensioner's attempts.", status_code=201)
    async def challenge(self, request: Request[Any, Any, Any], citizen_id: FromPath[uuid.UUID],
                        services: NamedDependency[Services], actor: NamedDependency[Actor],
                        data: JSONBody[ChallengeRequest | None] = None,
                        device_id: Annotated[str | None, DEVICE_PARAM] = None) -> LivenessChallenge:
        return await services.eligibility.proxy_challenge(actor, citizen_id, (data or ChallengeRequest()).movement,
                                                          client_of(request, device_id))

    @post("/face-challenges/{challenge_id:str}/recognition", operation_id="recogniseRepresentedPension",
          summary="Recognise the pensioner (family proxy)", description="The pensioner's face and liveness are "
          "checked against the pensioner's reference; my own session is not raised. Records the recognition "
          "(`family-proxy`) with both identities, issues the certificate and tells the paying agency.",
          responses=ANSWER_PROBLEMS)
    async def recognise(self, request: Request[Any, Any, Any], citizen_id: FromPath[uuid.UUID],
                        challenge_id: Annotated[str, CHALLENGE_ID_PARAM], data: Annotated[FramesForm, MULTIPART],
                        services: NamedDependency[Services], actor: NamedDependency[Actor],
                        device_id: Annotated[str | None, DEVICE_PARAM] = None,
                        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RecognitionView]:
        frames = [await frame.read() for frame in data.frames]
        return await idempotent_create(request, services, actor, lambda: services.eligibility.proxy_recognise(
            actor, citizen_id, challenge_id, frames, client_of(request, device_id), proof_of(data)),
            content=_burst_content(frames))

    @post("/bookings", operation_id="bookRepresentedPensionVisit", summary="Book a visit for a relative",
          description="An assisted or home visit for the pensioner I act for.")
    async def book(self, request: Request[Any, Any, Any], citizen_id: FromPath[uuid.UUID],
                   data: JSONBody[BookingCreate], services: NamedDependency[Services], actor: NamedDependency[Actor],
                   idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[BookingView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.eligibility.book(actor, data, citizen_id))


class AgencyController(Controller):
    """Paying agencies: settings, the roster, the due/overdue views, suspensions."""

    path = "/staff/pension"
    tags = ["pension"]
    guards = [staff_guard()]
    security = BEARER

    @put("/agencies/{division:str}", operation_id="setPensionAgency", summary="Set a paying agency",
         description="Name, the authority that signs its certificates, the window (12 months, or e.g. 6), when "
                     "recognition opens, the due-soon margin, and which signs of life count for silent recognition. "
                     "Pension officers and admins of the division. Audited.", guards=[staff_guard(*AGENCY_ROLES)])
    async def set_agency(self, division: Annotated[str, DIVISION], data: JSONBody[AgencySettings],
                         services: NamedDependency[Services], actor: NamedDependency[Actor]) -> AgencyView:
        return await services.eligibility.rosters.set_agency(actor, division, data)

    @post("/agencies/{division:str}/roster", operation_id="addPensionRosterEntry", summary="Put a pensioner on the roster",
          description="With the division where they live now (often another province). Send an `Idempotency-Key` "
                      "for safe retries. Audited.", guards=[staff_guard(*ROSTER_ROLES)])
    async def add(self, request: Request[Any, Any, Any], division: Annotated[str, DIVISION],
                  data: JSONBody[RosterEntryCreate], services: NamedDependency[Services], actor: NamedDependency[Actor],
                  idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RosterEntryView]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.eligibility.rosters.add_entry(actor, division, data))

    @get("/roster", operation_id="listPensionRoster", summary="The roster",
         description="Pensioners of the agencies in my division, soonest due first, flagged by `standing` "
                     "(`not-due`, `due`, `due-soon`, `overdue`); filter by standing, status or residence division. "
                     "Audited.", guards=[staff_guard(*ROSTER_ROLES)])
    async def roster(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                     standing: FromQuery[Standing | None] = None, status: FromQuery[Status | None] = None,
                     residence_division: Annotated[str | None, Parameter(pattern=identifiers.DIVISION)] = None,
                     limit: Annotated[int, Parameter(ge=1, le=1000)] = 100,
                     offset: Annotated[int, Parameter(ge=0, le=10_000_000)] = 0) -> list[RosterEntryView]:
        return await services.eligibility.rosters.roster(actor, standing=standing, status=status,
                                                         residence_division=residence_division, limit=limit,
                                                         offset=offset)

    @get("/summary", operation_id="getPensionRosterSummary", summary="Due, due soon and overdue per division",
         description="Per residence division: on the roster, due, due soon, overdue, suspended.", guards=[staff_guard(*ROSTER_ROLES)])
    async def summary(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[DivisionSummary]:
        return await services.eligibility.rosters.summary(actor)

    @get("/roster/{entry_id:uuid}", operation_id="getPensionRosterEntry", summary="A roster entry",
         description="Pension officers of the paying agency, or window staff of the residence division. Audited.",
         guards=[staff_guard(*ROSTER_ROLES, *RESIDENCE_ROLES)])
    async def entry(self, entry_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                    actor: NamedDependency[Actor]) -> RosterEntryView:
        return await services.eligibility.rosters.staff_entry(actor, entry_id)

    @patch("/roster/{entry_id:uuid}", operation_id="updatePensionRosterEntry", summary="Change a roster entry",
           description="The residence division, stopping the pension (with the reason), or flagging roster data that "
                       "needs fixing (empty text clears it). Audited.", guards=[staff_guard(*ROSTER_ROLES)])
    async def update(self, entry_id: FromPath[uuid.UUID], data: JSONBody[RosterEntryUpdate],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> RosterEntryView:
        return await services.eligibility.rosters.update_entry(actor, entry_id, data)

    @post("/roster/{entry_id:uuid}/suspension", operation_id="suspendPension", summary="Suspend an overdue pension",
          description="The officer's recorded decision (never automatic), for an overdue pensioner only. A later "
                      "recognition lifts it and states the back-payment period. Audited.", guards=[staff_guard(*ROSTER_ROLES)])
    async def suspend(self, entry_id: FromPath[uuid.UUID], data: JSONBody[SuspensionRequest],
                      services: NamedDependency[Services], actor: NamedDependency[Actor]) -> DecisionView:
        return await services.eligibility.rosters.suspend(actor, entry_id, data)

    @get("/roster/{entry_id:uuid}/decisions", operation_id="listPensionDecisions", summary="Suspensions and resumptions",
         description="The agency's decisions on this pensioner, newest first, with back-payment periods.", guards=[staff_guard(*ROSTER_ROLES)])
    async def decisions(self, entry_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> list[DecisionView]:
        return await services.eligibility.rosters.decisions(actor, entry_id)


class ResidenceStaffController(Controller):
    """Window staff of the residence division: visits, assisted and home-visit recognitions, relatives."""

    path = "/staff"
    tags = ["pension"]
    guards = [staff_guard(*RESIDENCE_ROLES)]
    security = BEARER
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/pension/visits", operation_id="listPensionVisits", summary="Booked visits in my division",
         description="Assisted and home visits booked by pensioners living in my division, paid from any province. "
                     "Audited.")
    async def visits(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> list[BookingView]:
        return await services.eligibility.visits.for_staff(actor)

    @post("/pension/roster/{entry_id:uuid}/face-challenges", operation_id="createPensionerLivenessChallenge",
          summary="Start a pensioner's liveness challenge", description="At a window or on a home visit, on the "
          "staff member's device, for the pensioner's face.", status_code=201)
    async def challenge(self, request: Request[Any, Any, Any], entry_id: FromPath[uuid.UUID],
                        services: NamedDependency[Services], actor: NamedDependency[Actor],
                        data: JSONBody[ChallengeRequest | None] = None,
                        device_id: Annotated[str | None, DEVICE_PARAM] = None) -> LivenessChallenge:
        return await services.eligibility.staff_challenge(actor, entry_id, (data or ChallengeRequest()).movement,
                                                          client_of(request, device_id))

    @post("/pension/roster/{entry_id:uuid}/face-challenges/{challenge_id:str}/recognition",
          operation_id="recordAssistedRecognition", summary="Record an assisted or home-visit recognition (face)",
          description="With the staff member's own check of the pensioner's face and liveness. Completes the booked "
                      "visit named by `booking_id`.", responses=ANSWER_PROBLEMS)
    async def recognise(self, request: Request[Any, Any, Any], entry_id: FromPath[uuid.UUID],
                        challenge_id: Annotated[str, CHALLENGE_ID_PARAM], method: FromQuery[VisitKind],
                        data: Annotated[FramesForm, MULTIPART], services: NamedDependency[Services],
                        actor: NamedDependency[Actor], booking_id: FromQuery[uuid.UUID | None] = None,
                        device_id: Annotated[str | None, DEVICE_PARAM] = None,
                        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RecognitionView]:
        if proof_of(data) is not None:  # installations are citizens' phones; never ignore a proof silently
            raise ValidationFailed.field("installation", "staff devices are not attested installations; send the "
                                                         "frames without installation and signature")
        frames = [await frame.read() for frame in data.frames]
        return await idempotent_create(request, services, actor, lambda: services.eligibility.staff_recognise(
            actor, entry_id, method, face=(challenge_id, frames, client_of(request, device_id)), booking_id=booking_id),
            content=_burst_content(frames))

    @post("/pension/roster/{entry_id:uuid}/declarations", operation_id="recordDeclaredRecognition",
          summary="Record an assisted or home-visit recognition (signed declaration)",
          description="When a face check is impossible (bedridden, blind, no enrolment): the declaration the "
                      "pensioner signed, who witnessed it and why face was not used.")
    async def declare(self, request: Request[Any, Any, Any], entry_id: FromPath[uuid.UUID],
                      method: FromQuery[VisitKind], data: JSONBody[DeclarationForm], services: NamedDependency[Services],
                      actor: NamedDependency[Actor], booking_id: FromQuery[uuid.UUID | None] = None,
                      idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[RecognitionView]:
        return await idempotent_create(request, services, actor, lambda: services.eligibility.staff_recognise(
            actor, entry_id, method, declaration=data, booking_id=booking_id))

    @post("/citizens/{citizen_id:uuid}/relatives", operation_id="authoriseRelativeAtWindow",
          summary="Authorise a relative at a window", description="The citizen, present at the window of their home "
          "or residence division, authorises a relative. Audited.")
    async def authorise(self, citizen_id: FromPath[uuid.UUID], data: JSONBody[RelativeAuthorise],
                        services: NamedDependency[Services], actor: NamedDependency[Actor]) -> RelativeView:
        return await services.eligibility.relatives.authorise(actor, citizen_id, data)

    @get("/citizens/{citizen_id:uuid}/relatives", operation_id="listRelativesAtWindow", summary="A citizen's relatives",
         description="Relatives the citizen authorised. Audited.")
    async def relatives(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                        actor: NamedDependency[Actor]) -> list[RelativeView]:
        return await services.eligibility.relatives.of_citizen(actor, citizen_id)

    @delete("/citizens/{citizen_id:uuid}/relatives/{authorisation_id:uuid}", operation_id="revokeRelativeAtWindow",
            summary="Revoke a relative at a window", description="At the citizen's request. Audited.")
    async def revoke(self, citizen_id: FromPath[uuid.UUID], authorisation_id: FromPath[uuid.UUID],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> None:
        await services.eligibility.relatives.revoke(actor, citizen_id, authorisation_id)


class DataProviderController(Controller):
    path = "/"
    tags = ["pension"]

    @post("/admin/data-providers", operation_id="registerDataProvider", summary="Register a data provider",
          description="A department that reports signs of life, with the kinds it may report. The answer holds its "
                      "credential, shown this once. Audited.", guards=[staff_guard("admin")], security=BEARER)
    async def register(self, data: JSONBody[ProviderCreate], services: NamedDependency[Services],
                       actor: NamedDependency[Actor]) -> ProviderCredential:
        return await services.eligibility.providers.register(actor, data)

    @get("/admin/data-providers", operation_id="listDataProviders", summary="Data providers",
         description="Registered providers and the kinds of signs they report.", guards=[staff_guard("admin")],
         security=BEARER)
    async def list_providers(self, services: NamedDependency[Services]) -> list[ProviderView]:
        return await services.eligibility.providers.list()

    @post("/data-providers/signals", operation_id="reportLifeSignal", summary="Report a sign of life",
          description="A registered provider reports that a person was seen alive: a medical settlement, an in-person "
                      "service, a pension collected at a counter — when, where and its own reference (sent twice, "
                      "kept once). The answer is the same whether or not the person is known here.", status_code=202)
    async def report(self, request: Request[Any, Any, Any], data: JSONBody[SignalReport],
                     services: NamedDependency[Services], provider_key: Annotated[str, PROVIDER_KEY]) -> SignalReceipt:
        provider = await services.eligibility.providers.authenticate(provider_key, client_address(request))
        return await services.eligibility.providers.report(provider, data)


PENSION_CONTROLLERS = [PensionController, RepresentedPensionController, AgencyController, ResidenceStaffController,
                       DataProviderController]
