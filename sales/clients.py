"""Clients: identity by e-mail and/or Telegram id, the personal manager, notes (SPEC §2)."""

from __future__ import annotations

import re
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales import outbox
from sales.access import active_staff, get_in_account, is_admin, require_active
from sales.audit import log_personal_manager_change
from sales.clock import utcnow
from sales.errors import Conflict, Invalid, NotAllowed
from storage import coalesce, sql
from storage.models import (
    AssignmentLog,
    AssignmentReason,
    Chat,
    ChatStatus,
    Client,
    DialogRecord,
    Employee,
    ImportantItem,
    Message,
    Order,
    Outbox,
    StaffRelay,
    Widget,
)

# Deliberately modest: a real address has one @, a dot in the domain, and no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NOTES = 10_000


def normalize_email(raw: str) -> str:
    """Clients are the same person when their e-mails match trimmed and case-insensitively."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Invalid("not a valid e-mail address", field="email")
    return email


async def find_or_create_client(
    account_id: int,
    *,
    email: str | None = None,
    telegram_user_id: int | None = None,
    name: str = "",
) -> Client:
    """The client with this e-mail (or Telegram id) in the account, created when new.

    Two requests may create the same client at once; the unique index decides and the loser reads the winner.
    """
    if email is None and telegram_user_id is None:
        raise Invalid("a client needs an e-mail or a Telegram id", field="email")
    key = {"email": normalize_email(email)} if email is not None else {"telegram_user_id": telegram_user_id}
    client = await Client.get_or_none(account_id=account_id, **key)
    if client is not None:
        return client
    try:
        async with in_transaction():
            return await Client.create(
                account_id=account_id,
                telegram_user_id=telegram_user_id,
                name=name.strip()[:200],
                **({"email": key["email"]} if "email" in key else {}),
            )
    except IntegrityError:
        return await Client.get(account_id=account_id, **key)


async def set_personal_manager(
    actor: Employee,
    client_id: int,
    employee_id: int | None,
    *,
    now: datetime | None = None,
) -> Client:
    """Set (or clear) the client's personal manager. It belongs to the client, so every order of his shows it.

    Owner and admin may set anyone active; a manager may only make himself the personal manager of a client who
    has none.
    """
    require_active(actor)
    now = now or utcnow()
    async with in_transaction():
        client = await get_in_account(Client, actor.account_id, client_id, what="client")
        client = await Client.filter(id=client.id).select_for_update().get()
        if employee_id is not None:
            await active_staff(actor.account_id, employee_id)
        if not is_admin(actor):
            if employee_id != actor.id or client.personal_manager_id not in (None, actor.id):
                raise NotAllowed("a manager may only take a client without a personal manager")
        previous = client.personal_manager_id
        if previous == employee_id:
            return client
        client.personal_manager_id = employee_id
        await client.save(update_fields=["personal_manager_id"])
        await _copy_personal_manager_to_orders(client)
        log = await log_personal_manager_change(
            account_id=actor.account_id,
            client_id=client.id,
            from_id=previous,
            to_id=employee_id,
            reason=AssignmentReason.MANUAL if is_admin(actor) else AssignmentReason.TAKEN,
            actor_id=actor.id,
            now=now,
        )
        if employee_id is not None and employee_id != actor.id:
            await outbox.enqueue(
                account_id=actor.account_id,
                kind=outbox.PERSONAL_MANAGER_SET,
                dedupe_key=f"{outbox.PERSONAL_MANAGER_SET}:{log.id}",
                employee_id=employee_id,
                client_id=client.id,
                payload={"client_id": client.id},
                now=now,
            )
    return client


async def set_personal_manager_from_order(
    actor: Employee, order_id: int, employee_id: int | None, *, now: datetime | None = None
) -> Client:
    """The same rule reached from an order's customer information: it changes the client, not the order."""
    order = await get_in_account(Order, actor.account_id, order_id, what="order")
    return await set_personal_manager(actor, order.client_id, employee_id, now=now)


async def update_notes(actor: Employee, client_id: int, notes: str) -> Client:
    require_active(actor)
    if len(notes) > MAX_NOTES:
        raise Invalid("notes are limited to {limit} characters", field="notes", limit=MAX_NOTES)
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    client.notes = notes
    await client.save(update_fields=["notes"])
    return client


async def add_client(actor: Employee, *, email: str, name: str = "", phone: str = "", notes: str = "") -> Client:
    """A client entered by staff (a phone lead, say). The e-mail is his identity: an existing one is a conflict."""
    require_active(actor)
    if len(notes) > MAX_NOTES:
        raise Invalid("notes are limited to {limit} characters", field="notes", limit=MAX_NOTES)
    email = normalize_email(email)
    try:
        async with in_transaction():
            return await Client.create(
                account_id=actor.account_id, email=email, name=name.strip()[:200], phone=phone.strip()[:40],
                notes=notes,
            )
    except IntegrityError:
        raise Conflict("a client with this e-mail exists", field="email") from None


async def update_contact(actor: Employee, client_id: int, *, name: str | None = None, phone: str | None = None,
                         email: str | None = None) -> Client:
    """Staff correct a client's name, phone or e-mail. An e-mail another client of the account has is refused: two
    clients become one only when the client himself proves both are his (set_client_email); "" clears it, if he
    stays reachable through Telegram."""
    require_active(actor)
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    if name is not None:
        client.name = name.strip()[:200]
    if phone is not None:
        client.phone = phone.strip()[:40]
    if email is not None:
        if not email.strip():
            if client.telegram_user_id is None:
                raise Invalid("a client needs an e-mail or a Telegram id", field="email")
            client.email = None
        else:
            client.email = normalize_email(email)
            if await Client.filter(account_id=client.account_id, email=client.email).exclude(id=client.id).exists():
                raise Conflict("a client with this e-mail exists", field="email")
    try:
        await client.save(update_fields=["name", "phone", "email"])
    except IntegrityError:  # the same e-mail given to another client meanwhile
        raise Conflict("a client with this e-mail exists", field="email") from None
    return client


_UNCHANGED = object()


async def update_client(
    actor: Employee,
    client_id: int,
    *,
    name: str | None = None,
    phone: str | None = None,
    email: str | None = None,
    notes: str | None = None,
    personal_manager_id: int | None | object = _UNCHANGED,
    now: datetime | None = None,
) -> Client:
    """One edit of a client card is one change: a refused personal manager leaves the notes as they were."""
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    async with in_transaction():
        if name is not None or phone is not None or email is not None:
            client = await update_contact(actor, client.id, name=name, phone=phone, email=email)
        if notes is not None:
            client = await update_notes(actor, client.id, notes)
        if personal_manager_id is not _UNCHANGED:
            client = await set_personal_manager(actor, client.id, personal_manager_id, now=now)
    return client


async def personal_manager_of_order(order: Order) -> Employee | None:
    client = await Client.get(id=order.client_id).prefetch_related("personal_manager")
    return client.personal_manager


async def orders_of_personal_manager(account_id: int, employee_id: int) -> list[Order]:
    """SPEC §2.3: a personal manager chooses himself and gets the orders of all his clients."""
    return await Order.filter(account_id=account_id, personal_manager_id=employee_id).order_by(
        "-created_at", "-id"
    )



SUPPORTED_LANGUAGES = ("en", "es", "ru", "uk")


def pick_language(code: str | None) -> str:
    """Telegram's language_code (e.g. 'uk', 'es-MX') narrowed to the four closer speaks; English otherwise."""
    base = (code or "").split("-")[0].lower()
    return base if base in SUPPORTED_LANGUAGES else "en"


# One query per customer update (storage.sql): his row, with whether an active employee has his Telegram id.
_SENDER = sql.Statement(
    "SELECT c.*, (SELECT e.id FROM employee e WHERE e.account_id = $1 AND e.telegram_user_id = $2 AND e.active "
    "LIMIT 1) AS staff_id FROM client c WHERE c.account_id = $1 AND c.telegram_user_id = $2"
)

# The same for the senders of updates that arrive together (storage.coalesce): one statement.
_SENDERS = sql.Statement(
    "SELECT c.*, (SELECT e.id FROM employee e WHERE e.account_id = x.account_id "
    "AND e.telegram_user_id = x.telegram_user_id AND e.active LIMIT 1) AS staff_id "
    "FROM unnest($1::bigint[], $2::bigint[]) AS x(account_id, telegram_user_id) "
    "JOIN client c ON c.account_id = x.account_id AND c.telegram_user_id = x.telegram_user_id"
)


async def _sender(account_id: int, telegram_user_id: int) -> dict | None:
    return await sql.first(_SENDER, account_id, telegram_user_id)


async def _senders(calls: list[tuple[int, int]]) -> list[dict | None]:
    accounts, users = sql.columns(calls)
    found = {(row["account_id"], row["telegram_user_id"]): row for row in await sql.rows(_SENDERS, accounts, users)}
    return [found.get(call) for call in calls]


_sender_row = coalesce.Coalesced(_sender, _senders)


async def telegram_sender(account_id: int, telegram_user_id: int) -> tuple[Employee | None, Client | None]:
    """Who writes to the account's bot: (employee, None) for a linked active employee, whether or not he is also a
    client; else (None, client) for a known client; else (None, None).

    A known client who is not staff (every customer message) takes one query: his row, with whether an active
    employee has his Telegram id; the employee's row is read only when one has.
    """
    row = await _sender_row(account_id, telegram_user_id)
    # Tortoise's own constructor of a fetched row (it converts SQLite's values as its queries do).
    client = Client._init_from_db(**row) if row is not None else None
    if row is not None and row["staff_id"] is None:
        return None, client
    employee = await Employee.get_or_none(account_id=account_id, telegram_user_id=telegram_user_id, active=True)
    return (employee, None) if employee is not None else (None, client)


async def client_from_telegram(
    account_id: int,
    telegram_user_id: int,
    *,
    name: str = "",
    language_code: str | None = None,
    widget_code: str | None = None,
) -> tuple[Client, bool]:
    """The client behind a Telegram user of this account's bot, created on first contact. Returns (client, new).

    A deep link's widget code is remembered once: the widget he first came through keeps his bot orders.
    """
    widget = None
    if widget_code:
        widget = await Widget.get_or_none(account_id=account_id, code=widget_code)
    client = await Client.get_or_none(account_id=account_id, telegram_user_id=telegram_user_id)
    if client is not None:
        changed = []
        if client.unreachable:
            client.unreachable = False  # he wrote again, so he unblocked the bot
            changed.append("unreachable")
        if widget is not None and client.widget_id is None:
            client.widget_id = widget.id
            changed.append("widget_id")
        if changed:
            await client.save(update_fields=changed)
        return client, False
    try:
        async with in_transaction():
            client = await Client.create(
                account_id=account_id,
                telegram_user_id=telegram_user_id,
                name=name.strip()[:200],
                language=pick_language(language_code),
                widget_id=widget.id if widget else None,
            )
            return client, True
    except IntegrityError:
        return await Client.get(account_id=account_id, telegram_user_id=telegram_user_id), False


async def set_language(client: Client, language: str) -> Client:
    if language not in SUPPORTED_LANGUAGES:
        raise Invalid("language is one of {languages}", field="language", languages=", ".join(SUPPORTED_LANGUAGES))
    client.language = language
    await Client.filter(id=client.id).update(language=language)
    return client


async def ask_email(client: Client) -> Client:
    """The bot has asked for his e-mail: his next plain text answers it."""
    client.awaiting_email = True
    await Client.filter(id=client.id).update(awaiting_email=True)
    return client


async def skip_email(client: Client) -> Client:
    client.email_asked, client.awaiting_email = True, False
    await Client.filter(id=client.id).update(email_asked=True, awaiting_email=False)
    return client


async def set_client_email(client: Client, raw_email: str) -> Client:
    """The client tells his e-mail. If the account already knows that e-mail (say, from an order on the web),
    that client is the same person: the Telegram identity and its history join him, so his personal manager
    and earlier orders follow (SPEC §2.2). Returns the client to use from now on."""
    email = normalize_email(raw_email)
    async with in_transaction():
        me = await Client.filter(id=client.id).select_for_update().get()
        if me.email == email:
            if me.awaiting_email:
                await Client.filter(id=me.id).update(awaiting_email=False)
                me.awaiting_email = False
            return me
        known = await Client.filter(account_id=me.account_id, email=email).select_for_update().first()
        if known is None:
            me.email, me.email_asked, me.awaiting_email = email, True, False
            await me.save(update_fields=["email", "email_asked", "awaiting_email"])
            return me
        if known.telegram_user_id is not None and known.telegram_user_id != me.telegram_user_id:
            raise Conflict("this e-mail belongs to another Telegram user", field="email")
        if me.email is not None:
            raise Conflict("this e-mail belongs to another client", field="email")
        return await _merge(source=me, target=known)


async def _merge(*, source: Client, target: Client) -> Client:
    await Order.filter(client_id=source.id).update(client_id=target.id)
    await StaffRelay.filter(client_id=source.id).update(client_id=target.id)
    await Outbox.filter(client_id=source.id).update(client_id=target.id)
    await AssignmentLog.filter(client_id=source.id).update(client_id=target.id)
    source_chat = await Chat.get_or_none(client_id=source.id)
    target_chat = await Chat.get_or_none(client_id=target.id)
    if source_chat is not None and target_chat is None:
        await Chat.filter(id=source_chat.id).update(client_id=target.id)
    elif source_chat is not None and target_chat is not None:
        await Message.filter(chat_id=source_chat.id).update(chat_id=target_chat.id)
        await ImportantItem.filter(chat_id=source_chat.id).update(chat_id=target_chat.id)
        for record in await DialogRecord.filter(chat_id=source_chat.id):
            twin = await DialogRecord.get_or_none(chat_id=target_chat.id, employee_id=record.employee_id)
            if twin is None:
                await DialogRecord.filter(id=record.id).update(chat_id=target_chat.id)
            else:
                await DialogRecord.filter(id=twin.id).update(
                    first_at=min(twin.first_at, record.first_at),
                    last_at=max(twin.last_at, record.last_at),
                    message_count=twin.message_count + record.message_count,
                )
                await record.delete()
        await AssignmentLog.filter(chat_id=source_chat.id).update(chat_id=target_chat.id)
        last = max(filter(None, (source_chat.last_message_at, target_chat.last_message_at)), default=None)
        # One conversation now: it keeps the known client's assignee (else the other's), waits since the earlier
        # unanswered message, and is open if either was.
        waiting = min(filter(None, (source_chat.waiting_since, target_chat.waiting_since)), default=None)
        inbound = max(filter(None, (source_chat.last_inbound_message_id, target_chat.last_inbound_message_id)),
                      default=None)
        status = target_chat.status if ChatStatus.OPEN not in (source_chat.status, target_chat.status) \
            else ChatStatus.OPEN
        await Chat.filter(id=target_chat.id).update(
            last_message_at=last, assignee_id=target_chat.assignee_id or source_chat.assignee_id,
            waiting_since=waiting, last_inbound_message_id=inbound, status=status,
            snoozed_until=target_chat.snoozed_until if status == ChatStatus.SNOOZED else None,
        )
        await source_chat.delete()
    telegram_user_id = source.telegram_user_id
    await Client.filter(id=source.id).delete()
    target.telegram_user_id = telegram_user_id
    target.email_asked, target.awaiting_email = True, False
    target.unreachable = False
    target.language = source.language
    target.widget_id = target.widget_id or source.widget_id
    target.personal_manager_id = target.personal_manager_id or source.personal_manager_id
    target.name = target.name or source.name
    await target.save(
        update_fields=[
            "telegram_user_id", "email_asked", "awaiting_email", "unreachable", "language", "widget_id",
            "personal_manager_id", "name",
        ]
    )
    await _copy_personal_manager_to_orders(target)
    return target


async def _copy_personal_manager_to_orders(client: Client) -> None:
    # Order.personal_manager_id is a copy for the orders filter; it follows the client's in the same transaction.
    await Order.filter(client_id=client.id).update(personal_manager_id=client.personal_manager_id)
