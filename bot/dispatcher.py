"""The one Dispatcher of a process: middlewares, FSM storage and the services handlers receive; the routers come from
the composition root (the bot does not import its handlers: they import the bot)."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram import Dispatcher, Router
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.isolation import SharedIsolation
from bot.middlewares import IdentityMiddleware, UpdateOnceMiddleware
from bot.registry import BotRegistry
from core.config import Settings


def make_isolation(redis: Redis | None) -> BaseEventIsolation:
    """Updates of one chat are handled one at a time: across processes when Redis holds the locks."""
    return SharedIsolation(redis) if redis is not None else SimpleEventIsolation()


def build_dispatcher(
    settings: Settings, registry: BotRegistry, i18n: I18n, redis: Redis | None, routers: Sequence[Router]
) -> Dispatcher:
    # aiogram's FSM storage holds nothing of ours: what the bot waits for from a customer is on his row in the
    # database (Client.awaiting_email), which his update reads anyway.
    dp = Dispatcher(storage=MemoryStorage(), events_isolation=make_isolation(redis), settings=settings,
                    registry=registry)
    dp.update.outer_middleware(UpdateOnceMiddleware())
    identity = IdentityMiddleware(registry, i18n)
    for observer in (dp.message, dp.callback_query, dp.pre_checkout_query):
        observer.outer_middleware(identity)
    dp.include_routers(*routers)
    return dp
