"""SPEC §1.3: an order manager who takes no action within `detach_after` is detached; the job runs once per tick."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta

import pytest
from redis.asyncio import Redis

from jobs.detach import run_detach_sweep
from jobs.guard import DatabaseTickGuard, RedisTickGuard
from jobs.scheduler import build_scheduler
from sales import accounts, dialogs, orders
from sales.assignment import assign_order, detach_idle_orders
from sales.audit import order_history
from sales.payments import PaymentNotice, apply_payment
from storage.models import AssignmentLog, AssignmentReason, JobRun, Order, OrderStatus, Outbox, PaymentResult
from tests.conftest import redis_database
from tests.factories import T0, at, make_shop, new_client, reload

DAY = 24 * 60  # minutes


async def _assigned_order(shop, *, minute=0):
    client = await new_client(shop)
    return await orders.create_order(
        shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id, now=at(minute)
    )


async def test_idle_manager_is_detached_after_detach_after(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    assert await detach_idle_orders(at(DAY - 1)) == []
    assert await detach_idle_orders(at(DAY)) == [order.id]
    order = await reload(order)
    assert order.order_manager_id is None and order.assigned_at is None


async def test_detached_order_is_audited_and_its_manager_told(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    await detach_idle_orders(at(DAY + 1))
    log = (await order_history(order.id))[-1]
    assert (log.from_employee_id, log.to_employee_id, log.reason, log.actor_id) == (
        shop.managers[0].id,
        None,
        AssignmentReason.DETACHED,
        None,
    )
    assert await Outbox.filter(kind="order.detached", employee_id=shop.managers[0].id).count() == 1


async def test_viewing_an_order_is_not_an_action(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    await orders.get_order(shop.managers[0], order.id)
    await orders.call_list(shop.managers[0], now=at(DAY - 10))
    assert await detach_idle_orders(at(DAY + 1)) == [order.id]


async def test_a_call_outcome_is_an_action(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    await orders.record_call(shop.managers[0], order.id, "no_answer", now=at(DAY - 10))
    assert await detach_idle_orders(at(DAY + 1)) == []
    assert await detach_idle_orders(at(2 * DAY - 10)) == [order.id]


ACTIONS = {
    "comment": lambda m, o: orders.add_comment(m, o.id, "called, will pay friday", now=at(DAY - 10)),
    "message to the client": lambda m, o: dialogs.record_outbound(m, o.client_id, "here is the link", now=at(DAY - 10)),
    "payment link": lambda m, o: orders.mark_payment_link_sent(m, o.id, now=at(DAY - 10)),
    "status change": lambda m, o: orders.set_status(m, o.id, "awaiting_payment", now=at(DAY - 10)),
    "call back": lambda m, o: orders.record_call(m, o.id, "call_back", call_back_at=at(DAY * 2), now=at(DAY - 10)),
}


@pytest.mark.parametrize("action", sorted(ACTIONS))
async def test_each_kind_of_action_keeps_the_manager(db, action):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    await ACTIONS[action](shop.managers[0], order)
    assert await detach_idle_orders(at(DAY + 1)) == []


async def test_an_action_by_someone_else_does_not_keep_the_manager(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    await orders.add_comment(shop.owner, order.id, "owner looked", now=at(DAY - 10))
    assert await detach_idle_orders(at(DAY + 1)) == [order.id]


async def test_paid_and_cancelled_orders_are_never_detached(db):
    shop = await make_shop(managers=1)
    paid = await _assigned_order(shop)
    cancelled = await _assigned_order(shop)
    await apply_payment(
        PaymentNotice("generic", "evt-1", str(paid.id), PaymentResult.PAID, occurred_at=at(5)), now=at(5)
    )
    await Order.filter(id=cancelled.id).update(status=OrderStatus.CANCELLED)
    assert await detach_idle_orders(at(10 * DAY)) == []


async def test_detach_after_zero_means_never(db):
    shop = await make_shop(managers=1)
    await accounts.set_detach_after(shop.owner, 0)
    await _assigned_order(shop)
    assert await detach_idle_orders(at(365 * DAY)) == []


async def test_detach_after_is_per_account(db):
    quick = await make_shop(managers=1)
    await accounts.set_detach_after(quick.owner, 3600)
    slow = await make_shop(managers=1)
    fast_order = await _assigned_order(quick)
    await _assigned_order(slow)
    assert await detach_idle_orders(at(61)) == [fast_order.id]


async def test_a_reassigned_order_counts_from_its_new_assignment(db):
    shop = await make_shop(managers=2)
    order = await _assigned_order(shop)
    other = next(m for m in shop.managers if m.id != order.order_manager_id)
    await assign_order(shop.owner, order.id, other.id, now=at(DAY - 1))
    assert await detach_idle_orders(at(DAY + 10)) == []
    assert await detach_idle_orders(at(2 * DAY - 1)) == [order.id]


async def test_two_sweeps_at_once_detach_each_order_once(db):
    shop = await make_shop(managers=2)
    created = [await _assigned_order(shop) for _ in range(6)]
    first, second = await asyncio.gather(detach_idle_orders(at(DAY + 1)), detach_idle_orders(at(DAY + 1)))
    assert sorted(first + second) == sorted(o.id for o in created)
    for order in created:
        assert await AssignmentLog.filter(order_id=order.id, reason=AssignmentReason.DETACHED).count() == 1


async def test_two_schedulers_claim_each_tick_once_with_the_database_guard(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    guard_a, guard_b = DatabaseTickGuard(), DatabaseTickGuard()
    now = at(DAY + 1)
    results = await asyncio.gather(run_detach_sweep(guard_a, now, 60), run_detach_sweep(guard_b, now, 60))
    assert sorted(results, key=lambda r: r is None) == [[order.id], None]
    assert await AssignmentLog.filter(order_id=order.id, reason=AssignmentReason.DETACHED).count() == 1


async def test_two_schedulers_claim_each_tick_once_with_the_redis_guard(redis_url):
    redis = Redis.from_url(redis_database(redis_url, 15), decode_responses=True)
    try:
        job = f"test-{uuid.uuid4().hex}"
        a, b = RedisTickGuard(redis, ttl_seconds=60), RedisTickGuard(redis, ttl_seconds=60)
        claims = await asyncio.gather(*(g.claim(job, 42) for g in (a, b, a, b)))
        assert sorted(claims) == [False, False, False, True]
        assert await a.claim(job, 43) is True
    finally:
        await redis.aclose()


async def test_while_redis_is_away_the_database_claims_each_tick_once(db):
    # Port 1 on loopback: nothing listens there, every connection is refused at once.
    redis = Redis.from_url("redis://127.0.0.1:1/0", decode_responses=True)
    try:
        a, b = RedisTickGuard(redis), RedisTickGuard(redis)
        claims = await asyncio.gather(*(g.claim("detach", 42) for g in (a, b, a, b)))
        assert sorted(claims) == [False, False, False, True]
        assert await JobRun.filter(job="detach", tick=42).count() == 1
    finally:
        await redis.aclose()


async def test_the_next_tick_runs_again(db):
    shop = await make_shop(managers=1)
    guard = DatabaseTickGuard()
    assert await run_detach_sweep(guard, at(0), 60) == []
    assert await run_detach_sweep(guard, at(0.5), 60) is None
    order = await _assigned_order(shop, minute=1)
    assert await run_detach_sweep(guard, at(DAY + 2), 60) == [order.id]


async def test_the_scheduler_runs_the_sweep_on_its_own(db):
    shop = await make_shop(managers=1)
    order = await _assigned_order(shop)
    clock_now = T0 + timedelta(days=2)
    scheduler = build_scheduler(DatabaseTickGuard(), lambda: clock_now, detach_interval_seconds=1)
    scheduler.start()
    try:
        for _ in range(50):
            if (await reload(order)).order_manager_id is None:
                break
            await asyncio.sleep(0.1)
    finally:
        scheduler.shutdown(wait=False)
    assert (await reload(order)).order_manager_id is None
