"""Redis: what may be lost — rate-limit windows, one-time codes, nonces, challenge state, revoked
session ids until their tokens expire. Every key carries the configured prefix."""

from __future__ import annotations

from dataclasses import dataclass

import redis.asyncio as redis

from backend.errors import RateLimited

# Reserve one event under every limit at once, or none: if any counter already holds its limit, answer
# its (1-based) position and the milliseconds left in its window; otherwise count the event in each
# counter (a new one starts its window) and answer {0, 0}. One script, so no two callers interleave.
_RESERVE = """
for i, key in ipairs(KEYS) do
  local used = tonumber(redis.call('GET', key) or '0')
  if used >= tonumber(ARGV[2 * i - 1]) then
    return {i, redis.call('PTTL', key)}
  end
end
for i, key in ipairs(KEYS) do
  local n = redis.call('INCR', key)
  if n == 1 or redis.call('PTTL', key) < 0 then redis.call('PEXPIRE', key, ARGV[2 * i]) end
end
return {0, 0}
"""

# Give reserved events back, in windows that have not ended (DECR keeps a counter's expiry; a counter
# whose window ended is not brought back without one).
_RELEASE = """
for _, key in ipairs(KEYS) do
  if redis.call('EXISTS', key) == 1 then redis.call('DECR', key) end
end
return 0
"""


@dataclass(frozen=True, slots=True)
class Limit:
    """At most `count` events of `name` for `subject` per window of `window_seconds`."""

    name: str
    subject: str
    count: int
    window_seconds: int
    what: str  # named in the refusal: "too many {what}"


class Reservation:
    """Events counted by `Ephemeral.reserve`; `release` gives them back once (e.g. when the secret
    they guarded turned out right, so that only failures stay counted)."""

    def __init__(self, ephemeral: Ephemeral, keys: list[str]) -> None:
        self._ephemeral, self._keys = ephemeral, keys

    async def release(self) -> None:
        keys, self._keys = self._keys, []
        if keys:
            await self._ephemeral._release(keys=keys)


class Ephemeral:
    def __init__(self, client: redis.Redis, prefix: str) -> None:
        self.client = client
        self.prefix = prefix
        self._reserve = client.register_script(_RESERVE)
        self._release = client.register_script(_RELEASE)

    @classmethod
    def connect(cls, url: str, prefix: str) -> Ephemeral:
        return cls(redis.Redis.from_url(url), prefix)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    async def close(self) -> None:
        await self.client.aclose()

    async def reserve(self, *limits: Limit) -> Reservation:
        """Count one event under every limit in one atomic step, before the work it guards, or raise
        `RateLimited` (counting nothing) if any limit is already used up in its window.

        Every check of a secret (one-time code, password, credential, face, consent token) reserves
        its attempt here first: concurrent attempts cannot all pass a check made before any of them
        is counted, so at most `count` secrets are ever compared per window."""
        keys = [self.key("rl", limit.name, limit.subject) for limit in limits]
        args = [n for limit in limits for n in (limit.count, limit.window_seconds * 1000)]
        refused, ttl_ms = await self._reserve(keys=keys, args=args)
        if int(refused):
            retry_after = max(1, -(-int(ttl_ms) // 1000))
            raise RateLimited(f"too many {limits[int(refused) - 1].what}; try again in {retry_after} s",
                              retry_after)
        return Reservation(self, keys)

    async def limit(self, name: str, subject: str, *, limit: int, window_seconds: int, what: str) -> None:
        """Count one event for `subject`; raise `RateLimited` once `limit` per window is used up."""
        await self.reserve(Limit(name, subject, limit, window_seconds, what))

    async def remaining(self, name: str, subject: str, *, limit: int) -> int:
        """How many more events `limit` allows `subject` in the current window of `name`."""
        used = await self.client.get(self.key("rl", name, subject))
        return max(0, limit - int(used or 0))

    async def take_once(self, *parts: str) -> bytes | None:
        """The value at the key of `parts`, deleted in the same step: of two racing callers, one gets it."""
        return await self.client.getdel(self.key(*parts))
