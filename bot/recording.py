"""The bot's own answers to a customer are part of his chat's history (SPEC §3.1): a text the bot sends while it
handles that customer's update is stored as a bot message, nobody's dialog.

The session is the one place every answer passes, whichever handler wrote it. While a customer's update is handled,
`answering` holds him (set by the customer router's middleware); a message the delivery worker sends (an employee's
reply, already stored as his) happens outside any update and is not recorded again.
"""

from __future__ import annotations

import html
import logging
import re
from contextlib import contextmanager
from contextvars import ContextVar
from collections.abc import Iterator

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.methods import Response, SendMessage, TelegramMethod
from aiogram.methods.base import TelegramType

from sales.dialogs import record_bot_message
from storage.models import Client

log = logging.getLogger(__name__)

_answering: ContextVar[Client | None] = ContextVar("answering", default=None)
_TAG = re.compile(r"<[^>]+>")


@contextmanager
def answering(client: Client) -> Iterator[None]:
    token = _answering.set(client)
    try:
        yield
    finally:
        _answering.reset(token)


def plain_text(text: str) -> str:
    """What the customer read: the bot writes HTML (its default parse mode); the history keeps text."""
    return html.unescape(_TAG.sub("", text))


class BotMessageRecorder(BaseRequestMiddleware):
    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        response = await make_request(bot, method)
        client = _answering.get()
        if client is not None and isinstance(method, SendMessage) and method.chat_id == client.telegram_user_id:
            try:
                await record_bot_message(client, plain_text(method.text))
            except Exception:
                # Sent is sent: a history that misses a bot line must not turn the answer into an error.
                log.exception("could not store the bot's answer", extra={"client_id": client.id})
        return response
