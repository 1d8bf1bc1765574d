"""Who a handler is for: staff (a linked employee) or a customer."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Filter
from aiogram.types import Message, TelegramObject

from bot.middlewares import ClientMiddleware
from storage.models import Client, Employee


class IsStaff(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is not None


class IsCustomer(Filter):
    async def __call__(self, event: TelegramObject, employee: Employee | None = None) -> bool:
        return employee is None


# Our own filters are coroutines on purpose: aiogram runs a plain callable, such as a magic filter (`F.text`), in a
# thread via asyncio.to_thread, a thread hop per check that cost about a tenth of the CPU of every update.


class PlainText(Filter):
    """A text message that is not a command."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and not message.text.startswith("/")


class CommandText(Filter):
    """A text starting with a slash: a command, known or not."""

    async def __call__(self, message: Message) -> bool:
        return message.text is not None and message.text.startswith("/")


class ReplyText(Filter):
    """A plain text sent as a reply to another message."""

    async def __call__(self, message: Message) -> bool:
        return message.reply_to_message is not None and await PlainText()(message)


class ReplyWith(Filter):
    """A reply to another message whose content is one of `kinds` (a photo, a document…)."""

    def __init__(self, kinds: frozenset[str]) -> None:
        self.kinds = kinds

    async def __call__(self, message: Message) -> bool:
        return message.reply_to_message is not None and message.content_type in self.kinds


class AwaitingEmail(Filter):
    """The bot asked this customer for his e-mail and he has not answered yet (a client known before this update:
    a new one has not been asked)."""

    async def __call__(self, event: TelegramObject, client: Client | None = None) -> bool:
        return client is not None and client.awaiting_email


class SuccessfulPayment(Filter):
    async def __call__(self, message: Message) -> bool:
        return message.successful_payment is not None


def customer_router(name: str) -> Router:
    """A router for customers only, where every sender is a client (created at his first contact)."""
    router = Router(name=name)
    for observer in (router.message, router.callback_query):
        observer.filter(IsCustomer())
        observer.middleware(ClientMiddleware())
    return router
