"""POST /webhooks/telegram/{bot_id}: the secret token is checked first, and a resent update_id is processed once."""

from __future__ import annotations

import pytest

from closer.app import create_app
from core.config import Settings
from sales.accounts import create_account
from storage.db import close_database, open_database
from storage.models import Account, Message, TelegramUpdate
from tests.dbtools import fresh_sqlite

TOKEN = "4242:demo-token"
SECRET = "s3cret-token_for-webhooks"


@pytest.fixture
async def webhook_client(tmp_path, aiohttp_client):
    url = await fresh_sqlite(tmp_path / "hook.db")
    ctx = await open_database(url)
    account = await create_account("Hook Shop", "owner@hook.test", "long-enough")
    await Account.filter(id=account.id).update(bot_token=TOKEN, webhook_secret=SECRET)
    await close_database(ctx)
    settings = Settings(
        database_url=url,
        # Nothing listens on port 1: configuring the webhook with "Telegram" fails, and the app must still serve.
        telegram_api_url="http://127.0.0.1:1",
        webhook_base_url="https://closer.example",
    )
    return await aiohttp_client(create_app(settings, scheduler=False))


def _text_update(update_id: int, text: str = "Hello, is anyone there?") -> dict:
    user = {"id": 9001, "is_bot": False, "first_name": "Ann", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 10 + update_id,
            "date": 1_760_000_000,
            "chat": {"id": 9001, "type": "private", "first_name": "Ann"},
            "from": user,
            "text": text,
        },
    }


async def test_a_customer_text_update_is_stored_in_his_chat(webhook_client):
    response = await webhook_client.post(
        "/webhooks/telegram/4242", json=_text_update(1), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status == 200
    [message] = await Message.all().prefetch_related("chat__client")
    assert message.text == "Hello, is anyone there?" and message.chat.client.telegram_user_id == 9001


async def test_a_repeated_update_id_is_processed_once(webhook_client):
    for _ in range(3):
        response = await webhook_client.post(
            "/webhooks/telegram/4242", json=_text_update(7), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
        )
        assert response.status == 200
    assert await Message.all().count() == 1
    assert await TelegramUpdate.filter(bot_id=4242, update_id=7).count() == 1


async def test_a_command_is_claimed_before_it_runs_and_its_resend_is_skipped(webhook_client, caplog):
    """A handler that does not store its effects with the claim (a command) has its update claimed first: a resend
    is skipped even when the first delivery's answer to Telegram failed (nothing listens at Telegram's address)."""
    import logging

    update = _text_update(41, "/orders")
    update["message"]["entities"] = [{"type": "bot_command", "offset": 0, "length": 7}]
    with caplog.at_level(logging.INFO, logger="bot.middlewares"):
        for _ in range(2):
            response = await webhook_client.post(
                "/webhooks/telegram/4242", json=update, headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
            assert response.status == 200
    assert await TelegramUpdate.filter(bot_id=4242, update_id=41).count() == 1
    assert [r.getMessage() for r in caplog.records if r.name == "bot.middlewares"] == ["duplicate update skipped"]


@pytest.mark.parametrize("headers", [{}, {"X-Telegram-Bot-Api-Secret-Token": "wrong"}])
async def test_a_wrong_or_missing_secret_token_is_401_and_stores_nothing(webhook_client, headers):
    response = await webhook_client.post("/webhooks/telegram/4242", json=_text_update(2), headers=headers)
    assert response.status == 401
    assert (await response.json())["error"]["code"] == "unauthorized"
    assert await Message.all().count() == 0 and await TelegramUpdate.all().count() == 0


async def test_an_unknown_bot_is_404(webhook_client):
    response = await webhook_client.post(
        "/webhooks/telegram/999", json=_text_update(3), headers={"X-Telegram-Bot-Api-Secret-Token": SECRET}
    )
    assert response.status == 404


@pytest.mark.parametrize("body", [b"not json", b'{"update_id": "x"}', b"[]"])
async def test_a_malformed_update_is_400_and_stores_nothing(webhook_client, body):
    response = await webhook_client.post(
        "/webhooks/telegram/4242",
        data=body,
        headers={"X-Telegram-Bot-Api-Secret-Token": SECRET, "Content-Type": "application/json"},
    )
    assert response.status == 400
    assert await TelegramUpdate.all().count() == 0


async def test_a_lead_whose_routing_fails_mid_way_is_answered_5xx_and_routed_once_on_the_resend(
        webhook_client, monkeypatch):
    """SPEC §7, §10.2: the message, its routing and its pings commit together or not at all; Telegram resends."""
    from tortoise.exceptions import OperationalError

    from sales import conversations
    from storage.models import AssignmentLog, Chat, Outbox

    real_announce = conversations.announce
    failures = iter([OperationalError("connection lost")])

    async def announce_once_broken(*args, **kwargs):
        fault = next(failures, None)
        if fault is not None:
            raise fault
        return await real_announce(*args, **kwargs)

    monkeypatch.setattr(conversations, "announce", announce_once_broken)
    update = _text_update(31, "Hi, I want to buy")
    first = await webhook_client.post("/webhooks/telegram/4242", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert first.status >= 500
    assert (await Message.filter(text="Hi, I want to buy").count(), await AssignmentLog.all().count(),
            await Outbox.all().count(), await TelegramUpdate.all().count()) == (0, 0, 0, 0)
    again = await webhook_client.post("/webhooks/telegram/4242", json=update,
                                      headers={"X-Telegram-Bot-Api-Secret-Token": SECRET})
    assert again.status == 200
    chat = await Chat.get()
    owner = await Account.first().prefetch_related("employees")
    assert chat.assignee_id == owner.employees[0].id  # no managers: the owner answers
    assert await AssignmentLog.filter(chat_id=chat.id).count() == 1
    assert await Message.filter(text="Hi, I want to buy").count() == 1
