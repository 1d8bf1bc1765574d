"""aiogram Routers, one module per flow; each turns an update into one call of `sales` (issue: Telegram bot)."""

from aiogram import Router

from handlers import customer, errors, linking, shopping, staff


def routers() -> list[Router]:
    """Every flow's router, in the order they must see an update: the invite link before the customer's /start,
    staff before customers, catch-alls last."""
    return [errors.build_router(), linking.build_router(), staff.build_router(), shopping.build_router(),
            customer.build_router()]
