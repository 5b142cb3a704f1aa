"""The e-certificates domain, as the rest of Tongban reaches it: one object whose four parts each hold
one group of use cases.

- `authorities`: issuing authorities and their signing keys (the `tongban certificates` commands);
- `registry`: issuing, revoking, reading and printing certificates — staff within their division, a
  holder their own;
- `consents`: the holder's consented third-party checks (证明证照查验);
- `lists`: the signed trust and revocation lists, the trust anchors, online verification.
"""

from __future__ import annotations

import uuid

from backend.actors import Actor
from backend.audit.service import AuditLog
from backend.certificates.authorities import AuthorityService
from backend.certificates.checks import ConsentService
from backend.certificates.keys import KeyVault
from backend.certificates.published import PublishedLists
from backend.certificates.registry import CertificateRegistry
from backend.certificates.schemas import CertificateIssue, CertificateView
from backend.db import Database
from backend.ephemeral import Ephemeral
from backend.security.pii import PiiCipher


class CertificateService:
    def __init__(self, db: Database, ephemeral: Ephemeral, audit: AuditLog, cipher: PiiCipher, vault: KeyVault, *,
                 trust_list_seconds: int, revocation_list_seconds: int) -> None:
        self.vault = vault
        self.lists = PublishedLists(db, ephemeral, vault, trust_list_seconds=trust_list_seconds,
                                    revocation_list_seconds=revocation_list_seconds)
        self.authorities = AuthorityService(db, audit, vault, self.lists, trust_list_seconds=trust_list_seconds)
        self.registry = CertificateRegistry(db, ephemeral, audit, cipher, vault, self.lists)
        self.consents = ConsentService(db, ephemeral, audit)

    async def issue(self, order: CertificateIssue, actor: Actor) -> CertificateView:
        """Issue a certificate: what other domains call (a case's decision, inside its own transaction).
        The rules are `CertificateRegistry.issue`'s."""
        return await self.registry.issue(order, actor)

    async def issue_many(self, orders: list[CertificateIssue], actor: Actor) -> dict[str, uuid.UUID]:
        """Issue a bulk job's certificates in its transaction (see `CertificateRegistry.issue_many`)."""
        return await self.registry.issue_many(orders, actor)
