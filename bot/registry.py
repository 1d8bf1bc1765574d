"""The bots of every account this process serves (aiogram multibot): account ↔ bot, by the token's bot id."""

from __future__ import annotations

import secrets

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode

from sales.accounts import installation_account
from storage.models import Account


def bot_id_of(token: str) -> int:
    head = token.split(":", 1)[0]
    if not head.isdigit():
        raise ValueError("a bot token starts with the bot's numeric id")
    return int(head)


class BotRegistry:
    def __init__(self, session: BaseSession) -> None:
        self._session = session
        self._by_account: dict[int, Bot] = {}
        self._account_by_bot: dict[int, int] = {}
        self._secrets: dict[int, str] = {}

    def add(self, account_id: int, token: str, webhook_secret: str) -> Bot:
        bot = Bot(token, session=self._session, default=DefaultBotProperties(parse_mode=ParseMode.HTML))
        self._by_account[account_id] = bot
        self._account_by_bot[bot.id] = account_id
        self._secrets[bot.id] = webhook_secret
        return bot

    def for_account(self, account_id: int) -> Bot | None:
        return self._by_account.get(account_id)

    def account_of(self, bot_id: int) -> int | None:
        return self._account_by_bot.get(bot_id)

    def bot(self, bot_id: int) -> Bot | None:
        account_id = self._account_by_bot.get(bot_id)
        return self._by_account.get(account_id) if account_id is not None else None

    def webhook_secret(self, bot_id: int) -> str | None:
        return self._secrets.get(bot_id)

    @property
    def bots(self) -> list[Bot]:
        return list(self._by_account.values())


async def connect_default_bot(token: str) -> None:
    """BOT_TOKEN connects the default account's bot (SPEC §8)."""
    account = await installation_account()
    if account is None:
        return
    bot_id_of(token)
    await Account.filter(bot_token=token).exclude(id=account.id).update(bot_token=None)
    if account.bot_token != token:
        account.bot_token = token
        await account.save(update_fields=["bot_token"])


async def load_registry(session: BaseSession) -> BotRegistry:
    registry = BotRegistry(session)
    for account in await Account.filter(bot_token__isnull=False).order_by("id"):
        if not account.webhook_secret:
            # Telegram allows 1-256 characters of A-Z a-z 0-9 _ - in a secret token.
            account.webhook_secret = secrets.token_urlsafe(32)
            await account.save(update_fields=["webhook_secret"])
        registry.add(account.id, account.bot_token, account.webhook_secret)
    return registry
