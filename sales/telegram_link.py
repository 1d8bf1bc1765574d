"""Linking an employee's Telegram by a one-time invite deep link (SPEC §4.2)."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales.access import get_in_account, is_admin, require_active
from sales.clock import utcnow
from sales.errors import Conflict, Invalid, NotAllowed
from storage.models import Account, Employee, TelegramInvite

INVITE_PREFIX = "staff-"
INVITE_LIFETIME = timedelta(days=2)


async def create_invite(actor: Employee, employee_id: int, *, now: datetime | None = None) -> TelegramInvite:
    """Owner/admin invite anyone of the account; an employee may invite himself."""
    require_active(actor)
    now = now or utcnow()
    employee = await get_in_account(Employee, actor.account_id, employee_id, what="employee")
    if employee.id != actor.id and not is_admin(actor):
        raise NotAllowed("only the owner or an admin may invite someone else")
    if not employee.active:
        raise NotAllowed("a deactivated employee cannot link Telegram", field="employee_id")
    return await TelegramInvite.create(
        account_id=actor.account_id,
        employee_id=employee.id,
        # The deep link's start parameter allows 64 characters of [A-Za-z0-9_-]; token_urlsafe stays inside.
        token=INVITE_PREFIX + secrets.token_urlsafe(24),
        expires_at=now + INVITE_LIFETIME,
        created_at=now,
    )


@dataclass(frozen=True)
class InviteLink:
    url: str
    expires_at: datetime


async def invite_link(actor: Employee, employee_id: int, *, now: datetime | None = None) -> InviteLink:
    """The deep link an employee opens to link his Telegram: t.me/<the account's bot>?start=<invite>. Without a
    connected bot there is nothing to open, and it is refused before an invite is written."""
    account = await Account.get(id=actor.account_id)
    if not account.bot_username:
        raise Conflict("this account has no Telegram bot connected yet", field="bot")
    invite = await create_invite(actor, employee_id, now=now)
    return InviteLink(f"https://t.me/{account.bot_username}?start={invite.token}", invite.expires_at)


async def redeem_invite(
    account_id: int, token: str, telegram_user_id: int, *, language: str | None = None, now: datetime | None = None
) -> Employee:
    """The employee opened his invite: this Telegram user is now him. The link works once, before it expires."""
    now = now or utcnow()
    async with in_transaction():
        invite = await TelegramInvite.filter(account_id=account_id, token=token).select_for_update().first()
        if invite is None or invite.used_at is not None or invite.expires_at <= now:
            raise Invalid("this invite link is unknown, used or expired", field="token")
        employee = await Employee.get(id=invite.employee_id)
        if not employee.active:
            raise NotAllowed("this employee is deactivated")
        # One Telegram user is one employee per account: a re-link moves it.
        await Employee.filter(account_id=account_id, telegram_user_id=telegram_user_id).exclude(
            id=employee.id
        ).update(telegram_user_id=None, telegram_chat_id=None)
        employee.telegram_user_id = telegram_user_id
        employee.telegram_chat_id = telegram_user_id
        employee.telegram_unreachable = False
        if language:
            employee.language = language
        try:
            await employee.save(
                update_fields=["telegram_user_id", "telegram_chat_id", "telegram_unreachable", "language"]
            )
        except IntegrityError:
            raise Conflict("this Telegram account is linked already") from None
        invite.used_at = now
        await invite.save(update_fields=["used_at"])
    return employee
