"""Pension recognition at a kiosk, as the pension service defines it: whom the signed-in resident acts
for (themselves, or a pensioner who authorised them as a relative — the relatives registry decides),
and the kiosk acting as the place and camera, carrying the relative who helped into the audit."""

from __future__ import annotations

import dataclasses
import uuid

from backend.actors import Actor
from backend.db import Database
from backend.eligibility.service import EligibilityService
from backend.kiosks.devices import Kiosk


class KioskPensionHelp:
    def __init__(self, db: Database, eligibility: EligibilityService) -> None:
        self.db, self.eligibility = db, eligibility

    async def pensioner(self, resident: Actor, for_citizen: uuid.UUID | None) -> uuid.UUID:
        """The resident themselves, or the pensioner they are an authorised relative of (else 404, audited)."""
        if for_citizen is None or str(for_citizen) == resident.id:
            return uuid.UUID(resident.id or "")
        async with self.db.connection() as conn:
            await self.eligibility.relatives.require(conn, resident, for_citizen)
        return for_citizen

    @staticmethod
    def kiosk_acting(kiosk: Kiosk, resident: Actor, pensioner: uuid.UUID) -> Actor:
        """The kiosk as the acting device; whoever helped — staff, or the signed-in relative acting for
        another person — is named in every audit entry."""
        helper = resident.assisted_by
        if str(pensioner) != resident.id:
            helper = f"relative:{resident.id}"
        return dataclasses.replace(kiosk.actor(resident.request_id), assisted_by=helper)

    @staticmethod
    def relative(resident: Actor, pensioner: uuid.UUID) -> uuid.UUID | None:
        return None if str(pensioner) == resident.id else uuid.UUID(resident.id or "")
