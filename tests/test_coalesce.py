"""Reads that arrive in one turn of the event loop share one statement (storage/coalesce.py): the sender of every
customer update is read once for all the updates that reach that read together."""

from __future__ import annotations

import asyncio

from tortoise.transactions import in_transaction

from sales.clients import client_from_telegram, telegram_sender
from storage.coalesce import Numbers
from storage.models import Employee
from tests.factories import make_shop


async def _customers(shop, count: int):
    return [(await client_from_telegram(shop.account.id, 5000 + n, name=f"C{n}"))[0] for n in range(count)]


async def test_senders_read_in_one_turn_share_one_statement_on_postgres(pg):
    shop = await make_shop(managers=1)
    customers = await _customers(shop, 4)
    await Employee.filter(id=shop.managers[0].id).update(telegram_user_id=9001)
    statements, calls = Numbers.statements, Numbers.calls
    found = await asyncio.gather(*(telegram_sender(shop.account.id, 5000 + n) for n in range(4)),
                                 telegram_sender(shop.account.id, 777),  # nobody
                                 telegram_sender(shop.account.id, 9001))  # staff
    assert (Numbers.statements - statements, Numbers.calls - calls) == (1, 6)
    assert [(employee, client.id if client else None) for employee, client in found[:4]] == [
        (None, c.id) for c in customers]
    assert found[4] == (None, None)
    assert found[5][0] is not None and found[5][0].id == shop.managers[0].id


async def test_a_sender_read_in_one_account_is_not_anothers(pg):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    mine = (await client_from_telegram(shop.account.id, 4242, name="Mine"))[0]
    theirs = (await client_from_telegram(other.account.id, 4242, name="Theirs"))[0]
    found = await asyncio.gather(telegram_sender(shop.account.id, 4242), telegram_sender(other.account.id, 4242))
    assert [client.id for _, client in found] == [mine.id, theirs.id]


async def test_a_read_inside_a_transaction_runs_alone_and_sees_its_writes(db):
    shop = await make_shop(managers=1)
    statements = Numbers.statements
    async with in_transaction():
        created = (await client_from_telegram(shop.account.id, 6000, name="New"))[0]
        found = await asyncio.gather(telegram_sender(shop.account.id, 6000), telegram_sender(shop.account.id, 6000))
    assert [client.id for _, client in found] == [created.id, created.id]
    assert Numbers.statements == statements


async def test_one_callers_bad_values_fail_only_that_caller_on_postgres(pg):
    shop = await make_shop(managers=1)
    customers = await _customers(shop, 2)
    outcomes = await asyncio.gather(telegram_sender(shop.account.id, 5000), telegram_sender(shop.account.id, 2 ** 70),
                                    telegram_sender(shop.account.id, 5001), return_exceptions=True)
    assert outcomes[0][1].id == customers[0].id and outcomes[2][1].id == customers[1].id
    alone = await asyncio.gather(telegram_sender(shop.account.id, 2 ** 70), return_exceptions=True)
    assert type(outcomes[1]) is type(alone[0])  # refused as it is alone
    assert isinstance(alone[0], Exception)


async def test_a_first_caller_that_goes_away_leaves_the_others_their_answer_on_postgres(pg):
    """The turn's first caller sends the shared statement; a dropped request must not leave the rest waiting."""
    shop = await make_shop(managers=1)
    customers = await _customers(shop, 2)
    first = asyncio.ensure_future(telegram_sender(shop.account.id, 5000))
    second = asyncio.ensure_future(telegram_sender(shop.account.id, 5001))
    await asyncio.sleep(0)  # both have asked; the first waits for the turn's end to send
    first.cancel()
    _, client = await asyncio.wait_for(second, 5)
    assert client.id == customers[1].id
    assert first.cancelled()
