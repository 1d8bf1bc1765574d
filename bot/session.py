"""The aiogram HTTP session every bot of this process shares, pointed at TELEGRAM_API_URL and paced."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from redis.asyncio import Redis

from bot.pacing import Pace, PacingMiddleware, RateLimiter, RedisRateLimiter
from bot.recording import BotMessageRecorder

# Telegram's limits (SPEC §4.3) with a margin of 5 %: 28.6 sends/s per bot, one per 1.05 s per chat. The margin
# absorbs the uneven time requests take to arrive, so Telegram never counts more than 30 in a second.
LIMITS = {"per_bot": 30, "per_chat_interval": 1.0, "per_chat_burst": 1, "margin": 0.05}


def make_session(api_url: str, limiter: Pace | None = None) -> AiohttpSession:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")))
    # Outermost first: an answer is recorded once it is sent, after its pacing and any 429 retries.
    session.middleware(BotMessageRecorder())
    if limiter is not None:
        session.middleware(PacingMiddleware(limiter))
    return session


def default_limiter(redis: Redis | None = None, prefix: str = "closer") -> Pace:
    """Shared by every process through Redis when there is one (SPEC §7), else kept in this process."""
    if redis is None:
        return RateLimiter(**LIMITS)
    return RedisRateLimiter(redis, prefix, **LIMITS)
