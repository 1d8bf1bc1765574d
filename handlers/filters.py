"""Who a handler is for: staff (a linked employee) or a customer."""

from __future__ import annotations

from aiogram.filters import Filter
from aiogram.types import TelegramObject

from storage.models import Employee


class IsStaff(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is not None


class IsCustomer(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is None
