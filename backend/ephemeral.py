"""Redis: what may be lost — rate-limit windows, one-time codes, nonces, challenge state, revoked
session ids until their tokens expire. Every key carries the configured prefix."""

from __future__ import annotations

import redis.asyncio as redis

from backend.errors import RateLimited

# Increment a fixed window and return (count, milliseconds left in the window).
_HIT = """
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return {n, redis.call('PTTL', KEYS[1])}
"""


class Ephemeral:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._hit = client.register_script(_HIT)

    @classmethod
    def connect(cls, url: str, prefix: str) -> Ephemeral:
        return cls(redis.Redis.from_url(url), prefix)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def close(self) -> None:
        await self.client.aclose()

    async def refuse_if_exhausted(self, name: str, subject: str, *, limit: int, what: str) -> None:
        """Raise `RateLimited` if `limit` events were already counted in the current window."""
        key = self.key("rl", name, subject)
        async with self.client.pipeline(transaction=False) as pipe:
            count, ttl_ms = await pipe.get(key).pttl(key).execute()
        if count is not None and int(count) >= limit:
            retry_after = max(1, -(-int(ttl_ms) // 1000))
            raise RateLimited(f"too many {what}; try again in {retry_after} s", retry_after)

    async def limit(self, name: str, subject: str, *, limit: int, window_seconds: int, what: str) -> None:
        """Count one event for `subject`; raise `RateLimited` once `limit` per window is passed."""
        count, ttl_ms = await self._hit(keys=[self.key("rl", name, subject)], args=[window_seconds * 1000])
        if int(count) > limit:
            retry_after = max(1, -(-int(ttl_ms) // 1000))
            raise RateLimited(f"too many {what}; try again in {retry_after} s", retry_after)

    async def remaining(self, name: str, subject: str, *, limit: int) -> int:
        """How many more events `limit` allows `subject` in the current window of `name`."""
        used = await self.client.get(self.key("rl", name, subject))
        return max(0, limit - int(used or 0))

    async def take_once(self, *parts: str) -> bytes | None:
        """The value at the key of `parts`, deleted in the same step: of two racing callers, one gets it."""
        return await self.client.getdel(self.key(*parts))
