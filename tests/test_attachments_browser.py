"""A client's files in the chat page of a real headless Chromium (SPEC §11.1): the app, its bot and the Bot API
emulator running, the files fetched through `/inbox/files/{id}` on first view; and a file sent from the reply box."""

from __future__ import annotations

import hashlib
import shutil
import struct
import zlib

import pytest
from playwright.async_api import expect

from storage.models import Chat, Message
from tests.browsing import OUTPUT, SCREENSHOTS, chromium, chromiums, logged_in, open_page  # noqa: F401 (a fixture)
from tests.test_attachments import CUSTOMER, Env, eventually, migrated, start  # noqa: F401 (a fixture)

# The voice message must play without a click on the page.
AUTOPLAY = "--autoplay-policy=no-user-gesture-required"


def png(width: int = 360, height: int = 200) -> bytes:
    """A real PNG (a blue-to-orange gradient), made without an imaging library."""
    rows = b"".join(
        b"\x00" + b"".join(bytes((40 + 200 * x // width, 110 + 60 * y // height, 230 - 180 * x // width))
                           for x in range(width))
        for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b"")


def _ogg_crc(data: bytes) -> int:
    crc = 0
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _ogg_page(flags: int, granule: int, sequence: int, packets: list[bytes]) -> bytes:
    lacing = b"".join(bytes([255] * (len(p) // 255) + [len(p) % 255]) for p in packets)
    header = (b"OggS" + bytes([0, flags]) + struct.pack("<qII", granule, 0x0C105E, sequence) + b"\0\0\0\0"
              + bytes([len(lacing)]) + lacing)
    page = header + b"".join(packets)
    return page[:22] + struct.pack("<I", _ogg_crc(page)) + page[26:]


def ogg_voice(seconds: int = 2) -> bytes:
    """A real Ogg Opus voice message, as Telegram's clients record them: mono, 48 kHz, here silence (20 ms frames)."""
    head = b"OpusHead" + struct.pack("<BBHIhB", 1, 1, 312, 48000, 0, 0)
    tags = b"OpusTags" + struct.pack("<I", 6) + b"closer" + struct.pack("<I", 0)
    pages = [_ogg_page(0x02, 0, 0, [head]), _ogg_page(0x00, 0, 1, [tags])]
    frame = b"\xf8\xff\xfe"  # CELT, full band, 20 ms, one silent frame
    per_page, total = 50, 50 * seconds
    for index, start_at in enumerate(range(0, total, per_page)):
        count = min(per_page, total - start_at)
        last = start_at + count >= total
        pages.append(_ogg_page(0x04 if last else 0x00, (start_at + count) * 960, 2 + index, [frame] * count))
    return b"".join(pages)


@pytest.fixture
async def env(tmp_path, aiohttp_server, migrated):  # noqa: F811 (the fixture imported above)
    return await start(tmp_path, aiohttp_server, migrated)


@pytest.fixture
async def browser(env, chromiums):  # noqa: F811 (the fixture imported above)
    async with chromium(chromiums, AUTOPLAY) as pages:
        yield pages


async def test_a_clients_photo_and_voice_are_seen_and_heard_in_the_chat(browser, env):
    photo, voice = png(), ogg_voice(2)
    await env.world.user_sends(env.bot, CUSTOMER, text="Hello! Is this the colour you have?")
    await env.world.user_sends_media(env.bot, CUSTOMER, "photo", photo, caption="This one, in blue", width=360,
                                     height=200)
    await env.world.user_sends_media(env.bot, CUSTOMER, "voice", voice, duration=2)
    await env.world.user_sends_media(env.bot, CUSTOMER, "document", b"%PDF-1.4 the quote", caption="and the quote",
                                     file_name="quote.pdf", mime_type="application/pdf")
    await eventually(lambda: Message.filter(attachments__kind="document").exists())
    chat = await Chat.get(client__telegram_user_id=CUSTOMER)
    page = await logged_in(browser, env, env.manager, height=860)
    await open_page(page, env, f"/inbox/chats/{chat.id}")
    image = page.locator(".attachments img.photo")
    await expect(image).to_be_visible()
    await expect(page.locator("#messages")).to_contain_text("This one, in blue")
    # Loaded from /inbox/files/{id}: the bytes the client sent, drawn at their size.
    assert await image.evaluate("img => img.complete && img.naturalWidth") == 360
    audio = page.locator(".attachments audio.voice")
    await expect(audio).to_have_count(1)
    await audio.evaluate("a => a.readyState >= 1 || new Promise((ok, bad) => {"
                         " a.addEventListener('loadedmetadata', ok); a.addEventListener('error', bad); a.load(); })")
    assert await audio.evaluate("a => a.error") is None
    assert 1.5 <= await audio.evaluate("a => a.duration") <= 2.5
    await audio.evaluate("a => a.play()")  # it plays: Chromium decodes the client's voice
    played = await audio.evaluate("a => new Promise((ok) => { const started = Date.now();"
                                  " const check = () => a.currentTime > 0 || Date.now() - started > 5000"
                                  " ? ok(a.currentTime) : setTimeout(check, 50); check(); })")
    assert played > 0
    await audio.evaluate("a => a.pause()")
    document = page.locator(".attachments a.attachment-file")
    await expect(document).to_contain_text("quote.pdf")
    OUTPUT.mkdir(exist_ok=True)
    await page.screenshot(path=str(OUTPUT / "chat-attachments.png"), full_page=True)
    shutil.copy(OUTPUT / "chat-attachments.png", SCREENSHOTS / "chat-attachments.png")
    assert page.errors == []


async def test_a_file_attached_in_the_reply_box_reaches_the_client(browser, env, tmp_path):
    await env.world.user_sends(env.bot, CUSTOMER, text="Can you send me the price list?")
    chat = await eventually(lambda: Chat.get_or_none(client__telegram_user_id=CUSTOMER))
    page = await logged_in(browser, env, env.manager, height=860)
    await open_page(page, env, f"/inbox/chats/{chat.id}")
    prices = tmp_path / "prices.pdf"
    prices.write_bytes(b"%PDF-1.7\n" + b"price list " * 500)
    await page.fill("#reply textarea", "Here it is")
    await page.set_input_files("#attach-file", str(prices))
    await expect(page.locator("#messages .attachments a.attachment-file")).to_contain_text("prices.pdf")
    await expect(page.locator("#reply textarea")).to_have_value("")
    received = await eventually(lambda: next((m for m in env.world.transcript(env.bot, CUSTOMER)
                                              if m["from_bot"] and "document" in m), None))
    assert received["file"]["sha256"] == hashlib.sha256(prices.read_bytes()).hexdigest()
    assert received["caption"] == "Here it is"
    assert page.errors == []
