"""Files of a chat (SPEC §11.1): `/inbox/files/{id}` streams one to an employee who may see the chat, and the files
directory keeps an employee's uploads until they are sent and a cache of what was fetched from Telegram.

A client's file stays in Telegram. Its first view asks the Bot API (`getFile`, then the download URL of the
configured TELEGRAM_API_URL) through the bot that received it, and keeps the copy in `FILES_DIR/cache`; the cache
holds at most FILES_CACHE_MB, the least recently viewed copies leaving first. Telegram hands bots no file over
20 MB: such a file is named, not fetched. A failing Bot API is a 502 and nothing is kept, so the next view tries
again.

What a file is comes from its bytes (inbox.sniff), never from its name alone, and it is served with nosniff: inline
only an image, sound or video whose every claim agrees with the bytes, anything else as a download.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiohttp import BodyPartReader, web

from bot.keys import BOTS
from core import links
from core.keys import SETTINGS
from inbox import sniff
from inbox.auth import bearer_token, cookie_session
from inbox.errors import words_for
from sales import attachments
from sales.errors import Invalid, NotFound
from sales.sessions import token_employee
from storage.models import Attachment, AttachmentKind, Employee
from webio.body import path_id
from webio.errors import json_error

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
# The form around an upload (its boundaries, headers and the caption) is small: a body larger than the limit by more
# than this is refused before a byte of it is read.
FORM_ROOM = 64 * 1024
# Kinds whose type Telegram does not state (a photo is re-encoded as JPEG, a sticker and a video note are its own
# formats): the type closer noted for them is a guess, not a claim, and the bytes decide.
UNDECLARED = frozenset({AttachmentKind.PHOTO, AttachmentKind.STICKER, AttachmentKind.VIDEO_NOTE})
TOO_BIG_MESSAGE = ("Telegram does not hand files over 20 MB to bots, so closer cannot show this one: ask the client "
                   "to send it another way (a link, or a smaller file)")
UPLOAD_LIMIT_MESSAGE = "a file is limited to 50 MB (Telegram's limit for what a bot sends)"


class FileTooLarge(Exception):
    """An upload over the 50 MB a bot may send."""


class FetchFailed(Exception):
    """The Bot API did not hand the file over (it failed, or is unreachable)."""


class TooBigForBots(Exception):
    """Telegram refused: the file is over the 20 MB a bot may download."""


@dataclass
class FileStore:
    """The files directory: `uploads/` (an employee's files, kept) and `cache/` (copies from Telegram, capped)."""

    root: Path
    cache_limit: int

    def path(self, stored_path: str) -> Path:
        # Paths are ours (uploads/<random>, cache/<id>); a stored path leaving the directory is no file of ours.
        full = (self.root / stored_path).resolve()
        if self.root.resolve() not in full.parents:
            raise ValueError(f"not a path under the files directory: {stored_path!r}")
        return full

    def existing(self, stored_path: str | None) -> Path | None:
        if not stored_path:
            return None
        path = self.path(stored_path)
        return path if path.is_file() else None

    def _folder(self, name: str) -> Path:
        folder = self.root / name
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    @staticmethod
    def touch(path: Path) -> None:
        """A view: the copy is the most recently used (its time, which eviction reads)."""
        try:
            os.utime(path)
        except OSError:
            pass

    def discard(self, stored_path: str | None) -> None:
        if stored_path:
            self.path(stored_path).unlink(missing_ok=True)

    # -- uploads ---------------------------------------------------------------------------------------------------
    async def save_upload(self, part: BodyPartReader) -> tuple[str, int, str, bytes]:
        """The part's bytes into uploads/, at most 50 MB: (stored path, size, sha256, first bytes). Over the limit,
        nothing is kept and FileTooLarge is raised."""
        folder = self._folder(attachments.UPLOADS)
        name = secrets.token_hex(16)
        temporary = folder / f".{name}.part"
        digest, size, head = hashlib.sha256(), 0, b""
        try:
            with temporary.open("wb") as out:
                while chunk := await part.read_chunk(CHUNK):
                    size += len(chunk)
                    if size > attachments.UPLOAD_LIMIT:
                        raise FileTooLarge(UPLOAD_LIMIT_MESSAGE)
                    if len(head) < sniff.HEAD:
                        head += chunk[: sniff.HEAD - len(head)]
                    digest.update(chunk)
                    out.write(chunk)
            temporary.replace(folder / name)
        finally:
            temporary.unlink(missing_ok=True)
        return f"{attachments.UPLOADS}/{name}", size, digest.hexdigest(), head

    # -- the cache of client files -------------------------------------------------------------------------------
    async def fetch(self, bot: Bot, row: Attachment) -> tuple[str, int, str]:
        """The client's file from the Bot API into cache/: (stored path, size, sha256)."""
        try:
            found = await bot.get_file(row.telegram_file_id)
        except TelegramBadRequest as error:
            if "too big" in error.message:
                raise TooBigForBots(error.message) from error
            raise FetchFailed(f"getFile: {error.message}") from error
        except (TelegramAPIError, aiohttp.ClientError, TimeoutError) as error:
            raise FetchFailed(f"getFile: {error!r}") from error
        if not found.file_path:
            raise FetchFailed("getFile named no file_path")
        # The download URL of the server the bot talks to (TELEGRAM_API_URL), not Telegram's own.
        url = bot.session.api.file_url(bot.token, found.file_path)
        folder = self._folder(attachments.CACHE)
        temporary = folder / f".{row.id}.{secrets.token_hex(6)}.part"
        digest, size = hashlib.sha256(), 0
        try:
            with temporary.open("wb") as out:
                async for chunk in bot.session.stream_content(url=url, timeout=120, chunk_size=CHUNK,
                                                              raise_for_status=True):
                    size += len(chunk)
                    if size > attachments.TELEGRAM_DOWNLOAD_LIMIT + CHUNK:
                        raise FetchFailed("the download is larger than Telegram lets bots download")
                    digest.update(chunk)
                    out.write(chunk)
            stored_path = f"{attachments.CACHE}/{row.id}"
            temporary.replace(self.root / stored_path)
        except (aiohttp.ClientError, TimeoutError) as error:
            raise FetchFailed(f"download: {error!r}") from error
        finally:
            temporary.unlink(missing_ok=True)
        # The copy just made stays (it is about to be served), even when it alone is over the limit.
        await asyncio.to_thread(self.evict, self.root / stored_path)
        return stored_path, size, digest.hexdigest()

    def evict(self, keep: Path | None = None) -> list[Path]:
        """Copies beyond the cache's limit leave, the least recently viewed first (files being written, and `keep`,
        stay)."""
        folder = self.root / attachments.CACHE
        try:
            entries = [(e.stat().st_mtime, e.stat().st_size, Path(e.path)) for e in os.scandir(folder)
                       if e.is_file() and not e.name.startswith(".")]
        except FileNotFoundError:
            return []
        total = sum(size for _, size, _ in entries)
        removed = []
        for _, size, path in sorted(entries):
            if total <= self.cache_limit:
                break
            if keep is not None and path == keep:
                continue
            path.unlink(missing_ok=True)
            total -= size
            removed.append(path)
        return removed


FILES = web.AppKey("files", FileStore)


def store_of(app: web.Application) -> FileStore:
    return app[FILES]


# -- the route -------------------------------------------------------------------------------------------------

async def _viewer(request: web.Request) -> tuple[Employee | None, bool]:
    """The employee asking, and whether it is his page (the session cookie) rather than an integration's bearer
    token: a page reads refusals in his language."""
    token = bearer_token(request)
    if token is not None:
        return await token_employee(token), False
    found = await cookie_session(request)
    return (found[0], True) if found is not None else (None, False)


async def serve_file(request: web.Request) -> web.StreamResponse:
    employee, page = await _viewer(request)
    if employee is None:
        if request.headers.get("Authorization"):
            return json_error(401, "unauthorized", "unknown or revoked token")
        raise web.HTTPFound(links.login_url(request.path_qs))
    say = words_for(employee, page=page)
    try:
        attachment_id = path_id(request)
        row = await attachments.visible(employee, attachment_id)
    except (NotFound, web.HTTPNotFound):
        missing = NotFound("file {id} not found", field="id", id=request.match_info["id"])
        return json_error(404, "not_found", missing.in_language(say), "id")
    store = store_of(request.app)
    path = store.existing(row.stored_path)
    if path is None:
        if attachments.too_big_for_bots(row):
            return json_error(409, "too_big_for_bots", say(TOO_BIG_MESSAGE), "id")
        if row.telegram_file_id is None:
            return json_error(410, "gone", say("this file is no longer kept"), "id")
        bot = request.app[BOTS].bot(row.bot_id) if row.bot_id is not None else None
        if bot is None:
            return json_error(502, "bot_unavailable", say("the bot that received this file is not connected now"),
                              "id")
        try:
            stored_path, size, sha256 = await store.fetch(bot, row)
        except TooBigForBots:
            return json_error(409, "too_big_for_bots", say(TOO_BIG_MESSAGE), "id")
        except FetchFailed as error:
            log.warning("could not fetch a file from Telegram", extra={"attachment_id": row.id, "error": str(error)})
            return json_error(502, "telegram_unavailable",
                              say("Telegram did not hand the file over just now; nothing was kept, try again"), "id")
        path = store.path(stored_path)
        head = _head(path)
        sniffed = sniff.sniff(head)
        update = {"mime_type": sniffed} if row.kind in UNDECLARED and sniffed else {}
        await attachments.fetched(row.id, stored_path, sha256, size, **update)
        row.mime_type = update.get("mime_type", row.mime_type)
    else:
        store.touch(path)
        head = _head(path)
    served = sniff.serving(head, declared=None if row.kind in UNDECLARED else row.mime_type,
                           file_name=row.file_name)
    extension = sniff.EXTENSIONS.get(served.sniffed or "", "bin")
    name = sniff.safe_filename(row.file_name, f"{row.kind}-{row.id}.{extension}")
    headers = {
        "Content-Type": served.content_type,
        "Content-Disposition": sniff.content_disposition(served.inline, name),
        "X-Content-Type-Options": "nosniff",
        # Whatever a file holds, it runs nothing of ours if a browser ever renders it as a page.
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Cache-Control": "private, max-age=3600",
        "Referrer-Policy": "same-origin",
    }
    return web.FileResponse(path, headers=headers)


def _head(path: Path) -> bytes:
    with path.open("rb") as file:
        return file.read(sniff.HEAD)


# -- the upload (POST /api/v1/chats/{id}/messages as multipart/form-data) -----------------------------------------

@dataclass
class UploadForm:
    text: str
    upload: attachments.Upload


async def read_upload(request: web.Request) -> UploadForm:
    """`text` (the caption, optional) and `file` (required, at most 50 MB), the file written under uploads/ and its
    type sniffed from its bytes. Anything wrong: Invalid or FileTooLarge, and nothing is kept."""
    if request.content_length is not None and request.content_length > attachments.UPLOAD_LIMIT + FORM_ROOM:
        raise FileTooLarge(UPLOAD_LIMIT_MESSAGE)
    store = store_of(request.app)
    text: str | None = None
    saved: tuple[str, int, str, bytes] | None = None
    file_name = ""
    try:
        try:
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    raise Invalid("nested multipart bodies are not accepted", field="body")
                if part.name == "text" and text is None:
                    text = await _text_part(part)
                elif part.name == "file" and saved is None:
                    file_name = part.filename or ""
                    saved = await store.save_upload(part)
                elif part.name in ("text", "file"):
                    raise Invalid("a field is given twice", field=part.name)
                else:
                    raise Invalid("unknown field", field=part.name or "body")
        except (Invalid, FileTooLarge, OSError):
            raise
        except Exception as error:  # aiohttp's parser refusing the body (bad boundary, headers, encoding…)
            log.info("a multipart body could not be read", extra={"error": repr(error)})
            raise Invalid("the body is not valid multipart/form-data", field="body") from None
        if saved is None:
            raise Invalid("a file is required", field="file")
        stored_path, size, sha256, head = saved
        if size == 0:
            raise Invalid("the file is empty", field="file")
        # The type is what the bytes show, never the name's claim.
        mime_type = sniff.sniff(head) or sniff.OCTET_STREAM
        if mime_type != sniff.OCTET_STREAM and not sniff.agrees(mime_type, sniff.claimed_by_name(file_name)):
            mime_type = sniff.OCTET_STREAM
        return UploadForm(text or "", attachments.Upload(
            kind=attachments.upload_kind(mime_type, size), stored_path=stored_path,
            file_name=attachments.clean_name(file_name), mime_type=mime_type, size=size, sha256=sha256,
        ))
    except BaseException:
        store.discard(saved[0] if saved else None)
        raise


async def _text_part(part: BodyPartReader) -> str:
    raw = bytearray()
    while chunk := await part.read_chunk(CHUNK):
        raw += chunk
        if len(raw) > 4 * attachments.MAX_CAPTION * 4:
            raise Invalid("a file's caption is limited to {limit} characters", field="text",
                          limit=attachments.MAX_CAPTION)
    try:
        return raw.decode(part.get_charset("utf-8"))
    except (UnicodeDecodeError, LookupError):
        raise Invalid("the text is not valid UTF-8", field="text") from None


def setup_files(app: web.Application) -> None:
    settings = app[SETTINGS]
    app[FILES] = FileStore(Path(settings.files_dir), settings.files_cache_mb * 1024 * 1024)
    app.router.add_get("/inbox/files/{id}", serve_file)

