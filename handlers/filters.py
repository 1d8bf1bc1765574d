"""Who a handler is for: staff (a linked employee) or a customer."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import TelegramObject

from bot.middlewares import ClientMiddleware
from storage.models import Employee


class IsStaff(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is not None


class IsCustomer(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is None


def customer_router(name: str) -> Router:
    """A router for customers only, where every sender is a client (created at his first contact)."""
    router = Router(name=name)
    for observer in (router.message, router.callback_query):
        observer.filter(IsCustomer())
        observer.middleware(ClientMiddleware())
    return router
