"""Attachments both ways (SPEC §11.1), end to end: the real app and bot (aiogram's own HTTP session) against the Bot
API emulator, the inbox's API and `/inbox/files/{id}` over HTTP, the app's own delivery worker."""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
import shutil
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp.test_utils import unused_port

from closer.app import create_app
from core.config import Settings
from inbox import sniff
from inbox.files import FileStore
from jobs.housekeeping import forget_sent_uploads
from sales import accounts, attachments
from sales.clients import set_personal_manager
from sales.errors import NotFound
from storage.db import close_database, migrate, open_database
from storage.models import Attachment, AttachmentKind, Chat, Client, Employee, Message, Outbox, Role
from telegram_emulator.app import create_emulator_app
from telegram_emulator.world import World
from tests.apitools import PASSWORD, password_hash
from tests.test_bot_e2e import eventually

TOKEN = "7301:files-token"
BOT_ID = 7301
CUSTOMER = 1001
MANAGER_USER = 2000
MB = 1024 * 1024

JPEG = b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"photo bytes " * 40
PNG = b"\x89PNG\r\n\x1a\n" + b"png bytes " * 40
PDF = b"%PDF-1.7\n" + b"the price list " * 200
OGG = b"OggS\x00\x02" + b"\x00" * 20 + b"OpusHead" + b"voice bytes " * 40
MP3 = b"ID3\x04\x00" + b"song bytes " * 40
MP4 = b"\x00\x00\x00\x18ftypmp42" + b"video bytes " * 40
WEBP = b"RIFF\x20\x00\x00\x00WEBPVP8L" + b"sticker bytes " * 10
# kind -> (bytes, file name, declared type) as the client's Telegram sends them
FILES = {
    "photo": (JPEG, None, None),
    "document": (PDF, "offer.pdf", "application/pdf"),
    "voice": (OGG, None, "audio/ogg"),
    "audio": (MP3, "song.mp3", "audio/mpeg"),
    "video": (MP4, "clip.mp4", "video/mp4"),
    "video_note": (MP4, None, None),
    "sticker": (WEBP, None, None),
    "animation": (MP4, "fun.mp4", "video/mp4"),
}


@dataclass
class Env:
    world: World
    base: str
    account_id: int
    owner: Employee
    manager: Employee
    other_manager: Employee
    foreign: Employee
    files_dir: Path

    @property
    def bot(self):
        return self.world.bot(TOKEN)

    async def customer_sends(self, kind: str, caption: str | None = "", **extra) -> Message:
        data, name, mime = FILES[kind]
        update = await self.world.user_sends_media(self.bot, CUSTOMER, kind, extra.pop("data", data),
                                                   caption=caption or None, file_name=extra.pop("file_name", name),
                                                   mime_type=extra.pop("mime_type", mime), **extra)
        telegram_id = update["message"]["message_id"]
        return await eventually(lambda: Message.get_or_none(telegram_message_id=telegram_id, direction="in"))

    async def session(self, employee: Employee) -> aiohttp.ClientSession:
        http = aiohttp.ClientSession(base_url=self.base, cookie_jar=aiohttp.CookieJar(unsafe=True))
        async with http.post("/api/v1/session", json={"email": employee.email, "password": PASSWORD}) as response:
            assert response.status == 200, await response.text()
            http.headers["X-CSRF-Token"] = (await response.json())["csrf_token"]
        return http


@pytest.fixture(scope="session")
async def migrated(tmp_path_factory) -> Path:
    """An empty migrated SQLite database, made once: each test starts from a copy (migrating takes seconds)."""
    path = tmp_path_factory.mktemp("files-template") / "template.db"
    await migrate(f"sqlite://{path}")
    return path


async def start(tmp_path, aiohttp_server, template: Path, **settings) -> Env:
    world = World()
    world.add_bot(TOKEN, username="closer_files_bot")
    emulator = await aiohttp_server(create_emulator_app(world, retry_delay=0.05))
    shutil.copy(template, tmp_path / "files.db")
    url = f"sqlite://{tmp_path / 'files.db'}"
    ctx = await open_database(url)
    account = await accounts.create_account("Files Ltd", "owner@files.test", "owner-password")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    manager = await accounts.add_employee(owner, email="maria@files.test", name="Maria")
    other_manager = await accounts.add_employee(owner, email="ivan@files.test", name="Ivan")
    other = await accounts.create_account("Elsewhere", "owner@elsewhere.test", "owner-password")
    foreign = await Employee.get(account_id=other.id, role=Role.OWNER)
    await Employee.filter(id=manager.id).update(telegram_user_id=MANAGER_USER, telegram_chat_id=MANAGER_USER)
    await Employee.all().update(password_hash=password_hash())
    await close_database(ctx)
    world.add_user(MANAGER_USER, "Maria")
    world.started.add((BOT_ID, MANAGER_USER))
    world.add_user(CUSTOMER, "Anna")
    port = unused_port()
    files_dir = tmp_path / "files"
    app_settings = Settings(
        database_url=url, telegram_api_url=str(emulator.make_url("")).rstrip("/"), bot_token=TOKEN,
        public_url="http://closer.test", webhook_base_url=f"http://127.0.0.1:{port}", files_dir=files_dir,
        **settings,
    )
    await aiohttp_server(create_app(app_settings, scheduler=False), port=port)
    env = Env(world, f"http://127.0.0.1:{port}", account.id, owner, manager, other_manager, foreign, files_dir)
    await world.user_sends(env.bot, CUSTOMER, text="/start")
    client = await eventually(lambda: Client.get_or_none(account_id=account.id, telegram_user_id=CUSTOMER))
    # His personal manager hears of every message of his (SPEC §4.1), and may see his chat.
    await set_personal_manager(owner, client.id, manager.id)
    return env


@pytest.fixture
async def env(tmp_path, aiohttp_server, migrated):
    return await start(tmp_path, aiohttp_server, migrated)


# --- inbound: what a client sends is a message with its file -----------------------------------------------------

@pytest.mark.parametrize("kind", list(FILES))
async def test_each_kind_a_client_sends_is_stored_as_a_message_with_its_caption_and_one_file(env, kind):
    caption = "" if kind in ("sticker", "video_note") else f"my {kind}"
    message = await env.customer_sends(kind, caption=caption)
    assert message.text == caption
    [attachment] = await Attachment.filter(message_id=message.id)
    sent = next(m for m in env.world.transcript(env.bot, CUSTOMER) if m["message_id"] == message.telegram_message_id)
    media = sent["photo"][-1] if kind == "photo" else sent[kind]  # a photo: its largest size
    data, name, mime = FILES[kind]
    assert (attachment.kind, attachment.telegram_file_id, attachment.telegram_file_unique_id) == (
        kind, media["file_id"], media["file_unique_id"])
    assert (attachment.size, attachment.bot_id) == (len(data), BOT_ID)
    assert attachment.file_name == (name or "")
    assert attachment.mime_type == (mime or attachments.DEFAULT_TYPES[AttachmentKind(kind)])
    assert attachment.stored_path is None  # the file stays in Telegram until someone looks at it


async def test_a_photo_without_caption_is_a_message_with_empty_text(env):
    message = await env.customer_sends("photo", caption=None)
    assert message.text == ""
    assert await Attachment.filter(message_id=message.id, kind="photo").exists()


async def test_the_chat_list_names_the_kind_of_a_caption_less_file(env):
    message = await env.customer_sends("voice", caption=None)
    async with await env.session(env.manager) as http, http.get(f"/api/v1/chats/{message.chat_id}") as r:
        row = await r.json()
    assert (row["last_message"], row["last_message_attachment"]) == ("", "voice")


async def test_the_messages_api_lists_each_messages_files(env):
    message = await env.customer_sends("document", caption="see the offer")
    [attachment] = await Attachment.filter(message_id=message.id)
    async with await env.session(env.manager) as http, http.get(f"/api/v1/chats/{message.chat_id}/messages") as r:
        body = await r.json()
    shown = next(m for m in body["items"] if m["id"] == message.id)
    assert shown["text"] == "see the offer"
    assert shown["attachments"] == [{"id": attachment.id, "kind": "document", "file_name": "offer.pdf",
                                     "mime_type": "application/pdf", "size": len(PDF),
                                     "url": f"/inbox/files/{attachment.id}", "too_big": False}]


async def test_a_page_of_messages_reads_their_files_in_one_query(env, caplog):
    from inbox.present import messages_out

    for _ in range(3):
        await env.customer_sends("photo")
    messages = await Message.filter(chat__client__telegram_user_id=CUSTOMER).order_by("id")
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    out = await messages_out(messages)
    reads = [r for r in caplog.records if r.name == "tortoise.db_client" and '"attachment"' in r.getMessage()]
    assert len(reads) == 1
    assert sum(len(m.attachments) for m in out) == 3


# --- /inbox/files/{id}: fetched on first view, cached, typed by its bytes --------------------------------------

async def test_a_permitted_employee_gets_the_file_typed_by_its_bytes_with_nosniff(env):
    message = await env.customer_sends("document", caption="the offer")
    [attachment] = await Attachment.filter(message_id=message.id)
    async with await env.session(env.manager) as http, http.get(f"/inbox/files/{attachment.id}") as response:
        assert response.status == 200
        assert await response.read() == PDF
        headers = response.headers
    assert headers["Content-Type"] == "application/pdf"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Content-Disposition"].startswith('attachment; filename="offer.pdf"')  # not an image: download
    kept = await Attachment.get(id=attachment.id)
    assert kept.sha256 == hashlib.sha256(PDF).hexdigest() and (env.files_dir / kept.stored_path).is_file()


async def test_an_image_whose_bytes_agree_is_shown_inline(env):
    message = await env.customer_sends("photo")
    [attachment] = await Attachment.filter(message_id=message.id)
    async with await env.session(env.manager) as http, http.get(f"/inbox/files/{attachment.id}") as response:
        assert response.status == 200 and await response.read() == JPEG
        assert response.headers["Content-Type"] == "image/jpeg"
        assert response.headers["Content-Disposition"].startswith("inline;")


async def test_the_second_view_comes_from_the_cache_not_telegram(env):
    message = await env.customer_sends("voice")
    [attachment] = await Attachment.filter(message_id=message.id)
    async with await env.session(env.manager) as http:
        for _ in range(2):
            async with http.get(f"/inbox/files/{attachment.id}") as response:
                assert response.status == 200 and await response.read() == OGG
                assert response.headers["Content-Type"] == "audio/ogg"
    assert env.world.counters["method:getFile"] == 1 and env.world.counters["downloads"] == 1


async def test_another_accounts_employee_a_forged_id_and_a_manager_who_may_not_see_the_chat_get_404(env):
    message = await env.customer_sends("document")
    [attachment] = await Attachment.filter(message_id=message.id)
    # Ivan is a manager: the chat is Maria's (assigned and personal manager), not his, nor unassigned.
    for employee in (env.foreign, env.other_manager):
        async with await env.session(employee) as http, http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 404, employee.email
        # The rule itself says which file, whichever of the two reasons hides it.
        with pytest.raises(NotFound) as error:
            await attachments.visible(employee, attachment.id)
        assert (error.value.message, error.value.field) == (f"file {attachment.id} not found", "id")
    async with await env.session(env.manager) as http:
        for forged in (attachment.id + 1000, "abc", 2**40):
            async with http.get(f"/inbox/files/{forged}") as response:
                assert response.status == 404
    assert env.world.counters["method:getFile"] == 0


async def test_without_a_session_the_file_is_not_served(env):
    message = await env.customer_sends("photo")
    [attachment] = await Attachment.filter(message_id=message.id)
    async with aiohttp.ClientSession() as http:
        async with http.get(f"{env.base}/inbox/files/{attachment.id}", allow_redirects=False) as response:
            assert response.status == 302 and response.headers["Location"].startswith("/inbox/login")
        headers = {"Authorization": "Bearer nonsense"}
        async with http.get(f"{env.base}/inbox/files/{attachment.id}", headers=headers) as response:
            assert response.status == 401


async def test_a_file_whose_bytes_contradict_its_name_is_an_octet_stream_download(env):
    # A "photo.jpg" that is in fact a web page; or a PDF claiming to be a PNG image.
    page = b"<html><script>alert(1)</script></html>"
    message = await env.customer_sends("document", data=page, file_name="photo.jpg", mime_type="image/jpeg")
    liar = await env.customer_sends("document", data=PDF, file_name="scan.png", mime_type="image/png")
    async with await env.session(env.manager) as http:
        for sent, body in ((message, page), (liar, PDF)):
            [attachment] = await Attachment.filter(message_id=sent.id)
            async with http.get(f"/inbox/files/{attachment.id}") as response:
                assert response.status == 200 and await response.read() == body
                assert response.headers["Content-Type"] == "application/octet-stream"
                assert response.headers["Content-Disposition"].startswith("attachment;")
                assert response.headers["X-Content-Type-Options"] == "nosniff"


async def test_a_failing_get_file_is_a_502_nothing_is_kept_and_the_next_view_fetches_it(env):
    message = await env.customer_sends("photo")
    [attachment] = await Attachment.filter(message_id=message.id)
    env.world.fail_next("getFile", 500, "Internal Server Error")
    async with await env.session(env.manager) as http:
        async with http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 502
            assert "try again" in (await response.json())["error"]["message"]
        assert (await Attachment.get(id=attachment.id)).stored_path is None
        assert not any((env.files_dir / attachments.CACHE).glob("*"))
        async with http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 200 and await response.read() == JPEG


async def test_a_client_file_over_20_mb_is_stated_and_never_fetched(env):
    big = b"\x00\x00\x00\x18ftypmp42" + b"\0" * (20 * MB)
    message = await env.customer_sends("video", data=big)
    [attachment] = await Attachment.filter(message_id=message.id)
    async with await env.session(env.manager) as http:
        async with http.get(f"/api/v1/chats/{message.chat_id}/messages") as response:
            shown = next(m for m in (await response.json())["items"] if m["id"] == message.id)
        assert shown["attachments"][0]["too_big"] is True and shown["attachments"][0]["size"] == len(big)
        async with http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 409
            assert "20 MB" in (await response.json())["error"]["message"]
    assert env.world.counters["method:getFile"] == 0


async def test_a_russian_employees_page_reads_why_a_file_cannot_be_shown_in_russian(env):
    message = await env.customer_sends("document")
    [attachment] = await Attachment.filter(message_id=message.id)
    await Attachment.filter(id=attachment.id).update(telegram_file_id=None)  # neither on disk nor in Telegram
    await Employee.filter(id=env.manager.id).update(language="ru")
    async with await env.session(env.manager) as http:
        async with http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 410
            assert (await response.json())["error"]["message"] == "этот файл больше не хранится"
        async with http.get("/inbox/files/999999") as response:
            assert response.status == 404
            assert (await response.json())["error"]["message"] == "файл 999999 не найден"


async def test_when_telegram_says_a_file_is_too_big_the_answer_says_so(env):
    # The size was not in the message, but getFile refuses it: the same clear answer, nothing kept.
    message = await env.customer_sends("document")
    await Attachment.filter(message_id=message.id).update(size=None)
    [attachment] = await Attachment.filter(message_id=message.id)
    env.world.fail_next("getFile", 400, "Bad Request: file is too big")
    async with await env.session(env.manager) as http, http.get(f"/inbox/files/{attachment.id}") as response:
        assert response.status == 409 and "20 MB" in (await response.json())["error"]["message"]


async def test_the_cache_keeps_to_its_cap_evicting_the_least_recently_viewed(tmp_path, aiohttp_server, migrated):
    env = await start(tmp_path, aiohttp_server, migrated, files_cache_mb=1)
    half = 600 * 1024  # two copies do not fit in 1 MB
    ids = []
    for n in range(3):
        data = b"%PDF-1.4\n" + bytes([n]) * half
        message = await env.customer_sends("document", data=data, file_name=f"f{n}.pdf")
        ids.append((await Attachment.get(message_id=message.id)).id)
    async with await env.session(env.manager) as http:
        for attachment_id in ids:
            async with http.get(f"/inbox/files/{attachment_id}") as response:
                assert response.status == 200
    cached = sorted(p.name for p in (env.files_dir / attachments.CACHE).iterdir())
    assert cached == [str(ids[2])]  # the newest stays; the cache holds at most 1 MB
    async with await env.session(env.manager) as http, http.get(f"/inbox/files/{ids[0]}") as response:
        assert response.status == 200 and await response.read() == b"%PDF-1.4\n" + bytes([0]) * half
    assert env.world.counters["method:getFile"] == 4  # the evicted one was fetched again


def test_eviction_removes_the_least_recently_used_copy_first(tmp_path):
    import os

    store = FileStore(tmp_path, cache_limit=250)
    cache = tmp_path / attachments.CACHE
    cache.mkdir()
    for name, when in (("1", 100), ("2", 300), ("3", 200)):
        (cache / name).write_bytes(b"x" * 100)
        os.utime(cache / name, (when, when))
    store.touch(cache / "1")  # just viewed: now the most recent
    assert [p.name for p in store.evict()] == ["3"]
    assert sorted(p.name for p in cache.iterdir()) == ["1", "2"]


def test_a_copy_larger_than_the_whole_cache_stays_while_it_is_served(tmp_path):
    store = FileStore(tmp_path, cache_limit=50)
    cache = tmp_path / attachments.CACHE
    cache.mkdir()
    (cache / "old").write_bytes(b"x" * 10)
    (cache / "new").write_bytes(b"x" * 100)
    assert sorted(p.name for p in store.evict(keep=cache / "new")) == ["old"]
    assert (cache / "new").is_file()


# --- outbound: a rep's upload goes out through the paced outbox ------------------------------------------------

async def _upload(http, chat_id: int, data: bytes, name: str, text: str | None = None, content_type=None):
    form = aiohttp.FormData()
    if text is not None:
        form.add_field("text", text)
    form.add_field("file", data, filename=name, content_type=content_type or "application/octet-stream")
    async with http.post(f"/api/v1/chats/{chat_id}/messages", data=form) as response:
        return response.status, await response.json()


async def _chat_id(env) -> int:
    """His chat: opened by his first message (a greeting alone opens none)."""
    await env.world.user_sends(env.bot, CUSTOMER, text="Hello, I need the prices")
    return (await eventually(lambda: Chat.get_or_none(client__telegram_user_id=CUSTOMER))).id


async def test_a_rep_sends_a_pdf_and_the_customer_receives_the_same_bytes(env):
    async with await env.session(env.manager) as http:
        status, body = await _upload(http, await _chat_id(env), PDF, "prices.pdf", "Our prices")
    assert status == 201, body
    assert body["text"] == "Our prices" and body["attachments"][0]["kind"] == "document"
    assert body["attachments"][0]["mime_type"] == "application/pdf"
    received = await eventually(lambda: next((m for m in env.world.transcript(env.bot, CUSTOMER)
                                              if m["from_bot"] and "document" in m), None))
    assert received["file"]["sha256"] == hashlib.sha256(PDF).hexdigest()
    assert received["document"]["file_name"] == "prices.pdf" and received["caption"] == "Our prices"
    attachment = await eventually(lambda: Attachment.get_or_none(id=body["attachments"][0]["id"],
                                                                 telegram_file_id__not_isnull=True))
    assert attachment.telegram_file_id == received["document"]["file_id"] and attachment.bot_id == BOT_ID
    assert env.world.counters["method:sendDocument"] == 1


async def _sent_pdf(env, http) -> Attachment:
    status, body = await _upload(http, await _chat_id(env), PDF, "prices.pdf", "Our prices")
    assert status == 201, body
    return await eventually(lambda: Attachment.get_or_none(id=body["attachments"][0]["id"],
                                                           telegram_file_id__not_isnull=True))


async def test_a_sent_upload_leaves_the_disk_after_the_keep_days_and_still_opens_from_telegram(env):
    async with await env.session(env.manager) as http:
        attachment = await _sent_pdf(env, http)
        upload = env.files_dir / attachment.stored_path
        assert upload.is_file()
        later = attachment.created_at + timedelta(days=31)
        assert await forget_sent_uploads(later, timedelta(days=30), FileStore(env.files_dir, MB).discard) == 1
        assert not upload.exists()
        assert (await Attachment.get(id=attachment.id)).stored_path is None
        async with http.get(f"/inbox/files/{attachment.id}") as response:
            assert response.status == 200
            assert await response.read() == PDF
    assert env.world.counters["method:getFile"] == 1


async def test_an_upload_stays_on_disk_until_sent_and_for_the_keep_days_after(env):
    async with await env.session(env.manager) as http:
        attachment = await _sent_pdf(env, http)
    discard = FileStore(env.files_dir, MB).discard
    assert await forget_sent_uploads(attachment.created_at + timedelta(days=29), timedelta(days=30), discard) == 0
    await Attachment.filter(id=attachment.id).update(telegram_file_id=None)  # as if not sent yet
    assert await forget_sent_uploads(attachment.created_at + timedelta(days=90), timedelta(days=30), discard) == 0
    assert (env.files_dir / attachment.stored_path).is_file()


async def test_a_sent_upload_over_20_mb_stays_on_disk_because_telegram_would_not_hand_it_back(env):
    async with await env.session(env.manager) as http:
        attachment = await _sent_pdf(env, http)
    await Attachment.filter(id=attachment.id).update(size=21 * MB)
    discard = FileStore(env.files_dir, MB).discard
    assert await forget_sent_uploads(attachment.created_at + timedelta(days=90), timedelta(days=30), discard) == 0
    assert (env.files_dir / attachment.stored_path).is_file()


async def test_a_rep_sends_a_photo_and_it_goes_out_with_send_photo(env):
    async with await env.session(env.manager) as http:
        status, body = await _upload(http, await _chat_id(env), PNG, "plan.png")
    assert status == 201 and body["text"] == "" and body["attachments"][0]["kind"] == "photo"
    received = await eventually(lambda: next((m for m in env.world.transcript(env.bot, CUSTOMER)
                                              if m["from_bot"] and "photo" in m), None))
    assert received["file"]["sha256"] == hashlib.sha256(PNG).hexdigest() and "caption" not in received
    assert env.world.counters["method:sendPhoto"] == 1 and env.world.counters["method:sendDocument"] == 0


async def test_an_upload_is_typed_by_its_bytes_not_its_name(env):
    async with await env.session(env.manager) as http:
        status, body = await _upload(http, await _chat_id(env), PDF, "cat.jpg", content_type="image/jpeg")
    assert status == 201
    shown = body["attachments"][0]
    assert (shown["kind"], shown["mime_type"]) == ("document", "application/octet-stream")


async def test_an_upload_over_50_mb_is_refused_with_413_and_nothing_is_stored(env):
    chat_id = await _chat_id(env)
    before = await Message.filter(chat_id=chat_id).count()
    async with await env.session(env.manager) as http:
        status, body = await _upload(http, chat_id, b"%PDF-1.4" + b"\0" * (50 * MB), "huge.pdf")
    assert status == 413 and "50 MB" in body["error"]["message"] and body["error"]["field"] == "file"
    assert await Message.filter(chat_id=chat_id).count() == before
    assert not await Attachment.filter(message__chat_id=chat_id, message__direction="out").exists()
    assert not [p for p in (env.files_dir / attachments.UPLOADS).glob("*")]
    assert not await Outbox.filter(kind="message.to_client").exists()


async def test_a_bad_upload_is_a_422_naming_the_field_and_stores_nothing(env):
    chat_id = await _chat_id(env)
    async with await env.session(env.manager) as http:
        status, body = await _upload(http, chat_id, PDF, "a.pdf", text="x" * 1025)
        assert (status, body["error"]["field"]) == (422, "text")
        form = aiohttp.FormData()
        form.add_field("text", "no file")
        async with http.post(f"/api/v1/chats/{chat_id}/messages", data=form) as response:
            assert response.status in (415, 422)  # a form without a file is not an upload
        status, body = await _upload(http, chat_id, b"", "empty.pdf")
        assert (status, body["error"]["field"]) == (422, "file")
    assert not [p for p in (env.files_dir / attachments.UPLOADS).glob("*")]
    assert not await Message.filter(chat_id=chat_id, direction="out").exists()


async def test_an_employee_who_may_not_see_the_chat_cannot_upload_to_it(env):
    async with await env.session(env.other_manager) as http:
        status, _body = await _upload(http, await _chat_id(env), PDF, "a.pdf")
    assert status == 404
    assert not (env.files_dir / attachments.UPLOADS).exists() or not any((env.files_dir / attachments.UPLOADS).iterdir())


async def test_an_upload_that_telegram_refuses_is_retried_then_parked_like_a_text(env):
    env.world.fail_next("sendDocument", 500, "Internal Server Error", times=100)
    async with await env.session(env.manager) as http:
        status, _body = await _upload(http, await _chat_id(env), PDF, "prices.pdf")
    assert status == 201
    row = await eventually(lambda: Outbox.get_or_none(kind="message.to_client", attempts__gte=1,
                                                       last_error__contains="Internal Server Error"))
    assert row.status == "pending"  # to be tried again later
    # Its last attempt (the worker gives up after 8) comes now: it fails too, and the row is parked for an admin.
    await Outbox.filter(id=row.id).update(attempts=7, available_at=row.created_at)
    parked = await eventually(lambda: Outbox.get_or_none(id=row.id, status="parked"))
    assert "Internal Server Error" in parked.last_error
    assert not any("document" in m for m in env.world.transcript(env.bot, CUSTOMER))


# --- to staff: a client's media reaches his manager's Telegram as media ----------------------------------------

def _manager_messages(env) -> list[dict]:
    return [m for m in env.world.transcript(env.bot, MANAGER_USER) if m["from_bot"]]


async def test_a_clients_photo_reaches_his_manager_as_a_photo_and_a_reply_answers_the_client(env):
    await env.customer_sends("photo", caption="Is this the right part?")
    relayed = await eventually(lambda: next((m for m in _manager_messages(env) if "photo" in m), None))
    assert relayed["file"]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert "Anna" in relayed["caption"] and "Is this the right part?" in relayed["caption"]
    assert relayed["reply_markup"]["inline_keyboard"][0][0]["text"] == "Open chat"
    await env.world.user_sends(env.bot, MANAGER_USER, text="Yes, that one.", reply_to=relayed["message_id"])
    await eventually(lambda: any(m.get("text") == "Yes, that one." for m in env.world.transcript(env.bot, CUSTOMER)
                                 if m["from_bot"]))
    assert env.world.counters["method:copyMessage"] == 1


async def test_a_clients_sticker_reaches_his_manager_with_words_naming_him(env):
    await env.customer_sends("sticker")
    sticker = await eventually(lambda: next((m for m in _manager_messages(env) if "sticker" in m), None))
    words = await eventually(lambda: next((m for m in _manager_messages(env)
                                           if (m.get("reply_to_message") or {}).get("message_id")
                                           == sticker["message_id"]), None))
    assert "Anna" in words["text"] and "Sticker" in words["text"]


async def test_a_file_that_cannot_be_copied_reaches_the_manager_as_words(env):
    # He deleted it in Telegram before it was relayed: Telegram cannot copy it, the words still say what came.
    env.world.fail_next("copyMessage", 400, "Bad Request: message to copy not found")
    await env.customer_sends("document", caption="the contract")
    said = await eventually(lambda: next((m for m in _manager_messages(env) if "📎" in (m.get("text") or "")), None))
    assert "Anna" in said["text"] and "Document offer.pdf" in said["text"] and "the contract" in said["text"]
    assert not any("document" in m for m in _manager_messages(env))


# --- from staff's Telegram: a rep answers with a photo or a file by replying --------------------------------------

async def _relayed_text(env) -> dict:
    await _chat_id(env)
    return await eventually(lambda: next((m for m in _manager_messages(env)
                                          if "Hello, I need the prices" in (m.get("text") or "")), None))


async def test_a_rep_replies_from_telegram_with_a_photo_and_the_client_gets_the_same_photo(env):
    relayed = await _relayed_text(env)
    await env.world.user_sends_media(env.bot, MANAGER_USER, "photo", JPEG, caption="This is the one",
                                     reply_to=relayed["message_id"])
    received = await eventually(lambda: next((m for m in env.world.transcript(env.bot, CUSTOMER)
                                              if m["from_bot"] and "photo" in m), None))
    assert received["file"]["sha256"] == hashlib.sha256(JPEG).hexdigest()
    assert received["caption"] == "This is the one"
    message = await Message.get(direction="out", employee_id=env.manager.id)
    attachment = await Attachment.get(message_id=message.id)
    assert message.text == "This is the one" and attachment.kind == AttachmentKind.PHOTO
    # Telegram's file_id went out again: no upload, and nothing kept on disk.
    assert attachment.bot_id == BOT_ID and attachment.stored_path is None


async def test_a_file_a_rep_sent_from_telegram_can_be_opened_in_the_inbox(env):
    relayed = await _relayed_text(env)
    await env.world.user_sends_media(env.bot, MANAGER_USER, "document", PDF, file_name="terms.pdf",
                                     mime_type="application/pdf", reply_to=relayed["message_id"])
    message = await eventually(lambda: Message.get_or_none(direction="out", employee_id=env.manager.id))
    attachment = await Attachment.get(message_id=message.id)
    assert attachment.kind == AttachmentKind.DOCUMENT and attachment.file_name == "terms.pdf"
    async with await env.session(env.manager) as http, http.get(f"/inbox/files/{attachment.id}") as response:
        assert response.status == 200
        assert await response.read() == PDF


async def test_a_voice_reply_from_telegram_is_refused_with_words_and_nothing_reaches_the_client(env):
    relayed = await _relayed_text(env)
    await env.world.user_sends_media(env.bot, MANAGER_USER, "voice", OGG, reply_to=relayed["message_id"])
    said = await eventually(lambda: next((m for m in _manager_messages(env)
                                          if "Only a photo or a file" in (m.get("text") or "")), None))
    assert said is not None
    assert not await Message.filter(direction="out", employee_id=env.manager.id).exists()
    assert not any("voice" in m for m in env.world.transcript(env.bot, CUSTOMER) if m["from_bot"])


# --- the sniffer ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("head", "expected"), [
    (JPEG, "image/jpeg"), (PNG, "image/png"), (b"GIF89a...", "image/gif"), (WEBP, "image/webp"), (PDF, "application/pdf"),
    (OGG, "audio/ogg"), (MP3, "audio/mpeg"), (b"\xff\xfb\x90\x00", "audio/mpeg"), (MP4, "video/mp4"),
    (b"\x1a\x45\xdf\xa3\x9f\x42\x86\x81\x01webm", "video/webm"), (b"PK\x03\x04\x14\x00", "application/zip"),
    (b"<html>", None), (b"", None),
])
def test_the_sniffer_knows_each_kind_by_its_magic_number(head, expected):
    assert sniff.sniff(head) == expected


def test_a_docx_is_a_zip_and_agrees_with_its_name_but_a_pdf_named_jpg_does_not():
    docx = sniff.serving(b"PK\x03\x04", declared="application/vnd.openxmlformats-officedocument."
                                                   "wordprocessingml.document", file_name="cv.docx")
    assert (docx.content_type, docx.inline) == ("application/zip", False)
    liar = sniff.serving(PDF, declared=None, file_name="cat.jpg")
    assert (liar.content_type, liar.inline) == ("application/octet-stream", False)


def test_a_file_name_is_made_safe_for_the_header():
    header = sniff.content_disposition(False, sniff.safe_filename('../../etc/"pass\r\nwd".pdf', "f"))
    assert "\r" not in header and "\n" not in header and "/" not in header.split("filename*")[0]
    assert header.startswith('attachment; filename="')
    assert sniff.content_disposition(True, "прайс.pdf").endswith("UTF-8''%D0%BF%D1%80%D0%B0%D0%B9%D1%81.pdf")
