"""Citizens, staff and sign-in over HTTP: each handler translates one request into one service call."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody

from backend.actors import Actor
from backend.container import Services
from backend.identity.schemas import (
    CitizenProfile,
    CitizenRegistration,
    CitizenSignIn,
    CodeRequest,
    CodeSent,
    PhoneChange,
    RefreshRequest,
    ResidentIdLookup,
    StaffAccount,
    StaffCreate,
    StaffSignIn,
    TokenPair,
)
from backend.security.pii import mask_phone
from mobile_api.context import (
    citizen_guard,
    client_address,
    signed_in_guard,
    staff_guard,
)
from mobile_api.idempotent import IDEMPOTENCY_PARAM, idempotent_create

BEARER = [{"bearer": []}]


class AuthController(Controller):
    path = "/auth"
    tags = ["identity"]

    @post("/code", operation_id="requestCode", summary="Send a one-time sign-in code",
          description="Texts a six-digit code to the phone. Limited to one a minute and five an hour per phone.",
          status_code=202)
    async def request_code(self, request: Request[Any, Any, Any], data: JSONBody[CodeRequest], services: NamedDependency[Services],
                           actor: NamedDependency[Actor]) -> CodeSent:
        expires_in = await services.identity.request_code(data.phone, client_address(request), actor)
        return CodeSent(phone=mask_phone(data.phone), expires_in=expires_in)

    @post("/sign-in", operation_id="citizenSignIn", summary="Sign in a citizen with phone and code",
          description="Exchanges a valid code for an access token (assurance L1) and a refresh token.",
          status_code=200)
    async def sign_in(self, data: JSONBody[CitizenSignIn], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> TokenPair:
        return await services.identity.sign_in_citizen(data.phone, data.code, actor)

    @post("/staff/sign-in", operation_id="staffSignIn", summary="Sign in a staff member",
          description="Username and password; the token carries the role and division scope.", status_code=200)
    async def staff_sign_in(self, request: Request[Any, Any, Any], data: JSONBody[StaffSignIn], services: NamedDependency[Services],
                            actor: NamedDependency[Actor]) -> TokenPair:
        return await services.identity.sign_in_staff(data.username, data.password, client_address(request), actor)

    @post("/refresh", operation_id="refreshTokens", summary="Rotate a refresh token",
          description="Returns a new token pair. A refresh token works once; reusing one revokes the session.",
          status_code=200)
    async def refresh(self, data: JSONBody[RefreshRequest], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> TokenPair:
        return await services.identity.refresh(data.refresh_token, actor)

    @post("/sign-out", operation_id="signOut", summary="Sign out and revoke the session",
          description="Revokes the session: its refresh tokens stop working and its access tokens are refused.",
          status_code=204, guards=[signed_in_guard], security=BEARER)
    async def sign_out(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> None:
        await services.identity.sign_out(actor)


class CitizenController(Controller):
    path = "/"
    tags = ["identity"]

    @post("/citizens", operation_id="registerCitizen", summary="Register a citizen",
          description="Creates the citizen (resident ID checked against GB 11643, stored encrypted) and signs "
                      "them in. No `Idempotency-Key` (the caller is anonymous, and an anonymous key would be shared "
                      "by every client): a retry after a lost answer is told 409, and the citizen signs in instead.")
    async def register(
        self, request: Request[Any, Any, Any], data: JSONBody[CitizenRegistration], services: NamedDependency[Services], actor: NamedDependency[Actor],
    ) -> Response[TokenPair]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.identity.register_citizen(data, actor))

    @get("/me", operation_id="getMyProfile", summary="My profile",
         description="The signed-in citizen's record; identifiers are masked.",
         guards=[citizen_guard()], security=BEARER)
    async def me(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CitizenProfile:
        return await services.identity.my_profile(actor)

    @put("/me/phone", operation_id="changeMyPhone", summary="Change my phone number",
         description="Needs assurance L2 (a face check in this session) and a code sent to the new phone.",
         guards=[citizen_guard("L2")], security=BEARER)
    async def change_phone(self, data: JSONBody[PhoneChange], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CitizenProfile:
        return await services.identity.change_phone(actor, data.phone, data.code)


class StaffCitizenController(Controller):
    path = "/staff/citizens"
    tags = ["staff"]
    guards = [staff_guard("receiving_officer", "handling_officer", "supervisor", "admin")]
    security = BEARER

    @get("/{citizen_id:uuid}", operation_id="staffGetCitizen", summary="Read a citizen's record",
         description="Only citizens whose home division lies inside the caller's division. Audited.")
    async def get_citizen(self, citizen_id: FromPath[uuid.UUID], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CitizenProfile:
        return await services.identity.staff_read_citizen(actor, citizen_id=citizen_id)

    @post("/lookup", operation_id="staffLookupCitizen", summary="Find a citizen by resident ID",
          description="The ID travels in the body, never in a URL. Exact match through a keyed hash. Audited.",
          status_code=200)
    async def lookup(self, data: JSONBody[ResidentIdLookup], services: NamedDependency[Services], actor: NamedDependency[Actor]) -> CitizenProfile:
        return await services.identity.staff_read_citizen(actor, resident_id=data.resident_id)


class AdminStaffController(Controller):
    path = "/admin/staff"
    tags = ["admin"]
    guards = [staff_guard("admin")]
    security = BEARER

    @post("/", operation_id="createStaff", summary="Create a staff account",
          description="Admins create accounts inside their own division. Send an `Idempotency-Key` for safe retries.")
    async def create(
        self, request: Request[Any, Any, Any], data: JSONBody[StaffCreate], services: NamedDependency[Services], actor: NamedDependency[Actor],
        idempotency_key: Annotated[str | None, IDEMPOTENCY_PARAM] = None,
    ) -> Response[StaffAccount]:
        return await idempotent_create(request, services, actor,
                                       lambda: services.identity.create_staff(data, actor))

    @post("/{staff_id:uuid}/disable", operation_id="disableStaff", summary="Disable a staff account",
          description="Ends the account's sessions at once: its access tokens are refused from the next request, "
                      "its refresh tokens and password no longer work. Admins, inside their own division (an "
                      "account outside it looks missing). Audited.", status_code=200)
    async def disable(self, staff_id: FromPath[uuid.UUID], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> StaffAccount:
        return await services.identity.disable_staff(actor, staff_id=staff_id)


IDENTITY_CONTROLLERS = [AuthController, CitizenController, StaffCitizenController, AdminStaffController]
