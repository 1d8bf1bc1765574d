"""One chat's updates are handled one at a time, across processes (a lock in Redis), and still handled while Redis
is away (SPEC §7): the lock is then this process's own, so only two processes getting the same chat's updates
during an outage may handle them side by side — the database's row locks keep that consistent."""

from __future__ import annotations

import logging
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager

from aiogram.fsm.storage.base import BaseEventIsolation, DefaultKeyBuilder, StorageKey
from aiogram.fsm.storage.memory import SimpleEventIsolation
from redis.asyncio import Redis
from redis.exceptions import LockError, RedisError

from storage.redis import REDIS_FAILURES, RedisFallback

log = logging.getLogger(__name__)


class SharedIsolation(BaseEventIsolation):
    RETRY_SECONDS = 5.0
    # Longer than any update takes; a lock of a process that died frees itself after it.
    LOCK_SECONDS = 60
    # How long an update waits for another of the same chat in another process.
    WAIT_SECONDS = 30

    def __init__(self, redis: Redis, prefix: str = "closer") -> None:
        self.redis = redis
        self.key_builder = DefaultKeyBuilder(prefix=f"{prefix}:chat", with_bot_id=True)
        self.local = SimpleEventIsolation()
        self.redis_state = RedisFallback("chat locks", "each process locks its own", retry_seconds=self.RETRY_SECONDS)

    @asynccontextmanager
    async def lock(self, key: StorageKey) -> AsyncGenerator[None, None]:
        shared = None
        if self.redis_state.worth_trying():
            shared = self.redis.lock(self.key_builder.build(key, "lock"), timeout=self.LOCK_SECONDS,
                                     blocking_timeout=self.WAIT_SECONDS)
            try:
                acquired = await shared.acquire()
            except REDIS_FAILURES as exc:
                shared = None
                self.redis_state.failed(exc)
            else:
                if not acquired:
                    raise TimeoutError("another process held this chat's lock too long")
                self.redis_state.answered()
        if shared is None:
            async with self.local.lock(key):
                yield
            return
        try:
            yield
        finally:
            try:
                await shared.release()
            except (LockError, RedisError, OSError):
                pass  # expired, or Redis went away: it frees itself after LOCK_SECONDS

    async def close(self) -> None:
        await self.local.close()
