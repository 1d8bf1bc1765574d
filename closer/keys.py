"""Typed keys of the aiohttp application: what the composition root puts in, views and tasks take out."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from aiogram import Dispatcher
from aiohttp import web
from redis.asyncio import Redis
from tortoise.context import TortoiseContext

from bot.registry import BotRegistry
from closer.config import Settings
from delivery.worker import DeliveryWorker
from inbox.live import LIVE

__all__ = ["BOTS", "CLOCK", "DATABASE", "DELIVERY", "DISPATCHER", "LIVE", "REDIS", "SETTINGS"]

SETTINGS = web.AppKey("settings", Settings)
CLOCK = web.AppKey("clock", Callable[[], datetime])
DATABASE = web.AppKey("database", TortoiseContext)
REDIS = web.AppKey("redis", Redis)
BOTS = web.AppKey("bots", BotRegistry)
DISPATCHER = web.AppKey("dispatcher", Dispatcher)
DELIVERY = web.AppKey("delivery", DeliveryWorker)
