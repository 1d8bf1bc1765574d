"""Run-once-per-tick guards: every process's scheduler fires, the first to claim a tick runs it."""

from __future__ import annotations

from typing import Protocol

from redis.asyncio import Redis
from tortoise.exceptions import IntegrityError

from sales.clock import utcnow
from storage.models import JobRun


class TickGuard(Protocol):
    async def claim(self, job: str, tick: int) -> bool: ...


class DatabaseTickGuard:
    """The unique (job, tick) row decides; works on PostgreSQL and SQLite alike."""

    async def claim(self, job: str, tick: int) -> bool:
        try:
            await JobRun.create(job=job, tick=tick, started_at=utcnow())
        except IntegrityError:
            return False
        return True


class RedisTickGuard:
    """SET NX is atomic across every process that shares the Redis; the key expires on its own."""

    def __init__(self, redis: Redis, ttl_seconds: int = 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds

    async def claim(self, job: str, tick: int) -> bool:
        return bool(await self._redis.set(f"closer:tick:{job}:{tick}", "1", nx=True, ex=self._ttl))
