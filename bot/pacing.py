"""Sending within Telegram's limits (SPEC §4.3): about 30 messages/s per bot, about 1 message/s per chat (a short
burst tolerated), and a 429's retry_after waited out.

aiogram has no rate limiting of its own; its supported hook is a client-session middleware around every request,
so handlers' answers and the delivery worker's alerts are paced in one place. With Redis the pace is shared by
every process of the deployment; a 429 still met is waited out the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType
from redis.asyncio import Redis

from storage.redis import REDIS_FAILURES, RedisFallback

log = logging.getLogger(__name__)


class Unreachable(Exception):
    """The user blocked the bot, or never started it: sending again will not help."""


class GaveUp(Exception):
    """Telegram kept answering 429; the caller retries later."""


class Pace:
    """Telegram's limits as a generic cell rate (GCRA) per bot and per chat: a bot's sends are spaced evenly,
    `(1 + margin) / per_bot` seconds apart; a chat gets `per_chat_burst` messages at once, then one per
    `per_chat_interval × (1 + margin)`. The margin absorbs the uneven time requests take to reach Telegram.

    A reservation takes the bot's next free slot only if the chat is free by then; otherwise nothing is taken and
    the caller comes back when the chat is free, so one busy chat never holds the bot's slots idle. The same rule
    runs in this process's memory (`RateLimiter`) or, shared by every process of a deployment, in Redis
    (`RedisRateLimiter`): the limits are Telegram's per bot, not per process.
    """

    LOST_SLOTS = 3

    def __init__(self, per_bot: int = 30, per_chat_interval: float = 1.0, per_chat_burst: int = 1,
                 margin: float = 0.0) -> None:
        self.bot_interval = (1.0 + margin) / per_bot
        self.chat_interval = per_chat_interval * (1.0 + margin)
        self.chat_tolerance = (per_chat_burst - 1) * self.chat_interval

    async def reserve(self, bot_id: int, chat_id: int) -> tuple[bool, float]:
        """(reserved, delay): a slot `delay` seconds from now was taken, or, not reserved, the chat is busy for
        `delay` seconds more."""
        raise NotImplementedError

    async def wait_turn(self, bot_id: int, chat_id: int) -> None:
        lost = 0
        while True:
            reserved, delay = await self.reserve(bot_id, chat_id)
            due = time.monotonic() + delay
            if delay > 0:
                await asyncio.sleep(delay)
            if not reserved:
                continue
            # A slot is a moment, not a right. A send woken well past its slot (the event loop was held up: a model
            # built on its first use, a garbage collection, a busy CPU) would leave together with the sends of the
            # slots after it and overrun the bot's limit for that second: it takes a new slot instead. Only a few
            # times, so a process that is always late still sends.
            if time.monotonic() - due <= self.bot_interval or lost == self.LOST_SLOTS:
                return
            lost += 1


class RateLimiter(Pace):
    """The pace kept in this process's memory: the single-process default, and the fallback while Redis is away."""

    def __init__(self, per_bot: int = 30, per_chat_interval: float = 1.0, per_chat_burst: int = 1,
                 margin: float = 0.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(per_bot, per_chat_interval, per_chat_burst, margin)
        self._clock = clock
        self._bot_tat: dict[int, float] = {}
        self._chat_tat: dict[tuple[int, int], float] = {}

    async def reserve(self, bot_id: int, chat_id: int) -> tuple[bool, float]:
        # No await inside: one reservation at a time without a lock.
        now = self._clock()
        chat_key = (bot_id, chat_id)
        chat_tat = self._chat_tat.get(chat_key, now)
        at = max(now, self._bot_tat.get(bot_id, now))
        chat_free = chat_tat - self.chat_tolerance
        if chat_free > at:
            return False, chat_free - now
        self._bot_tat[bot_id] = at + self.bot_interval
        self._chat_tat[chat_key] = max(chat_tat, at) + self.chat_interval
        if len(self._chat_tat) > 10_000:
            self._chat_tat = {k: v for k, v in self._chat_tat.items() if v > now}
        return True, at - now


# The same rule as RateLimiter.reserve, atomically in Redis, on Redis's clock (one clock for every process).
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local bot_interval, chat_interval, chat_tolerance = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local bot_tat = tonumber(redis.call('GET', KEYS[1])) or now
local chat_tat = tonumber(redis.call('GET', KEYS[2])) or now
local at = math.max(now, bot_tat)
local chat_free = chat_tat - chat_tolerance
if chat_free > at then
  return {0, string.format('%.6f', chat_free - now)}
end
local next_bot = at + bot_interval
local next_chat = math.max(chat_tat, at) + chat_interval
redis.call('SET', KEYS[1], string.format('%.6f', next_bot), 'PX', math.ceil((next_bot - now) * 1000) + 1000)
redis.call('SET', KEYS[2], string.format('%.6f', next_chat), 'PX', math.ceil((next_chat - now) * 1000) + 1000)
return {1, string.format('%.6f', at - now)}
"""


class RedisRateLimiter(Pace):
    """The pace shared by every process through Redis. While Redis is away each process keeps it in memory (a
    429 Telegram may then answer is waited out like any other), and goes back to Redis once it answers again."""

    RETRY_SECONDS = 5.0
    TIMEOUT_SECONDS = 1.0

    def __init__(self, redis: Redis, prefix: str = "closer", *, per_bot: int = 30, per_chat_interval: float = 1.0,
                 per_chat_burst: int = 1, margin: float = 0.0) -> None:
        super().__init__(per_bot, per_chat_interval, per_chat_burst, margin)
        self._script = redis.register_script(_RESERVE)
        self._prefix = f"{prefix}:pace"
        self._local = RateLimiter(per_bot, per_chat_interval, per_chat_burst, margin)
        self.redis_state = RedisFallback("pacing", "each process paces itself", retry_seconds=self.RETRY_SECONDS)

    async def reserve(self, bot_id: int, chat_id: int) -> tuple[bool, float]:
        if self.redis_state.worth_trying():
            # The bot id as a hash tag: both keys in one slot, so the script also runs on a Redis Cluster.
            keys = [f"{self._prefix}:{{{bot_id}}}", f"{self._prefix}:{{{bot_id}}}:{chat_id}"]
            try:
                async with asyncio.timeout(self.TIMEOUT_SECONDS):
                    reserved, delay = await self._script(
                        keys=keys, args=[self.bot_interval, self.chat_interval, self.chat_tolerance])
            except REDIS_FAILURES as exc:
                self.redis_state.failed(exc)
            else:
                self.redis_state.answered()
                return bool(reserved), float(delay)
        return await self._local.reserve(bot_id, chat_id)


class PacingMiddleware(BaseRequestMiddleware):
    """Every request aimed at a chat waits for its slot; a 429 is waited out and the request made again."""

    def __init__(self, limiter: Pace, attempts: int = 5) -> None:
        self.limiter = limiter
        self.attempts = attempts

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        chat_id = getattr(method, "chat_id", None)
        paced = isinstance(chat_id, int)
        for _attempt in range(self.attempts):
            if paced:
                await self.limiter.wait_turn(bot.id, chat_id)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                log.warning("telegram asked to slow down", extra={"retry_after": exc.retry_after, "chat_id": chat_id})
                await asyncio.sleep(exc.retry_after)
        raise GaveUp(f"{type(method).__name__}: still 429 after {self.attempts} attempts")
