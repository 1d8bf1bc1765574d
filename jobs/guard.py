"""Run-once-per-tick guards: every process's scheduler fires, the first to claim a tick runs it."""

from __future__ import annotations

import logging
from typing import Protocol

from redis.asyncio import Redis
from tortoise.exceptions import IntegrityError

from sales.clock import utcnow
from storage.models import JobRun
from storage.redis import REDIS_FAILURES, RedisFallback

log = logging.getLogger(__name__)


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
    """SET NX is atomic across every process that shares the Redis; the key expires on its own. While Redis is
    away the database decides: a tick may then run twice (once per guard), which the jobs tolerate (each rechecks
    its rows under a lock), but it is never skipped."""

    def __init__(self, redis: Redis, ttl_seconds: int = 24 * 3600) -> None:
        self._redis = redis
        self._ttl = ttl_seconds
        self._fallback = DatabaseTickGuard()
        self.redis_state = RedisFallback("job ticks", "claimed in the database", retry_seconds=0)

    async def claim(self, job: str, tick: int) -> bool:
        try:
            won = bool(await self._redis.set(f"closer:tick:{job}:{tick}", "1", nx=True, ex=self._ttl))
        except REDIS_FAILURES as exc:
            self.redis_state.failed(exc)
            return await self._fallback.claim(job, tick)
        self.redis_state.answered()
        return won
