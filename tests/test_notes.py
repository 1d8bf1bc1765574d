"""Private notes (SPEC §11.2): staff-only text in a chat's timeline; `@name` pings a colleague, nothing reaches the
client, and the conversation's clocks and counts stay as they were."""

from __future__ import annotations

import pytest

from bot.registry import BotRegistry
from bot.session import default_limiter, make_session
from core.i18n import make_i18n
from delivery.telegram import TelegramChannel
from delivery.worker import DeliveryWorker
from inbox.live import LiveChannel, chat_event_of
from sales import conversations, dialogs, listing, notes, outbox
from sales.clients import find_or_create_client
from sales.conversations import may_receive
from sales.errors import Invalid, NotFound
from sales.notes import Staffer, add_note, mentioned_in
from sales.timeline import timeline
from storage.models import Chat, ChatNote, DialogRecord, Employee, Message, Outbox, OutboxStatus, StaffRelay
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, make_shop, new_client

TOKEN = "7003:notes-token"
CLIENT_TG = 71_001
MANAGER_TG = 71_002


# --- the mention rule, as plain text

STAFF = [Staffer(1, "Maria Petrenko"), Staffer(2, "Maria"), Staffer(3, "Manager 1"), Staffer(4, "Manager 10"),
         Staffer(5, "Taras Bulba"), Staffer(6, "Olena Shevchenko"), Staffer(7, "Olena Kovalenko")]


def test_a_mention_names_the_longest_full_name_case_insensitively():
    assert mentioned_in("@maria petrenko, please call", STAFF) == [1]
    assert mentioned_in("ask @MARIA about it", STAFF) == [2]
    assert mentioned_in("@Manager 10 and @Manager 1.", STAFF) == [4, 3]


def test_a_mention_ends_where_a_word_ends():
    assert mentioned_in("@Mariana knows", STAFF) == []
    assert mentioned_in("@Manager 100", STAFF) == []


def test_a_unique_first_name_alone_is_a_mention_and_an_ambiguous_one_is_not():
    assert mentioned_in("@Taras, look", STAFF) == [5]
    assert mentioned_in("@Olena, look", STAFF) == []


def test_an_email_address_mentions_nobody_and_each_employee_counts_once():
    assert mentioned_in("write to maria@example.com", STAFF) == []
    assert mentioned_in("@Taras @taras bulba @Taras", STAFF) == [5]


# --- the domain, on both databases

async def _chat(shop, name: str = "Anna", **client) -> Chat:
    found = await find_or_create_client(shop.account.id, name=name, **client) if client else \
        await new_client(shop, name=name)
    await dialogs.record_inbound(found, "Hello, is the course still on?", now=at(1))
    chat = await Chat.get(client_id=found.id)
    await conversations.assign_chat(shop.admin, chat.id, shop.managers[0].id, now=at(2))
    return await Chat.get(id=chat.id)


async def test_a_note_is_stored_and_listed_in_the_timeline(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    note = await add_note(shop.managers[0], chat.id, "  Wants the evening group.  ", now=at(3))
    stored = await ChatNote.get(id=note.id)
    assert (stored.chat_id, stored.employee_id, stored.text, stored.mentioned) == (
        chat.id, shop.managers[0].id, "Wants the evening group.", [])
    page = await timeline(shop.managers[0], chat.id)
    assert [(e.kind, e.id) for e in page.entries if e.kind == "note"] == [("note", note.id)]


async def test_a_mention_pings_exactly_the_mentioned_employee(db):
    shop = await make_shop(managers=3)
    chat = await _chat(shop)
    note = await add_note(shop.admin, chat.id, "@Manager 0 can you call her back?", now=at(3))
    assert note.mentioned == [shop.managers[0].id]
    pings = await Outbox.filter(kind=notes.NOTE_MENTION).values_list("employee_id", "payload")
    assert pings == [(shop.managers[0].id, {"chat_id": chat.id, "note_id": note.id, "author_id": shop.admin.id})]


async def test_a_colleague_who_may_not_open_the_chat_is_not_pinged(db):
    shop = await make_shop(managers=3)
    chat = await _chat(shop)  # Manager 0's chat: Manager 1 does not see it
    note = await add_note(shop.admin, chat.id, "@Manager 1 and @Manager 0, see this", now=at(3))
    assert note.mentioned == [shop.managers[0].id]
    assert await Outbox.filter(kind=notes.NOTE_MENTION).values_list("employee_id", flat=True) == [shop.managers[0].id]


async def test_the_author_mentioning_himself_is_not_pinged(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    note = await add_note(shop.managers[0], chat.id, "Reminder for @Manager 0: call at 5", now=at(3))
    assert note.mentioned == []
    assert not await Outbox.filter(kind=notes.NOTE_MENTION).exists()


async def test_an_unknown_or_deactivated_name_pings_nobody(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    await Employee.filter(id=shop.managers[1].id).update(active=False)
    # "Manager" alone is no one's first name to claim while Manager 1 exists, active or not.
    note = await add_note(shop.admin, chat.id, "@Nobody Here and @Manager 1, and @Manager 5", now=at(3))
    assert note.mentioned == []
    assert not await Outbox.filter(kind=notes.NOTE_MENTION).exists()


async def test_another_accounts_employee_is_never_mentioned(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    await Employee.filter(id=other.managers[0].id).update(name="Zoryana")
    chat = await _chat(shop)
    note = await add_note(shop.admin, chat.id, "@Zoryana?", now=at(3))
    assert note.mentioned == []


async def test_a_note_changes_no_dialog_record_unread_count_wait_last_message_or_assignee(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    before = await Chat.get(id=chat.id)
    assert before.waiting_since is not None
    await add_note(shop.managers[0], chat.id, "She is waiting for the price list", now=at(10))
    await add_note(shop.admin, chat.id, "@Manager 0 answer her please", now=at(11))
    after = await Chat.get(id=chat.id)
    fields = ("assignee_id", "status", "waiting_since", "unanswered_alerted_at", "last_message_at",
              "last_inbound_message_id")
    assert [getattr(after, f) for f in fields] == [getattr(before, f) for f in fields]
    assert not await DialogRecord.filter(chat_id=chat.id).exists()
    assert await Message.filter(chat_id=chat.id).count() == 1
    summary = (await listing.chat_summaries([chat.id], shop.managers[0].id))[chat.id]
    assert (summary.unread, summary.last_message) == (1, "Hello, is the course still on?")
    # The first-response alert still comes: nobody answered her.
    await conversations.sweep_unanswered(now=at(60))
    assert await Outbox.filter(kind=outbox.CHAT_UNANSWERED).exists()


async def test_the_live_event_goes_only_to_staff_who_may_see_the_chat(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    note = await add_note(shop.managers[0], chat.id, "private", now=at(3))
    [row] = [r for r in await Outbox.filter(kind=outbox.CHAT_EVENT) if r.payload["event"] == "note"]
    assert row.employee_id is None and row.client_id == chat.client_id
    event, audience = chat_event_of(row)
    assert (event["topic"], event["kind"], event["payload"]["note_id"]) == ("note", "chat.note", note.id)
    assert "private" not in str(event)  # the page fetches the note through the API, as staff
    assert may_receive(audience, shop.managers[0].id, "manager")
    assert may_receive(audience, shop.admin.id, "admin")
    assert not may_receive(audience, shop.managers[1].id, "manager")


async def test_a_note_in_another_accounts_chat_is_not_found(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    chat = await _chat(shop)
    with pytest.raises(NotFound):
        await add_note(other.owner, chat.id, "hi", now=at(3))
    assert not await ChatNote.exists()


async def test_a_manager_who_may_not_see_the_chat_cannot_write_a_note_in_it(db):
    shop = await make_shop(managers=2)
    chat = await _chat(shop)
    with pytest.raises(NotFound):
        await add_note(shop.managers[1], chat.id, "hi", now=at(3))
    assert not await ChatNote.exists()


async def test_an_empty_or_too_long_note_is_refused(db):
    shop = await make_shop(managers=1)
    chat = await _chat(shop)
    for text in ("", "   \n ", "x" * (notes.MAX_NOTE + 1)):
        with pytest.raises(Invalid) as refused:
            await add_note(shop.admin, chat.id, text, now=at(3))
        assert refused.value.field == "text"
    assert (await add_note(shop.admin, chat.id, "я" * notes.MAX_NOTE, now=at(3))).text == "я" * notes.MAX_NOTE


# --- through Telegram (the emulator): the client gets nothing, the mentioned colleague his ping

@pytest.fixture
async def emulated(aiohttp_server):
    world = World()
    world.add_bot(TOKEN)
    server = await aiohttp_server(create_emulator_app(world))
    return world, str(server.make_url("")).rstrip("/")


async def _deliver_everything(url: str, account_id: int) -> None:
    session = make_session(url, default_limiter())
    registry = BotRegistry(session)
    registry.add(account_id, TOKEN, "secret")
    worker = DeliveryWorker([TelegramChannel(registry, make_i18n(), "https://closer.test"), LiveChannel()])
    try:
        while await Outbox.filter(status=OutboxStatus.PENDING).exists():
            if await worker.run_once() == 0:
                break
    finally:
        await session.close()


async def _telegram_world(shop, world: World):
    bot = world.bot(TOKEN)
    world.add_user(CLIENT_TG, "Anna")
    world.add_user(MANAGER_TG, "Maria")
    world.started.update({(bot.id, CLIENT_TG), (bot.id, MANAGER_TG)})
    await Employee.filter(id=shop.managers[1].id).update(
        name="Maria <i>Petrenko</i>", language="uk", telegram_user_id=MANAGER_TG, telegram_chat_id=MANAGER_TG)
    return bot


async def test_a_note_never_reaches_the_client_in_telegram(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=2)
    bot = await _telegram_world(shop, world)
    chat = await _chat(shop, telegram_user_id=CLIENT_TG)
    await add_note(shop.managers[0], chat.id, "She asked for a discount; do not offer one", now=at(3))
    await add_note(shop.admin, chat.id, "@Maria agreed", now=at(4))
    await _deliver_everything(url, shop.account.id)
    assert [m for m in world.transcript(bot, CLIENT_TG) if m["from_bot"]] == []
    assert not await Outbox.filter(kind=outbox.MESSAGE_TO_CLIENT).exists()
    assert not await Outbox.filter(status=OutboxStatus.PENDING).exists()
    assert not await StaffRelay.exists()  # replying to the ping answers nobody


async def test_the_mentioned_colleague_gets_his_ping_in_his_language_with_open_chat(db, emulated):
    world, url = emulated
    shop = await make_shop(managers=2)
    bot = await _telegram_world(shop, world)
    chat = await _chat(shop, name="Anna <b>VIP</b>", telegram_user_id=CLIENT_TG)
    await Employee.filter(id=shop.admin.id).update(name="Admin <script>")
    await conversations.assign_chat(shop.admin, chat.id, shop.managers[1].id, now=at(2))  # Maria's chat now
    await add_note(shop.admin, chat.id, "@Maria call <b>now</b> & say hi", now=at(3))
    await _deliver_everything(url, shop.account.id)
    # Her chat's assignment ping came first; the note's is the one that starts with its mark.
    [ping] = [m for m in world.transcript(bot, MANAGER_TG) if m["from_bot"] and m["text"].startswith("📝")]
    # Every name and the note are text: the emulator parses HTML like Telegram, so nothing here was markup.
    assert ping["text"] == ("📝 Admin <script> згадує вас у нотатці про клієнта Anna <b>VIP</b>:\n"
                            "@Maria call <b>now</b> & say hi")
    [[button]] = ping["reply_markup"]["inline_keyboard"]
    assert (button["text"], button["url"]) == ("Відкрити чат", f"https://closer.test/inbox/chats/{chat.id}")
    assert await Outbox.filter(kind=notes.NOTE_MENTION, status=OutboxStatus.SENT).count() == 1


# --- the HTTP route

@pytest.fixture
async def api(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)


async def test_posting_a_note_answers_201_with_the_note(api):
    chat = await _chat(api.shop)
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/notes", {"text": "Ask @Manager 0 about <b>it</b>"})
    assert status == 201, body
    assert body["author"] == {"id": api.shop.admin.id, "name": api.shop.admin.name}
    assert (body["chat_id"], body["text"]) == (chat.id, "Ask @Manager 0 about <b>it</b>")
    assert body["mentioned"] == [{"id": api.shop.managers[0].id, "name": "Manager 0"}]
    status, page = await api.get(f"/api/v1/chats/{chat.id}/timeline")
    assert page["items"][-1] == {"kind": "note", "at": body["created_at"], "id": body["id"], "note": body}


async def test_an_empty_or_too_long_note_is_422_naming_the_text(api):
    chat = await _chat(api.shop)
    await api.as_(api.shop.admin)
    for text in ("", "  ", "x" * 4097):
        status, body = await api.post(f"/api/v1/chats/{chat.id}/notes", {"text": text})
        assert (status, body["error"]["field"]) == (422, "text"), text
    assert (await api.post(f"/api/v1/chats/{chat.id}/notes", {"text": "x", "to": "client"}))[0] == 422
    assert not await ChatNote.exists()


async def test_another_accounts_chat_is_404_for_notes(api):
    chat = await _chat(api.shop)
    await api.as_(api.other.owner)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/notes", {"text": "hi"})
    assert (status, body["error"]["code"]) == (404, "not_found")
    assert not await ChatNote.exists()
