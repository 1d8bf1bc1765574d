"""The aiogram HTTP session every bot of this process shares, pointed at TELEGRAM_API_URL."""

from __future__ import annotations

from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer


def make_session(api_url: str) -> AiohttpSession:
    return AiohttpSession(api=TelegramAPIServer.from_base(api_url.rstrip("/")))
