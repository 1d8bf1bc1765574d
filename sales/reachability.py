"""Who the bot can no longer write to (SPEC §4.3): a person who blocked the bot, or never started it, is marked
unreachable so nothing more is sent to him until he writes again (which clears the mark, in `sales.clients` for a
customer and `sales.telegram_link` for an employee)."""

from __future__ import annotations

from storage.models import Client, Employee


async def mark_unreachable(*, client_id: int | None = None, employee_id: int | None = None) -> None:
    """Telegram refused a message to this client or employee."""
    if client_id is not None:
        await Client.filter(id=client_id).update(unreachable=True)
    if employee_id is not None:
        await Employee.filter(id=employee_id).update(telegram_unreachable=True)


async def mark_telegram_user_unreachable(account_id: int, telegram_user_id: int) -> None:
    """Telegram refused the bot's answer to this user: he may be a client of the account, an employee, or both."""
    await Client.filter(account_id=account_id, telegram_user_id=telegram_user_id).update(unreachable=True)
    await Employee.filter(account_id=account_id, telegram_user_id=telegram_user_id).update(telegram_unreachable=True)
