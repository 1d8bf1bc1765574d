"""Redis lifecycle (optional: the embedded default runs without it), and how a user of Redis behaves while it is away."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from redis.asyncio import Redis
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

# What a Redis call raises when the server is away, refuses, or hangs (a timeout is an OSError).
REDIS_FAILURES = (RedisError, OSError)


def open_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, health_check_interval=30)


async def close_redis(redis: Redis) -> None:
    await redis.aclose()


class RedisFallback:
    """Redis is never required for correctness (SPEC §7): a user of it falls back (to memory or the database) while
    it is away. This is the one state machine they share: say once that Redis is away and what stands in, leave
    Redis alone for `retry_seconds` after a failure (a hung server would cost every call its timeout), and say
    when it answers again."""

    def __init__(self, what: str, standing_in: str, *, retry_seconds: float = 5.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.standing_in = what, standing_in
        self.retry_seconds = retry_seconds
        self._clock = clock
        self._back_at = 0.0
        self.down = False

    def worth_trying(self) -> bool:
        return self._clock() >= self._back_at

    def failed(self, error: BaseException) -> None:
        self._back_at = self._clock() + self.retry_seconds
        if not self.down:
            self.down = True
            log.warning(f"{self.what}: redis unavailable, {self.standing_in}", extra={"error": repr(error)})

    def answered(self) -> None:
        if self.down:
            self.down = False
            log.info(f"{self.what}: redis answers again")
