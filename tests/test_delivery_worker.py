"""The outbox delivery worker: each row delivered, in order per recipient, retried, parked, never twice at once.

The channel here is a recorder: these tests are about the worker's bookkeeping over the real database; the Telegram
channel itself is exercised end to end against the Bot API emulator.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from bot.pacing import Unreachable
from delivery.worker import DeliveryWorker
from sales import outbox
from storage.models import Outbox, OutboxStatus
from tests.factories import at, make_shop


class Recorder:
    kinds = frozenset({"test.ping"})

    def __init__(self, fail_times: int = 0, unreachable: bool = False, skip: bool = False, pause: float = 0.0):
        self.sent: list[int] = []
        self.fail_times = fail_times
        self.unreachable = unreachable
        self.skip = skip
        self.pause = pause
        self.marked_unreachable: list[int] = []

    async def deliver(self, row: Outbox) -> bool:
        if self.pause:
            await asyncio.sleep(self.pause)
        if self.unreachable:
            raise Unreachable("bot was blocked by the user")
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("network down")
        if self.skip:
            return False
        self.sent.append(row.id)
        return True

    async def recipient_unreachable(self, row: Outbox) -> None:
        self.marked_unreachable.append(row.id)


class Clock:
    def __init__(self, now):
        self.now = now

    def __call__(self):
        return self.now


async def _rows(shop, n, kind="test.ping", employee=None, minute=0):
    employee = employee or shop.managers[0]
    return [
        await outbox.enqueue(
            account_id=shop.account.id, kind=kind, dedupe_key=f"{kind}:{employee.id}:{i}:{minute}",
            employee_id=employee.id, payload={"n": i}, now=at(minute),
        )
        for i in range(n)
    ]


async def test_due_rows_are_delivered_once_and_marked_sent(db):
    shop = await make_shop(managers=1)
    rows = await _rows(shop, 3)
    channel = Recorder()
    worker = DeliveryWorker([channel], clock=Clock(at(1)))
    assert await worker.run_once() == 3
    assert await worker.run_once() == 0
    assert channel.sent == [r.id for r in rows]
    assert {r.status for r in await Outbox.all()} == {OutboxStatus.SENT}


async def test_rows_of_other_kinds_are_left_for_their_channel(db):
    shop = await make_shop(managers=1)
    await _rows(shop, 1, kind="order.created_email")
    worker = DeliveryWorker([Recorder()], clock=Clock(at(1)))
    assert await worker.run_once() == 0
    assert (await Outbox.get(kind="order.created_email")).status == OutboxStatus.PENDING


async def test_rows_not_yet_due_wait(db):
    shop = await make_shop(managers=1)
    await _rows(shop, 1, minute=10)
    assert await DeliveryWorker([Recorder()], clock=Clock(at(5))).run_once() == 0


async def test_a_failure_is_retried_later_with_backoff(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    channel, clock = Recorder(fail_times=1), Clock(at(1))
    worker = DeliveryWorker([channel], clock=clock)
    await worker.run_once()
    failed = await Outbox.get(id=row.id)
    assert failed.status == OutboxStatus.PENDING and "network down" in failed.last_error
    assert failed.available_at > at(1)
    assert await worker.run_once() == 0
    clock.now = failed.available_at
    await worker.run_once()
    assert channel.sent == [row.id] and (await Outbox.get(id=row.id)).status == OutboxStatus.SENT


async def test_a_row_that_keeps_failing_is_parked(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    worker = DeliveryWorker([Recorder(fail_times=100)], clock=clock, max_attempts=3)
    for _ in range(5):
        await worker.run_once()
        clock.now += timedelta(hours=1)
    parked = await Outbox.get(id=row.id)
    assert (parked.status, parked.attempts) == (OutboxStatus.PARKED, 3)


async def test_a_recipient_who_blocked_the_bot_is_marked_and_the_row_parked(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    channel = Recorder(unreachable=True)
    await DeliveryWorker([channel], clock=Clock(at(1))).run_once()
    assert channel.marked_unreachable == [row.id]
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.PARKED


async def test_nothing_to_send_to_is_skipped_not_retried(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    await DeliveryWorker([Recorder(skip=True)], clock=Clock(at(1))).run_once()
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SKIPPED


async def test_rows_to_one_recipient_go_in_order(db):
    shop = await make_shop(managers=2)
    first = await _rows(shop, 5, employee=shop.managers[0])
    second = await _rows(shop, 5, employee=shop.managers[1])
    channel = Recorder(pause=0.001)
    await DeliveryWorker([channel], clock=Clock(at(1))).run_once()
    sent_first = [i for i in channel.sent if i in {r.id for r in first}]
    sent_second = [i for i in channel.sent if i in {r.id for r in second}]
    assert sent_first == [r.id for r in first] and sent_second == [r.id for r in second]


async def test_two_workers_at_once_never_deliver_a_row_twice(db):
    shop = await make_shop(managers=3)
    rows = []
    for manager in shop.managers:
        rows += await _rows(shop, 10, employee=manager)
    a, b = Recorder(pause=0.001), Recorder(pause=0.001)
    clock = Clock(at(1))
    await asyncio.gather(DeliveryWorker([a], clock=clock).run_once(), DeliveryWorker([b], clock=clock).run_once())
    assert sorted(a.sent + b.sent) == sorted(r.id for r in rows)


async def test_a_row_claimed_by_a_worker_that_died_is_sent_after_its_lease(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    await Outbox.filter(id=row.id).update(available_at=at(1) + timedelta(seconds=60), attempts=1)  # a dead claim
    survivor = Recorder()
    worker = DeliveryWorker([survivor], clock=clock)
    assert await worker.run_once() == 0
    clock.now = at(1) + timedelta(seconds=61)
    assert await worker.run_once() == 1
    assert survivor.sent == [row.id]


async def test_while_storage_is_down_the_worker_says_so_once_backs_off_and_says_when_it_resumes(caplog):
    """Issue 11: not a traceback every 0.2 s for as long as the database is away."""
    import logging

    from tortoise.exceptions import OperationalError

    worker = DeliveryWorker([], idle_sleep=0.01)
    rounds = []

    async def run_once():
        rounds.append(asyncio.get_running_loop().time())
        if len(rounds) <= 5:
            raise OperationalError("connection refused")
        if len(rounds) == 7:
            raise asyncio.CancelledError
        return 0

    worker.run_once = run_once
    with caplog.at_level(logging.INFO, logger="delivery.worker"):
        try:
            await worker.run_forever()
        except asyncio.CancelledError:
            pass
    messages = [r.getMessage() for r in caplog.records if r.name == "delivery.worker"]
    assert messages == ["delivery paused: storage unavailable", "delivery resumed"]
    assert not any(r.exc_info for r in caplog.records if r.name == "delivery.worker")
    pauses = [b - a for a, b in zip(rounds[:5], rounds[1:6], strict=True)]
    assert all(later > earlier for earlier, later in zip(pauses, pauses[1:], strict=False))  # each pause longer than the last


async def test_a_live_worker_keeps_its_lease_while_a_send_outlasts_it(db):
    """Issue 11, item 10: short leases (a crashed worker's rows go out again soon), renewed while sending."""
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1, minute=-1)
    lease = timedelta(seconds=0.3)
    slow = Recorder(pause=1.2)  # four leases long
    other = Recorder()
    first = asyncio.create_task(DeliveryWorker([slow], lease=lease).run_once())
    await asyncio.sleep(0.1)
    for _ in range(5):  # another worker keeps looking while the first is still sending
        assert await DeliveryWorker([other], lease=lease).run_once() == 0
        await asyncio.sleep(0.2)
    assert await first == 1
    assert (slow.sent, other.sent) == ([row.id], [])
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SENT


async def test_without_renewal_a_send_that_outlasts_the_lease_is_claimed_again(db):
    """The check above can fail: a worker that dies mid-send (no renewal) leaves its row to the next after the lease."""
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1, minute=-1)
    lease = timedelta(seconds=0.3)
    dead = DeliveryWorker([Recorder(pause=30)], lease=lease)
    dying = asyncio.create_task(dead.run_once())
    await asyncio.sleep(0.1)
    dying.cancel()  # killed mid-send: its renewal stops with it
    await asyncio.sleep(0.4)
    survivor = Recorder()
    assert await DeliveryWorker([survivor], lease=lease).run_once() == 1
    assert survivor.sent == [row.id]
