"""Information change over HTTP: the citizen's address, emergency contact and bank account for benefit
payments, and the log of changes with where each was delivered."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, get, put
from litestar.di import NamedDependency
from litestar.params import JSONBody, QueryParameter

from backend.actors import Actor
from backend.container import Services
from backend.information.schemas import (
    AddressChange,
    BankAccountChange,
    ChangeView,
    EmergencyContactChange,
    MyInformation,
)
from mobile_api.context import citizen_guard
from mobile_api.identity import BEARER


class MyInformationController(Controller):
    path = "/me/information"
    tags = ["information"]
    guards = [citizen_guard()]
    security = BEARER

    @get("/", operation_id="getMyInformation", summary="My address, emergency contact and bank account",
         description="Masked, each with the assurance level a change needs (address L2, emergency contact L1, "
                     "bank account L3). Audited.")
    async def mine(self, services: NamedDependency[Services], actor: NamedDependency[Actor]) -> MyInformation:
        return await services.information.mine(actor)

    @put("/address", operation_id="changeMyAddress", summary="Change my address",
         description="Needs assurance L2 (403 `step-up-required` below). Agencies subscribed to "
                     "`citizen.address_changed` are told by signed webhook.")
    async def address(self, data: JSONBody[AddressChange], services: NamedDependency[Services],
                      actor: NamedDependency[Actor]) -> ChangeView:
        return await services.information.change_address(actor, data)

    @put("/emergency-contact", operation_id="changeMyEmergencyContact", summary="Change my emergency contact",
         description="Needs assurance L1. Subscribers of `citizen.emergency_contact_changed` are told.")
    async def emergency_contact(self, data: JSONBody[EmergencyContactChange], services: NamedDependency[Services],
                                actor: NamedDependency[Actor]) -> ChangeView:
        return await services.information.change_emergency_contact(actor, data)

    @put("/bank-account", operation_id="changeMyBankAccount", summary="Change the account my benefits are paid into",
         description="Needs assurance L3 (face and liveness in this session; 403 `step-up-required` below), "
                     "and that face check made through an attested app or at a kiosk (403 `capture-not-accepted` "
                     "otherwise, naming the accepted captures; the `bank-account-change` capture policy). The "
                     "account must be held in my registered name. Subscribers of `citizen.bank_account_changed` "
                     "(paying agencies) are told.")
    async def bank_account(self, data: JSONBody[BankAccountChange], services: NamedDependency[Services],
                           actor: NamedDependency[Actor]) -> ChangeView:
        return await services.information.change_bank_account(actor, data)

    @get("/changes", operation_id="listMyInformationChanges", summary="My changes and where they were delivered",
         description="Newest first: each change (masked), the level it was made at, and for each subscribing agency "
                     "whether and when it was delivered. Audited.")
    async def changes(self, services: NamedDependency[Services], actor: NamedDependency[Actor],
                      limit: Annotated[int, QueryParameter(ge=1, le=50)] = 10,
                      offset: Annotated[int, QueryParameter(ge=0, le=100_000)] = 0) -> list[ChangeView]:
        return await services.information.changes(actor, limit, offset)


INFORMATION_CONTROLLERS = [MyInformationController]
