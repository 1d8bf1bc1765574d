"""Conversations (SPEC §10): who answers for a chat, where it stands, who has read it, and who must hear of it.

Every change of a chat's assignee goes through `change_assignee`, which writes the audit row, the assignment ping and
the live event in the caller's transaction, holding the chat's row lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from uuid import uuid4

from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from sales import outbox
from sales.access import active_staff, get_in_account, is_admin, require_active
from sales.assignment import OPEN_STATUSES, Rotation, owner_of
from sales.audit import log_change
from sales.clock import aware, utcnow
from sales.errors import Conflict, Invalid, NotAllowed
from sales.listing import chat_status, visible_chat
from storage import group_commit, sql
from storage.models import (
    Account,
    AssignmentLog,
    AssignmentReason,
    AssignmentTarget,
    Chat,
    ChatRead,
    ChatStatus,
    Client,
    Employee,
    Order,
    Role,
    Widget,
)

# A snooze is for hours or days; a year is surely a mistake.
MAX_SNOOZE = timedelta(days=366)


# --- who hears of a chat (SPEC §10.3)

@dataclass(frozen=True)
class Audience:
    """Who may see a chat: owner and admins always; these employees; every manager while it is unassigned."""

    employee_ids: frozenset[int]
    managers: bool

    def as_payload(self) -> dict:
        return {"employee_ids": sorted(self.employee_ids), "managers": self.managers}


def may_receive(audience: dict, employee_id: int, role: str) -> bool:
    """Whether an employee's open page gets a chat's live event; `audience` is `Audience.as_payload()`."""
    if role in (Role.OWNER, Role.ADMIN):
        return True
    if employee_id in audience.get("employee_ids", ()):
        return True
    return role == Role.MANAGER and bool(audience.get("managers"))


# Open statuses are the code's constants, written into the text once.
def _who_answers(client_id: str) -> str:
    """The ids that may answer for the client `client_id` (an SQL expression): his open orders' managers, his personal
    manager, his chat's assignee."""
    return ("SELECT order_manager_id FROM orders WHERE client_id = " + client_id + " AND status IN ("
            + ", ".join(f"'{status.value}'" for status in OPEN_STATUSES) + ") "
            "UNION SELECT personal_manager_id FROM client WHERE id = " + client_id + " "
            "UNION SELECT assignee_id FROM chat WHERE client_id = " + client_id)


_ANSWERING_FOR = sql.Statement(f"SELECT id FROM employee WHERE active AND id IN ({_who_answers('$1')}) ORDER BY id")
# The same for a batch's clients (storage.group_commit), in one statement.
_ANSWERING_FOR_EACH = sql.Statement(
    "SELECT x.client_id, e.id FROM unnest($1::bigint[]) AS x(client_id) JOIN employee e ON e.active AND e.id IN ("
    f"{_who_answers('x.client_id')}) ORDER BY x.client_id, e.id"
)


async def _answering(client_id: int) -> list[int]:
    return [row["id"] for row in await sql.rows(_ANSWERING_FOR, client_id)]


async def _answering_each(calls: list[tuple[int]]) -> list[list[int]]:
    found: dict[int, list[int]] = {}
    for row in await sql.rows(_ANSWERING_FOR_EACH, list({client_id for client_id, in calls})):
        found.setdefault(row["client_id"], []).append(row["id"])
    return [list(found.get(client_id, ())) for client_id, in calls]


_answering_for = group_commit.Batched(_answering, _answering_each)


async def answering_for(client_id: int) -> list[int]:
    """Who answers for a client (SPEC §4.1, §10.3): the active ones among his chat's assignee, his personal manager
    and the managers of his open orders. They get his messages in Telegram, and their Mine tabs show his chat.

    One statement written by hand (storage.sql), as it runs for every message a client writes (one for a batch's
    clients). Everything is read from the rows, not from a caller's copy, which may predate a change.
    """
    return await _answering_for(client_id)


async def audience_of(chat: Chat, *also: int | None, was_unassigned: bool = False) -> Audience:
    """Those who answer for the chat's client (whose Mine tab shows it), and `also` (say, the assignee it just
    left, whose Mine tab loses it). Every manager while it is unassigned, or when it just left the Unassigned tab."""
    ids = {*await answering_for(chat.client_id), *also}
    return Audience(frozenset(i for i in ids if i is not None),
                    managers=chat.assignee_id is None or was_unassigned)


async def announce(chat: Chat, event: str, now: datetime, *, key: object = None,
                   also: tuple[int | None, ...] = (), was_unassigned: bool = False, audience: Audience | None = None,
                   along: Sequence[outbox.NewRow] = (), **payload) -> None:
    """One live event for everyone who may see the chat (one outbox row, fanned out by the live bus). `key` names
    the cause when it has an id; a live event has no resend to guard against otherwise. `audience`: the caller
    already knows it. `along`: the caller's other outbox rows of this change (`outbox.row`), written with the
    event in one statement."""
    audience = audience or await audience_of(chat, *also, was_unassigned=was_unassigned)
    live = outbox.row(
        account_id=chat.account_id,
        kind=outbox.CHAT_EVENT,
        dedupe_key=f"{outbox.CHAT_EVENT}:{chat.id}:{event}:{key if key is not None else uuid4().hex}",
        client_id=chat.client_id,
        payload={"chat_id": chat.id, "event": event, "assignee_id": chat.assignee_id, "status": str(chat.status),
                 "audience": audience.as_payload(), **payload},
        now=now,
    )
    await outbox.enqueue_many([*along, live])


# --- the assignee (SPEC §10.2, §10.4)

async def change_assignee(
    chat: Chat,
    new_id: int | None,
    *,
    reason: AssignmentReason,
    actor_id: int | None,
    now: datetime,
    listed: bool = True,
) -> AssignmentLog | None:
    """The one way a chat's assignee changes. The caller holds the chat's row lock and a transaction. `listed` is
    False for a chat born with this change (a new lead's first message): no Unassigned tab ever showed it."""
    previous = chat.assignee_id
    if previous == new_id:
        return None
    chat.assignee_id = new_id
    await Chat.filter(id=chat.id).update(assignee_id=new_id)
    log = await log_change(AssignmentTarget.CHAT, account_id=chat.account_id, chat_id=chat.id, from_id=previous,
                           to_id=new_id, reason=reason, actor_id=actor_id, now=now)
    if new_id is not None and new_id != actor_id:
        await outbox.enqueue(
            account_id=chat.account_id,
            kind=outbox.CHAT_ASSIGNED,
            dedupe_key=f"{outbox.CHAT_ASSIGNED}:{log.id}",
            employee_id=new_id,
            client_id=chat.client_id,
            payload={"chat_id": chat.id, "reason": str(reason)},
            now=now,
        )
    if listed:
        # A chat born with this change is announced once, by its first message's event (which names the assignee).
        await announce(chat, "assigned", now, also=(previous,), was_unassigned=previous is None, key=log.id,
                       reason=str(reason))
    return log


async def _available(employee_id: int | None) -> bool:
    """A personal or order manager answers a lead only while he is there to answer: active and not away."""
    if employee_id is None:
        return False
    return await Employee.exists(id=employee_id, active=True, away=False)


async def _previous_assignee(chat: Chat) -> int | None:
    last = await AssignmentLog.filter(chat_id=chat.id, to_employee_id__not_isnull=True).order_by("-id").first()
    return None if last is None else last.to_employee_id


async def widget_of(account_id: int, widget_id: int | None) -> int:
    """The widget a client came through (his rotation), else the account's default one."""
    if widget_id is not None:
        return widget_id
    return (await Widget.get(account_id=account_id, is_default=True)).id


async def choose_assignee(chat: Chat, client: Client) -> tuple[int, AssignmentReason]:
    """SPEC §10.2, in order: personal manager, latest open order's manager, previous assignee (sticky), rotation,
    owner. Runs in the message's transaction under the chat's lock; rotation shares the pointer of orders."""
    # From the row, not the caller's copy of the client, which may predate a change.
    personal, widget_id = (await Client.filter(id=client.id).values_list("personal_manager_id", "widget_id"))[0]
    if await _available(personal):
        return personal, AssignmentReason.PERSONAL
    latest_open = await (
        Order.filter(client_id=client.id, status__in=OPEN_STATUSES, order_manager_id__not_isnull=True)
        .order_by("-created_at", "-id").limit(1).values_list("order_manager_id", flat=True)
    )
    if latest_open and await _available(latest_open[0]):
        return latest_open[0], AssignmentReason.ORDER
    rotation = await Rotation.of(client.account_id, await widget_of(client.account_id, widget_id))
    previous = await _previous_assignee(chat)
    if rotation.may_keep(previous):
        return previous, AssignmentReason.STICKY
    picked = await rotation.next()
    if picked is not None:
        return picked, AssignmentReason.ROTATION
    return await owner_of(client.account_id), AssignmentReason.OWNER_FALLBACK


_CLIENT_WROTE = sql.Statement(
    "UPDATE chat SET last_inbound_message_id = $2, last_message_at = $3, status = $4, snoozed_until = $5, "
    "waiting_since = $6, unanswered_alerted_at = $7 WHERE id = $1"
)
_CLIENTS_WROTE = sql.Statement(
    "UPDATE chat SET last_inbound_message_id = v.message_id, last_message_at = v.at, status = v.status, "
    "snoozed_until = v.snoozed_until, waiting_since = v.waiting_since, unanswered_alerted_at = v.alerted_at "
    "FROM unnest($1::bigint[], $2::bigint[], $3::timestamptz[], $4::varchar[], $5::timestamptz[], "
    "$6::timestamptz[], $7::timestamptz[]) AS v(id, message_id, at, status, snoozed_until, waiting_since, alerted_at) "
    "WHERE chat.id = v.id"
)

# A batch's chats (storage.group_commit) are written in one statement.
_chat_written = group_commit.Batched.update(_CLIENT_WROTE, _CLIENTS_WROTE)


async def on_client_message(chat: Chat, client: Client, message_id: int, now: datetime) -> list[int]:
    """What a client's message does to his conversation (SPEC §10.2, §10.5, §10.7), in its transaction:
    a resolved, pending or snoozed chat opens again (assignee kept); a chat nobody can answer for gets its
    assignee; the wait for a staff reply starts. Returns who answers for the client once that is settled
    (`answering_for`): the caller tells them."""
    # This message made the chat when it has no time yet: no Unassigned tab ever listed it.
    born = chat.last_message_at is None
    recipients: list[int] | None = None
    if chat.assignee_id is None:
        route = True
    elif chat.status == ChatStatus.RESOLVED:
        # A returning client (his chat was resolved) whose assignee is away is routed anew too.
        route = not await _available(chat.assignee_id)
    else:
        # A deactivated assignee answers nothing: his chat is routed anew; an open conversation waits for its away
        # assignee. Those who answer include the assignee exactly when he is active, so one read tells both (the
        # chat's row is locked: its assignee cannot change meanwhile).
        recipients = await answering_for(client.id)
        route = chat.assignee_id not in recipients
    if chat.status != ChatStatus.OPEN:
        chat.status, chat.snoozed_until = ChatStatus.OPEN, None
    if chat.waiting_since is None:
        chat.waiting_since, chat.unanswered_alerted_at = now, None
    chat.last_inbound_message_id = message_id
    if born or chat.last_message_at < now:
        chat.last_message_at = now
    # The chat's row is written once here, the message's time included (the caller leaves it to this); its row is
    # locked, so the columns written back as read change nothing.
    await _chat_written(chat.id, message_id, chat.last_message_at, ChatStatus(chat.status).value,
                        chat.snoozed_until, chat.waiting_since, chat.unanswered_alerted_at)
    if route:
        assignee, reason = await choose_assignee(chat, client)
        await change_assignee(chat, assignee, reason=reason, actor_id=None, now=now, listed=not born)
        recipients = None  # read after the routing, so a new lead's assignee gets this very message
    return recipients if recipients is not None else await answering_for(client.id)


async def on_staff_message(chat: Chat, employee_id: int, message_id: int, now: datetime) -> None:
    """An employee answered: the client's wait is over (one first-response alert per unanswered stretch), and
    whoever answers has read what he answers."""
    await _read_up_to(employee_id, chat, now)
    if chat.waiting_since is not None:
        chat.waiting_since = chat.unanswered_alerted_at = None
        await Chat.filter(id=chat.id).update(waiting_since=None, unanswered_alerted_at=None)
    await announce(chat, "message", now, key=message_id, message_id=message_id, direction="out")


async def locked_chat(account_id: int, chat_id: int) -> Chat:
    await get_in_account(Chat, account_id, chat_id, what="chat")
    return await Chat.filter(id=chat_id).select_for_update().get()


async def take_chat(actor: Employee, chat_id: int, *, replacing: int | None = None,
                    now: datetime | None = None) -> Chat:
    """The actor takes the chat if it is still as he saw it: unassigned, or (owner/admin, from a first-response
    alert) still with `replacing`. Two people taking at once: exactly one wins, the other gets a conflict."""
    require_active(actor)
    now = now or utcnow()
    async with in_transaction():
        # No visibility check before the lock: the loser of a race must learn he lost (409), not that the chat
        # vanished (it is no longer unassigned, so no longer his to see). The answer names nobody.
        chat = await locked_chat(actor.account_id, chat_id)
        if chat.assignee_id == actor.id:
            return chat
        if chat.assignee_id != replacing:
            raise Conflict("someone else already has this chat" if chat.assignee_id is not None
                           else "this chat has changed; look again", field="chat_id")
        if replacing is not None and not is_admin(actor):
            raise NotAllowed("only the owner or an admin may take a chat from its assignee", field="chat_id")
        await change_assignee(chat, actor.id, reason=AssignmentReason.TAKE, actor_id=actor.id, now=now)
    return chat


async def assign_chat(actor: Employee, chat_id: int, employee_id: int | None, *,
                      now: datetime | None = None) -> Chat:
    """Owner and admins assign any chat to any active employee, or leave it unassigned; an assignee hands his
    chat over to another employee (SPEC §10.4)."""
    require_active(actor)
    await visible_chat(actor, chat_id)
    now = now or utcnow()
    async with in_transaction():
        chat = await locked_chat(actor.account_id, chat_id)
        if is_admin(actor):
            reason = AssignmentReason.MANUAL
        elif chat.assignee_id == actor.id:
            reason = AssignmentReason.HANDOVER
        else:
            raise NotAllowed("only the chat's assignee, the owner or an admin may pass it on", field="chat_id")
        if employee_id is None:
            if reason is AssignmentReason.HANDOVER:
                raise Invalid("hand the chat over to someone", field="employee_id")
        else:
            await active_staff(actor.account_id, employee_id, deactivated=Invalid)
        await change_assignee(chat, employee_id, reason=reason, actor_id=actor.id, now=now)
    return chat


# --- status (SPEC §10.1, §10.7)

async def set_status(actor: Employee, chat_id: int, status: ChatStatus | str, *,
                     snoozed_until: datetime | None = None, now: datetime | None = None) -> Chat:
    """The assignee, the owner or an admin moves the chat along; a snooze needs a time to come back."""
    require_active(actor)
    now = now or utcnow()
    status = chat_status(status)
    if status is ChatStatus.SNOOZED:
        if snoozed_until is None:
            raise Invalid("a snooze needs the time to come back", field="snoozed_until")
        snoozed_until = aware(snoozed_until)
        if not now < snoozed_until <= now + MAX_SNOOZE:
            raise Invalid("snooze until a time in the coming year", field="snoozed_until")
    elif snoozed_until is not None:
        raise Invalid("only a snoozed chat has a time to come back", field="snoozed_until")
    await visible_chat(actor, chat_id)
    async with in_transaction():
        chat = await locked_chat(actor.account_id, chat_id)
        if not is_admin(actor) and chat.assignee_id != actor.id:
            raise NotAllowed("only the chat's assignee, the owner or an admin may change its status", field="chat_id")
        if (chat.status, chat.snoozed_until) == (status, snoozed_until):
            return chat
        chat.status, chat.snoozed_until = status, snoozed_until
        await Chat.filter(id=chat.id).update(status=status, snoozed_until=snoozed_until)
        await announce(chat, "status", now,
                       snoozed_until=snoozed_until.isoformat() if snoozed_until else None)
    return chat


async def wake_snoozed(now: datetime | None = None) -> list[int]:
    """Snoozed chats whose time has come are open again (lists already show them; this tells the pages)."""
    now = now or utcnow()
    woken = []
    for chat_id in await Chat.filter(status=ChatStatus.SNOOZED, snoozed_until__lte=now).values_list("id", flat=True):
        async with in_transaction():
            chat = await Chat.filter(id=chat_id, status=ChatStatus.SNOOZED, snoozed_until__lte=now) \
                .select_for_update().first()
            if chat is None:
                continue
            chat.status, chat.snoozed_until = ChatStatus.OPEN, None
            await Chat.filter(id=chat.id).update(status=ChatStatus.OPEN, snoozed_until=None)
            await announce(chat, "status", now)
            woken.append(chat.id)
    return woken


# --- unread (SPEC §10.6)

async def mark_read(actor: Employee, chat_id: int, *, now: datetime | None = None) -> Chat:
    """Everything in the chat up to now is read by this employee."""
    chat = await visible_chat(actor, chat_id)
    await _read_up_to(actor.id, chat, now or utcnow())
    return chat


async def _read_up_to(employee_id: int, chat: Chat, now: datetime) -> None:
    latest = chat.last_inbound_message_id or 0
    updated = await ChatRead.filter(employee_id=employee_id, chat_id=chat.id,
                                    last_read_message_id__lt=latest).update(last_read_message_id=latest, read_at=now)
    if not updated:
        # First read, or nothing new. ON CONFLICT DO NOTHING: a row already there (or made by another tab at this
        # very moment) stays as it is, and no error aborts the caller's transaction.
        await ChatRead.bulk_create(
            [ChatRead(employee_id=employee_id, chat_id=chat.id, last_read_message_id=latest, read_at=now)],
            ignore_conflicts=True)


# --- first response (SPEC §10.5)

def _unanswered_since(cutoff: datetime) -> Q:
    return Q(waiting_since__lte=cutoff, unanswered_alerted_at__isnull=True,
             status__in=[ChatStatus.OPEN, ChatStatus.PENDING])


async def sweep_unanswered(now: datetime | None = None) -> list[int]:
    """Chats whose client has waited longer than the account's `first_response_minutes` for a staff reply:
    one alert to the owner and admins per unanswered stretch, and with `reassign_unanswered` the chat passes to the
    next in rotation. Each chat is re-checked under its row lock, so several processes alert once."""
    now = now or utcnow()
    alerted: list[int] = []
    accounts = await Account.filter(first_response_minutes__gt=0).values(
        "id", "first_response_minutes", "reassign_unanswered")
    for account in accounts:
        cutoff = now - timedelta(minutes=account["first_response_minutes"])
        due = await Chat.filter(_unanswered_since(cutoff), account_id=account["id"]).values_list("id", flat=True)
        for chat_id in due:
            async with in_transaction():
                chat = await Chat.filter(_unanswered_since(cutoff), id=chat_id).select_for_update().first()
                if chat is None:
                    continue
                await _alert_unanswered(chat, now, reassign=account["reassign_unanswered"])
                alerted.append(chat.id)
    return alerted


async def _alert_unanswered(chat: Chat, now: datetime, *, reassign: bool) -> None:
    chat.unanswered_alerted_at = now
    await Chat.filter(id=chat.id).update(unanswered_alerted_at=now)
    waited_from = chat.waiting_since
    was = chat.assignee_id
    if reassign:
        widget_id = await Client.filter(id=chat.client_id).values_list("widget_id", flat=True)
        rotation = await Rotation.of(chat.account_id, await widget_of(chat.account_id, widget_id[0]))
        picked = await rotation.next()
        if picked is not None and picked != was:
            await change_assignee(chat, picked, reason=AssignmentReason.UNANSWERED, actor_id=None, now=now)
    admins = await Employee.filter(account_id=chat.account_id, role__in=[Role.OWNER, Role.ADMIN], active=True) \
        .order_by("id").values_list("id", flat=True)
    await outbox.enqueue_many([
        outbox.row(account_id=chat.account_id, kind=outbox.CHAT_UNANSWERED,
                   dedupe_key=f"{outbox.CHAT_UNANSWERED}:{chat.id}:{waited_from.timestamp()}:{employee_id}",
                   employee_id=employee_id, client_id=chat.client_id, now=now,
                   payload={"chat_id": chat.id, "waiting_since": waited_from.isoformat(), "assignee_id": was,
                            "reassigned_to": chat.assignee_id if chat.assignee_id != was else None})
        for employee_id in admins
    ])


# --- the trail (SPEC §10.8)

async def history(actor: Employee, chat_id: int) -> list[AssignmentLog]:
    chat = await visible_chat(actor, chat_id)
    return await AssignmentLog.filter(chat_id=chat.id).order_by("id")
