"""The aiogram HTTP session every bot of this process shares, pointed at TELEGRAM_API_URL and paced."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer

from bot.sender import PacingMiddleware, RateLimiter


def make_session(api_url: str, limiter: RateLimiter | None = None) -> AiohttpSession:
    session = AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")))
    if limiter is not None:
        session.middleware(PacingMiddleware(limiter))
    return session


def default_limiter() -> RateLimiter:
    # Telegram tolerates a short burst per chat; two at once keeps a handler's answer pair snappy and stays
    # under it. The margin absorbs the uneven time requests take to arrive.
    return RateLimiter(per_bot=30, per_chat_interval=1.0, per_chat_burst=2, margin=0.05)
