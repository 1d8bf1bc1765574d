"""Sending within Telegram's limits (SPEC §4.3): about 30 messages/s per bot, 1 message/s per chat, 429 waited out.

aiogram has no rate limiting of its own; this wraps each outbound call. The pacing is per process: several
processes sharing one bot each keep their own pace, and a 429 they still meet is waited out the same way.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiogram.exceptions import TelegramForbiddenError, TelegramNetworkError, TelegramRetryAfter

log = logging.getLogger(__name__)
T = TypeVar("T")


class Unreachable(Exception):
    """The user blocked the bot, or never started it: sending again will not help."""


class GaveUp(Exception):
    """Telegram kept answering 429 or the network kept failing; the caller retries later."""


class RateLimiter:
    def __init__(self, per_bot: int = 30, per_chat_interval: float = 1.0, clock: Callable[[], float] = time.monotonic):
        self.per_bot = per_bot
        self.per_chat_interval = per_chat_interval
        self._clock = clock
        self._bot_sends: dict[int, deque[float]] = {}
        self._chat_next: dict[tuple[int, int], float] = {}
        self._lock = asyncio.Lock()

    async def reserve(self, bot_id: int, chat_id: int) -> float:
        """Reserve the next slot for this chat and this bot; returns how long to wait for it."""
        async with self._lock:
            now = self._clock()
            chat_key = (bot_id, chat_id)
            at = max(now, self._chat_next.get(chat_key, now))
            window = self._bot_sends.setdefault(bot_id, deque())
            while window and window[0] <= now - 1.0:
                window.popleft()
            if len(window) >= self.per_bot:
                # A second after the per_bot-th latest send keeps every 1-second window at the cap.
                at = max(at, window[-self.per_bot] + 1.0)
            window.append(at)
            self._chat_next[chat_key] = at + self.per_chat_interval
            if len(self._chat_next) > 10_000:
                self._chat_next = {k: v for k, v in self._chat_next.items() if v > now}
            return at - now

    async def wait_turn(self, bot_id: int, chat_id: int) -> None:
        delay = await self.reserve(bot_id, chat_id)
        if delay > 0:
            await asyncio.sleep(delay)


async def send_paced(
    limiter: RateLimiter, bot_id: int, chat_id: int, call: Callable[[], Awaitable[T]], *, attempts: int = 5
) -> T:
    """Make one Bot API call in turn; wait out 429s; a 403 means the user is unreachable."""
    for attempt in range(1, attempts + 1):
        await limiter.wait_turn(bot_id, chat_id)
        try:
            return await call()
        except TelegramRetryAfter as exc:
            log.warning("telegram asked to slow down", extra={"retry_after": exc.retry_after, "chat_id": chat_id})
            await asyncio.sleep(exc.retry_after)
        except TelegramForbiddenError as exc:
            raise Unreachable(str(exc)) from exc
        except TelegramNetworkError:
            await asyncio.sleep(min(2**attempt * 0.1, 5))
    raise GaveUp(f"no success after {attempts} attempts")
