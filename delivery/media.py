"""Files through the Telegram channel (SPEC §11.1): an employee's upload to the client (sendPhoto / sendDocument, a
multipart upload, or its file_id once Telegram has it), and a client's file relayed to staff as the same file.

Every request goes through the bot's session, so each is paced and a 429 waited out like any message; a failure
raises, and the delivery worker retries the row and parks it in the end, as for a text.
"""

from __future__ import annotations

import logging
from html import escape
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import FSInputFile, InlineKeyboardMarkup, Message as TelegramMessage

from bot.pacing import Unreachable
from bot.recording import plain_text
from delivery import relay
from sales import attachments
from sales.clock import utcnow
from storage.models import Attachment, AttachmentKind, Client, Employee, Message

log = logging.getLogger(__name__)


def _(text: str) -> str:
    # Marks a text for extraction (pybabel -k _); the channel translates it for the recipient.
    return text


# What a file is called where it cannot be shown (a text in its place), in the recipient's language.
LABELS = {
    AttachmentKind.PHOTO: _("Photo"),
    AttachmentKind.DOCUMENT: _("Document"),
    AttachmentKind.VOICE: _("Voice message"),
    AttachmentKind.AUDIO: _("Audio"),
    AttachmentKind.VIDEO: _("Video"),
    AttachmentKind.VIDEO_NOTE: _("Video message"),
    AttachmentKind.STICKER: _("Sticker"),
    AttachmentKind.ANIMATION: _("GIF"),
}
# Kinds Telegram gives no caption: the relay's words follow the file as a reply to it.
NO_CAPTION = frozenset({AttachmentKind.STICKER, AttachmentKind.VIDEO_NOTE})


def _file_of(sent: TelegramMessage):
    """What Telegram made of a file it was sent: a photo's largest size, else the document (or what it took the
    document for: an animation, a video, a sound)."""
    if sent.photo:
        return sent.photo[-1]
    return sent.document or sent.animation or sent.video or sent.audio or sent.voice or sent.sticker


async def send_to_client(bot: Bot, chat_id: int, message: Message, attachment: Attachment, files_dir: Path) -> None:
    """The employee's file, with the message's text as its caption: a photo as a photo, anything else a document.
    Sent once, Telegram's file_id is kept, so a retry or a later send needs no upload."""
    caption = escape(message.text) or None
    if attachment.telegram_file_id and attachment.bot_id == bot.id:
        source: str | FSInputFile = attachment.telegram_file_id
    else:
        path = files_dir / (attachment.stored_path or "")
        if not attachment.stored_path or not path.is_file():
            raise FileNotFoundError(f"the upload of attachment {attachment.id} is not in the files directory")
        source = FSInputFile(path, filename=attachment.file_name or f"file-{attachment.id}")
    try:
        if attachment.kind == AttachmentKind.PHOTO:
            sent = await bot.send_photo(chat_id, source, caption=caption)
        else:
            sent = await bot.send_document(chat_id, source, caption=caption)
    except TelegramForbiddenError as exc:
        raise Unreachable(exc.message) from exc
    made = _file_of(sent)
    if made is not None:
        await attachments.sent(attachment.id, bot_id=bot.id, file_id=made.file_id,
                               file_unique_id=made.file_unique_id)


def _trimmed(text: str, room: int) -> str:
    return text if len(text) <= room else text[: max(0, room - 1)] + "…"


async def relay_to_staff(
    bot: Bot,
    employee: Employee,
    client: Client,
    message: Message,
    attachment: Attachment,
    *,
    header: str,
    hint: str,
    markup: InlineKeyboardMarkup,
    label: str,
    account_id: int,
) -> None:
    """The client's message as the same file in the employee's Telegram (copyMessage from the client's chat), its
    caption naming the client; a reply to it answers him. Where the file cannot be copied (the client deleted it,
    the account changed bots), a text says what came and the inbox shows it."""
    chat_id = employee.telegram_chat_id
    # Telegram counts a caption's characters after parsing: the header and hint are short, the client's words fill
    # the rest of the 1,024 (the whole text is in the inbox).
    plain = _plain_length(header) + _plain_length(hint) + 4
    words = escape(_trimmed(message.text, attachments.MAX_CAPTION - plain))
    caption = f"{header}\n{words}\n\n<i>{hint}</i>" if words else f"{header}\n\n<i>{hint}</i>"
    sent_ids: list[int] = []
    try:
        if client.telegram_user_id and message.telegram_message_id and attachment.bot_id in (None, bot.id):
            try:
                if attachment.kind in NO_CAPTION:
                    copied = await bot.copy_message(chat_id, client.telegram_user_id, message.telegram_message_id)
                    sent_ids.append(copied.message_id)
                    said = await bot.send_message(chat_id, f"{header}\n📎 {escape(label)}\n\n<i>{hint}</i>",
                                                  reply_markup=markup, reply_to_message_id=copied.message_id)
                    sent_ids.append(said.message_id)
                else:
                    copied = await bot.copy_message(chat_id, client.telegram_user_id, message.telegram_message_id,
                                                    caption=caption, reply_markup=markup)
                    sent_ids.append(copied.message_id)
            except TelegramBadRequest as exc:
                if "not found" not in exc.message or sent_ids:
                    raise
                log.info("a client's file could not be copied; relayed as text",
                         extra={"message_id": message.id, "error": exc.message})
        if not sent_ids:
            name = f" {escape(attachment.file_name)}" if attachment.file_name else ""
            text = f"{header}\n📎 {escape(label)}{name}\n{words}\n\n<i>{hint}</i>"
            said = await bot.send_message(chat_id, text, reply_markup=markup)
            sent_ids.append(said.message_id)
    except TelegramForbiddenError as exc:
        raise Unreachable(exc.message) from exc
    finally:
        # Whatever reached him is a relay: his reply to it answers the client.
        now = utcnow()
        for sent_id in sent_ids:
            await relay.remember(account_id, employee.id, sent_id, client.id, now)


def _plain_length(html_text: str) -> int:
    return len(plain_text(html_text))
