"""The Bot API emulator answers aiogram's real HTTP session the way Telegram does where closer depends on it."""

from __future__ import annotations

import asyncio

import pytest
from aiogram import Bot, Dispatcher, F, Router
from aiogram.exceptions import TelegramBadRequest, TelegramConflictError, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, LabeledPrice, Message
from aiohttp import web

from bot.session import make_session
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World

TOKEN = "5150:emulated"


@pytest.fixture
async def world_and_bot(aiohttp_server):
    world = World()
    world.add_bot(TOKEN, username="closer_test_bot")
    server = await aiohttp_server(create_emulator_app(world, retry_delay=0.05))
    bot = Bot(TOKEN, session=make_session(str(server.make_url(""))))
    yield world, bot, server
    await bot.session.close()


async def _started_user(world, user_id=1001, name="Ann"):
    world.add_user(user_id, name)
    bot = world.bot(TOKEN)
    await world.user_sends(bot, user_id, text="/start")
    return user_id


async def test_get_me_names_the_bot(world_and_bot):
    _, bot, _ = world_and_bot
    me = await bot.get_me()
    assert (me.id, me.username, me.is_bot) == (5150, "closer_test_bot", True)


async def test_a_sent_message_reaches_the_users_chat(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    sent = await bot.send_message(user, "<b>Hello</b> &amp; welcome", parse_mode="HTML")
    assert sent.text == "Hello & welcome" and sent.chat.id == user
    assert world.transcript(world.bot(TOKEN), user)[-1]["text"] == "Hello & welcome"


async def test_a_message_over_4096_characters_is_refused(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    with pytest.raises(TelegramBadRequest, match="too long"):
        await bot.send_message(user, "x" * 4097)


async def test_broken_html_is_refused(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    with pytest.raises(TelegramBadRequest, match="parse entities"):
        await bot.send_message(user, "<b>open", parse_mode="HTML")


async def test_a_button_without_an_action_is_refused(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    bad = {"inline_keyboard": [[{"text": "nothing"}]]}
    with pytest.raises(TelegramBadRequest):
        await bot.session.make_request(bot, _raw_send(user, bad))


def _raw_send(chat_id, markup):
    from aiogram.methods import SendMessage

    method = SendMessage(chat_id=chat_id, text="hi")
    method.reply_markup = markup  # bypass aiogram's own validation: the emulator must refuse it
    return method


async def test_a_user_who_blocked_the_bot_is_forbidden(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    world.blocked.add((5150, user))
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(user, "hi")


async def test_the_bot_cannot_start_a_conversation(world_and_bot):
    world, bot, _ = world_and_bot
    world.add_user(2002, "Never started")
    with pytest.raises(TelegramForbiddenError, match="initiate"):
        await bot.send_message(2002, "hi")


async def test_more_than_30_messages_a_second_get_429_with_retry_after(world_and_bot):
    world, bot, _ = world_and_bot
    users = [await _started_user(world, 3000 + i, f"U{i}") for i in range(31)]
    results = await asyncio.gather(*(bot.send_message(u, "hi") for u in users), return_exceptions=True)
    limited = [r for r in results if isinstance(r, TelegramRetryAfter)]
    assert limited and all(r.retry_after >= 1 for r in limited)
    assert sum(isinstance(r, Message) for r in results) == 30


async def test_a_burst_to_one_chat_gets_429(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    results = [await _try(bot.send_message(user, f"m{i}")) for i in range(4)]
    assert isinstance(results[-1], TelegramRetryAfter)
    assert all(isinstance(r, Message) for r in results[:3])


async def _try(coro):
    try:
        return await coro
    except Exception as exc:  # the test inspects which error
        return exc


async def test_get_updates_returns_user_actions_in_order_and_offset_confirms_them(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    await world.user_sends(world.bot(TOKEN), user, text="hello")
    updates = await bot.get_updates(timeout=0)
    assert [u.message.text for u in updates] == ["/start", "hello"]
    assert updates[0].message.entities[0].type == "bot_command"
    assert await bot.get_updates(offset=updates[-1].update_id + 1, timeout=0) == []


async def test_long_polling_returns_as_soon_as_an_update_comes(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    first = await bot.get_updates(timeout=0)
    waiting = asyncio.create_task(bot.get_updates(offset=first[-1].update_id + 1, timeout=10))
    await asyncio.sleep(0.2)
    await world.user_sends(world.bot(TOKEN), user, text="now")
    updates = await asyncio.wait_for(waiting, timeout=5)
    assert [u.message.text for u in updates] == ["now"]


async def test_a_second_long_poll_ends_the_waiting_one_with_409_like_telegram(world_and_bot):
    world, bot, _ = world_and_bot
    older = asyncio.create_task(bot.get_updates(timeout=10))
    await asyncio.sleep(0.2)
    newer = asyncio.create_task(bot.get_updates(timeout=1))
    with pytest.raises(TelegramConflictError, match="terminated by other getUpdates request"):
        await asyncio.wait_for(older, timeout=5)
    assert await asyncio.wait_for(newer, timeout=5) == []
    assert world.counters["409"] == 1


async def test_webhook_updates_carry_the_secret_and_are_resent_until_acknowledged(world_and_bot, aiohttp_server):
    world, bot, _ = world_and_bot
    received: list[tuple[int, str | None]] = []

    async def receiver(request):
        body = await request.json()
        received.append((body["update_id"], request.headers.get("X-Telegram-Bot-Api-Secret-Token")))
        return web.Response(status=500 if len(received) == 1 else 200)

    app = web.Application()
    app.router.add_post("/hook", receiver)
    hook = await aiohttp_server(app)
    await bot.set_webhook(str(hook.make_url("/hook")), secret_token="sekret")
    world.add_user(1001, "Ann")
    await world.user_sends(world.bot(TOKEN), 1001, text="/start")
    for _ in range(100):
        if len(received) >= 2:
            break
        await asyncio.sleep(0.05)
    first_id = received[0][0]
    assert received[:2] == [(first_id, "sekret"), (first_id, "sekret")]
    with pytest.raises(TelegramConflictError):
        await bot.get_updates(timeout=0)


async def test_a_restarted_emulator_never_repeats_an_update_id():
    # closer skips an update id it has claimed (for at least 48 h): a demo restarted with ids from 1 again would
    # have its first customer messages ignored as resends.
    before = World()
    bot = before.add_bot(TOKEN)
    before.add_user(1001, "Ann")
    old_ids = [(await before.user_sends(bot, 1001, text=f"m{i}"))["update_id"] for i in range(3)]
    await asyncio.sleep(0.01)  # the restart
    after = World()
    bot = after.add_bot(TOKEN)
    after.add_user(1001, "Ann")
    new_ids = [(await after.user_sends(bot, 1001, text=f"m{i}"))["update_id"] for i in range(3)]
    assert new_ids == list(range(new_ids[0], new_ids[0] + 3))
    assert new_ids[0] > max(old_ids)


async def test_edits_change_what_the_chat_shows(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Take", callback_data="take:1")]])
    sent = await bot.send_message(user, "alert", reply_markup=markup)
    await bot.edit_message_text(text="alert — taken", chat_id=user, message_id=sent.message_id)
    shown = world.transcript(world.bot(TOKEN), user)[-1]
    assert shown["text"] == "alert — taken" and "reply_markup" not in shown and shown["edits"] == 1
    with pytest.raises(TelegramBadRequest, match="not modified"):
        await bot.edit_message_text(text="alert — taken", chat_id=user, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="not found"):
        await bot.edit_message_text(text="x", chat_id=user, message_id=999)


async def test_a_button_press_arrives_as_a_callback_query_that_can_be_answered(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    markup = InlineKeyboardMarkup(inline_keyboard=[[InlineKeyboardButton(text="Go", callback_data="go")]])
    sent = await bot.send_message(user, "choose", reply_markup=markup)
    await world.user_presses(world.bot(TOKEN), user, sent.message_id, "go")
    update = (await bot.get_updates(timeout=0))[-1]
    assert update.callback_query.data == "go" and update.callback_query.message.message_id == sent.message_id
    assert await bot.answer_callback_query(update.callback_query.id, text="ok")
    with pytest.raises(TelegramBadRequest):
        await bot.answer_callback_query(update.callback_query.id)


async def test_paying_an_invoice_asks_the_bot_then_reports_success(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    sent = await bot.send_invoice(user, title="Course", description="Order #1", payload="order:1", currency="EUR",
                                  prices=[LabeledPrice(label="Course", amount=49000)], provider_token="")
    paying = asyncio.create_task(world.user_pays(world.bot(TOKEN), user, sent.message_id, wait=5))
    await asyncio.sleep(0.1)
    query = (await bot.get_updates(timeout=0))[-1].pre_checkout_query
    assert (query.invoice_payload, query.total_amount) == ("order:1", 49000)
    await bot.answer_pre_checkout_query(query.id, ok=True)
    assert (await paying)["paid"] is True
    payment = (await bot.get_updates(offset=0, timeout=0))[-1].message.successful_payment
    assert (payment.invoice_payload, payment.currency) == ("order:1", "EUR")


async def test_an_aiogram_dispatcher_polls_the_emulator(world_and_bot):
    world, bot, _ = world_and_bot
    router = Router()

    @router.message(F.text)
    async def echo(message: Message) -> None:
        await message.answer(f"echo: {message.text}")

    dp = Dispatcher()
    dp.include_router(router)
    polling = asyncio.create_task(dp.start_polling(bot, handle_signals=False, close_bot_session=False, polling_timeout=1))
    user = await _started_user(world)
    await world.user_sends(world.bot(TOKEN), user, text="ping")
    for _ in range(100):
        texts = [m.get("text") for m in world.transcript(world.bot(TOKEN), user) if m["from_bot"]]
        if "echo: ping" in texts:
            break
        await asyncio.sleep(0.05)
    await dp.stop_polling()
    await polling
    assert "echo: ping" in texts


async def test_the_stand_in_client_page_is_served(world_and_bot):
    _, _, server = world_and_bot
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(server.make_url("/")) as response:
        assert response.status == 200
        assert "Telegram stand-in" in await response.text()


# --- files (SPEC §11.1): what users send, getFile and the download URL, what bots send

PNG = bytes.fromhex("89504e470d0a1a0a") + b"emulated photo bytes"


async def _download(bot, file_id: str) -> bytes:
    found = await bot.get_file(file_id)
    return (await bot.download_file(found.file_path)).read()


@pytest.mark.parametrize("kind", ["photo", "document", "voice", "audio", "video", "video_note", "sticker",
                                  "animation"])
async def test_a_users_file_arrives_with_its_caption_and_downloads_through_get_file(world_and_bot, kind):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    await world.user_sends_media(world.bot(TOKEN), user, kind, PNG + kind.encode(), caption="look",
                                 file_name="thing.bin", mime_type="application/x-thing")
    message = (await bot.get_updates(timeout=0))[-1].message
    assert message.content_type == kind
    media = message.photo[-1] if kind == "photo" else getattr(message, kind)
    assert await _download(bot, media.file_id) == PNG + kind.encode()
    assert media.file_size == len(PNG + kind.encode())
    if kind in ("sticker", "video_note"):
        assert message.caption is None  # these kinds carry no caption
    else:
        assert message.caption == "look"


async def test_a_photo_comes_in_several_sizes_the_largest_last(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    await world.user_sends_media(world.bot(TOKEN), user, "photo", PNG, width=1600, height=1200)
    sizes = (await bot.get_updates(timeout=0))[-1].message.photo
    assert len(sizes) == 3 and len({s.file_id for s in sizes}) == 3
    assert [s.width for s in sizes] == sorted(s.width for s in sizes) and sizes[-1].width == 1600


async def test_a_document_keeps_its_name_and_type(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    await world.user_sends_media(world.bot(TOKEN), user, "document", b"%PDF-1.4 x", file_name="offer.pdf",
                                 mime_type="application/pdf")
    document = (await bot.get_updates(timeout=0))[-1].message.document
    assert (document.file_name, document.mime_type) == ("offer.pdf", "application/pdf")
    assert (await bot.get_file(document.file_id)).file_path.endswith(".pdf")


async def test_get_file_refuses_a_file_over_20_mb_like_telegram(world_and_bot):
    world, bot, _ = world_and_bot
    user = await _started_user(world)
    big = b"\0" * (20 * 1024 * 1024 + 1)
    await world.user_sends_media(world.bot(TOKEN), user, "video", big)
    video = (await bot.get_updates(timeout=0))[-1].message.video
    assert video.file_size == len(big)
    with pytest.raises(TelegramBadRequest, match="file is too big"):
        await bot.get_file(video.file_id)


async def test_another_bots_file_id_is_refused(world_and_bot):
    world, bot, _ = world_and_bot
    other = world.add_bot("5151:other")
    world.add_user(1001, "Ann")
    await world.user_sends(other, 1001, text="/start")
    await world.user_sends_media(other, 1001, "document", b"secret", file_name="a.txt")
    file_id = world.transcript(other, 1001)[-1]["document"]["file_id"]
    with pytest.raises(TelegramBadRequest, match="wrong file_id"):
        await bot.get_file(file_id)


async def test_the_download_url_serves_only_the_bots_own_paths(world_and_bot):
    world, bot, server = world_and_bot
    import aiohttp

    async with aiohttp.ClientSession() as session:
        async with session.get(server.make_url(f"/file/bot{TOKEN}/documents/file_999.pdf")) as response:
            assert response.status == 404
        async with session.get(server.make_url("/file/bot1:nobody/documents/file_0.pdf")) as response:
            assert response.status == 401


async def test_a_method_made_to_fail_fails_once_then_works(world_and_bot):
    world, bot, _ = world_and_bot
    world.fail_next("getMe", 500, "Internal Server Error")
    from aiogram.exceptions import TelegramServerError

    with pytest.raises(TelegramServerError):
        await bot.get_me()
    assert (await bot.get_me()).id == 5150


async def test_a_failure_kept_for_one_chat_leaves_sends_to_other_chats_alone(world_and_bot):
    world, bot, _ = world_and_bot
    ann, bob = await _started_user(world), await _started_user(world, 1002, "Bob")
    world.fail_next("sendMessage", 403, "Forbidden: bot was blocked by the user", chat_id=ann)
    from aiogram.exceptions import TelegramForbiddenError

    assert (await bot.send_message(bob, "for Bob")).chat.id == bob
    with pytest.raises(TelegramForbiddenError, match="blocked"):
        await bot.send_message(ann, "for Ann")
    assert (await bot.send_message(ann, "for Ann again")).chat.id == ann


async def test_send_document_uploads_the_bytes_and_the_chat_keeps_them(world_and_bot):
    import hashlib

    from aiogram.types import BufferedInputFile

    world, bot, _ = world_and_bot
    user = await _started_user(world)
    data = b"%PDF-1.7 the price list"
    sent = await bot.send_document(user, BufferedInputFile(data, "prices.pdf"), caption="<b>Prices</b>",
                                   parse_mode="HTML")
    assert sent.document.file_name == "prices.pdf" and sent.caption == "Prices"
    shown = world.transcript(world.bot(TOKEN), user)[-1]
    assert shown["file"]["sha256"] == hashlib.sha256(data).hexdigest() and shown["caption"] == "Prices"
    again = await bot.send_document(user, sent.document.file_id)  # by file_id: no upload
    assert again.document.file_id == sent.document.file_id
    assert await _download(bot, sent.document.file_id) == data


async def test_send_photo_refuses_a_photo_over_10_mb_and_a_caption_over_1024(world_and_bot):
    from aiogram.types import BufferedInputFile

    world, bot, _ = world_and_bot
    user = await _started_user(world)
    with pytest.raises(TelegramBadRequest, match="PHOTO_SAVE_FILE_INVALID"):
        await bot.send_photo(user, BufferedInputFile(PNG + b"\0" * (10 * 1024 * 1024), "big.png"))
    with pytest.raises(TelegramBadRequest, match="caption is too long"):
        await bot.send_photo(user, BufferedInputFile(PNG, "p.png"), caption="x" * 1025)
    sent = await bot.send_photo(user, BufferedInputFile(PNG, "p.png"), caption="ok")
    assert sent.photo[-1].file_size == len(PNG)


async def test_copy_message_copies_a_users_media_into_another_chat(world_and_bot):
    world, bot, _ = world_and_bot
    customer = await _started_user(world, 1001, "Ann")
    staff = await _started_user(world, 2001, "Maria")
    update = await world.user_sends_media(world.bot(TOKEN), customer, "voice", b"OggS voice", caption="listen")
    copied = await bot.copy_message(staff, customer, update["message"]["message_id"], caption="<i>from Ann</i>",
                                    parse_mode="HTML")
    shown = world.transcript(world.bot(TOKEN), staff)[-1]
    assert shown["message_id"] == copied.message_id and shown["from_bot"]
    assert shown["voice"]["file_id"] == update["message"]["voice"]["file_id"] and shown["caption"] == "from Ann"


async def test_media_is_sent_and_downloaded_over_the_control_api(world_and_bot):
    import aiohttp

    world, bot, server = world_and_bot
    user = await _started_user(world)
    form = aiohttp.FormData()
    for key, value in (("user_id", str(user)), ("kind", "document"), ("caption", "see attached")):
        form.add_field(key, value)
    form.add_field("file", b"hello file", filename="note.txt", content_type="text/plain")
    async with aiohttp.ClientSession() as session:
        async with session.post(server.make_url("/_emulator/send_media"), data=form) as response:
            assert response.status == 200, await response.text()
            document = (await response.json())["message"]["document"]
        assert (document["file_name"], document["mime_type"]) == ("note.txt", "text/plain")
        async with session.get(server.make_url(f"/_emulator/files/{document['file_id']}")) as response:
            assert await response.read() == b"hello file"
    assert await _download(bot, document["file_id"]) == b"hello file"


async def test_the_stand_in_client_page_sends_and_shows_files(world_and_bot):
    _, _, server = world_and_bot
    import aiohttp

    async with aiohttp.ClientSession() as session, session.get(server.make_url("/")) as response:
        page = await response.text()
    assert 'id="attach"' in page and "_emulator/send_media" in page and "_emulator/files/" in page
