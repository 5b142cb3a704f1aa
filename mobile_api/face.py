"""Face verification over HTTP. Photos and frames travel as `multipart/form-data` files: no base64
inflation, and a browser or kiosk sends them with a plain `FormData`."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from typing import Annotated, Any

from litestar import Controller, Request, Response, delete, get, post, put
from litestar.datastructures import UploadFile
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.exceptions import ClientException, ValidationException
from litestar.exceptions.http_exceptions import RequestEntityTooLarge
from litestar.openapi import ResponseSpec
from litestar.params import Body, FromPath, HeaderParameter, JSONBody, Parameter

from backend.actors import Actor
from backend.container import Services
from backend.errors import ValidationFailed
from backend.face.installations import CaptureProof, decode_base64
from backend.face.reasons import reasons
from backend.face.schemas import (
    ChallengeRequest,
    FaceEnrolment,
    FaceEnrolmentStatus,
    FaceProblem,
    FaceVerified,
    InstallationNonce,
    InstallationRegistration,
    InstallationRevocation,
    InstallationView,
    LivenessChallenge,
)
from backend.face.capture import FaceClient
from backend.identifiers import TOKEN_32
from mobile_api.context import citizen_guard, client_address, staff_guard
from mobile_api.problems import handle_http, handle_validation

BEARER = [{"bearer": []}]
_DEVICE = re.compile(r"[A-Za-z0-9._:-]{1,64}")
DEVICE_PARAM = HeaderParameter(
    name="X-Device-ID", required=False,
    description="An identifier of the phone or kiosk, as a hint: attempts are also limited per device "
                "id when one is given. The limits that count are per person and per session.")
CHALLENGE_ID_PARAM = Parameter(pattern=TOKEN_32, min_length=32, max_length=32,
                               description="The `challenge_id` of the challenge being answered")
MULTIPART = Body(media_type=RequestEncodingType.MULTI_PART)


def _problems(**described: str) -> dict[int, ResponseSpec]:
    codes = {"too_large": 413, "unusable": 422, "refused": 403, "not_enrolled": 409,
             "expired": 410, "exhausted": 429, "busy": 503}
    return {codes[name]: ResponseSpec(FaceProblem, description=text, media_type="application/problem+json",
                                      generate_examples=False)
            for name, text in described.items()}


PHOTO_PROBLEMS = _problems(
    too_large="`face-photo-too-large`: too many bytes or pixels",
    unusable="`face-photo-unusable`: not a photo, damaged, or no usable face; `reasons` say what to change",
    busy="`service-busy`: the inference pool is full; retry after `Retry-After` seconds")
CHECK_PROBLEMS = PHOTO_PROBLEMS | _problems(
    refused="`face-mismatch` or `liveness-failed`, with `reasons` and `attempts_left`",
    not_enrolled="`face-not-enrolled` (or, for an answer, `challenge-used`)",
    exhausted="`face-attempts-exhausted`: with `alternatives` to face checks")
ANSWER_PROBLEMS = CHECK_PROBLEMS | _problems(
    expired="`challenge-expired`: request a new challenge",
    refused="`face-mismatch` or `liveness-failed`, with `reasons` and `attempts_left`; `capture-not-verified` "
            "(the installation's signature does not verify) or `capture-not-accepted` (the use does not accept "
            "this capture's provenance)")


@dataclass
class EnrolmentForm:
    photo: UploadFile = field(metadata={"description": "JPEG, PNG or WebP photo taken at the window"})
    consent: bool = field(default=False, metadata={
        "description": "The citizen gave separate consent to the use of their face for verification"})


@dataclass
class PhotoForm:
    photo: UploadFile = field(metadata={"description": "JPEG, PNG or WebP photo of the citizen's face"})


@dataclass
class FramesForm:
    frames: list[UploadFile] = field(metadata={
        "description": "The burst of camera frames, in capture order, unmirrored: first facing the "
                       "camera, then each movement of the challenge in turn"})
    installation: str | None = field(default=None, metadata={
        "description": "From an attested app: the id of this phone's registered installation"})
    signature: str | None = field(default=None, metadata={
        "description": "From an attested app, base64: the installation key's signature (Android: ECDSA or RSA "
                       "with SHA-256) or App Attest assertion (Apple) over `tongban-face-capture/1\\n` + "
                       "challenge id + `\\n` + hex SHA-256 of the frames' SHA-256 digests in order"})


def proof_of(form: FramesForm) -> CaptureProof | None:
    """The attested-capture proof an answer carries, if any; half a proof is a bad request."""
    if form.installation is None and form.signature is None:
        return None
    if form.installation is None or form.signature is None:
        raise ValidationFailed.field("installation", "send both the installation and its signature, or neither")
    try:
        installation = uuid.UUID(form.installation)
    except ValueError:
        raise ValidationFailed.field("installation", "must be an installation id") from None
    return CaptureProof(installation, decode_base64(form.signature, "signature"))


def client_of(request: Request[Any, Any, Any], device_id: str | None) -> FaceClient:
    """The caller's address, and the device id it names when that is well formed."""
    device = device_id if device_id is not None and _DEVICE.fullmatch(device_id) else None
    return FaceClient(address=client_address(request), device=device)


def _with_reasons(response: Response, code: str) -> Response:
    """A framework problem on a face endpoint, carrying a reason a person can read (zh and en)."""
    response.content["reasons"] = [{"code": r.code, "zh": r.zh, "en": r.en} for r in reasons([code])]
    return response


def _body_too_large(request: Request[Any, Any, Any], exc: RequestEntityTooLarge) -> Response:
    return _with_reasons(handle_http(request, exc), "request-too-large")


def _invalid_request(request: Request[Any, Any, Any], exc: ValidationException) -> Response:
    return _with_reasons(handle_validation(request, exc), "request-invalid")


def _unreadable_request(request: Request[Any, Any, Any], exc: ClientException) -> Response:
    response = handle_http(request, exc)
    return _with_reasons(response, "request-invalid") if exc.status_code in (400, 415) else response


# The framework's refusals on face endpoints (body over the limit, a missing photo, a malformed
# challenge id, a body that is not a form) carry reasons like the service's own.
FACE_EXCEPTION_HANDLERS = {RequestEntityTooLarge: _body_too_large, ValidationException: _invalid_request,
                           ClientException: _unreadable_request}


class StaffFaceEnrolmentController(Controller):
    path = "/staff/citizens/{citizen_id:uuid}/face-enrolment"
    tags = ["face"]
    security = BEARER
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @put("/", operation_id="enrolCitizenFace", summary="Enrol a citizen's face reference",
         description="At a service window: a receiving or handling officer whose division covers the citizen's "
                     "home division takes a photo and enrols it (replacing any earlier reference). Needs the "
                     "citizen's separate consent. The photo is analysed and discarded; only an encrypted "
                     "embedding is kept. A poor photo is refused with reasons to act on.",
         guards=[staff_guard("receiving_officer", "handling_officer")], responses=PHOTO_PROBLEMS)
    async def enrol(self, citizen_id: FromPath[uuid.UUID], data: Annotated[EnrolmentForm, MULTIPART],
                    services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FaceEnrolment:
        return await services.face.enrol(actor, citizen_id, await data.photo.read(), consent=data.consent)

    @get("/", operation_id="staffGetCitizenFaceEnrolment", summary="A citizen's face enrolment status",
         description="Whether a reference is enrolled, when, and the last successful check. Audited.",
         guards=[staff_guard("receiving_officer", "handling_officer", "supervisor", "admin")])
    async def status(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                     actor: NamedDependency[Actor]) -> FaceEnrolmentStatus:
        return await services.face.staff_enrolment(actor, citizen_id)


class FaceController(Controller):
    path = "/face"
    tags = ["face"]
    guards = [citizen_guard()]
    security = BEARER
    exception_handlers = FACE_EXCEPTION_HANDLERS  # type: ignore[assignment]

    @get("/enrolment", operation_id="getMyFaceEnrolment", summary="My face enrolment",
         description="Whether a reference is enrolled, when I last passed a check and at which level, attempts "
                     "left this hour, and other ways to be recognised when face checks keep failing.")
    async def my_enrolment(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> FaceEnrolmentStatus:
        return await services.face.my_enrolment(actor)

    @delete("/enrolment", operation_id="withdrawMyFaceEnrolment", summary="Withdraw my face enrolment",
            description="Deletes my face reference and any photos kept for disputes; face checks stop until a new "
                        "enrolment at a service window.")
    async def withdraw(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> None:
        await services.face.withdraw(actor)

    @post("/verifications", operation_id="verifyMyFace", summary="Step up to L2 with a photo",
          description="Compares one photo with my enrolled reference. A match raises this session to assurance "
                      "L2 and returns new tokens; otherwise a problem lists the reasons in Chinese and English. "
                      "Limited per person, per session and per address (and per device id when given).",
          status_code=200, responses=CHECK_PROBLEMS)
    async def verify(self, request: Request[Any, Any, Any], data: Annotated[PhotoForm, MULTIPART],
                     services: NamedDependency[Services], actor: NamedDependency[Actor],
                     device_id: Annotated[str | None, DEVICE_PARAM] = None) -> FaceVerified:
        return await services.face.verify(actor, await data.photo.read(), client_of(request, device_id))

    @post("/liveness/challenges", operation_id="createLivenessChallenge", summary="Start a liveness challenge",
          description="Issues a random sequence of head movements, each followed by a return to facing the "
                      "camera, valid once and for a short time. `movement` lets the person choose turning or "
                      "nodding. Each challenge counts as one face check attempt; a new challenge replaces the "
                      "session's open one.", status_code=201, responses=_problems(
                          not_enrolled="`face-not-enrolled`",
                          exhausted="`face-attempts-exhausted`: with `alternatives` to face checks"))
    async def challenge(self, request: Request[Any, Any, Any], services: NamedDependency[Services],
                        actor: NamedDependency[Actor], data: JSONBody[ChallengeRequest | None] = None,
                        device_id: Annotated[str | None, DEVICE_PARAM] = None) -> LivenessChallenge:
        return await services.face.issue_challenge(actor, (data or ChallengeRequest()).movement,
                                                   client_of(request, device_id))

    @post("/liveness/challenges/{challenge_id:str}/answer", operation_id="answerLivenessChallenge",
          summary="Step up to L3 with a liveness burst",
          description="One continuous capture: the frames must show one face, the same person throughout, "
                      "facing the camera first, then each movement of the challenge in order with a return to "
                      "facing the camera after each, ending facing it; every frame facing the camera must match "
                      "my reference. Success raises this session to L3. The challenge is used up by any answer "
                      "that reaches the check (not by a 503).", status_code=200,
          responses=ANSWER_PROBLEMS)
    async def answer(self, request: Request[Any, Any, Any],
                     challenge_id: Annotated[str, CHALLENGE_ID_PARAM],
                     data: Annotated[FramesForm, MULTIPART], services: NamedDependency[Services],
                     actor: NamedDependency[Actor],
                     device_id: Annotated[str | None, DEVICE_PARAM] = None) -> FaceVerified:
        frames = [await frame.read() for frame in data.frames]
        return await services.face.answer_challenge(actor, challenge_id, frames, client_of(request, device_id),
                                                    proof_of(data))

    @post("/installations/nonces", operation_id="createInstallationNonce", summary="Start registering this phone",
          description="A one-time nonce (valid for minutes) to bind into the app's key attestation: the attestation "
                      "challenge of an Android keystore key, or (hashed with SHA-256) the client data of an App "
                      "Attest attestation.", status_code=201,
          responses=_problems(exhausted="`rate-limited`: too many registrations this hour"))
    async def installation_nonce(self, services: NamedDependency[Services],
                                 actor: NamedDependency[Actor]) -> InstallationNonce:
        return await services.face.installations.issue_nonce(actor)

    @post("/installations", operation_id="registerInstallation", summary="Register this phone's attested key",
          description="Checks the Android Key Attestation chain (to Google's hardware-attestation roots: our "
                      "package and signing certificate, secure hardware, locked bootloader, verified boot) or the "
                      "App Attest attestation (to Apple's root: our app id, the nonce) and keeps the attested "
                      "public key. Liveness answers signed by it are recorded as attested captures.",
          status_code=201, responses=_problems(refused="`attestation-rejected`, with `reasons`"))
    async def register_installation(self, data: JSONBody[InstallationRegistration], services: NamedDependency[Services],
                                    actor: NamedDependency[Actor]) -> InstallationView:
        return await services.face.installations.register(actor, data)

    @get("/installations", operation_id="listMyInstallations", summary="My registered phones",
         description="The phone installations I registered, with what their attestation said and whether "
                     "they are revoked.")
    async def installations(self, services: NamedDependency[Services],
                            actor: NamedDependency[Actor]) -> list[InstallationView]:
        return await services.face.installations.mine(actor)

    @delete("/installations/{installation_id:uuid}", operation_id="revokeMyInstallation",
            summary="Block one of my registered phones",
            description="For a lost, sold or replaced phone: its key no longer signs captures, and a session "
                        "stepped up with it no longer counts as attested.")
    async def revoke_installation(self, installation_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                                  actor: NamedDependency[Actor]) -> None:
        await services.face.installations.revoke_own(actor, installation_id)


class StaffFaceInstallationController(Controller):
    path = "/staff/face-installations"
    tags = ["face"]
    security = BEARER
    guards = [staff_guard("admin")]

    @post("/{installation_id:uuid}/revocation", operation_id="revokeFaceInstallation",
          summary="Block a citizen's phone installation",
          description="An administrator whose division covers the citizen's home division blocks an attested "
                      "installation (a compromised device, a key reported stolen). Audited.", status_code=200)
    async def revoke(self, installation_id: FromPath[uuid.UUID], data: JSONBody[InstallationRevocation],
                     services: NamedDependency[Services], actor: NamedDependency[Actor]) -> InstallationView:
        return await services.face.installations.revoke(actor, installation_id, data.reason)


FACE_CONTROLLERS = [StaffFaceEnrolmentController, FaceController, StaffFaceInstallationController]
