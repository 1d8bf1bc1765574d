"""Sending within Telegram's limits (SPEC §4.3): about 30 messages/s per bot, about 1 message/s per chat (a short
burst tolerated), and a 429's retry_after waited out.

aiogram has no rate limiting of its own; its supported hook is a client-session middleware around every request,
so handlers' answers and the delivery worker's alerts are paced in one place. The pacing is per process: several
processes sharing one bot each keep their own pace, and a 429 they still meet is waited out the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import Response, TelegramMethod
from aiogram.methods.base import TelegramType

log = logging.getLogger(__name__)


class Unreachable(Exception):
    """The user blocked the bot, or never started it: sending again will not help."""


class GaveUp(Exception):
    """Telegram kept answering 429; the caller retries later."""


class RateLimiter:
    """Reserves send slots: a sliding one-second window per bot, and a generic cell rate per chat (GCRA), which
    lets a chat get `per_chat_burst` messages at once and then one per `per_chat_interval`."""

    def __init__(
        self,
        per_bot: int = 30,
        per_chat_interval: float = 1.0,
        per_chat_burst: int = 1,
        clock: Callable[[], float] = time.monotonic,
        margin: float = 0.0,
    ):
        self.per_bot = per_bot
        self.per_chat_interval = per_chat_interval
        self.burst_tolerance = (per_chat_burst - 1) * per_chat_interval
        # Extra spacing of a full window: requests reach Telegram a little later than we send them, unevenly.
        self.margin = margin
        self._clock = clock
        self._bot_sends: dict[int, deque[float]] = {}
        self._chat_tat: dict[tuple[int, int], float] = {}
        self._lock = asyncio.Lock()

    async def reserve(self, bot_id: int, chat_id: int) -> float:
        """Reserve the next slot for this chat and this bot; returns how long to wait for it."""
        async with self._lock:
            now = self._clock()
            chat_key = (bot_id, chat_id)
            tat = max(self._chat_tat.get(chat_key, now), now)
            at = max(now, tat - self.burst_tolerance)
            window = self._bot_sends.setdefault(bot_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.per_bot:
                # A second after the per_bot-th latest send keeps every 1-second window at the cap.
                at = max(at, window[-self.per_bot] + 1.0 + self.margin)
            window.append(at)
            self._chat_tat[chat_key] = max(tat, at) + self.per_chat_interval
            if len(self._chat_tat) > 10_000:
                self._chat_tat = {k: v for k, v in self._chat_tat.items() if v > now}
            return at - now

    async def wait_turn(self, bot_id: int, chat_id: int) -> None:
        delay = await self.reserve(bot_id, chat_id)
        if delay > 0:
            await asyncio.sleep(delay)


class PacingMiddleware(BaseRequestMiddleware):
    """Every request aimed at a chat waits for its slot; a 429 is waited out and the request made again."""

    def __init__(self, limiter: RateLimiter, attempts: int = 5) -> None:
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
