"""Typed app keys of the resources every package shares; the composition root (closer.app) puts them in.

Each package owns the keys of what it makes: `bot.keys` (bots, dispatcher), `delivery.keys` (the worker),
`inbox.live.LIVE` (the live bus).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiohttp import web
from redis.asyncio import Redis
from tortoise.context import TortoiseContext

from core.config import Settings

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Callable[[], datetime])
DATABASE = web.AppKey("database", TortoiseContext)
REDIS = web.AppKey("redis", Redis)
