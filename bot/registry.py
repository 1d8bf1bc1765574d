"""The bots of every account this process serves (aiogram multibot): account ↔ bot, by the token's bot id."""

from __future__ import annotations

from aiogram import Bot
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.base import BaseSession
from aiogram.enums import ParseMode

from sales.bots import connected_bots


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


async def load_registry(session: BaseSession) -> BotRegistry:
    registry = BotRegistry(session)
    for connection in await connected_bots():
        registry.add(connection.account_id, connection.token, connection.webhook_secret)
    return registry
