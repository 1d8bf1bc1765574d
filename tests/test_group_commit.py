"""Group commit (issue 14, storage/group_commit.py): customers' messages arriving together are written in one
transaction; each writer returns once that transaction has committed, and a failing one takes nobody else down."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from sales import conversations, dialogs, outbox
from storage import group_commit
from storage.models import Chat, Message, Outbox, TelegramUpdate
from tests.factories import at, make_shop, new_client


async def _clients(count: int):
    shop = await make_shop(managers=2)
    return [await new_client(shop, name=f"C{i}") for i in range(count)]


async def test_messages_arriving_together_are_written_in_one_transaction(db):
    clients = await _clients(8)
    group = group_commit.of_this_loop()
    transactions, bodies = group.transactions, group.bodies
    await asyncio.gather(*(dialogs.record_inbound(c, f"Hello from {c.name}", now=at(0)) for c in clients))
    assert (group.transactions - transactions, group.bodies - bodies) == (1, 8)
    assert sorted(await Message.all().values_list("text", flat=True)) == sorted(f"Hello from C{i}" for i in range(8))


async def test_a_message_that_fails_takes_none_of_its_batch_mates_down(db, monkeypatch):
    clients = await _clients(4)
    broken = clients[2]
    real = conversations.on_client_message

    async def fails_for_one(chat, client, *args, **kwargs):
        if client.id == broken.id:
            raise RuntimeError("this one cannot be routed")
        return await real(chat, client, *args, **kwargs)

    monkeypatch.setattr(conversations, "on_client_message", fails_for_one)
    group = group_commit.of_this_loop()
    transactions = group.transactions
    outcomes = await asyncio.gather(*(dialogs.record_inbound(c, f"From {c.name}", now=at(0)) for c in clients),
                                    return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["Message", "Message", "RuntimeError", "Message"]
    # The batch, rolled back, then each of the four alone.
    assert group.transactions - transactions == 5
    assert sorted(await Message.all().values_list("text", flat=True)) == ["From C0", "From C1", "From C3"]
    # Nothing of the failed one's, nothing twice of the others'.
    assert await Outbox.filter(kind="chat.event").count() == 3


async def test_each_writer_returns_once_its_message_is_committed(pg):
    """Seen from another connection the moment each writer returns: what the webhook's 200 promises (SPEC §7)."""
    clients = await _clients(6)
    other = await asyncpg.connect(pg)
    try:
        # One connection answers the writers' questions one at a time.
        lock = asyncio.Lock()

        async def one(client) -> int:
            message = await dialogs.record_inbound(client, "Is it stored?", now=at(0))
            async with lock:
                return await other.fetchval("SELECT count(*) FROM message WHERE id = $1", message.id)

        seen = await asyncio.gather(*(one(c) for c in clients))
    finally:
        await other.close()
    assert seen == [1] * 6


async def test_a_batch_holds_at_most_its_limit_and_the_rest_form_the_next(db):
    shop = await make_shop(managers=1)
    group = group_commit.GroupCommit(most=3)

    def body(n: int):
        return lambda: outbox.enqueue(account_id=shop.account.id, kind=outbox.CHAT_EVENT, dedupe_key=f"batch:{n}",
                                      now=at(0))

    await asyncio.gather(*(group.run(body(n)) for n in range(7)))
    assert (group.transactions, group.bodies) == (3, 7)  # 3 + 3 + 1
    assert await Outbox.filter(dedupe_key__startswith="batch:").count() == 7


async def test_a_message_written_inside_a_callers_transaction_is_part_of_it_not_of_a_batch(db):
    """Its batch-mates would otherwise be told they committed while that transaction may still roll back."""
    from tortoise.transactions import in_transaction

    clients = await _clients(2)
    group = group_commit.of_this_loop()
    transactions = group.transactions
    with pytest.raises(RuntimeError):
        async with in_transaction():
            await dialogs.record_inbound(clients[0], "Rolled back with its caller", now=at(0))
            raise RuntimeError("the caller changes its mind")
    await dialogs.record_inbound(clients[1], "Stored", now=at(0))
    assert group.transactions - transactions == 1
    assert await Message.all().values_list("text", flat=True) == ["Stored"]


async def test_a_batch_runs_its_writes_in_ascending_order_of_their_key(db):
    """Each message locks its client's chat: batches that take chats in one order cannot deadlock each other."""
    group = group_commit.GroupCommit()
    ran: list[int] = []

    def body(key: int):
        async def write() -> int:
            ran.append(key)
            return key
        return write

    results = await asyncio.gather(*(group.run(body(key), order=key) for key in (30, 10, 20)))
    assert results == [30, 10, 20]  # each caller gets its own result
    assert (ran, group.transactions) == ([10, 20, 30], 1)


async def _clients_in_conversation(count: int):
    """Clients whose chats exist and have an assignee: their next messages take the common path."""
    clients = await _clients(count)
    for client in clients:
        await dialogs.record_inbound(client, "First", now=at(0))
    return clients


async def test_a_batchs_messages_share_each_statement_on_postgres(pg):
    """Claim, chat lock, message, who answers, the chat's move, the outbox rows: one statement each for the batch."""
    from storage.claims import UpdateClaim

    clients = await _clients_in_conversation(8)
    group = group_commit.of_this_loop()
    before = (group.transactions, group.shared_statements, group.shared_calls)
    messages = await asyncio.gather(*(
        dialogs.record_inbound(c, f"Again from {c.name}", now=at(1), once=UpdateClaim(1, 1000 + n, at(1)))
        for n, c in enumerate(clients)))
    after = (group.transactions, group.shared_statements, group.shared_calls)
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 6, 48]
    # Each writer got its own message back, and each chat points at its client's.
    assert [m.text for m in messages] == [f"Again from {c.name}" for c in clients]
    for client, message in zip(clients, messages, strict=True):
        chat = await Chat.get(client_id=client.id)
        assert (message.chat_id, chat.last_inbound_message_id, chat.last_message_at) == (chat.id, message.id, at(1))
        staff_rows = await Outbox.filter(dedupe_key__startswith=f"{outbox.MESSAGE_TO_STAFF}:{message.id}:")
        assert [r.employee_id for r in staff_rows] == [chat.assignee_id]
    assert await TelegramUpdate.filter(update_id__gte=1000).count() == 8


async def test_a_resent_update_in_a_batch_is_skipped_and_its_batch_mates_are_stored(pg):
    from storage.claims import AlreadyHandled, UpdateClaim

    clients = await _clients_in_conversation(3)
    await dialogs.record_inbound(clients[1], "The first delivery", now=at(1), once=UpdateClaim(1, 77, at(1)))
    outcomes = await asyncio.gather(*(
        dialogs.record_inbound(c, f"From {c.name}", now=at(2), once=UpdateClaim(1, 76 + n, at(2)))
        for n, c in enumerate(clients)), return_exceptions=True)
    assert [type(o).__name__ for o in outcomes] == ["Message", "AlreadyHandled", "Message"]
    assert isinstance(outcomes[1], AlreadyHandled)
    texts = await Message.filter(direction="in").exclude(text="First").order_by("id").values_list("text", flat=True)
    assert texts == ["The first delivery", "From C0", "From C2"]


async def test_two_messages_of_one_client_never_share_a_batch(db):
    """Both would read the chat's row before either wrote it."""
    clients = await _clients_in_conversation(2)
    one, other = clients
    group = group_commit.of_this_loop()
    transactions = group.transactions
    first, second, third = await asyncio.gather(
        dialogs.record_inbound(one, "One", now=at(1)),
        dialogs.record_inbound(other, "Other", now=at(1)),
        dialogs.record_inbound(one, "One again", now=at(2)),
    )
    assert group.transactions - transactions == 2
    chat = await Chat.get(client_id=one.id)
    assert (chat.last_inbound_message_id, chat.last_message_at) == (third.id, at(2))
    assert third.id > first.id


async def test_bodies_that_share_no_statement_take_turns_in_ascending_order_on_postgres(pg):
    """A body runs as if alone between its shared statements: no other body's write lands in the middle."""
    group = group_commit.GroupCommit()
    ran: list[str] = []

    def body(key: int):
        async def write() -> int:
            ran.append(f"{key} starts")
            await asyncio.sleep(0)
            ran.append(f"{key} ends")
            return key
        return write

    assert await asyncio.gather(*(group.run(body(key), order=key) for key in (2, 1))) == [2, 1]
    assert ran == ["1 starts", "1 ends", "2 starts", "2 ends"]


async def test_what_arrives_while_the_batches_run_forms_one_batch_the_moment_one_commits(db):
    """Under load batches grow by themselves: a busy process writes more per transaction, not more transactions."""
    group = group_commit.GroupCommit(parallel=1)
    release = asyncio.Event()

    async def slow() -> str:
        await release.wait()
        return "first"

    def body(n: int):
        async def write() -> int:
            return n
        return write

    first = asyncio.ensure_future(group.run(slow))
    await asyncio.sleep(0.02)  # its batch is running
    later = [asyncio.ensure_future(group.run(body(n))) for n in range(5)]
    await asyncio.sleep(0.02)  # ten windows: they wait, the one batch allowed is still running
    assert group.transactions == 1
    assert not any(f.done() for f in later)
    release.set()
    assert await asyncio.gather(first, *later) == ["first", 0, 1, 2, 3, 4]
    assert (group.transactions, group.bodies) == (2, 6)
