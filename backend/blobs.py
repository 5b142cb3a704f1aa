"""Files kept in PostgreSQL (in the caller's transaction, every worker process sees them, and they are
in the database's backup): AES-GCM sealed under the personal-data key, each at an address that is a
keyed hash (HMAC) of its owner and its content's SHA-256. One owner's identical files share a row;
the same file of two owners lies at two unrelated addresses, so equal files do not show themselves."""

from __future__ import annotations

import asyncpg

from backend.security.pii import PiiCipher


class BlobStore:
    def __init__(self, cipher: PiiCipher) -> None:
        self._cipher = cipher

    def address(self, owner: str, digest: bytes) -> bytes:
        """Where the owner's file with this SHA-256 lies."""
        return self._cipher.lookup_hash(f"{owner}\x00{digest.hex()}", purpose="blob.address")

    async def put(self, conn: asyncpg.Connection, owner: str, data: bytes, digest: bytes) -> bytes:
        """Store the file (once per owner and content); return its address."""
        address = self.address(owner, digest)
        await conn.execute(
            "INSERT INTO blobs (address, sealed, size_bytes) VALUES ($1, $2, $3) ON CONFLICT (address) DO NOTHING",
            address, self._cipher.seal(data, purpose=_purpose(address)), len(data))
        return address

    async def get(self, conn: asyncpg.Connection, address: bytes) -> bytes | None:
        sealed = await conn.fetchval("SELECT sealed FROM blobs WHERE address = $1", address)
        # The address is bound in as associated data: a ciphertext moved to another address does not open.
        return None if sealed is None else self._cipher.open(sealed, purpose=_purpose(address))


def _purpose(address: bytes) -> str:
    return f"blob\x00{address.hex()}"
