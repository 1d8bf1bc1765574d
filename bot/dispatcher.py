"""The one Dispatcher of a process: routers, middlewares, FSM storage and the services handlers receive."""

from __future__ import annotations

from aiogram import Dispatcher
from aiogram.fsm.storage.base import BaseStorage, DefaultKeyBuilder
from aiogram.fsm.storage.memory import MemoryStorage, SimpleEventIsolation
from aiogram.fsm.storage.redis import RedisStorage
from aiogram.utils.i18n import I18n
from redis.asyncio import Redis

from bot.middlewares import IdentityMiddleware, UpdateOnceMiddleware
from bot.registry import BotRegistry
from closer.config import Settings
from handlers import customer, errors, linking, shopping, staff


def make_storage(redis: Redis | None) -> BaseStorage:
    """FSM state in Redis when there is one (several processes share it), else in this process's memory."""
    if redis is None:
        return MemoryStorage()
    # One Redis serves every account's bot: the bot id keeps their conversations apart.
    return RedisStorage(redis, key_builder=DefaultKeyBuilder(with_bot_id=True))


def build_dispatcher(settings: Settings, registry: BotRegistry, i18n: I18n, redis: Redis | None) -> Dispatcher:
    storage = make_storage(redis)
    # Updates of one chat are handled one at a time, across processes when Redis holds the locks.
    isolation = storage.create_isolation() if isinstance(storage, RedisStorage) else SimpleEventIsolation()
    dp = Dispatcher(storage=storage, events_isolation=isolation, settings=settings, registry=registry)
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
