"""Login rate limiting: after a few wrong passwords from one address for one e-mail, wait (SPEC §7).

Counted in Redis when there is one (every process sees the same count), else in this process.
"""

from __future__ import annotations

import time

from aiohttp import web
from redis.asyncio import Redis

from sales.errors import DomainError


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


class LoginThrottle:
    def __init__(self, redis: Redis | None = None, *, limit: int = 5, window_seconds: int = 900) -> None:
        self.redis = redis
        self.limit = limit
        self.window = window_seconds
        self._local: dict[str, tuple[int, float]] = {}

    async def _count(self, key: str) -> int:
        if self.redis is not None:
            return int(await self.redis.get(f"closer:login:{key}") or 0)
        count, since = self._local.get(key, (0, time.monotonic()))
        return count if time.monotonic() - since < self.window else 0

    async def check(self, key: str) -> None:
        if await self._count(key) >= self.limit:
            raise TooManyAttempts("too many failed log-ins; try again in 15 minutes", field="password")

    async def failed(self, key: str) -> None:
        if self.redis is not None:
            name = f"closer:login:{key}"
            async with self.redis.pipeline(transaction=True) as pipe:
                await pipe.incr(name).expire(name, self.window, nx=True).execute()
            return
        count = await self._count(key)
        since = self._local.get(key, (0, time.monotonic()))[1] if count else time.monotonic()
        self._local[key] = (count + 1, since)

    async def succeeded(self, key: str) -> None:
        if self.redis is not None:
            await self.redis.delete(f"closer:login:{key}")
        else:
            self._local.pop(key, None)


LOGIN_THROTTLE = web.AppKey("login_throttle", LoginThrottle)
