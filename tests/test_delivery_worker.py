"""The outbox delivery worker: each row delivered, in order per recipient, retried, parked, never twice at once.

The channel here is a recorder: these tests are about the worker's bookkeeping over the real database; the Telegram
channel itself is exercised end to end against the Bot API emulator.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta

import pytest
from tortoise.exceptions import OperationalError
from tortoise.transactions import in_transaction

from bot.pacing import Unreachable
from delivery import worker as worker_module
from delivery.worker import DeliveryWorker
from sales import outbox
from sales.clock import utcnow
from storage.models import Outbox, OutboxStatus
from tests.factories import at, make_shop, new_client


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
    assert {(r.status, r.sent_at, r.last_error) for r in await Outbox.all()} == {(OutboxStatus.SENT, at(1), None)}


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


async def test_a_row_sent_after_a_failure_no_longer_carries_the_failure(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    worker = DeliveryWorker([Recorder(fail_times=1)], clock=clock)
    await worker.run_once()
    clock.now = (await Outbox.get(id=row.id)).available_at
    await worker.run_once()
    sent = await Outbox.get(id=row.id)
    assert (sent.status, sent.last_error, sent.sent_at) == (OutboxStatus.SENT, None, clock.now)


async def test_retries_wait_two_seconds_then_twice_as_long_each_time_up_to_five_minutes(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    worker = DeliveryWorker([Recorder(fail_times=100)], clock=clock, max_attempts=20)
    waits = []
    for _ in range(10):
        await worker.run_once()
        due = (await Outbox.get(id=row.id)).available_at
        waits.append((due - clock.now).total_seconds())
        clock.now = due
    assert waits == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


async def test_a_failed_send_is_logged_with_its_row_kind_and_error(db, caplog):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    with caplog.at_level(logging.WARNING, logger="delivery.worker"):
        await DeliveryWorker([Recorder(fail_times=1)], clock=Clock(at(1))).run_once()
    [record] = [r for r in caplog.records if r.name == "delivery.worker"]
    assert (record.levelname, record.getMessage()) == ("WARNING", "delivery failed")
    assert (record.outbox_id, record.kind, record.error) == (row.id, "test.ping", "ConnectionError('network down')")


class LongFailure(Recorder):
    async def deliver(self, row: Outbox) -> bool:
        raise ConnectionError("x" * 5000)


async def test_a_failures_reason_is_kept_to_its_first_2000_characters_retried_or_parked(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    worker = DeliveryWorker([LongFailure()], clock=clock, max_attempts=2)
    reasons = []
    for _ in range(2):
        await worker.run_once()
        failed = await Outbox.get(id=row.id)
        reasons.append((failed.status, failed.last_error))
        clock.now += timedelta(hours=1)
    expected = repr(ConnectionError("x" * 5000))[:2000]
    assert reasons == [(OutboxStatus.PENDING, expected), (OutboxStatus.PARKED, expected)]


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
    assert (parked.last_error, parked.sent_at) == ("ConnectionError('network down')", at(1) + timedelta(hours=2))


async def test_by_default_a_row_is_parked_after_its_eighth_failed_attempt(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    clock = Clock(at(1))
    worker = DeliveryWorker([Recorder(fail_times=100)], clock=clock)
    statuses = []
    for _ in range(8):
        await worker.run_once()
        statuses.append((await Outbox.get(id=row.id)).status)
        clock.now += timedelta(hours=1)
    assert statuses == [OutboxStatus.PENDING] * 7 + [OutboxStatus.PARKED]


async def test_a_recipient_who_blocked_the_bot_is_marked_and_the_row_parked(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    channel = Recorder(unreachable=True)
    await DeliveryWorker([channel], clock=Clock(at(1))).run_once()
    assert channel.marked_unreachable == [row.id]
    parked = await Outbox.get(id=row.id)
    assert (parked.status, parked.last_error) == (OutboxStatus.PARKED, "unreachable: bot was blocked by the user")


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


class Settling(Recorder):
    """A channel that knows, for a whole batch at once, that its even rows are done and its odd ones have nobody to
    go to, except the rows it leaves to `deliver` (`undecided` of the payload's numbers)."""

    def __init__(self, undecided=(), fail=False):
        super().__init__()
        self.undecided = set(undecided)
        self.fail = fail
        self.asked: list[list[int]] = []

    async def settled(self, rows):
        self.asked.append([row.id for row in rows])
        if self.fail:
            raise RuntimeError("bug")
        return {row.id: row.payload["n"] % 2 == 0 for row in rows if row.payload["n"] not in self.undecided}


async def test_rows_a_channel_settles_for_the_batch_finish_unsent_and_the_rest_are_sent(db):
    shop = await make_shop(managers=1)
    rows = await _rows(shop, 5)
    channel = Settling(undecided={3})
    assert await DeliveryWorker([channel], clock=Clock(at(1))).run_once() == 5
    assert channel.asked == [[row.id for row in rows]]
    assert channel.sent == [rows[3].id]
    statuses = [(await Outbox.get(id=row.id)).status for row in rows]
    assert statuses == [OutboxStatus.SENT, OutboxStatus.SKIPPED, OutboxStatus.SENT, OutboxStatus.SENT,
                        OutboxStatus.SENT]


async def test_when_a_channel_cannot_settle_a_batch_each_row_is_sent_alone_and_the_failure_logged(db, caplog):
    shop = await make_shop(managers=1)
    rows = await _rows(shop, 3)
    channel = Settling(fail=True)
    with caplog.at_level(logging.ERROR, logger="delivery.worker"):
        assert await DeliveryWorker([channel], clock=Clock(at(1))).run_once() == 3
    assert channel.sent == [row.id for row in rows]
    assert [r.getMessage() for r in caplog.records if r.name == "delivery.worker"] == [
        "delivery could not settle a batch at once; sending it row by row"]


async def test_a_round_claims_at_most_a_hundred_rows_and_the_next_round_the_rest(db):
    shop = await make_shop(managers=1)
    await outbox.enqueue_many([
        outbox.row(account_id=shop.account.id, kind="test.ping", dedupe_key=f"many:{i}",
                   employee_id=shop.managers[0].id, now=at(0))
        for i in range(101)
    ])
    worker = DeliveryWorker([Recorder()], clock=Clock(at(1)))
    assert (await worker.run_once(), await worker.run_once()) == (100, 1)


class Gauge(Recorder):
    """Counts the sends on the wire at once."""

    def __init__(self):
        super().__init__(pause=0.05)
        self.now = self.most = 0

    async def deliver(self, row: Outbox) -> bool:
        self.now += 1
        self.most = max(self.most, self.now)
        try:
            return await super().deliver(row)
        finally:
            self.now -= 1


async def test_at_most_eight_sends_are_on_the_wire_at_once(db):
    shop = await make_shop(managers=12)
    for manager in shop.managers:
        await _rows(shop, 1, employee=manager)
    channel = Gauge()
    assert await DeliveryWorker([channel], clock=Clock(at(1))).run_once() == 12
    assert channel.most == 8


@pytest.mark.parametrize("recipients", ["employees", "clients"])
async def test_one_recipients_slow_send_does_not_hold_up_another_recipient(db, recipients):
    shop = await make_shop(managers=2)
    if recipients == "employees":
        [slow] = await _rows(shop, 1, employee=shop.managers[0])
        [quick] = await _rows(shop, 1, employee=shop.managers[1])
    else:
        slow, quick = [
            await outbox.enqueue(account_id=shop.account.id, kind="test.ping", dedupe_key=f"client:{client.id}",
                                 client_id=client.id, now=at(0))
            for client in (await new_client(shop), await new_client(shop))
        ]
    other_sent = asyncio.Event()

    class WaitsForTheOther(Recorder):
        async def deliver(self, row: Outbox) -> bool:
            if row.id == slow.id:
                await asyncio.wait_for(other_sent.wait(), timeout=5)
            else:
                other_sent.set()
            return await super().deliver(row)

    channel = WaitsForTheOther()
    await DeliveryWorker([channel], clock=Clock(at(1))).run_once()
    assert channel.sent == [quick.id, slow.id]


async def test_each_claimed_batch_is_told_to_the_live_events_before_it_is_sent_and_an_empty_round_is_not(db):
    shop = await make_shop(managers=1)
    rows = await _rows(shop, 2)
    channel = Recorder()
    told = []

    async def on_claimed(claimed):
        told.append(([r.id for r in claimed], list(channel.sent)))

    worker = DeliveryWorker([channel], clock=Clock(at(1)), on_claimed=on_claimed)
    await worker.run_once()
    await worker.run_once()
    assert told == [([r.id for r in rows], [])]


async def test_a_failing_live_events_hook_is_logged_and_delivery_goes_on(db, caplog):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1)
    channel = Recorder()

    async def on_claimed(claimed):
        raise RuntimeError("live events down")

    with caplog.at_level(logging.WARNING, logger="delivery.worker"):
        await DeliveryWorker([channel], clock=Clock(at(1)), on_claimed=on_claimed).run_once()
    assert channel.sent == [row.id]
    [record] = [r for r in caplog.records if r.name == "delivery.worker"]
    assert (record.levelname, record.getMessage()) == ("ERROR", "live events failed") and record.exc_info


async def test_a_round_leaves_no_lease_renewal_running_behind_it(db):
    shop = await make_shop(managers=1)
    await _rows(shop, 1)
    before = asyncio.all_tasks()
    await DeliveryWorker([Recorder()], clock=Clock(at(1))).run_once()
    await asyncio.sleep(0)
    assert {t for t in asyncio.all_tasks() - before if not t.done()} == set()


async def test_a_rounds_places_go_only_to_due_pending_rows_of_its_kinds(db):
    shop = await make_shop(managers=1)
    [sent, not_due, other_kind] = [
        await outbox.enqueue(account_id=shop.account.id, kind=kind, dedupe_key=f"blocker:{i}",
                             employee_id=shop.managers[0].id, now=now)
        for i, (kind, now) in enumerate([("test.ping", at(0)), ("test.ping", at(10)), ("order.created_email", at(0))])
    ]
    await Outbox.filter(id=sent.id).update(status=OutboxStatus.SENT)
    [due] = await _rows(shop, 1)
    channel = Recorder()
    assert await DeliveryWorker([channel], clock=Clock(at(1)), batch=1).run_once() == 1
    assert channel.sent == [due.id]


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


class Waits:
    """The worker's asyncio, with its pauses and idle waits written down instead of waited for."""

    def __init__(self):
        self.waits: list[tuple[str, float]] = []

    def __getattr__(self, name):
        return getattr(asyncio, name)

    async def sleep(self, seconds):
        self.waits.append(("pause", seconds))
        await asyncio.sleep(0)

    async def wait_for(self, awaitable, timeout):
        awaitable.close()
        self.waits.append(("idle", timeout))
        raise TimeoutError


def _scripted(monkeypatch, rounds):
    """A worker whose rounds give, one after another, these results (an exception is raised); then it stops."""
    waits = Waits()
    monkeypatch.setattr(worker_module, "asyncio", waits)
    worker = DeliveryWorker([])
    script = iter(rounds)

    async def run_once():
        outcome = next(script, asyncio.CancelledError())
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    worker.run_once = run_once
    return worker, waits


async def _run_until_stopped(worker):
    with pytest.raises(asyncio.CancelledError):
        await worker.run_forever()


async def test_while_storage_is_down_rounds_pause_twice_as_long_each_time_from_twice_the_idle_sleep_up_to_five_s(
        monkeypatch):
    worker, waits = _scripted(monkeypatch, [OperationalError("connection refused")] * 7 + [100])
    await _run_until_stopped(worker)
    assert waits.waits == [("pause", 0.4), ("pause", 0.8), ("pause", 1.6), ("pause", 3.2), ("pause", 5.0),
                           ("pause", 5.0), ("pause", 5.0)]


async def test_each_outage_is_said_when_it_starts_and_when_it_ends_with_its_failed_rounds(monkeypatch, caplog):
    down = OperationalError("connection refused")
    worker, _ = _scripted(monkeypatch, [down, 1, down, down, down, 1])
    with caplog.at_level(logging.INFO, logger="delivery.worker"):
        await _run_until_stopped(worker)
    said = [(r.getMessage(), getattr(r, "error", None), getattr(r, "failed_rounds", None))
            for r in caplog.records if r.name == "delivery.worker"]
    paused, resumed = "delivery paused: storage unavailable", "delivery resumed"
    assert said == [(paused, repr(down), None), (resumed, None, 1), (paused, repr(down), None), (resumed, None, 3)]


async def test_an_idle_round_waits_the_idle_sleep_a_part_batch_a_moment_for_more_and_a_full_one_goes_straight_on(
        monkeypatch):
    worker, waits = _scripted(monkeypatch, [0, 5, 1, 100, 100, 0])
    await _run_until_stopped(worker)
    assert waits.waits == [("idle", 0.2), ("pause", 0.02), ("pause", 0.02), ("idle", 0.2)]


async def test_an_unexpected_failure_of_a_round_is_logged_with_its_traceback_and_waited_out_like_an_idle_round(
        monkeypatch, caplog):
    worker, waits = _scripted(monkeypatch, [RuntimeError("bug"), 100])
    with caplog.at_level(logging.INFO, logger="delivery.worker"):
        await _run_until_stopped(worker)
    [record] = [r for r in caplog.records if r.name == "delivery.worker"]
    assert (record.levelname, record.getMessage()) == ("ERROR", "delivery round failed; retrying")
    assert record.exc_info[0] is RuntimeError
    assert waits.waits == [("idle", 0.2)]


async def test_a_lease_renewal_that_fails_is_logged_and_the_row_still_goes(db, monkeypatch, caplog):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1, minute=-1)

    class Away:
        @staticmethod
        def filter(**_):
            raise OperationalError("database is away")

    class SendsWhileTheDatabaseIsAway(Recorder):
        async def deliver(self, row: Outbox) -> bool:
            monkeypatch.setattr(worker_module, "Outbox", Away)
            await asyncio.sleep(0.35)
            monkeypatch.setattr(worker_module, "Outbox", Outbox)
            return await super().deliver(row)

    channel = SendsWhileTheDatabaseIsAway()
    with caplog.at_level(logging.WARNING, logger="delivery.worker"):
        assert await DeliveryWorker([channel], lease=timedelta(seconds=0.3)).run_once() == 1
    said = {(r.levelname, r.getMessage(), r.error) for r in caplog.records if r.name == "delivery.worker"}
    assert said == {("WARNING", "could not renew a delivery lease", repr(OperationalError("database is away")))}
    assert channel.sent == [row.id]


async def test_a_lease_renewal_holds_only_its_own_batchs_rows(db):
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1, minute=-1)
    [other] = await _rows(shop, 1, kind="order.created_email", minute=-1)
    assert await DeliveryWorker([Recorder(pause=0.5)], lease=timedelta(seconds=0.3)).run_once() == 1
    assert (await Outbox.get(id=other.id)).available_at == other.available_at
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SENT


async def test_a_row_that_failed_keeps_its_backoff_while_the_rest_of_its_batch_is_sent(db):
    shop = await make_shop(managers=1)
    [failing, _] = await _rows(shop, 2, minute=-1)
    await Outbox.filter(id=failing.id).update(attempts=5)  # the sixth attempt fails: 64 s of backoff
    started = utcnow()
    await DeliveryWorker([Recorder(fail_times=1, pause=0.5)], lease=timedelta(seconds=0.3)).run_once()
    failed = await Outbox.get(id=failing.id)
    assert failed.status == OutboxStatus.PENDING
    assert failed.available_at >= started + timedelta(seconds=64)  # not a lease of 0.3 s renewed meanwhile


async def test_a_row_finished_in_a_round_is_let_go_so_a_later_renewal_keeps_its_retry_time(db):
    """A row is held (its lease renewed) only until it is handled: a row that failed early in a long round keeps the
    retry time its failure gave it, even once the round's renewals reach past that time."""
    shop = await make_shop(managers=1)
    failing, _slow = await _rows(shop, 2, minute=-1)
    clock = Clock(at(0))

    class FailsThenTakesLong(Recorder):
        async def deliver(self, row):
            if row.id == failing.id:
                raise ConnectionError("network down")
            clock.now = at(0) + timedelta(seconds=10)  # the round outlasts the failed row's 2 s of backoff
            await asyncio.sleep(0.5)  # renewals every 0.1 s meanwhile
            return True

    await DeliveryWorker([FailsThenTakesLong()], clock=clock, lease=timedelta(seconds=0.3)).run_once()
    failed = await Outbox.get(id=failing.id)
    assert (failed.status, failed.available_at) == (OutboxStatus.PENDING, at(0) + timedelta(seconds=2))


async def test_a_lease_is_renewed_every_third_of_its_length(monkeypatch):
    """Renewing every third of the lease leaves room for one renewal to be late or lost before the lease ends."""
    waits = Waits()
    monkeypatch.setattr(worker_module, "asyncio", waits)
    renewing = asyncio.create_task(DeliveryWorker([], lease=timedelta(seconds=60))._renew(set()))
    for _ in range(5):
        await asyncio.sleep(0)
    renewing.cancel()
    with pytest.raises(asyncio.CancelledError):
        await renewing
    assert len(waits.waits) >= 2
    assert set(waits.waits) == {("pause", 20.0)}


async def test_a_lease_renewal_never_moves_a_rows_time_backwards(db):
    """A renewal already on its way when a row of its batch failed must not cut that row's backoff to a lease."""
    shop = await make_shop(managers=1)
    [row] = await _rows(shop, 1, minute=-1)
    backoff_until = utcnow() + timedelta(seconds=64)
    await Outbox.filter(id=row.id).update(available_at=backoff_until)
    renewing = asyncio.create_task(DeliveryWorker([Recorder()], lease=timedelta(seconds=0.03))._renew({row.id}))
    await asyncio.sleep(0.1)  # a few renewals of the row, still held
    renewing.cancel()
    assert (await Outbox.get(id=row.id)).available_at == backoff_until


async def test_on_postgres_a_round_skips_a_row_another_transaction_holds_instead_of_waiting_for_it(pg):
    """Workers in several processes claim at once: a row locked by another claimer is left to it, not waited for."""
    shop = await make_shop(managers=2)
    [held] = await _rows(shop, 1, employee=shop.managers[0], minute=-1)
    [free] = await _rows(shop, 1, employee=shop.managers[1], minute=-1)
    channel = Recorder()
    go = asyncio.Event()

    async def round_when_told():
        await go.wait()
        return await DeliveryWorker([channel]).run_once()

    # Made before the transaction below, so that it does not run inside it (Tortoise's transaction is per context).
    worker_round = asyncio.create_task(round_when_told())
    async with in_transaction() as other:
        await other.execute_query("SELECT id FROM outbox WHERE id = $1 FOR UPDATE", [held.id])
        go.set()
        done, _ = await asyncio.wait({worker_round}, timeout=5)
        assert done, "the round waited for the locked row"
    assert await worker_round == 1
    assert channel.sent == [free.id]
    untouched = await Outbox.get(id=held.id)
    assert (untouched.status, untouched.attempts, untouched.available_at) == (
        OutboxStatus.PENDING, 0, held.available_at)


async def test_rows_sent_to_several_recipients_at_once_are_marked_in_one_statement_on_postgres(pg):
    """Each sent row is marked with its own outcome; the marks that finish together share a round trip."""
    from storage.coalesce import Numbers

    shop = await make_shop(managers=3)
    sent = [row for manager in shop.managers for row in await _rows(shop, 1, employee=manager)]
    skipped = await _rows(shop, 1, kind="test.skip", employee=shop.owner)

    class Skipper(Recorder):
        kinds = frozenset({"test.skip"})

    statements, calls = Numbers.statements, Numbers.calls
    assert await DeliveryWorker([Recorder(), Skipper(skip=True)], clock=Clock(at(1))).run_once() == 4
    assert (Numbers.statements - statements, Numbers.calls - calls) == (1, 4)
    assert {r.id: (r.status, r.sent_at) for r in await Outbox.filter(id__in=[r.id for r in sent])} == {
        r.id: (OutboxStatus.SENT, at(1)) for r in sent}
    assert (await Outbox.get(id=skipped[0].id)).status == OutboxStatus.SKIPPED
