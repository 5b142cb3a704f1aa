"""Sending text messages. Production plugs in an operator's gateway; development writes to the
`sms_outbox` table and the log so a developer (and the tests) can read the code."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import asyncpg

from backend.identity import repository

log = logging.getLogger("tongban.sms")


class SmsGateway(Protocol):
    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        """Deliver `body` to `phone`; may use `conn` to stay inside the caller's transaction."""

    async def send_to_citizen(self, conn: asyncpg.Connection, citizen_id: uuid.UUID, body: str) -> bool:
        """Deliver `body` to the phone on record of a citizen, in the caller's transaction; False when they
        have none (a resident signed in with an ID card at a kiosk)."""


class OutboxGateway:
    """Development gateway: nothing leaves the machine."""

    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        await repository.insert_sms(conn, phone_hash, masked, body)
        log.info("sms to %s: %s", masked, body)

    async def send_to_citizen(self, conn: asyncpg.Connection, citizen_id: uuid.UUID, body: str) -> bool:
        # The number never leaves the database: the outbox keeps its lookup hash and mask.
        masked = await repository.insert_sms_to_citizen(conn, citizen_id, body)
        if masked is not None:
            log.info("sms to %s: %s", masked, body)
        return masked is not None
