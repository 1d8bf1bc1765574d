"""An account's Telegram bot as the domain keeps it: the token (SPEC §8: BOT_TOKEN connects the default account's
bot), the secret Telegram must echo on webhooks, and the username invite links name."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sales.accounts import installation_account
from storage.models import Account


@dataclass(frozen=True)
class BotConnection:
    account_id: int
    token: str
    webhook_secret: str


def bot_id_of(token: str) -> int:
    head = token.split(":", 1)[0]
    if not head.isdigit():
        raise ValueError("a bot token starts with the bot's numeric id")
    return int(head)


async def connect_default_bot(token: str) -> None:
    """The installation's account gets this bot; an account that had the same token gives it up (a bot serves one
    account)."""
    account = await installation_account()
    if account is None:
        return
    bot_id_of(token)
    await Account.filter(bot_token=token).exclude(id=account.id).update(bot_token=None)
    if account.bot_token != token:
        account.bot_token = token
        await account.save(update_fields=["bot_token"])


async def connected_bots() -> list[BotConnection]:
    """Every account with a bot, each with its webhook secret (made on first use)."""
    connections = []
    for account in await Account.filter(bot_token__isnull=False).order_by("id"):
        if not account.webhook_secret:
            # Telegram allows 1-256 characters of A-Z a-z 0-9 _ - in a secret token.
            account.webhook_secret = secrets.token_urlsafe(32)
            await account.save(update_fields=["webhook_secret"])
        connections.append(BotConnection(account.id, account.bot_token, account.webhook_secret))
    return connections


async def record_bot_username(account_id: int, username: str | None) -> None:
    """Invite links name the bot (t.me/<username>); Telegram knows the username, not us."""
    await Account.filter(id=account_id).update(bot_username=username)
