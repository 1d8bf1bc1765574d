"""SPEC §3.1: every message is stored in the client's chat; employee messages update his dialog record."""

from __future__ import annotations

import pytest

from sales import dialogs, listing, outbox
from sales.errors import Invalid, NotFound
from storage.models import Chat, DialogRecord, Direction, Message, Outbox, SenderKind
from tests.factories import at, make_shop, new_client


async def test_inbound_message_is_stored_in_the_clients_one_chat(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello", now=at(0))
    await dialogs.record_inbound(client, "Anyone there?", now=at(1))
    assert await Chat.filter(client_id=client.id).count() == 1
    messages = await Message.filter(chat__client_id=client.id).order_by("id")
    assert [(m.direction, m.sender_kind, m.text) for m in messages] == [
        (Direction.INBOUND, SenderKind.CLIENT, "Hello"),
        (Direction.INBOUND, SenderKind.CLIENT, "Anyone there?"),
    ]
    assert (await Chat.get(client_id=client.id)).last_message_at == at(1)


async def test_inbound_messages_create_no_dialog_record(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello", now=at(0))
    assert await DialogRecord.all().count() == 0


async def test_employee_message_records_first_and_last_time_and_count(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    for minute in (3, 7, 12):
        await dialogs.record_outbound(manager, client.id, f"reply at {minute}", now=at(minute))
    record = await DialogRecord.get(employee_id=manager.id)
    assert (record.first_at, record.last_at, record.message_count) == (at(3), at(12), 3)


async def test_each_employee_has_his_own_dialog_record_per_chat(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await dialogs.record_outbound(shop.managers[0], client.id, "hi", now=at(1))
    await dialogs.record_outbound(shop.managers[1], client.id, "hello", now=at(2))
    await dialogs.record_outbound(shop.managers[0], client.id, "again", now=at(3))
    counts = {r.employee_id: r.message_count for r in await DialogRecord.all()}
    assert counts == {shop.managers[0].id: 2, shop.managers[1].id: 1}


async def test_had_dialog_before_is_about_this_employee_and_this_client(db):
    shop = await make_shop(managers=2)
    writer, other = shop.managers
    client, stranger = await new_client(shop), await new_client(shop)
    await dialogs.record_outbound(writer, client.id, "hi", now=at(1))
    assert await dialogs.had_dialog_before(writer.id, client.id, at(2))
    assert not await dialogs.had_dialog_before(other.id, client.id, at(2))  # a colleague's dialog is not his
    assert not await dialogs.had_dialog_before(writer.id, stranger.id, at(2))  # nor is another client's


async def test_had_dialog_before_means_a_message_strictly_earlier(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    await dialogs.record_outbound(manager, client.id, "hi", now=at(10))
    assert await dialogs.had_dialog_before(manager.id, client.id, at(11))
    assert not await dialogs.had_dialog_before(manager.id, client.id, at(10))
    assert not await dialogs.had_dialog_before(manager.id, client.id, at(9))


async def test_bot_messages_are_history_but_nobodys_dialog(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hi", now=at(0))
    stored = await dialogs.record_bot_message(client, "  Welcome!  ", now=at(0))
    message = await Message.get(chat__client_id=client.id, direction=Direction.OUTBOUND)
    assert (message.direction, message.sender_kind, message.employee_id) == (Direction.OUTBOUND, SenderKind.BOT, None)
    assert (message.id, message.text, message.created_at) == (stored.id, "Welcome!", at(0))
    assert await DialogRecord.all().count() == 0


async def test_the_bots_greeting_alone_opens_no_chat(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    assert await dialogs.record_bot_message(client, "Welcome!", now=at(0)) is None
    assert not await Chat.exists(client_id=client.id) and await Message.all().count() == 0


async def test_a_bot_message_is_one_live_event_of_its_chat(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hi", now=at(0))
    message = await dialogs.record_bot_message(client, "Welcome!", now=at(0))
    [event] = [row for row in await Outbox.filter(kind=outbox.CHAT_EVENT)
               if row.payload["event"] == "message" and row.payload["direction"] == "out"]
    assert event.dedupe_key == f"{outbox.CHAT_EVENT}:{message.chat_id}:message:{message.id}"  # a resend is one event
    assert (event.payload["message_id"], event.payload["direction"], event.created_at) == (message.id, "out", at(0))


@pytest.mark.parametrize("text", ["", "   ", "x" * 4097])
async def test_empty_or_oversized_message_is_refused_and_stores_nothing(db, text):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    with pytest.raises(Invalid) as error:
        await dialogs.record_outbound(shop.managers[0], client.id, text)
    assert error.value.field == "text"
    assert await Message.all().count() == 0 and await DialogRecord.all().count() == 0


async def test_employee_cannot_write_to_another_accounts_client(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await new_client(other)
    with pytest.raises(NotFound):
        await dialogs.record_outbound(shop.managers[0], theirs.id, "hi")
    assert await Message.all().count() == 0


async def test_a_chats_messages_are_listed_newest_first(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    question = await dialogs.record_inbound(client, "question", now=at(1))
    await dialogs.record_outbound(shop.managers[0], client.id, "answer", now=at(2))
    page = await listing.messages(shop.managers[0], question.chat_id)
    assert [m.text for m in page.rows] == ["answer", "question"]
