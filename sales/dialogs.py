"""Messages and dialog records (SPEC §3.1): who talked to which client, and since when."""

from __future__ import annotations

from datetime import datetime

from tortoise.expressions import F
from tortoise.transactions import in_transaction

from sales.access import get_in_account, require_active
from sales import attachments, conversations, outbox
from sales.assignment import note_actions_on_client
from sales.clock import utcnow
from sales.errors import Invalid
from storage import group_commit, sql
from storage.claims import UpdateClaim
from storage.models import Chat, ChatStatus, Client, DialogRecord, Direction, Employee, Message, SenderKind

# Telegram's own limit for one text message; longer input is refused, not cut.
MAX_MESSAGE = 4096


def _clean(text: str) -> str:
    text = text.strip()
    if not text:
        raise Invalid("a message cannot be empty", field="text")
    if len(text) > MAX_MESSAGE:
        raise Invalid("a message is limited to {limit} characters", field="text", limit=MAX_MESSAGE)
    return text


# Every message runs these (written by hand, storage.sql).
_CHAT_LOCKED = sql.Statement("SELECT * FROM chat WHERE client_id = $1 LIMIT 1 FOR UPDATE")
_MESSAGE = sql.Statement(
    "INSERT INTO message (chat_id, direction, sender_kind, employee_id, text, telegram_message_id, created_at) "
    "VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING *"
)
_CHAT_MOVED = sql.Statement("UPDATE chat SET last_message_at = $2 WHERE id = $1")
# Two first messages of a new client at once (two processes) make one chat: the second waits for the first's row.
_CHAT_NEW = sql.Statement("INSERT INTO chat (account_id, client_id, status, created_at) VALUES ($1, $2, $3, $4) "
                          "ON CONFLICT (client_id) DO NOTHING")
# A batch's (storage.group_commit) in one statement each. The chats are locked in ascending client id, the order
# every batch takes them in. The messages' ids come from their sequence in the order the rows go in, unnest's.
_CHATS_LOCKED = sql.Statement("SELECT * FROM chat WHERE client_id = ANY($1::bigint[]) ORDER BY client_id FOR UPDATE")
_MESSAGES = sql.Statement(
    "INSERT INTO message (chat_id, direction, sender_kind, employee_id, text, telegram_message_id, created_at) "
    "SELECT * FROM unnest($1::bigint[], $2::varchar[], $3::varchar[], $4::bigint[], $5::text[], $6::bigint[], "
    "$7::timestamptz[]) RETURNING *"
)


async def _chat_row(client_id: int) -> dict | None:
    return await sql.first(_CHAT_LOCKED, client_id)


async def _chat_rows(calls: list[tuple[int]]) -> list[dict | None]:
    found = {row["client_id"]: row for row in await sql.rows(_CHATS_LOCKED, [client_id for client_id, in calls])}
    return [found.get(client_id) for client_id, in calls]


async def _message_row(*values) -> dict | None:
    return await sql.first(_MESSAGE, *values)


async def _message_rows(calls: list[tuple]) -> list[dict]:
    rows = await sql.rows(_MESSAGES, *sql.columns(calls))
    return sorted(rows, key=lambda row: row["id"])


_chat_locked = group_commit.Batched(_chat_row, _chat_rows)
_message_written = group_commit.Batched(_message_row, _message_rows)


async def _locked_chat(client: Client, *, create: bool = True) -> Chat | None:
    """The client's one chat, locked: the lock serialises every writer of this conversation (PostgreSQL).
    The row is made with his first message (`create`); without it, no chat is None. Callers hold a transaction."""
    row = await _chat_locked(client.id)
    if row is None and create:
        await sql.execute(_CHAT_NEW, client.account_id, client.id, ChatStatus.OPEN.value, utcnow())
        row = await _chat_locked(client.id)
    # Tortoise's own constructor of a fetched row (it converts SQLite's values as its queries do).
    return Chat._init_from_db(**row) if row is not None else None


async def _append(
    chat: Chat,
    *,
    direction: Direction,
    sender_kind: SenderKind,
    text: str,
    at: datetime,
    employee_id: int | None = None,
    telegram_message_id: int | None = None,
    touch_chat: bool = True,
) -> Message:
    """The message, and the chat's time of its newest message (unless the caller writes the chat's row itself)."""
    row = await _message_written(chat.id, direction.value, sender_kind.value, employee_id, text,
                                 telegram_message_id, at)
    if touch_chat and (chat.last_message_at is None or chat.last_message_at < at):
        await sql.execute(_CHAT_MOVED, chat.id, at)
    return Message._init_from_db(**row)


async def record_inbound(
    client: Client, text: str, *, telegram_message_id: int | None = None, now: datetime | None = None,
    attachment: attachments.Incoming | None = None, once: UpdateClaim | None = None,
) -> Message:
    """A message from the client into his chat; with a file (SPEC §11.1) the text is its caption, maybe empty.
    `once`: the Telegram update it came in, claimed in the same transaction (storage.claims)."""
    now = now or utcnow()
    text = _clean(text) if attachment is None else attachments.caption(text, attachments.MAX_INBOUND_CAPTION)

    async def store() -> Message:
        if once is not None:
            await once.take()
        chat = await _locked_chat(client)
        message = await _append(
            chat,
            direction=Direction.INBOUND,
            sender_kind=SenderKind.CLIENT,
            text=text,
            at=now,
            telegram_message_id=telegram_message_id,
            touch_chat=False,
        )
        if attachment is not None:
            await attachments.add(message.id, attachment, now)
        # Routed before the recipients are settled, so a new lead's assignee gets this very message.
        recipients = await conversations.on_client_message(chat, client, message.id, now)
        to_staff = [
            outbox.row(account_id=client.account_id, kind=outbox.MESSAGE_TO_STAFF,
                       dedupe_key=f"{outbox.MESSAGE_TO_STAFF}:{message.id}:{employee_id}", employee_id=employee_id,
                       client_id=client.id, payload={"message_id": message.id}, now=now)
            for employee_id in recipients
        ]
        # Those who get the message in Telegram are the managers whose tabs show the chat (SPEC §10.3): one read,
        # and their rows go out with the live event in one statement.
        await conversations.announce(
            chat, "message", now, key=message.id, message_id=message.id, direction="in", along=to_staff,
            audience=conversations.Audience(frozenset(recipients), managers=chat.assignee_id is None))
        return message

    # Customers' messages arriving together are written in one transaction (storage.group_commit); this returns
    # once the one holding this message has committed. In the order of their clients, as each locks its client's
    # chat: two processes' batches lock their chats in one order.
    return await group_commit.run(store, order=client.id)


async def record_bot_message(client: Client, text: str, *, now: datetime | None = None) -> Message | None:
    """An outbound message of the bot itself: part of the history, nobody's dialog. Only in a conversation that
    exists: the bot's greeting alone does not open a chat in anyone's list (his first message does, and routes it)."""
    now = now or utcnow()
    text = _clean(text)
    async with in_transaction():
        chat = await _locked_chat(client, create=False)
        if chat is None:
            return None
        message = await _append(chat, direction=Direction.OUTBOUND, sender_kind=SenderKind.BOT, text=text, at=now)
        await conversations.announce(chat, "message", now, key=message.id, message_id=message.id, direction="out")
        return message


async def record_outbound(
    actor: Employee,
    client_id: int,
    text: str,
    *,
    telegram_message_id: int | None = None,
    now: datetime | None = None,
    attachment: attachments.Upload | None = None,
    once: UpdateClaim | None = None,
) -> Message:
    """A message of an employee to a client (from the inbox or his Telegram); with a file (SPEC §11.1) the text is
    its caption, maybe empty, and the file goes out with it. `once`: the Telegram update it came in, claimed in the
    same transaction (storage.claims).

    It updates his dialog record for the chat and counts as an action on the client's orders he manages.
    """
    require_active(actor)
    now = now or utcnow()
    text = _clean(text) if attachment is None else attachments.caption(text, attachments.MAX_CAPTION)
    async with in_transaction():
        if once is not None:
            await once.take()
        client = await get_in_account(Client, actor.account_id, client_id, what="client")
        chat = await _locked_chat(client)
        message = await _append(
            chat,
            direction=Direction.OUTBOUND,
            sender_kind=SenderKind.EMPLOYEE,
            text=text,
            at=now,
            employee_id=actor.id,
            telegram_message_id=telegram_message_id,
        )
        if attachment is not None:
            await attachments.add(message.id, attachment, now)
        # The chat lock makes this read-then-write safe: no other writer of this chat runs meanwhile.
        record = await DialogRecord.get_or_none(employee_id=actor.id, chat_id=chat.id)
        if record is None:
            await DialogRecord.create(
                account_id=actor.account_id,
                employee_id=actor.id,
                chat_id=chat.id,
                first_at=now,
                last_at=now,
                message_count=1,
            )
        else:
            await DialogRecord.filter(id=record.id).update(
                first_at=min(record.first_at, now),
                last_at=max(record.last_at, now),
                message_count=F("message_count") + 1,
            )
        await note_actions_on_client(client.id, actor, now)
        await conversations.on_staff_message(chat, actor.id, message.id, now)
        if client.telegram_user_id is not None:
            await outbox.enqueue(
                account_id=actor.account_id,
                kind=outbox.MESSAGE_TO_CLIENT,
                dedupe_key=f"{outbox.MESSAGE_TO_CLIENT}:{message.id}",
                client_id=client.id,
                payload={"message_id": message.id},
                now=now,
            )
    return message


async def had_dialog_before(employee_id: int, client_id: int, moment: datetime) -> bool:
    """SPEC's definition: the employee sent at least one message in the client's chat earlier than `moment`."""
    return await DialogRecord.filter(employee_id=employee_id, chat__client_id=client_id, first_at__lt=moment).exists()

