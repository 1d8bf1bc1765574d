"""SPEC §3.1: every message is stored in the client's chat; employee messages update his dialog record."""

from __future__ import annotations

import pytest

from sales import attachments, dialogs, listing, outbox
from sales.errors import Invalid, NotFound
from storage.models import Attachment, AttachmentKind, Chat, DialogRecord, Direction, Message, Outbox, SenderKind
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


async def test_two_first_messages_at_once_make_one_chat_with_both(pg):
    """Two processes may take a new client's first two messages side by side: one chat holds both, neither fails."""
    import asyncio

    shop = await make_shop(managers=1)
    client = await new_client(shop)
    first, second = await asyncio.gather(dialogs.record_inbound(client, "Hello", now=at(0)),
                                         dialogs.record_inbound(client, "Anyone?", now=at(1)))
    chat = await Chat.get(client_id=client.id)
    assert {first.chat_id, second.chat_id} == {chat.id}
    assert sorted(await Message.filter(chat_id=chat.id).values_list("text", flat=True)) == ["Anyone?", "Hello"]
    assert (chat.last_message_at, chat.last_inbound_message_id) == (at(1), max(first.id, second.id))


async def test_two_deliveries_of_one_update_at_once_store_its_message_once(db):
    """Telegram resends an update it got no answer for, maybe while the first delivery is still being handled: the
    update's claim is written with the message, and the second waits for it, then finds it (storage.claims)."""
    import asyncio

    from storage.claims import AlreadyHandled, UpdateClaim

    shop = await make_shop(managers=1)
    client = await new_client(shop)
    outcomes = await asyncio.gather(
        *(dialogs.record_inbound(client, "Hello", telegram_message_id=5, now=at(0), once=UpdateClaim(77, 5, at(0)))
          for _ in range(2)),
        return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == sorted(["Message", AlreadyHandled.__name__])
    assert await Message.filter(telegram_message_id=5).count() == 1


async def test_a_message_that_fails_to_store_leaves_its_update_unclaimed(db, monkeypatch):
    """The claim goes with the message: when storing fails, neither is kept, and the resend stores it."""
    from sales import conversations
    from storage.claims import UpdateClaim
    from storage.models import TelegramUpdate

    shop = await make_shop(managers=1)
    client = await new_client(shop)
    real = conversations.on_client_message

    async def broken(*args, **kwargs):
        raise RuntimeError("the connection went away")

    monkeypatch.setattr(conversations, "on_client_message", broken)
    with pytest.raises(RuntimeError):
        await dialogs.record_inbound(client, "Hello", now=at(0), once=UpdateClaim(77, 6, at(0)))
    assert await TelegramUpdate.filter(bot_id=77).count() == 0
    monkeypatch.setattr(conversations, "on_client_message", real)
    await dialogs.record_inbound(client, "Hello", now=at(0), once=UpdateClaim(77, 6, at(0)))
    assert await TelegramUpdate.filter(bot_id=77, update_id=6).count() == 1
    assert await Message.filter(text="Hello").count() == 1


async def test_a_message_keeps_its_telegram_id_both_ways(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    question = await dialogs.record_inbound(client, "Hello", telegram_message_id=501, now=at(0))
    answer = await dialogs.record_outbound(shop.managers[0], client.id, "Hi", telegram_message_id=502, now=at(1))
    assert [(await Message.get(id=m.id)).telegram_message_id for m in (question, answer)] == [501, 502]


async def test_a_chats_time_is_its_newest_message_whoever_wrote_it(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello", now=at(1))
    await dialogs.record_outbound(shop.managers[0], client.id, "Hi", now=at(5))
    assert (await Chat.get(client_id=client.id)).last_message_at == at(5)
    await dialogs.record_bot_message(client, "Our hours are 9 to 18", now=at(6))
    assert (await Chat.get(client_id=client.id)).last_message_at == at(6)
    await dialogs.record_outbound(shop.managers[0], client.id, "sent from his phone earlier", now=at(3))
    assert (await Chat.get(client_id=client.id)).last_message_at == at(6)  # a late arrival does not move it back


async def test_a_clients_message_goes_in_telegram_to_each_who_answers_for_him_once(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await dialogs.record_inbound(client, "Hello", now=at(1))
    assignee = (await Chat.get(client_id=client.id)).assignee_id
    rows = await Outbox.filter(kind=outbox.MESSAGE_TO_STAFF)
    assert [(r.employee_id, r.client_id, r.payload, r.dedupe_key, r.available_at) for r in rows] == [
        (assignee, client.id, {"message_id": first.id}, f"{outbox.MESSAGE_TO_STAFF}:{first.id}:{assignee}", at(1))]


async def test_a_clients_message_is_one_live_event_for_those_who_answer_for_him(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello", now=at(1))
    second = await dialogs.record_inbound(client, "Anyone there?", now=at(2))
    assignee = (await Chat.get(client_id=client.id)).assignee_id
    [event] = [row for row in await Outbox.filter(kind=outbox.CHAT_EVENT)
               if row.payload["event"] == "message" and row.payload["message_id"] == second.id]
    assert event.dedupe_key == f"{outbox.CHAT_EVENT}:{second.chat_id}:message:{second.id}"
    assert (event.payload["direction"], event.payload["audience"], event.created_at) == (
        "in", {"employee_ids": [assignee], "managers": False}, at(2))


async def test_inbound_messages_create_no_dialog_record(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello", now=at(0))
    assert await DialogRecord.all().count() == 0


async def test_an_employees_message_is_stored_as_his(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    answer = await dialogs.record_outbound(shop.managers[0], client.id, "Hi", now=at(1))
    stored = await Message.get(id=answer.id)
    assert (stored.direction, stored.sender_kind, stored.employee_id, stored.text, stored.created_at) == (
        Direction.OUTBOUND, SenderKind.EMPLOYEE, shop.managers[0].id, "Hi", at(1))


async def test_an_employees_message_is_one_live_event_of_its_chat(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    answer = await dialogs.record_outbound(shop.managers[0], client.id, "Hi", now=at(1))
    [event] = [row for row in await Outbox.filter(kind=outbox.CHAT_EVENT)
               if row.payload["event"] == "message" and row.payload["direction"] == "out"]
    assert event.dedupe_key == f"{outbox.CHAT_EVENT}:{answer.chat_id}:message:{answer.id}"  # a resend is one event
    assert (event.payload["message_id"], event.created_at) == (answer.id, at(1))


async def test_employee_message_records_first_and_last_time_and_count(db):
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    for minute in (3, 7, 12):
        await dialogs.record_outbound(manager, client.id, f"reply at {minute}", now=at(minute))
    record = await DialogRecord.get(employee_id=manager.id)
    assert (record.first_at, record.last_at, record.message_count) == (at(3), at(12), 3)


async def test_an_employees_message_dated_earlier_than_his_first_moves_his_first_time_back(db):
    # A message from his Telegram is dated when he sent it, and may be stored after a later one.
    shop = await make_shop(managers=1)
    manager = shop.managers[0]
    client = await new_client(shop)
    await dialogs.record_outbound(manager, client.id, "second", now=at(7))
    await dialogs.record_outbound(manager, client.id, "first", now=at(3))
    record = await DialogRecord.get(employee_id=manager.id)
    assert (record.first_at, record.last_at, record.message_count) == (at(3), at(7), 2)


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


async def test_an_empty_message_is_refused_with_its_reason(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    with pytest.raises(Invalid) as error:
        await dialogs.record_inbound(client, "  ")
    assert (error.value.message, error.value.field) == ("a message cannot be empty", "text")


async def test_a_message_is_limited_to_telegrams_4096_characters(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    kept = await dialogs.record_outbound(shop.managers[0], client.id, "x" * 4096)
    assert len(kept.text) == 4096
    with pytest.raises(Invalid) as error:
        await dialogs.record_outbound(shop.managers[0], client.id, "x" * 4097)
    assert (error.value.message, error.value.field) == ("a message is limited to 4096 characters", "text")
    assert (error.value.template, error.value.params) == ("a message is limited to {limit} characters", {"limit": 4096})


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


async def test_writing_to_an_unknown_client_names_the_client_not_found(db):
    shop = await make_shop(managers=1)
    theirs = await new_client(await make_shop(managers=1))
    with pytest.raises(NotFound) as error:
        await dialogs.record_outbound(shop.managers[0], theirs.id, "hi")
    assert (error.value.message, error.value.field) == (f"client {theirs.id} not found", "client_id")


async def test_a_chats_messages_are_listed_newest_first(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    question = await dialogs.record_inbound(client, "question", now=at(1))
    await dialogs.record_outbound(shop.managers[0], client.id, "answer", now=at(2))
    page = await listing.messages(shop.managers[0], question.chat_id)
    assert [m.text for m in page.rows] == ["answer", "question"]


# --- files (SPEC §11.1): the text of a message with a file is its caption, which may be empty

PDF_UPLOAD = attachments.Upload(kind=AttachmentKind.DOCUMENT, stored_path="uploads/ab/price-list.pdf",
                                file_name="price-list.pdf", mime_type="application/pdf", size=2048, sha256="a" * 64)
PHOTO_FROM_TELEGRAM = attachments.Incoming(kind=AttachmentKind.PHOTO, telegram_file_id="AgACAgIAAx0", bot_id=7301,
                                           telegram_file_unique_id="AQADx", size=5120)


async def test_an_employees_file_is_stored_with_his_message_and_its_caption(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    message = await dialogs.record_outbound(shop.managers[0], client.id, "  the price list  ", now=at(2),
                                            attachment=PDF_UPLOAD)
    assert (await Message.get(id=message.id)).text == "the price list"
    [stored] = await Attachment.all()
    assert (stored.message_id, stored.kind, stored.stored_path, stored.sha256, stored.created_at) == (
        message.id, AttachmentKind.DOCUMENT, "uploads/ab/price-list.pdf", "a" * 64, at(2))


async def test_an_employees_file_may_go_without_a_caption(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    message = await dialogs.record_outbound(shop.managers[0], client.id, "", now=at(2), attachment=PDF_UPLOAD)
    assert (await Message.get(id=message.id)).text == ""
    assert await Attachment.filter(message_id=message.id).count() == 1


async def test_an_employees_caption_is_limited_to_telegrams_1024_characters(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    with pytest.raises(Invalid) as error:
        await dialogs.record_outbound(shop.managers[0], client.id, "x" * 1025, attachment=PDF_UPLOAD)
    assert (error.value.field, error.value.params) == ("text", {"limit": 1024})
    kept = await dialogs.record_outbound(shop.managers[0], client.id, "x" * 1024, attachment=PDF_UPLOAD)
    assert len(kept.text) == 1024


async def test_a_clients_file_is_stored_with_his_message_and_its_caption(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    message = await dialogs.record_inbound(client, "  is this the one?  ", now=at(1), attachment=PHOTO_FROM_TELEGRAM)
    assert (await Message.get(id=message.id)).text == "is this the one?"
    [stored] = await Attachment.all()
    assert (stored.message_id, stored.kind, stored.telegram_file_id, stored.bot_id, stored.created_at) == (
        message.id, AttachmentKind.PHOTO, "AgACAgIAAx0", 7301, at(1))


async def test_a_clients_file_may_come_without_a_caption(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    message = await dialogs.record_inbound(client, "", now=at(1), attachment=PHOTO_FROM_TELEGRAM)
    assert (await Message.get(id=message.id)).text == ""
    assert await Attachment.filter(message_id=message.id).count() == 1


async def test_a_clients_caption_may_be_as_long_as_a_message(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    message = await dialogs.record_inbound(client, "x" * 4096, now=at(1), attachment=PHOTO_FROM_TELEGRAM)
    assert len(message.text) == 4096
    with pytest.raises(Invalid) as error:
        await dialogs.record_inbound(client, "x" * 4097, now=at(2), attachment=PHOTO_FROM_TELEGRAM)
    assert (error.value.field, error.value.params) == ("text", {"limit": 4096})
