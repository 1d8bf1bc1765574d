"""A Telegram message's file as plain values (SPEC §11.1), for the customer's side and the staff's alike."""

from __future__ import annotations

from aiogram.types import Message

from sales import attachments

# What a customer's file can be; aiogram names a message's content so.
MEDIA = frozenset({"photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation"})
MEDIA_NAMES = {name: name for name in MEDIA}  # aiogram's ContentType (a str enum) to its plain name
# What an employee may send a client from his own Telegram: what the inbox sends (a photo as a photo, anything else
# as a document). A voice or sticker's file_id cannot be sent again as a document.
STAFF_MEDIA = frozenset({"photo", "document"})


async def has_media(message: Message) -> bool:
    # A coroutine like handlers.filters' own: aiogram would run a plain callable in a thread.
    return message.content_type in MEDIA


def incoming_file(message: Message, bot_id: int) -> attachments.Incoming:
    """The file as plain values: a photo's largest size, its name and type as Telegram gave them."""
    kind = MEDIA_NAMES[message.content_type]
    media = message.photo[-1] if kind == "photo" else getattr(message, kind)
    mime_type = getattr(media, "mime_type", None)
    if kind == "sticker":
        mime_type = "video/webm" if media.is_video else "application/x-tgsticker" if media.is_animated else "image/webp"
    return attachments.Incoming(
        kind=kind, telegram_file_id=media.file_id, telegram_file_unique_id=media.file_unique_id, bot_id=bot_id,
        file_name=getattr(media, "file_name", None), mime_type=mime_type, size=media.file_size,
    )
