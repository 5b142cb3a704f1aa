"""Sending text messages. Production plugs in an operator's gateway; development writes to the
`sms_outbox` table and the log so a developer (and the tests) can read the code."""

from __future__ import annotations

import logging
from typing import Protocol

import asyncpg

from backend.identity import repository

log = logging.getLogger("tongban.sms")


class SmsGateway(Protocol):
    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        """Deliver `body` to `phone`; may use `conn` to stay inside the caller's transaction."""


class OutboxGateway:
    """Development gateway: nothing leaves the machine."""

    async def send(self, conn: asyncpg.Connection, phone: str, phone_hash: bytes, masked: str, body: str) -> None:
        await repository.insert_sms(conn, phone_hash, masked, body)
        log.info("sms to %s: %s", masked, body)
