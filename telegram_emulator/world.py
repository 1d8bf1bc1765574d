"""The emulated Telegram: bots, users, private chats, updates, limits. Pure state and rules; no HTTP here.

It behaves like Telegram where closer depends on it: message length and markup checks, 403 for users who blocked
the bot or never started it, 429 with retry_after past ~30 messages/s per bot or ~1 message/s per chat (a short
burst tolerated), updates resent by webhook until acknowledged, getUpdates with offsets and long polling.
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import itertools
import math
import re
import secrets
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any


class ApiError(Exception):
    def __init__(self, code: int, description: str, retry_after: int | None = None) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after


def first_update_id() -> int:
    """Where a bot's update ids start: the wall clock in milliseconds.

    Telegram starts update ids afresh after a week of silence, and an emulator restarted at 1 would repeat ids
    closer has already claimed (it skips a claimed id as a resend, for at least 48 h). Started from the clock, a
    restarted emulator's ids are above every earlier run's unless that run averaged over 1,000 updates per second.
    """
    return time.time_ns() // 1_000_000


MAX_TEXT = 4096
MAX_CAPTION = 1024
# Files (Bot API): a bot downloads at most 20 MB (getFile), uploads at most 50 MB, a photo at most 10 MB.
MAX_DOWNLOAD = 20 * 1024 * 1024
MAX_UPLOAD = 50 * 1024 * 1024
MAX_PHOTO = 10 * 1024 * 1024
# What a message can carry instead of text, and where Telegram keeps each kind (the folder of its file_path).
MEDIA_KINDS = ("photo", "document", "voice", "audio", "video", "video_note", "sticker", "animation")
_FOLDERS = {"photo": ("photos", "jpg"), "document": ("documents", "bin"), "voice": ("voice", "oga"),
            "audio": ("music", "mp3"), "video": ("videos", "mp4"), "video_note": ("video_notes", "mp4"),
            "sticker": ("stickers", "webp"), "animation": ("animations", "mp4")}
# Kinds that carry no caption (Telegram drops one given with them).
_NO_CAPTION = {"sticker", "video_note"}
MAX_CALLBACK_DATA = 64
HTML_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "a", "code", "pre", "tg-spoiler",
             "span", "blockquote", "tg-emoji"}
_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9-]*)([^>]*)>")


def plain_text(text: str, parse_mode: str | None) -> str:
    """The text a user sees, after Telegram parses its markup; malformed HTML is a 400 like Telegram's."""
    if (parse_mode or "").upper() != "HTML":
        return text
    stack: list[str] = []
    for match in _TAG.finditer(text):
        closing, tag = match.group(1), match.group(2).lower()
        if tag not in HTML_TAGS:
            raise ApiError(400, f"Bad Request: can't parse entities: Unsupported start tag \"{tag}\"")
        if not closing:
            stack.append(tag)
        elif not stack or stack.pop() != tag:
            raise ApiError(400, f"Bad Request: can't parse entities: Unmatched end tag \"{tag}\"")
    if stack:
        raise ApiError(400, f"Bad Request: can't parse entities: Can't find end tag corresponding to start tag \"{stack[-1]}\"")
    if re.search(r"<(?![a-zA-Z/])", text):
        raise ApiError(400, "Bad Request: can't parse entities: Unexpected \"<\"")
    return html.unescape(_TAG.sub("", text))


def check_markup(markup: Any) -> dict | None:
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
    if "inline_keyboard" not in markup:
        return markup  # reply keyboards and removals are accepted as they are
    rows = markup["inline_keyboard"]
    if not isinstance(rows, list) or not all(isinstance(r, list) for r in rows):
        raise ApiError(400, "Bad Request: field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
    for row in rows:
        for button in row:
            if not isinstance(button, dict) or not button.get("text"):
                raise ApiError(400, "Bad Request: text buttons are unallowed in the inline keyboard")
            actions = [k for k in ("url", "callback_data", "switch_inline_query", "pay", "web_app", "login_url",
                                   "switch_inline_query_current_chat", "copy_text") if k in button]
            if len(actions) != 1:
                raise ApiError(400, "Bad Request: inline keyboard button must have exactly one action")
            if "callback_data" in button and not 1 <= len(str(button["callback_data"]).encode()) <= MAX_CALLBACK_DATA:
                raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
            if "url" in button and not re.match(r"^(https?|tg)://", str(button["url"])):
                raise ApiError(400, "Bad Request: BUTTON_URL_INVALID")
    return markup


@dataclass
class User:
    id: int
    first_name: str
    username: str | None = None
    language_code: str | None = "en"

    def to_api(self) -> dict:
        data = {"id": self.id, "is_bot": False, "first_name": self.first_name}
        if self.username:
            data["username"] = self.username
        if self.language_code:
            data["language_code"] = self.language_code
        return data


@dataclass
class StoredMessage:
    message_id: int
    chat_id: int
    from_bot: bool
    sender: dict
    date: int
    text: str | None = None
    extra: dict = field(default_factory=dict)  # reply_markup, invoice, successful_payment, sticker, photo…
    edits: int = 0

    def to_api(self, chat: dict) -> dict:
        data = {"message_id": self.message_id, "date": self.date, "chat": chat, "from": self.sender}
        if self.text is not None:
            data["text"] = self.text
        data.update(self.extra)
        return data


@dataclass
class StoredFile:
    """A file as Telegram keeps it for one bot: its bytes, and what getFile and the download URL answer."""

    file_id: str
    file_unique_id: str
    bot_id: int
    data: bytes
    file_path: str
    # (kind, the Bot API object a message carries for it), to send the file again by its file_id.
    media: tuple[str, object] | None = None

    @property
    def size(self) -> int:
        return len(self.data)

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.data).hexdigest()

    def to_api(self) -> dict:
        return {"file_id": self.file_id, "file_unique_id": self.file_unique_id, "file_size": self.size,
                "file_path": self.file_path}


def main_file_id(content: dict) -> str | None:
    """The file of a message's media: a photo's largest size, else the media object's own file."""
    for kind in MEDIA_KINDS:
        media = content.get(kind)
        if kind == "photo" and media:
            return media[-1]["file_id"]
        if isinstance(media, dict):
            return media.get("file_id")
    return None


def media_kind(content: dict) -> str | None:
    # An animation also carries a `document` (as Telegram sends it): the animation is what it is.
    if "animation" in content:
        return "animation"
    return next((kind for kind in MEDIA_KINDS if content.get(kind)), None)


@dataclass
class Bot:
    id: int
    token: str
    username: str
    first_name: str
    webhook_url: str | None = None
    webhook_secret: str | None = None
    updates: deque = field(default_factory=deque)
    update_ids: itertools.count = field(default_factory=lambda: itertools.count(first_update_id()))
    new_update: asyncio.Event = field(default_factory=asyncio.Event)
    sends: deque = field(default_factory=deque)
    polls: int = 0  # getUpdates calls so far: a newer one ends a waiting older one with 409, as Telegram does
    # (clock time, chat id) of each send the bot attempted, for checking the pace it kept; the latest 100,000.
    admitted: deque = field(default_factory=lambda: deque(maxlen=100_000))
    commands: list = field(default_factory=list)


class World:
    def __init__(
        self,
        *,
        per_bot_per_second: int = 30,
        per_chat_per_second: float = 1.0,
        per_chat_burst: int = 3,
        limits: bool = True,
        clock=time.monotonic,
    ) -> None:
        self.bots: dict[str, Bot] = {}
        self.users: dict[int, User] = {}
        self.started: set[tuple[int, int]] = set()
        self.blocked: set[tuple[int, int]] = set()
        self.messages: dict[tuple[int, int], list[StoredMessage]] = {}
        self._message_ids: dict[tuple[int, int], itertools.count] = {}
        self._chat_tokens: dict[tuple[int, int], tuple[float, float]] = {}
        self.callbacks: dict[str, dict] = {}
        self.checkouts: dict[str, asyncio.Future] = {}
        self._ids = itertools.count(1)
        self.counters: Counter = Counter()
        self.per_bot_per_second = per_bot_per_second
        self.per_chat_per_second = per_chat_per_second
        self.per_chat_burst = per_chat_burst
        self.limits = limits
        self._clock = clock
        self.changed = asyncio.Condition()
        # Called with (bot, update) when an update is ready; the server wires webhook pushing here.
        self.on_update = None
        # Files by file_id, and by the bot's token and file_path for the download URL.
        self.files: dict[str, StoredFile] = {}
        self._file_numbers = itertools.count()
        # Method name (lower case) -> errors its next calls answer instead of working, each with the chat it is
        # kept for or None (tests of a failing Telegram).
        self.faults: dict[str, list[tuple[ApiError, int | None]]] = {}

    # -- setup ---------------------------------------------------------------------------------------------
    def add_bot(self, token: str, username: str | None = None, first_name: str = "closer bot") -> Bot:
        head = token.split(":", 1)[0]
        if not head.isdigit() or ":" not in token:
            raise ValueError("a bot token looks like 123456:secret")
        if token not in self.bots:
            self.bots[token] = Bot(id=int(head), token=token, username=username or f"bot{head}", first_name=first_name)
        return self.bots[token]

    def add_user(self, user_id: int, first_name: str, username: str | None = None, language_code: str | None = "en") -> User:
        self.users[user_id] = User(user_id, first_name, username, language_code)
        return self.users[user_id]

    def bot(self, token: str) -> Bot:
        try:
            return self.bots[token]
        except KeyError:
            raise ApiError(401, "Unauthorized") from None

    def bot_by_id(self, bot_id: int) -> Bot:
        for bot in self.bots.values():
            if bot.id == bot_id:
                return bot
        raise ApiError(404, "Not Found: unknown bot")

    def user(self, user_id: int) -> User:
        if user_id not in self.users:
            raise ApiError(400, "Bad Request: chat not found")
        return self.users[user_id]

    def chat_of(self, user: User) -> dict:
        data = {"id": user.id, "type": "private", "first_name": user.first_name}
        if user.username:
            data["username"] = user.username
        return data

    def bot_user(self, bot: Bot) -> dict:
        return {"id": bot.id, "is_bot": True, "first_name": bot.first_name, "username": bot.username}

    def history(self, bot: Bot, chat_id: int) -> list[StoredMessage]:
        return self.messages.setdefault((bot.id, chat_id), [])

    def _store(self, bot: Bot, chat_id: int, *, from_bot: bool, sender: dict, text: str | None, extra: dict) -> StoredMessage:
        ids = self._message_ids.setdefault((bot.id, chat_id), itertools.count(1))
        message = StoredMessage(next(ids), chat_id, from_bot, sender, int(time.time()), text, extra)
        self.history(bot, chat_id).append(message)
        return message

    async def _notify(self) -> None:
        async with self.changed:
            self.changed.notify_all()

    # -- limits --------------------------------------------------------------------------------------------
    def _admit(self, bot: Bot, chat_id: int) -> None:
        now = self._clock()
        bot.admitted.append((now, chat_id))
        if not self.limits:
            return
        while bot.sends and bot.sends[0] <= now - 1.0:
            bot.sends.popleft()
        if len(bot.sends) >= self.per_bot_per_second:
            self.counters["429"] += 1
            retry = max(1, math.ceil(bot.sends[0] + 1.0 - now))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        tokens, last = self._chat_tokens.get((bot.id, chat_id), (float(self.per_chat_burst), now))
        tokens = min(float(self.per_chat_burst), tokens + (now - last) * self.per_chat_per_second)
        if tokens < 1.0:
            self.counters["429"] += 1
            retry = max(1, math.ceil((1.0 - tokens) / self.per_chat_per_second))
            self._chat_tokens[(bot.id, chat_id)] = (tokens, now)
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        self._chat_tokens[(bot.id, chat_id)] = (tokens - 1.0, now)
        bot.sends.append(now)

    def _reachable(self, bot: Bot, chat_id: int) -> User:
        user = self.user(chat_id)
        if (bot.id, chat_id) in self.blocked:
            self.counters["403"] += 1
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if (bot.id, chat_id) not in self.started:
            self.counters["403"] += 1
            raise ApiError(403, "Forbidden: bot can't initiate conversation with a user")
        return user

    # -- files ---------------------------------------------------------------------------------------------
    def add_file(self, bot: Bot, data: bytes, kind: str, *, file_name: str | None = None,
                 variant: str = "") -> StoredFile:
        """Bytes kept for `bot` under a new file_id (file ids are per bot; the unique id is the content's)."""
        number = next(self._file_numbers)
        folder, extension = _FOLDERS[kind]
        if file_name and "." in file_name:
            extension = re.sub(r"[^A-Za-z0-9]", "", file_name.rsplit(".", 1)[1])[:8] or extension
        unique = hashlib.sha256(data + variant.encode()).hexdigest()[:16]
        stored = StoredFile(file_id=f"{kind}-{bot.id}-{number}-{secrets.token_hex(6)}", file_unique_id=unique,
                            bot_id=bot.id, data=bytes(data), file_path=f"{folder}/file_{number}.{extension}")
        self.files[stored.file_id] = stored
        return stored

    def media(self, bot: Bot, kind: str, data: bytes, *, file_name: str | None = None, mime_type: str | None = None,
              duration: int | None = None, width: int | None = None, height: int | None = None) -> dict:
        """The message content Telegram makes of a file of this kind: {kind: object} (a photo: its sizes)."""
        if kind not in MEDIA_KINDS:
            raise ApiError(400, f"Bad Request: unknown media kind {kind!r}")
        if kind == "photo":
            # Telegram makes smaller sizes of a photo, the largest last; the emulator keeps the same bytes in each.
            width, height = width or 1280, height or 960
            sizes = []
            for label, scale in (("s", 90 / max(width, height)), ("m", 320 / max(width, height)), ("x", 1.0)):
                stored = self.add_file(bot, data, kind, variant=label)
                size = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id,
                        "width": max(1, round(width * min(scale, 1.0))),
                        "height": max(1, round(height * min(scale, 1.0))), "file_size": stored.size}
                sizes.append(size)
            stored.media = ("photo", sizes)
            return {"photo": sizes}
        stored = self.add_file(bot, data, kind, file_name=file_name)
        obj: dict = {"file_id": stored.file_id, "file_unique_id": stored.file_unique_id, "file_size": stored.size}
        if kind in ("voice", "audio", "video", "video_note", "animation"):
            obj["duration"] = int(duration or 1)
        if kind in ("video", "animation", "sticker"):
            obj["width"], obj["height"] = int(width or 512), int(height or 512)
        if kind == "video_note":
            obj["length"] = int(width or 240)
        if kind == "sticker":
            obj.update(type="regular", is_animated=False, is_video=False)
        if kind in ("document", "audio", "video", "animation") and file_name:
            obj["file_name"] = file_name
        if kind in ("document", "voice", "audio", "video", "animation"):
            obj["mime_type"] = mime_type or {"voice": "audio/ogg", "audio": "audio/mpeg", "video": "video/mp4",
                                             "animation": "video/mp4"}.get(kind, "application/octet-stream")
        stored.media = (kind, obj)
        content = {kind: obj}
        if kind == "animation":
            content["document"] = dict(obj)  # Telegram sends an animation as a document too
        return content

    def get_file(self, bot: Bot, file_id: str) -> StoredFile:
        stored = self.files.get(file_id)
        if stored is None or stored.bot_id != bot.id:
            raise ApiError(400, "Bad Request: wrong file_id or the file is temporarily unavailable")
        if stored.size > MAX_DOWNLOAD:
            raise ApiError(400, "Bad Request: file is too big")
        return stored

    def file_at(self, bot: Bot, file_path: str) -> StoredFile | None:
        """What the download URL of `bot` serves at `file_path` (only files getFile may hand out)."""
        return next((f for f in self.files.values()
                     if f.bot_id == bot.id and f.file_path == file_path and f.size <= MAX_DOWNLOAD), None)

    def fail_next(self, method: str, code: int = 500, description: str = "Internal Server Error",
                  times: int = 1, chat_id: int | None = None) -> None:
        """The next `times` calls of `method` (to `chat_id` only, if given) answer this error, as a Telegram in
        trouble would."""
        self.faults.setdefault(method.lower(), []).extend(
            (ApiError(code, description), chat_id) for _ in range(times))

    def take_fault(self, method: str, chat_id: object = None) -> ApiError | None:
        waiting = self.faults.get(method.lower(), [])
        for index, (error, only_to) in enumerate(waiting):
            if only_to is None or str(only_to) == str(chat_id):
                del waiting[index]
                return error
        return None

    # -- what bots do --------------------------------------------------------------------------------------
    async def send_message(self, bot: Bot, chat_id: int, text: str, *, parse_mode=None, reply_markup=None,
                           reply_to_message_id=None) -> dict:
        user = self._reachable(bot, chat_id)
        if not text or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        shown = plain_text(text, parse_mode)
        if len(shown) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        markup = check_markup(reply_markup)
        self._admit(bot, chat_id)
        extra: dict = {}
        if markup is not None:
            extra["reply_markup"] = markup
        if reply_to_message_id is not None:
            original = self.find(bot, chat_id, int(reply_to_message_id))
            if original is not None:
                extra["reply_to_message"] = original.to_api(self.chat_of(user))
        message = self._store(bot, chat_id, from_bot=True, sender=self.bot_user(bot), text=shown, extra=extra)
        self.counters["sent"] += 1
        await self._notify()
        return message.to_api(self.chat_of(user))

    async def send_invoice(self, bot: Bot, chat_id: int, *, title: str, description: str, payload: str,
                           currency: str, prices: list[dict]) -> dict:
        user = self._reachable(bot, chat_id)
        if not prices or not all(isinstance(p, dict) and isinstance(p.get("amount"), int) for p in prices):
            raise ApiError(400, "Bad Request: invalid prices")
        if not 1 <= len(payload.encode()) <= 128:
            raise ApiError(400, "Bad Request: invalid invoice payload")
        self._admit(bot, chat_id)
        total = sum(p["amount"] for p in prices)
        invoice = {"title": title, "description": description, "start_parameter": "", "currency": currency,
                   "total_amount": total}
        message = self._store(bot, chat_id, from_bot=True, sender=self.bot_user(bot), text=None,
                              extra={"invoice": invoice, "_payload": payload})
        self.counters["sent"] += 1
        await self._notify()
        return self._public(message, user)

    async def send_media(self, bot: Bot, chat_id: int, kind: str, *, data: bytes | None = None,
                         file_id: str | None = None, file_name: str | None = None, mime_type: str | None = None,
                         caption: str | None = None, parse_mode=None, reply_markup=None,
                         reply_to_message_id=None) -> dict:
        """sendPhoto, sendDocument…: an upload (`data`) or a file this bot has (`file_id`)."""
        user = self._reachable(bot, chat_id)
        shown = plain_text(caption, parse_mode) if caption else None
        if shown is not None and len(shown) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = check_markup(reply_markup)
        if file_id is not None:
            stored = self.files.get(file_id)
            if stored is None or stored.bot_id != bot.id:
                raise ApiError(400, "Bad Request: wrong file identifier/HTTP URL specified")
            data = stored.data
        elif data is None or not data:
            raise ApiError(400, f"Bad Request: there is no {kind} in the request")
        elif len(data) > MAX_UPLOAD:
            raise ApiError(413, "Request Entity Too Large")
        elif kind == "photo" and len(data) > MAX_PHOTO:
            raise ApiError(400, "Bad Request: PHOTO_SAVE_FILE_INVALID")
        self._admit(bot, chat_id)
        if file_id is not None and stored.media is not None and stored.media[0] == kind:
            content = {kind: stored.media[1]}
        else:
            content = self.media(bot, kind, data, file_name=file_name, mime_type=mime_type)
        return await self._deliver(bot, user, content, caption=shown if kind not in _NO_CAPTION else None,
                                   markup=markup, reply_to_message_id=reply_to_message_id)

    async def copy_message(self, bot: Bot, chat_id: int, from_chat_id: int, message_id: int, *,
                           caption: str | None = None, parse_mode=None, reply_markup=None) -> dict:
        """copyMessage: the source's text or media (its caption replaced when one is given), without a link back."""
        source = self.find(bot, from_chat_id, message_id)
        kind = media_kind(source.extra) if source is not None else None
        if source is None or (source.text is None and kind is None):
            raise ApiError(400, "Bad Request: message to copy not found")
        if kind is None:
            sent = await self.send_message(bot, chat_id, source.text, reply_markup=reply_markup)
            return {"message_id": sent["message_id"]}
        user = self._reachable(bot, chat_id)
        shown = source.extra.get("caption")
        if caption is not None:
            shown = plain_text(caption, parse_mode) if caption else None
        if shown is not None and len(shown) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        markup = check_markup(reply_markup)
        self._admit(bot, chat_id)
        content = {k: source.extra[k] for k in (kind, "document") if k in source.extra}
        sent = await self._deliver(bot, user, content, caption=shown if kind not in _NO_CAPTION else None,
                                   markup=markup, reply_to_message_id=None)
        return {"message_id": sent["message_id"]}

    async def _deliver(self, bot: Bot, user: User, content: dict, *, caption: str | None, markup: dict | None,
                       reply_to_message_id) -> dict:
        extra = dict(content)
        if caption:
            extra["caption"] = caption
        if markup is not None:
            extra["reply_markup"] = markup
        if reply_to_message_id is not None:
            original = self.find(bot, user.id, int(reply_to_message_id))
            if original is not None:
                extra["reply_to_message"] = self._public(original, user)
        message = self._store(bot, user.id, from_bot=True, sender=self.bot_user(bot), text=None, extra=extra)
        self.counters["sent"] += 1
        await self._notify()
        return self._public(message, user)

    def _public(self, message: StoredMessage, user: User) -> dict:
        data = message.to_api(self.chat_of(user))
        return {k: v for k, v in data.items() if not k.startswith("_")}

    def find(self, bot: Bot, chat_id: int, message_id: int) -> StoredMessage | None:
        return next((m for m in self.history(bot, chat_id) if m.message_id == message_id), None)

    async def edit_message(self, bot: Bot, chat_id: int, message_id: int, *, text: str | None = None,
                           parse_mode=None, reply_markup=None) -> dict:
        user = self.user(chat_id)
        message = self.find(bot, chat_id, message_id)
        if message is None or not message.from_bot:
            raise ApiError(400, "Bad Request: message to edit not found")
        new_text = plain_text(text, parse_mode) if text is not None else message.text
        if new_text is not None and len(new_text) > MAX_TEXT:
            raise ApiError(400, "Bad Request: message is too long")
        new_markup = check_markup(reply_markup)
        if new_text == message.text and new_markup == message.extra.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified: specified new message content and reply "
                                "markup are exactly the same as a current content and reply markup of the message")
        message.text = new_text
        if new_markup is None:
            message.extra.pop("reply_markup", None)
        else:
            message.extra["reply_markup"] = new_markup
        message.edits += 1
        self.counters["edited"] += 1
        await self._notify()
        data = self._public(message, user)
        data["edit_date"] = int(time.time())
        return data

    def answer_callback(self, callback_id: str, text: str | None, show_alert: bool) -> None:
        query = self.callbacks.get(callback_id)
        if query is None or query["answered"]:
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        query.update(answered=True, answer_text=text, show_alert=show_alert)

    def answer_checkout(self, query_id: str, ok: bool, error_message: str | None) -> None:
        future = self.checkouts.get(query_id)
        if future is None or future.done():
            raise ApiError(400, "Bad Request: query is too old and response timeout expired or query ID is invalid")
        future.set_result((ok, error_message))

    # -- updates -------------------------------------------------------------------------------------------
    async def push_update(self, bot: Bot, body: dict) -> dict:
        update = {"update_id": next(bot.update_ids), **body}
        if bot.webhook_url and self.on_update is not None:
            await self.on_update(bot, update)
        else:
            bot.updates.append(update)
            bot.new_update.set()
        return update

    async def get_updates(self, bot: Bot, offset: int | None, limit: int, timeout: float) -> list[dict]:
        if bot.webhook_url:
            raise ApiError(409, "Conflict: can't use getUpdates method while webhook is active; use deleteWebhook to delete the webhook first")
        deadline = time.monotonic() + max(0.0, timeout)
        bot.polls += 1
        mine = bot.polls
        bot.new_update.set()  # an older request still waiting wakes up to find itself replaced
        while True:
            if offset is not None:
                while bot.updates and bot.updates[0]["update_id"] < offset:
                    bot.updates.popleft()
            if bot.updates or time.monotonic() >= deadline:
                return list(itertools.islice(bot.updates, 0, max(1, min(limit, 100))))
            bot.new_update.clear()
            try:
                await asyncio.wait_for(bot.new_update.wait(), timeout=deadline - time.monotonic())
            except TimeoutError:
                pass
            if bot.polls != mine:
                self.counters["409"] += 1
                raise ApiError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot "
                                    "instance is running")

    # -- what users do -------------------------------------------------------------------------------------
    async def user_sends(self, bot: Bot, user_id: int, *, text: str | None = None, reply_to: int | None = None,
                         content: dict | None = None) -> dict:
        user = self.user(user_id)
        self.blocked.discard((bot.id, user_id))
        extra: dict = dict(content or {})
        if text is not None and text.startswith("/"):
            command = text.split()[0]
            extra["entities"] = [{"type": "bot_command", "offset": 0, "length": len(command)}]
            if command == "/start" or command.startswith("/start@"):
                self.started.add((bot.id, user_id))
        if reply_to is not None:
            original = self.find(bot, user_id, reply_to)
            if original is None:
                raise ApiError(400, "Bad Request: message to reply not found")
            extra["reply_to_message"] = self._public(original, user)
        message = self._store(bot, user_id, from_bot=False, sender=user.to_api(), text=text, extra=extra)
        await self._notify()
        return await self.push_update(bot, {"message": self._public(message, user)})

    async def user_sends_media(self, bot: Bot, user_id: int, kind: str, data: bytes, *, caption: str | None = None,
                               file_name: str | None = None, mime_type: str | None = None,
                               duration: int | None = None, width: int | None = None, height: int | None = None,
                               reply_to: int | None = None) -> dict:
        """A photo, document, voice… from the user, with its caption; the bytes stay here for getFile."""
        self.user(user_id)
        if not data:
            raise ApiError(400, "Bad Request: the file is empty")
        if caption is not None and len(caption) > MAX_CAPTION:
            raise ApiError(400, "Bad Request: message caption is too long")
        content = self.media(bot, kind, data, file_name=file_name, mime_type=mime_type, duration=duration,
                             width=width, height=height)
        if caption and kind not in _NO_CAPTION:
            content["caption"] = caption
        return await self.user_sends(bot, user_id, reply_to=reply_to, content=content)

    async def user_presses(self, bot: Bot, user_id: int, message_id: int, data: str, *, force: bool = False) -> dict:
        user = self.user(user_id)
        message = self.find(bot, user_id, message_id)
        if message is None:
            raise ApiError(400, "Bad Request: message not found")
        buttons = [b for row in message.extra.get("reply_markup", {}).get("inline_keyboard", []) for b in row]
        if not force and not any(b.get("callback_data") == data for b in buttons):
            raise ApiError(400, "Bad Request: no such button on this message")
        callback_id = str(next(self._ids))
        self.callbacks[callback_id] = {"answered": False, "user_id": user_id, "message_id": message_id}
        query = {"id": callback_id, "from": user.to_api(), "message": self._public(message, user),
                 "chat_instance": f"{bot.id}-{user_id}", "data": data}
        return await self.push_update(bot, {"callback_query": query})

    async def user_pays(self, bot: Bot, user_id: int, message_id: int, *, wait: float = 10.0) -> dict:
        """pre_checkout_query, then (if the bot says ok within `wait` s) a successful_payment message."""
        user = self.user(user_id)
        invoice_message = self.find(bot, user_id, message_id)
        if invoice_message is None or "invoice" not in invoice_message.extra:
            raise ApiError(400, "Bad Request: no invoice in this message")
        invoice = invoice_message.extra["invoice"]
        payload = invoice_message.extra["_payload"]
        query_id = str(next(self._ids))
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.checkouts[query_id] = future
        await self.push_update(bot, {"pre_checkout_query": {
            "id": query_id, "from": user.to_api(), "currency": invoice["currency"],
            "total_amount": invoice["total_amount"], "invoice_payload": payload}})
        try:
            ok, error = await asyncio.wait_for(future, timeout=wait)
        except TimeoutError:
            return {"paid": False, "error": "the bot did not answer the pre-checkout query in time"}
        if not ok:
            return {"paid": False, "error": error}
        charge = f"emu-charge-{query_id}"
        payment = {"currency": invoice["currency"], "total_amount": invoice["total_amount"],
                   "invoice_payload": payload, "telegram_payment_charge_id": charge,
                   "provider_payment_charge_id": f"emu-provider-{query_id}"}
        await self.user_sends(bot, user_id, content={"successful_payment": payment})
        return {"paid": True, "charge_id": charge}

    def transcript(self, bot: Bot, user_id: int) -> list[dict]:
        user = self.user(user_id)
        result = []
        for message in self.history(bot, user_id):
            data = self._public(message, user)
            data["from_bot"] = message.from_bot
            data["edits"] = message.edits
            file_id = main_file_id(message.extra)
            if file_id is not None and file_id in self.files:
                # What the user received, byte for byte: tests compare it with what was sent.
                data["file"] = {"file_id": file_id, "sha256": self.files[file_id].sha256,
                                "size": self.files[file_id].size}
            result.append(data)
        return result
