"""Attachments (SPEC §11.1): a client's photo, document, voice… and an employee's upload, as a message's files.

A client's file stays in Telegram: its `file_id` (valid for the bot that received it) is kept, and the inbox fetches
the bytes on demand. An employee's upload is kept on disk until the delivery worker sends it; Telegram's `file_id`
is stored once it is sent. Plain values in and out: the transports (the bot's handler, the inbox, the delivery
worker) read Telegram's objects, the request and the disk.
"""

from __future__ import annotations

import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sales.errors import Invalid, NotFound
from sales.listing import visible_chat
from storage.models import Attachment, AttachmentKind, Employee

# Telegram's limits for bots: a bot downloads at most 20 MB (getFile), uploads at most 50 MB, a photo at most 10 MB;
# a caption holds at most 1,024 characters.
TELEGRAM_DOWNLOAD_LIMIT = 20 * 1024 * 1024
UPLOAD_LIMIT = 50 * 1024 * 1024
PHOTO_LIMIT = 10 * 1024 * 1024
MAX_CAPTION = 1024
# A client's caption is what Telegram let him send (premium accounts write longer ones): kept up to a message's size.
MAX_INBOUND_CAPTION = 4096
# Where an employee's upload waits under the files directory (never evicted); fetched copies go to the cache.
UPLOADS = "uploads"
CACHE = "cache"
# What a kind is when Telegram names no type (a photo is a JPEG, a voice an OGG…).
DEFAULT_TYPES = {
    AttachmentKind.PHOTO: "image/jpeg",
    AttachmentKind.VOICE: "audio/ogg",
    AttachmentKind.AUDIO: "audio/mpeg",
    AttachmentKind.VIDEO: "video/mp4",
    AttachmentKind.VIDEO_NOTE: "video/mp4",
    AttachmentKind.STICKER: "image/webp",
    AttachmentKind.ANIMATION: "video/mp4",
}
# Images Telegram shows as a photo when a bot sends them with sendPhoto; anything else goes as a document.
PHOTO_TYPES = frozenset({"image/jpeg", "image/png", "image/webp"})
_UNSAFE = re.compile(r'[\x00-\x1f\x7f/\\:*?"<>|]+')


@dataclass(frozen=True)
class Incoming:
    """A client's file as his Telegram message describes it."""

    kind: AttachmentKind | str
    telegram_file_id: str
    telegram_file_unique_id: str | None = None
    bot_id: int | None = None
    file_name: str | None = None
    mime_type: str | None = None
    size: int | None = None


@dataclass(frozen=True)
class Upload:
    """An employee's file, already written under the files directory (`stored_path`), its type sniffed."""

    kind: AttachmentKind | str
    stored_path: str
    file_name: str
    mime_type: str
    size: int
    sha256: str


def clean_name(name: str | None) -> str:
    """A file name as given, made harmless to keep and to show: no folders, no control characters, at most 255."""
    if not name:
        return ""
    name = unicodedata.normalize("NFC", name).replace("\\", "/").rsplit("/", 1)[-1]
    name = _UNSAFE.sub("_", name).strip(" .")
    return name[:255]


def caption(text: str | None, limit: int) -> str:
    """A file's caption: the message's text, which may be empty."""
    text = text or ""
    if "\x00" in text:
        raise Invalid("text cannot contain NUL characters", field="text")
    if len(text) > limit:
        raise Invalid("a file's caption is limited to {limit} characters", field="text", limit=limit)
    return text.strip()


def upload_kind(mime_type: str, size: int) -> AttachmentKind:
    """How an employee's file goes out: a photo (sendPhoto) when Telegram takes it as one, else a document."""
    return AttachmentKind.PHOTO if mime_type in PHOTO_TYPES and size <= PHOTO_LIMIT else AttachmentKind.DOCUMENT


async def add(message_id: int, item: Incoming | Upload, now: datetime) -> Attachment:
    """The file of a message just written (the caller's transaction)."""
    kind = AttachmentKind(str(item.kind))
    mime = (item.mime_type or "").strip().lower()[:127] or DEFAULT_TYPES.get(kind, "application/octet-stream")
    common = {"message_id": message_id, "kind": kind, "file_name": clean_name(item.file_name), "mime_type": mime,
              "size": item.size, "created_at": now}
    if isinstance(item, Upload):
        return await Attachment.create(**common, stored_path=item.stored_path, sha256=item.sha256)
    return await Attachment.create(
        **common, bot_id=item.bot_id, telegram_file_id=item.telegram_file_id,
        telegram_file_unique_id=item.telegram_file_unique_id,
    )


async def of_messages(message_ids: Iterable[int]) -> dict[int, list[Attachment]]:
    """The files of many messages in one query, by message id (in the order they were attached)."""
    wanted = list(set(message_ids))
    found: dict[int, list[Attachment]] = defaultdict(list)
    if wanted:
        for row in await Attachment.filter(message_id__in=wanted).order_by("id"):
            found[row.message_id].append(row)
    return found


async def visible(actor: Employee, attachment_id: int) -> Attachment:
    """A file of a chat the employee may see; another account's, a chat hidden from him or no such id: NotFound."""
    row = await Attachment.filter(id=attachment_id, message__chat__account_id=actor.account_id).first()
    if row is None:
        raise NotFound("file {id} not found", field="id", id=attachment_id)
    chat_id = await Attachment.filter(id=row.id).values_list("message__chat_id", flat=True)
    try:
        await visible_chat(actor, chat_id[0])
    except NotFound:
        raise NotFound("file {id} not found", field="id", id=attachment_id) from None
    return row


def is_upload(row: Attachment) -> bool:
    return (row.stored_path or "").startswith(UPLOADS + "/")


def too_big_for_bots(row: Attachment) -> bool:
    """A client's file Telegram will not hand to a bot (over 20 MB): the inbox says so instead of fetching it."""
    return not is_upload(row) and (row.size or 0) > TELEGRAM_DOWNLOAD_LIMIT


async def fetched(attachment_id: int, stored_path: str, sha256: str, size: int, *, mime_type: str | None = None) -> None:
    """A client's file was fetched from Telegram into the cache (`mime_type`: what its bytes turned out to be, for a
    kind whose type Telegram does not state)."""
    changes: dict = {"stored_path": stored_path, "sha256": sha256, "size": size}
    if mime_type:
        changes["mime_type"] = mime_type[:127]
    await Attachment.filter(id=attachment_id).update(**changes)


async def sent_uploads(before: datetime, limit: int) -> list[tuple[int, str]]:
    """Employees' uploads Telegram has held since before `before` and will hand back (getFile, up to 20 MB):
    (id, stored path) of each, oldest first. Their disk copy may go; a later view fetches them like a client's."""
    return await (
        Attachment.filter(stored_path__startswith=f"{UPLOADS}/", telegram_file_id__not_isnull=True,
                          created_at__lt=before, size__lte=TELEGRAM_DOWNLOAD_LIMIT)
        .order_by("id").limit(limit).values_list("id", "stored_path")
    )


async def forget_upload(attachment_id: int, stored_path: str) -> bool:
    """The upload's disk copy is going: the row no longer names it (unless it changed meanwhile)."""
    return await Attachment.filter(id=attachment_id, stored_path=stored_path).update(stored_path=None) == 1


async def sent(attachment_id: int, *, bot_id: int, file_id: str, file_unique_id: str | None) -> None:
    """An employee's file reached Telegram: its file_id sends it again (a retry) without another upload."""
    await Attachment.filter(id=attachment_id).update(
        bot_id=bot_id, telegram_file_id=file_id, telegram_file_unique_id=file_unique_id)
