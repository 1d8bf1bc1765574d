"""The one Dispatcher of a process: routers, middlewares, FSM storage and the services handlers receive."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseEventIsolation
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.isolation import SharedIsolation
from bot.middlewares import IdentityMiddleware, UpdateOnceMiddleware
from bot.registry import BotRegistry
from closer.config import Settings
from handlers import customer, errors, linking, shopping, staff


def make_isolation(redis: Redis | None) -> BaseEventIsolation:
    """Updates of one chat are handled one at a time: across processes when Redis holds the locks."""
    return SharedIsolation(redis) if redis is not None else SimpleEventIsolation()


def build_dispatcher(settings: Settings, registry: BotRegistry, i18n: I18n, redis: Redis | None) -> Dispatcher:
    # aiogram's FSM storage holds nothing of ours: what the bot waits for from a customer is on his row in the
    # database (Client.awaiting_email), which his update reads anyway.
    dp = Dispatcher(storage=MemoryStorage(), events_isolation=make_isolation(redis), settings=settings,
                    registry=registry)
    dp.update.outer_middleware(UpdateOnceMiddleware())
    identity = IdentityMiddleware(registry, i18n)
    for observer in (dp.message, dp.callback_query, dp.pre_checkout_query):
        observer.outer_middleware(identity)
    # Order matters: the invite link before the customer's /start, staff before customers, catch-alls last.
    dp.include_routers(
        errors.build_router(),
        linking.build_router(), staff.build_router(), shopping.build_router(), customer.build_router()
    )
    return dp
