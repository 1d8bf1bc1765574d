"""The Telegram channel: renders outbox rows in the recipient's language and sends them with the account's bot."""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import Path

from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup
from aiogram.utils.i18n import I18n

from bot.registry import BotRegistry
from bot.pacing import Unreachable
from bot.callbacks import TakeChat, TakeImportant
from core import links
from storage import coalesce, sql
from delivery import media, relay
from sales import notes, outbox
from sales.reachability import mark_unreachable
from storage.models import (
    Attachment, Chat, ChatNote, Client, Employee, ImportantItem, Message, Offer, Order, OrderStatus, Outbox,
)


# How much of a note its mention ping quotes (the ping is one Telegram message; the note is in the chat).
NOTE_QUOTE = 1000


def client_label(client: Client) -> str:
    return label(client.name, client.email, client.id)


def label(name: str | None, email: str | None, client_id: int) -> str:
    """How a client is named to staff: his name, else his email, else his number."""
    return name or email or f"#{client_id}"


def reaches(active: bool, telegram_chat_id: int | None, telegram_unreachable: bool) -> bool:
    """Whether a Telegram message can go to an employee: active, linked, and he has not blocked the bot."""
    return bool(active) and telegram_chat_id is not None and not telegram_unreachable


# A staff copy of a client's message is most of the outbox: a row per employee who answers for the client, per
# message (issue 14). Its recipient, client, text and whether it has a file are one statement, shared by the copies
# sent in one turn (storage.coalesce); the ORM's rows are read only for a file.
_COPY_COLUMNS = (
    "e.active, e.telegram_chat_id, e.telegram_unreachable, e.language, c.name, c.email, m.text, m.chat_id, "
    "EXISTS (SELECT 1 FROM attachment a WHERE a.message_id = m.id) AS has_file"
)
_STAFF_COPY = sql.Statement(
    f"SELECT {_COPY_COLUMNS} FROM employee e, client c, message m WHERE e.id = $1 AND c.id = $2 AND m.id = $3"
)
_STAFF_COPIES = sql.Statement(
    f"SELECT x.n, {_COPY_COLUMNS} "
    "FROM unnest($1::int[], $2::int[], $3::bigint[]) WITH ORDINALITY AS x(employee_id, client_id, message_id, n) "
    "JOIN employee e ON e.id = x.employee_id JOIN client c ON c.id = x.client_id JOIN message m ON m.id = x.message_id"
)


async def _staff_copy(employee_id: int, client_id: int, message_id: int) -> dict | None:
    return await sql.first(_STAFF_COPY, employee_id, client_id, message_id)


async def _staff_copies(calls: list[tuple[int, int, int]]) -> list[dict | None]:
    found = {row["n"]: row for row in await sql.rows(_STAFF_COPIES, *sql.columns(calls))}
    return [found.get(n) for n in range(1, len(calls) + 1)]


_staff_copy_of = coalesce.Coalesced(_staff_copy, _staff_copies)


class TelegramChannel:
    kinds = frozenset(
        {
            outbox.ORDER_ASSIGNED,
            outbox.ORDERS_ASSIGNED_DIGEST,
            outbox.ORDER_DETACHED,
            outbox.PERSONAL_MANAGER_SET,
            outbox.IMPORTANT_CREATED,
            outbox.IMPORTANT_TAKEN,
            outbox.IMPORTANT_RESOLVED,
            outbox.MESSAGE_TO_STAFF,
            outbox.MESSAGE_TO_CLIENT,
            outbox.CHAT_ASSIGNED,
            outbox.CHAT_UNANSWERED,
            notes.NOTE_MENTION,
        }
    )

    def __init__(self, registry: BotRegistry, i18n: I18n, public_url: str,
                 files_dir: Path | str = "closer-files") -> None:
        self.registry = registry
        self.i18n = i18n
        self.public_url = public_url
        # Where an employee's uploads wait to be sent (Settings.files_dir).
        self.files_dir = Path(files_dir)

    def _(self, text: str, locale: str) -> str:
        return self.i18n.gettext(text, locale=locale)

    async def recipient_unreachable(self, row: Outbox) -> None:
        if row.kind == outbox.MESSAGE_TO_CLIENT:
            await mark_unreachable(client_id=row.client_id)
        else:
            await mark_unreachable(employee_id=row.employee_id)

    async def settled(self, rows: list[Outbox]) -> dict[int, bool]:
        """The rows of a batch with nobody to send to, found in one read (delivery.worker.Settles): no bot for the
        account, or an employee Telegram cannot reach. Most staff answer in the inbox, and each of a client's
        messages makes a staff copy for everyone who answers for him."""
        staff = {row.employee_id for row in rows if row.kind != outbox.MESSAGE_TO_CLIENT}
        reachable = {
            employee_id
            for employee_id, *how in await Employee.filter(id__in=staff).values_list(
                "id", "active", "telegram_chat_id", "telegram_unreachable")
            if reaches(*how)
        } if staff else set()
        return {
            row.id: False for row in rows
            if self.registry.for_account(row.account_id) is None
            or (row.kind != outbox.MESSAGE_TO_CLIENT and row.employee_id not in reachable)
        }

    async def deliver(self, row: Outbox) -> bool:
        bot = self.registry.for_account(row.account_id)
        if bot is None:
            return False
        if row.kind == outbox.MESSAGE_TO_CLIENT:
            return await self._to_client(bot, row)
        if row.kind == outbox.MESSAGE_TO_STAFF:
            return await self._to_staff(bot, row)
        employee = await Employee.get_or_none(id=row.employee_id)
        if employee is None or not reaches(employee.active, employee.telegram_chat_id, employee.telegram_unreachable):
            return False
        handler = {
            outbox.ORDER_ASSIGNED: self._order_assigned,
            outbox.ORDERS_ASSIGNED_DIGEST: self._digest,
            outbox.ORDER_DETACHED: self._detached,
            outbox.PERSONAL_MANAGER_SET: self._personal_manager,
            outbox.IMPORTANT_CREATED: self._important_alert,
            outbox.IMPORTANT_TAKEN: self._important_update,
            outbox.IMPORTANT_RESOLVED: self._important_update,
            outbox.CHAT_ASSIGNED: self._chat_assigned,
            outbox.CHAT_UNANSWERED: self._chat_unanswered,
            notes.NOTE_MENTION: self._note_mention,
        }[row.kind]
        return await handler(bot, employee, row)

    async def _send(self, bot: Bot, chat_id: int, text: str, markup: InlineKeyboardMarkup | None = None):
        # Pacing and 429 retries happen in the session's middleware, for every request alike.
        try:
            return await bot.send_message(chat_id, text, reply_markup=markup)
        except TelegramForbiddenError as exc:
            raise Unreachable(exc.message) from exc

    @staticmethod
    def _link(text: str, url: str) -> InlineKeyboardButton:
        return InlineKeyboardButton(text=text, url=url)

    async def _to_client(self, bot: Bot, row: Outbox) -> bool:
        client = await Client.get(id=row.client_id)
        if client.telegram_user_id is None or client.unreachable:
            return False
        message = await Message.get(id=row.payload["message_id"])
        attachment = await Attachment.filter(message_id=message.id).first()
        if attachment is not None:  # SPEC §11.1: a file, its caption the text
            await media.send_to_client(bot, client.telegram_user_id, message, attachment, self.files_dir)
            return True
        await self._send(bot, client.telegram_user_id, escape(message.text))
        return True

    async def _to_staff(self, bot: Bot, row: Outbox) -> bool:
        copy = await _staff_copy_of(row.employee_id, row.client_id, row.payload["message_id"])
        if copy is None or not reaches(copy["active"], copy["telegram_chat_id"], copy["telegram_unreachable"]):
            return False
        lang = copy["language"]
        hint = self._("Reply to this message to answer.", lang)
        header = f"💬 <b>{escape(label(copy['name'], copy['email'], row.client_id))}</b>"
        markup = InlineKeyboardMarkup(
            inline_keyboard=[[self._link(self._("Open chat", lang), links.chat_url(self.public_url, copy["chat_id"]))]]
        )
        if copy["has_file"]:  # SPEC §11.1: the client's file reaches him as the same file
            employee = await Employee.get(id=row.employee_id)
            client = await Client.get(id=row.client_id)
            message = await Message.get(id=row.payload["message_id"])
            attachment = await Attachment.filter(message_id=message.id).first()
            await media.relay_to_staff(
                bot, employee, client, message, attachment, header=header, hint=hint, markup=markup,
                label=self._(media.LABELS[attachment.kind], lang), account_id=row.account_id)
            return True
        text = f"{header}\n{escape(copy['text'])}\n\n<i>{hint}</i>"
        sent = await self._send(bot, copy["telegram_chat_id"], text, markup)
        await relay.remember(row.account_id, row.employee_id, sent.message_id, row.client_id, sent.date)
        return True

    async def _relay(self, employee: Employee, sent, client_id: int, account_id: int) -> None:
        await relay.remember(account_id, employee.id, sent.message_id, client_id, sent.date)

    def _chat_buttons(self, chat_id: int, assignee_id: int | None, lang: str) -> InlineKeyboardMarkup:
        return InlineKeyboardMarkup(inline_keyboard=[[
            self._link(self._("Open chat", lang), links.chat_url(self.public_url, chat_id)),
            InlineKeyboardButton(text=self._("Take", lang),
                                 callback_data=TakeChat(chat_id=chat_id, assignee_id=assignee_id or 0).pack()),
        ]])

    async def _chat_assigned(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        """SPEC §10.3: the chat's new assignee hears of it, with the client's latest words."""
        chat = await Chat.get(id=row.payload["chat_id"]).prefetch_related("client")
        lang = employee.language
        text = self._("💬 New conversation for you: {client}", lang).format(client=escape(client_label(chat.client)))
        last = await Message.filter(chat_id=chat.id, direction="in").order_by("-id").first()
        if last is not None:
            text += f"\n{escape(last.text[:500])}"
        sent = await self._send(bot, employee.telegram_chat_id, text, self._chat_buttons(chat.id, employee.id, lang))
        # It quotes the client: a reply to it answers him, like a reply to his forwarded message.
        await self._relay(employee, sent, chat.client_id, row.account_id)
        return True

    async def _chat_unanswered(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        """SPEC §10.5: the owner and admins hear of a client nobody has answered."""
        chat = await Chat.get(id=row.payload["chat_id"]).prefetch_related("client")
        lang = employee.language
        waiting_since = datetime.fromisoformat(row.payload["waiting_since"])
        text = self._("⏰ {client} has been waiting for an answer since {when}.", lang).format(
            client=escape(client_label(chat.client)), when=waiting_since.strftime("%Y-%m-%d %H:%M UTC"))
        if row.payload.get("assignee_id"):
            name = (await Employee.get(id=row.payload["assignee_id"])).name
            text += "\n" + self._("Assigned to {name}.", lang).format(name=escape(name))
        if row.payload.get("reassigned_to"):
            name = (await Employee.get(id=row.payload["reassigned_to"])).name
            text += "\n" + self._("Passed on to {name}.", lang).format(name=escape(name))
        assignee = row.payload.get("reassigned_to") or row.payload.get("assignee_id")
        await self._send(bot, employee.telegram_chat_id, text, self._chat_buttons(chat.id, assignee, lang))
        return True

    async def _note_mention(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        """SPEC §11.2: a colleague named him in a private note. Only *Open chat*: a reply to this ping answers nobody
        (it is not relayed), since the note is staff-only."""
        note = await ChatNote.get(id=row.payload["note_id"]).prefetch_related("employee", "chat__client")
        lang = employee.language
        quoted = note.text if len(note.text) <= NOTE_QUOTE else note.text[:NOTE_QUOTE] + "…"
        text = self._("📝 {author} mentioned you in a note on {client}:", lang).format(
            author=escape(note.employee.name), client=escape(client_label(note.chat.client)))
        text += f"\n{escape(quoted)}"
        markup = InlineKeyboardMarkup(inline_keyboard=[[
            self._link(self._("Open chat", lang), links.chat_url(self.public_url, note.chat_id))]])
        await self._send(bot, employee.telegram_chat_id, text, markup)
        return True

    async def _order_assigned(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        order = await Order.get(id=row.payload["order_id"]).prefetch_related("client", "offer")
        lang = employee.language
        text = self._("New order #{number}: {offer} for {client}, {amount} {currency}.", lang).format(
            number=order.id,
            offer=escape(order.offer.title),
            client=escape(client_label(order.client)),
            amount=order.amount,
            currency=order.currency,
        )
        markup = InlineKeyboardMarkup(inline_keyboard=[[self._link(self._("Open order", lang), links.order_url(self.public_url, order.id))]])
        await self._send(bot, employee.telegram_chat_id, text, markup)
        return True

    async def _digest(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        numbers = ", ".join(f"#{n}" for n in row.payload["order_ids"])
        text = self._("You are now responsible for {count} orders: {numbers}.", employee.language).format(
            count=len(row.payload["order_ids"]), numbers=numbers
        )
        await self._send(bot, employee.telegram_chat_id, text)
        return True

    async def _detached(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        text = self._(
            "Order #{number} was detached from you: no action was taken on it in time.", employee.language
        ).format(number=row.payload["order_id"])
        await self._send(bot, employee.telegram_chat_id, text)
        return True

    async def _personal_manager(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        client = await Client.get(id=row.client_id)
        text = self._("You are now the personal manager of {client}.", employee.language).format(
            client=escape(client_label(client))
        )
        await self._send(bot, employee.telegram_chat_id, text)
        return True

    async def _alert_text(self, item: ImportantItem, lang: str) -> str:
        order = await Order.get(id=item.order_id).prefetch_related("client")
        offer = await Offer.get(id=item.offer_id)
        text = self._("🔔 Payment failed: {client}\n{offer}, order #{number}\n{when}", lang).format(
            client=escape(client_label(order.client)),
            offer=escape(offer.title),
            number=order.id,
            when=item.failed_at.strftime("%Y-%m-%d %H:%M UTC"),
        )
        text += "\n" + self._("Amount: {amount} {currency}", lang).format(
            amount=escape(str(order.amount)), currency=escape(order.currency))
        if item.reason:
            text += "\n" + self._("Reason: {reason}", lang).format(reason=escape(item.reason))
        if item.resolved_at is not None and order.status == OrderStatus.CANCELLED:
            text += "\n✔ " + self._("The order was cancelled: resolved.", lang)
        elif item.resolved_at is not None:
            text += "\n✔ " + self._("Paid later: resolved.", lang)
        elif item.taken_by_id is not None:
            taker = await Employee.get(id=item.taken_by_id)
            text += "\n✅ " + self._("Taken by {name}.", lang).format(name=escape(taker.name))
        return text

    def _alert_markup(self, item: ImportantItem, lang: str) -> InlineKeyboardMarkup:
        rows = [
            [self._link(self._("Open chat", lang), links.chat_url(self.public_url, item.chat_id))],
            [self._link(self._("Open offer", lang), links.offer_url(self.public_url, item.offer_id))],
        ]
        if item.taken_by_id is None and item.resolved_at is None:
            rows.append([InlineKeyboardButton(text=self._("Take", lang), callback_data=TakeImportant(item_id=item.id).pack())])
        return InlineKeyboardMarkup(inline_keyboard=rows)

    async def _important_alert(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        item = await ImportantItem.get(id=row.payload["important_item_id"])
        lang = employee.language
        sent = await self._send(bot, employee.telegram_chat_id, await self._alert_text(item, lang), self._alert_markup(item, lang))
        await ImportantItem.filter(id=item.id).update(telegram_message_id=sent.message_id)
        return True

    async def _important_update(self, bot: Bot, employee: Employee, row: Outbox) -> bool:
        """Taken or resolved: the alert already in his chat is edited, so everyone sees the same state."""
        item = await ImportantItem.get(id=row.payload["important_item_id"])
        if item.telegram_message_id is None:
            return False
        lang = employee.language
        text, markup = await self._alert_text(item, lang), self._alert_markup(item, lang)
        try:
            await bot.edit_message_text(
                text=text, chat_id=employee.telegram_chat_id, message_id=item.telegram_message_id, reply_markup=markup
            )
        except TelegramForbiddenError as exc:
            raise Unreachable(exc.message) from exc
        except TelegramBadRequest as exc:
            # Already showing this state (a redelivery after a crash), or he deleted the alert: nothing to do.
            if "not modified" in exc.message:
                return True
            if "not found" in exc.message:
                return False
            raise
        return True
