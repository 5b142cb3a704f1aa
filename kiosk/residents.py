"""Residents at a kiosk over HTTP: sign-in with the ID card and a live photo, the session bound to the
device, staff assistance, face enrolment from the chip photo, and the resident's tasks — each a call
into the same services the phone uses."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import msgspec
from litestar import Controller, Request, Response, delete, get, post
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency, Provide
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery, JSONBody, QueryParameter

from backend.actors import Actor
from backend.certificates.schemas import CertificateSummary, CertificateView
from backend.container import Services
from backend.errors import FieldError, ValidationFailed
from backend.eligibility.schemas import FaceConsentView, PensionStatus, Precheck, RecognitionView, RelativeView
from backend.face.capture import FaceClient
from backend.face.schemas import ChallengeRequest, FaceEnrolment, LivenessChallenge
from backend.kiosks.devices import Kiosk
from backend.kiosks.pension import KioskPensionHelp
from backend.kiosks.schemas import (
    CardRead,
    KioskSessionState,
    KioskSignIn,
    PrintJobView,
    PrintRequest,
    StaffAssistance,
)
from kiosk.context import SIGNED, ResidentAtKiosk, kiosk_guard, provide_kiosk, provide_kiosk_actor
from mobile_api.context import client_address
from mobile_api.face import CHALLENGE_ID_PARAM, FACE_EXCEPTION_HANDLERS
from mobile_api.idempotent import IDEMPOTENCY_PARAM

MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)


class KioskPension(msgspec.Struct):
    status: PensionStatus
    precheck: Precheck
    face_consent: FaceConsentView | None  # the signed-in resident's own; None when acting for a relative


@dataclass
class CardForm:
    resident_id: str = field(metadata={"description": "From the chip: the 18-character resident ID number"})
    name: str = field(metadata={"description": "From the chip: the name"})
    chip_photo: UploadFile = field(metadata={"description": "From the chip: the 102×126 photo (PNG or JPEG)"})
    valid_until: str = field(default="", metadata={"description": "From the chip: last day (YYYY-MM-DD); "
                                                                  "empty for a long-term card"})

    def card(self) -> CardRead:
        try:
            return msgspec.convert({"resident_id": self.resident_id, "name": self.name,
                                    "valid_until": dt.date.fromisoformat(self.valid_until) if self.valid_until else None},
                                   CardRead)
        except ValueError:
            raise ValidationFailed([FieldError("#/valid_until", "a date YYYY-MM-DD, or empty")]) from None
        except msgspec.ValidationError as exc:
            raise ValidationFailed([FieldError("#/card", str(exc))]) from None


@dataclass
class SignInForm(CardForm):
    photo: UploadFile | None = field(default=None, metadata={
        "description": "The live photo the kiosk camera took now (JPEG, PNG or WebP)"})


@dataclass
class EnrolmentForm(CardForm):
    consent: bool = field(default=False, metadata={
        "description": "The resident gave separate consent to enrol their face for verification"})


class KioskSignInController(Controller):
    path = "/kiosk/v1/sessions"
    tags = ["kiosk"]
    guards = [kiosk_guard]
    dependencies = {"kiosk": Provide(provide_kiosk), "actor": Provide(provide_kiosk_actor)}
    security = SIGNED
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @post("/", operation_id="kioskSignIn", summary="Sign a resident in with the ID card and a live photo",
          description="The card reader's data and chip photo plus a photo from the kiosk camera: the live face is "
                      "compared 1:1 with the chip photo (`face-mismatch` with reason `card-mismatch` otherwise). A "
                      "resident never seen before is registered from the card, without a phone. The session (L2) is "
                      "bound to this kiosk: it is used by naming it in `Kiosk-Session` on requests this kiosk signs.",
          status_code=201)
    async def sign_in(self, request: Request[Any, Any, Any], data: Annotated[SignInForm, MULTIPART],
                      services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                      actor: NamedDependency[Actor]) -> KioskSignIn:
        if data.photo is None:
            raise ValidationFailed.field("photo", "the live photo from the kiosk camera is required")
        return await services.kiosks.sessions.sign_in(kiosk, data.card(), await data.chip_photo.read(),
                                                      await data.photo.read(), client_address(request),
                                                      actor.request_id)


class KioskResidentController(ResidentAtKiosk):
    path = "/kiosk/v1"
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/session", operation_id="kioskSessionState", summary="The resident's session at this kiosk",
         description="Who is signed in (masked), who assists (`assistant`: named for the screen's banner), and "
                     "how long until the idle timeout. Each signed request on the session counts as activity: the "
                     "screen calls this on every touch.")
    async def state(self, services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                    actor: NamedDependency[Actor]) -> KioskSessionState:
        return await services.kiosks.sessions.state(kiosk, actor)

    @delete("/session", operation_id="kioskSignOut", summary="End the resident's session",
            description="When the card is removed (`reason=card-removed`) or the resident is done (`signed-out`).")
    async def end(self, services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                  actor: NamedDependency[Actor],
                  reason: FromQuery[Literal["card-removed", "signed-out"]] = "signed-out") -> None:
        await services.kiosks.sessions.end(kiosk, actor, reason)

    @post("/session/assistance", operation_id="kioskStaffAssistance", summary="A staff member assists (帮办)",
          description="Window staff of the kiosk's division sign in with their own account; from then on every "
                      "audit entry of the session names them beside the resident.", status_code=200)
    async def assist(self, request: Request[Any, Any, Any], data: JSONBody[StaffAssistance],
                     services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                     actor: NamedDependency[Actor]) -> KioskSessionState:
        return await services.kiosks.sessions.assist(kiosk, actor, data, client_address(request))

    @delete("/session/assistance", operation_id="kioskEndStaffAssistance", summary="End the staff assistance",
            description="The staff member stops operating the kiosk for the resident; the resident stays signed in "
                        "and later audit entries name them alone. Audited (`kiosk.assistance_ended`, with both "
                        "identities). Without an assistance it changes nothing and answers the same state.",
            status_code=200)
    async def end_assistance(self, services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                             actor: NamedDependency[Actor]) -> KioskSessionState:
        return await services.kiosks.sessions.end_assistance(kiosk, actor)

    @post("/session/face-enrolment", operation_id="kioskFaceEnrolment",
          summary="Enrol my face from my ID card's chip photo",
          description="For a resident with no face reference yet, with their separate consent: the chip photo of "
                      "the card the session was opened with becomes the reference (source `kiosk_chip_photo`). A "
                      "reference taken at a window is never replaced.", status_code=201)
    async def enrol(self, data: Annotated[EnrolmentForm, MULTIPART], services: NamedDependency[Services],
                    kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor]) -> FaceEnrolment:
        return await services.kiosks.sessions.enrol_face(kiosk, actor, data.card(), await data.chip_photo.read(),
                                                         data.consent)

    @get("/me/certificates", operation_id="kioskMyCertificates", summary="My certificates (at a kiosk)",
         description="The same list as `GET /me/certificates`, for the resident signed in at this kiosk.")
    async def certificates(self, services: NamedDependency[Services],
                           actor: NamedDependency[Actor]) -> list[CertificateSummary]:
        return await services.certificates.registry.my_certificates(actor)

    @get("/me/certificates/{certificate_id:uuid}", operation_id="kioskMyCertificate",
         summary="One of my certificates (at a kiosk)", description="As `GET /me/certificates/{id}`. Audited.")
    async def certificate(self, certificate_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                          actor: NamedDependency[Actor]) -> CertificateView:
        return await services.certificates.registry.my_certificate_view(actor, certificate_id)


class KioskPrintController(ResidentAtKiosk):
    path = "/kiosk/v1/print-jobs"

    @post("/", operation_id="kioskRequestPrint", summary="Print one of my documents here",
          description="A print job for this kiosk's printer: one of my certificates (a case receipt once cases "
                      "reach the kiosk). `Idempotency-Key` is required: the same key again answers with the same "
                      "job (200) and nothing prints twice. The page is rendered when the printer takes the job.")
    async def request_print(self, data: JSONBody[PrintRequest], services: NamedDependency[Services],
                            kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor],
                            idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None) -> Response[PrintJobView]:
        job, created = await services.kiosks.printing.request(kiosk, actor, idempotency_key, data)
        return Response(job, status_code=201 if created else 200)

    @get("/{job_id:uuid}", operation_id="kioskPrintJob", summary="A print job of mine",
         description="Its state for the screen: queued, printing, waiting (with the reason: out of paper, paper "
                     "jam, printer offline), printed or failed.")
    async def job(self, job_id: FromPath[uuid.UUID], services: NamedDependency[Services], kiosk: NamedDependency[Kiosk],
                  actor: NamedDependency[Actor]) -> PrintJobView:
        return await services.kiosks.printing.job(kiosk, actor, job_id)


RESIDENT_CONTROLLERS = [KioskPrintController, KioskSignInController, KioskResidentController]


@dataclass
class BurstForm:
    frames: list[UploadFile] = field(metadata={
        "description": "The kiosk camera's burst, in capture order, unmirrored: facing the camera, then each "
                       "movement of the challenge with a return to facing it"})


class KioskPensionController(ResidentAtKiosk):
    """Pension eligibility recognition (养老金资格认证) at the kiosk: the pension service's rules, with the
    kiosk as the place and its camera as the capture (`kiosk:<id>`)."""

    path = "/kiosk/v1/pension"
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/", operation_id="kioskPensionStatus", summary="My pension recognition status (at a kiosk)",
         description="The status page and the pre-check (everything that would make a recognition fail, with what "
                     "to do), as on the phone. Audited.")
    async def status(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                     for_citizen: Annotated[uuid.UUID | None, FOR_PARAM] = None) -> KioskPension:
        pensioner = await _help(services).pensioner(actor, for_citizen)
        consent = await services.eligibility.face_consent(actor) if str(pensioner) == actor.id else None
        return KioskPension(status=await services.eligibility.status(actor, pensioner),
                            precheck=await services.eligibility.precheck(actor, pensioner), face_consent=consent)

    @get("/acting-for", operation_id="kioskPensionActingFor", summary="Whom I may act for (at a kiosk)",
         description="The pensioners who authorised the signed-in resident as a relative (亲情代办), from the "
                     "pension service's relatives registry.")
    async def acting_for(self, services: NamedDependency[Services],
                         actor: NamedDependency[Actor]) -> list[RelativeView]:
        return await services.eligibility.relatives.acting_for(actor)

    @post("/face-consent", operation_id="kioskPensionFaceConsent", summary="Agree to face recognition (at a kiosk)",
          description="The separate consent to face recognition for pension recognition, given at the kiosk.",
          status_code=200)
    async def consent(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FaceConsentView:
        return await services.eligibility.give_face_consent(actor, via="kiosk")

    @post("/challenges", operation_id="kioskPensionChallenge", summary="Start the liveness challenge (at a kiosk)",
          description="Head movements to follow in front of the kiosk camera; `movement` lets the person choose "
                      "turning or nodding.", status_code=201)
    async def challenge(self, request: Request[Any, Any, Any], services: NamedDependency[Services],
                        kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor],
                        data: JSONBody[ChallengeRequest | None] = None,
                        for_citizen: Annotated[uuid.UUID | None, FOR_PARAM] = None) -> LivenessChallenge:
        help_ = _help(services)
        pensioner = await help_.pensioner(actor, for_citizen)
        return await services.eligibility.kiosk_challenge(
            help_.kiosk_acting(kiosk, actor, pensioner), pensioner, (data or ChallengeRequest()).movement,
            _camera(request, kiosk))

    @post("/challenges/{challenge_id:str}/answer", operation_id="kioskPensionRecognise",
          summary="Be recognised with the liveness burst (at a kiosk)",
          description="The burst is checked against the resident's enrolled reference; a pass records the "
                      "recognition with method `kiosk` (a new 12 months begin) and issues its certificate.",
          status_code=201)
    async def recognise(self, request: Request[Any, Any, Any], challenge_id: Annotated[str, CHALLENGE_ID_PARAM],
                        data: Annotated[BurstForm, MULTIPART], services: NamedDependency[Services],
                        kiosk: NamedDependency[Kiosk], actor: NamedDependency[Actor],
                        for_citizen: Annotated[uuid.UUID | None, FOR_PARAM] = None) -> RecognitionView:
        help_ = _help(services)
        pensioner = await help_.pensioner(actor, for_citizen)
        frames = [await frame.read() for frame in data.frames]
        return await services.eligibility.kiosk_recognise(
            help_.kiosk_acting(kiosk, actor, pensioner), pensioner, challenge_id, frames, _camera(request, kiosk),
            assisting_relative=help_.relative(actor, pensioner))


FOR_PARAM = QueryParameter(name="for", required=False, description=(
    "A pensioner who authorised the signed-in resident as a relative (亲情代办): act for them. The pensioner "
    "still faces the camera; both identities go in the audit"))


def _help(services: Services) -> KioskPensionHelp:
    return KioskPensionHelp(services.db, services.eligibility)


def _camera(request: Request[Any, Any, Any], kiosk: Kiosk) -> FaceClient:
    return FaceClient(address=client_address(request), device=str(kiosk.id), capture=f"kiosk:{kiosk.id}")


RESIDENT_CONTROLLERS.append(KioskPensionController)
