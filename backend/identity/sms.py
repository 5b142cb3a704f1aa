"""Sending text messages. Production plugs in an operator's gateway; development writes to the
`sms_outbox` table and the log so a developer (and the tests) can read the code."""

from __future__ import annotations

import logging
import uuid
from typing import Protocol

import asyncpg

from backend.db import Write
from backend.identity import repository

log = logging.getLogger("tongban.sms")


class SmsGateway(Protocol):
    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        """Deliver `body` to `phone`; may use `conn` to stay inside the caller's transaction."""

    def to_citizen(self, citizen_id: uuid.UUID, body: str, *, name: str) -> Write:
        """The write that queues `body` for the phone on record of a citizen, for the caller to send in its
        transaction (`backend.db.write_later`); as `{name}` it returns one row when a message was queued,
        none when the citizen has no phone (a resident signed in with an ID card at a kiosk)."""


class OutboxGateway:
    """The outbox: messages wait in `sms_outbox` for the operator's gateway to take them; nothing leaves
    the machine from here. In development the log shows each text too, so a developer can read a code;
    never in production, where a sign-in code in a log would let whoever reads the logs sign in."""

    def __init__(self, *, log_texts: bool) -> None:
        self.log_texts = log_texts

    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        await repository.insert_sms(conn, phone_hash, masked, body)
        if self.log_texts:
            log.info("sms to %s: %s", masked, body)
        else:
            log.info("sms to %s queued", masked)

    def to_citizen(self, citizen_id: uuid.UUID, body: str, *, name: str) -> Write:
        # The number never leaves the database: the outbox keeps its lookup hash and mask (and is the only
        # record: the write may find no phone, or roll back with its transaction).
        return repository.sms_to_citizen(citizen_id, body, name=name)
