"""SPEC §1.1, §1.2, §1.6: what manual, group assignment and taking refuse, in their own words, and what they leave.

Each refusal is checked whole (its type, message and field), because a client shows the message and marks the field:
the tests of the rules themselves check only that it is refused. The details here are those mutation testing of
sales/assignment.py found unchecked (issue 17, docs/mutation.md).
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from tortoise.exceptions import DoesNotExist
from tortoise.transactions import in_transaction

from sales import accounts, assignment, orders
from sales.assignment import (
    MAX_GROUP,
    assign_order,
    assign_orders,
    change_order_manager,
    detach_idle_orders,
    note_actions_on_client,
    note_manager_action,
    take_order,
)
from sales.audit import order_history
from sales.errors import Conflict, DomainError, Invalid, NotAllowed, NotFound
from sales.orders import create_order
from storage.models import AssignmentLog, AssignmentReason, Order, OrderStatus, Outbox, RotationState
from tests.factories import at, make_shop, new_client, reload

DAY = 24 * 60  # minutes


def refusal(error: DomainError) -> tuple[type, str, str | None]:
    return type(error), error.message, error.field


async def _order(shop, client=None):
    client = client or await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id, now=at(0)
    )


async def _unassigned(shop, status=OrderStatus.NEW):
    order = await _order(shop)
    await Order.filter(id=order.id).update(order_manager_id=None, assigned_at=None, status=status)
    return await reload(order)


async def _refused(call) -> DomainError:
    try:
        await call
    except DomainError as error:
        return error
    raise AssertionError("not refused")


# Group assignment.


async def test_a_group_assignment_without_orders_asks_to_select_one(db):
    shop = await make_shop(managers=1)
    error = await _refused(assign_orders(shop.owner, [], shop.admin.id))
    assert refusal(error) == (Invalid, "select at least one order", "order_ids")


async def test_a_group_of_more_than_a_thousand_orders_is_refused_naming_the_limit(db):
    shop = await make_shop(managers=1)
    error = await _refused(assign_orders(shop.owner, range(1, MAX_GROUP + 2), shop.admin.id))
    assert refusal(error) == (Invalid, "at most 1000 orders at once", "order_ids")


async def test_a_group_of_exactly_a_thousand_orders_is_not_too_many(db):
    shop = await make_shop(managers=1)
    error = await _refused(assign_orders(shop.owner, range(1, MAX_GROUP + 1), shop.admin.id))
    assert isinstance(error, NotFound)


async def test_a_group_with_unknown_orders_names_each_missing_one_in_order(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    mine = await _order(shop)
    theirs = await _order(other)
    unknown = theirs.id + 1000
    error = await _refused(assign_orders(shop.owner, [unknown, mine.id, theirs.id], shop.admin.id))
    assert refusal(error) == (NotFound, f"orders not found: {[theirs.id, unknown]}", "order_ids")
    assert await AssignmentLog.filter(order_id=mine.id, reason=AssignmentReason.GROUP).count() == 0


async def test_a_group_to_an_unknown_employee_names_the_employee(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    order = await _order(shop)
    error = await _refused(assign_orders(shop.owner, [order.id], other.managers[0].id))
    assert refusal(error) == (NotFound, f"employee {other.managers[0].id} not found", "employee_id")


async def test_a_group_selection_counts_each_order_once_and_changes_them_in_id_order(db):
    shop = await make_shop(managers=1)
    first, second = await _order(shop), await _order(shop)
    changed = await assign_orders(shop.owner, [second.id, first.id, second.id], shop.admin.id)
    assert changed == [first.id, second.id]


async def test_a_group_assignment_is_audited_with_its_actor_and_time(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await assign_orders(shop.owner, [order.id], shop.admin.id, now=at(5))
    log = (await order_history(order.id))[-1]
    assert (log.from_employee_id, log.to_employee_id, log.reason, log.actor_id, log.created_at) == (
        shop.managers[0].id, shop.admin.id, AssignmentReason.GROUP, shop.owner.id, at(5)
    )
    assert (await reload(order)).assigned_at == at(5)


async def test_a_group_digest_names_the_changed_orders_only_and_is_due_at_once(db):
    shop = await make_shop(managers=1)
    kept, moved = await _order(shop), await _order(shop)
    await assign_order(shop.owner, kept.id, shop.admin.id)
    changed = await assign_orders(shop.owner, [kept.id, moved.id], shop.admin.id, now=at(5))
    assert changed == [moved.id]
    [digest] = await Outbox.filter(kind="orders.assigned_digest")
    assert (digest.account_id, digest.employee_id, digest.payload, digest.available_at) == (
        shop.account.id, shop.admin.id, {"order_ids": [moved.id]}, at(5)
    )
    assert digest.dedupe_key == f"orders.assigned_digest:{shop.admin.id}:{at(5).timestamp()}:{moved.id}"


async def test_a_group_that_changes_nothing_sends_no_digest(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await assign_order(shop.owner, order.id, shop.admin.id)
    assert await assign_orders(shop.owner, [order.id], shop.admin.id) == []
    assert await Outbox.filter(kind="orders.assigned_digest").count() == 0


async def test_an_admin_assigning_a_group_to_himself_gets_no_digest(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    assert await assign_orders(shop.admin, [order.id], shop.admin.id) == [order.id]
    assert await Outbox.filter(kind="orders.assigned_digest").count() == 0


async def test_a_manager_may_not_assign_a_group(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    error = await _refused(assign_orders(shop.managers[0], [order.id], shop.managers[0].id))
    assert refusal(error) == (NotAllowed, "only the owner or an admin may do this", None)


# Taking an order.


async def test_taking_another_managers_order_says_it_has_a_manager(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    thief = next(m for m in shop.managers if m.id != order.order_manager_id)
    error = await _refused(take_order(thief, order.id))
    assert refusal(error) == (NotAllowed, "this order already has a manager", "order_id")


async def test_taking_a_paid_order_says_its_status(db):
    shop = await make_shop(managers=1)
    order = await _unassigned(shop, OrderStatus.PAID)
    error = await _refused(take_order(shop.managers[0], order.id))
    assert refusal(error) == (Conflict, "a paid order cannot be taken", "order_id")
    assert (await reload(order)).order_manager_id is None


async def test_a_cancelled_or_refunded_order_cannot_be_taken_an_awaiting_or_failed_one_can(db):
    shop = await make_shop(managers=1)
    for status in (OrderStatus.CANCELLED, OrderStatus.REFUNDED):
        order = await _unassigned(shop, status)
        error = await _refused(take_order(shop.managers[0], order.id))
        assert refusal(error) == (Conflict, f"a {status} order cannot be taken", "order_id")
    for status in (OrderStatus.AWAITING_PAYMENT, OrderStatus.FAILED):
        order = await _unassigned(shop, status)
        await take_order(shop.managers[0], order.id)
        assert (await reload(order)).order_manager_id == shop.managers[0].id


async def test_taking_another_accounts_order_says_the_order_is_not_found(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await _unassigned(other)
    error = await _refused(take_order(shop.managers[0], theirs.id))
    assert refusal(error) == (NotFound, f"order {theirs.id} not found", "order_id")
    assert (await reload(theirs)).order_manager_id is None


async def test_a_deactivated_manager_taking_is_told_he_is_deactivated(db):
    shop = await make_shop(managers=2)
    order = await _unassigned(shop)
    await accounts.update_employee(shop.owner, shop.managers[0].id, active=False)
    error = await _refused(take_order(await reload(shop.managers[0]), order.id))
    assert refusal(error) == (NotAllowed, "this employee is deactivated", None)


async def test_taking_ones_own_order_again_is_no_change(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    taken = await take_order(shop.managers[0], order.id, now=at(5))
    assert (taken.id, taken.order_manager_id, taken.assigned_at) == (order.id, shop.managers[0].id, at(0))
    assert len(await order_history(order.id)) == 1


async def test_a_taken_order_is_audited_as_the_takers_at_the_given_time_and_not_pinged_to_him(db):
    shop = await make_shop(managers=1)
    order = await _unassigned(shop)
    taker = shop.managers[0]
    pings_before = await Outbox.filter(kind="order.assigned", employee_id=taker.id).count()
    taken = await take_order(taker, order.id, now=at(7))
    assert (taken.order_manager_id, taken.assigned_at) == (taker.id, at(7))
    assert (await reload(order)).assigned_at == at(7)
    log = (await order_history(order.id))[-1]
    assert (log.from_employee_id, log.to_employee_id, log.reason, log.actor_id, log.created_at) == (
        None, taker.id, AssignmentReason.TAKEN, taker.id, at(7)
    )
    assert await Outbox.filter(kind="order.assigned", employee_id=taker.id).count() == pings_before


# Manual assignment of one order.


async def test_assigning_another_accounts_order_says_the_order_is_not_found(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await _order(other)
    error = await _refused(assign_order(shop.owner, theirs.id, shop.managers[0].id))
    assert refusal(error) == (NotFound, f"order {theirs.id} not found", "order_id")


# Automatic assignment: the owner's turn and open-order counts.


async def test_with_nobody_in_rotation_the_order_goes_to_its_own_accounts_owner(db):
    await make_shop(managers=1)
    shop = await make_shop(managers=0)
    order = await _order(shop)
    assert order.order_manager_id == shop.owner.id


async def test_a_managers_paid_orders_do_not_count_against_his_capacity(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    first = await _order(shop, client)
    keeper = first.order_manager_id
    await Order.filter(id=first.id).update(status=OrderStatus.PAID)
    await accounts.update_employee(shop.owner, keeper, capacity=1)
    assert (await _order(shop, client)).order_manager_id == keeper


async def test_when_every_manager_has_a_capacity_the_full_one_is_skipped_though_it_is_his_turn(db):
    shop = await make_shop(managers=2)
    first, second = sorted(shop.managers, key=lambda m: m.id)
    for manager in (first, second):
        await accounts.update_employee(shop.owner, manager.id, capacity=1)
    order = await _order(shop)
    assert order.order_manager_id == first.id
    await assign_order(shop.owner, order.id, second.id)
    assert (await _order(shop)).order_manager_id == first.id


async def test_an_order_through_a_widget_without_its_rotation_row_fails_naming_the_widget(db):
    shop = await make_shop(managers=1)
    await RotationState.filter(widget_id=shop.widget.id).delete()
    with pytest.raises(DoesNotExist, match=f"^widget {shop.widget.id} has no rotation$"):
        await _order(shop)


# Creating an order.


async def test_an_order_for_another_accounts_client_says_the_client_is_not_found(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await new_client(other)
    error = await _refused(_order(shop, theirs))
    assert refusal(error) == (NotFound, f"client {theirs.id} not found", "client_id")
    assert await Order.filter(client_id=theirs.id).count() == 0


async def test_customer_information_longer_than_its_limit_is_refused_naming_the_limit_and_no_order_is_made(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    with pytest.raises(Invalid) as error:
        await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id,
                           customer_info="x" * (orders.MAX_TEXT + 1))
    assert refusal(error.value) == (Invalid, "customer information is limited to 10000 characters", "customer_info")
    assert await Order.filter(client_id=client.id).count() == 0
    at_limit = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id,
                                  customer_info="x" * orders.MAX_TEXT)
    assert len((await reload(at_limit)).customer_info) == orders.MAX_TEXT


async def test_an_order_created_without_customer_information_has_none(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id)
    assert (await reload(order)).customer_info == ""


# Changing an order's manager.


async def test_a_manager_change_writes_the_managers_columns_only_not_the_rest_of_an_older_copy(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    other = next(m.id for m in shop.managers if m.id != order.order_manager_id)
    await Order.filter(id=order.id).update(customer_info="written after the copy was read")
    async with in_transaction():
        await change_order_manager(order, other, reason=AssignmentReason.MANUAL, actor_id=shop.owner.id, now=at(5))
    changed = await reload(order)
    assert (changed.order_manager_id, changed.customer_info) == (other, "written after the copy was read")


async def test_a_manager_replaced_by_hand_is_not_told_of_a_detach(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    other = next(m.id for m in shop.managers if m.id != order.order_manager_id)
    await assign_order(shop.owner, order.id, other, now=at(5))
    assert await Outbox.filter(kind="order.detached").count() == 0


# Detaching idle managers.


async def test_a_detached_managers_ping_names_the_order_and_is_due_at_the_sweep(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await detach_idle_orders(at(DAY + 1))
    log = (await order_history(order.id))[-1]
    [ping] = await Outbox.filter(kind="order.detached")
    assert (ping.account_id, ping.employee_id, ping.payload, ping.available_at, ping.dedupe_key) == (
        shop.account.id, shop.managers[0].id, {"order_id": order.id}, at(DAY + 1), f"order.detached:{log.id}"
    )


async def test_an_account_detaching_after_one_second_detaches_after_one_second(db):
    shop = await make_shop(managers=1)
    await accounts.set_detach_after(shop.owner, 1)
    order = await _order(shop)
    assert await detach_idle_orders(at(0) + timedelta(seconds=1)) == [order.id]


def _between_listing_and_lock(monkeypatch, change):
    """Runs `change` once, after the sweep has listed the idle orders and before it locks the first of them."""
    pending = [change]
    real = assignment.in_transaction

    @asynccontextmanager
    async def in_transaction():
        while pending:
            await pending.pop()()
        async with real() as connection:
            yield connection

    monkeypatch.setattr(assignment, "in_transaction", in_transaction)


async def test_a_sweep_keeps_a_manager_who_acted_after_it_listed_his_order_and_goes_on_to_the_next(db, monkeypatch):
    shop = await make_shop(managers=1)
    acted_on, idle = await _order(shop), await _order(shop)
    _between_listing_and_lock(monkeypatch, lambda: note_manager_action(acted_on, shop.managers[0], at(DAY)))
    assert await detach_idle_orders(at(DAY + 1)) == [idle.id]
    assert (await reload(acted_on)).order_manager_id == shop.managers[0].id


async def test_a_sweep_keeps_the_manager_of_an_order_paid_after_it_listed_the_order(db, monkeypatch):
    shop = await make_shop(managers=1)
    paid, idle = await _order(shop), await _order(shop)
    _between_listing_and_lock(monkeypatch, lambda: Order.filter(id=paid.id).update(status=OrderStatus.PAID))
    assert await detach_idle_orders(at(DAY + 1)) == [idle.id]
    assert (await reload(paid)).order_manager_id == shop.managers[0].id


async def test_a_sweep_detaches_by_each_accounts_time_even_with_an_older_order_of_another_account_idle_by_it(db):
    slow = await make_shop(managers=1)
    quick = await make_shop(managers=1)
    await accounts.set_detach_after(quick.owner, 3600)
    older = await _order(slow)
    newer = await _order(quick)
    assert await detach_idle_orders(at(61)) == [newer.id]
    assert (await reload(older)).order_manager_id == slow.managers[0].id


# What counts as the manager's action (SPEC §1.3).


async def test_the_order_an_action_returns_carries_the_actions_time(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    acted = await orders.mark_payment_link_sent(shop.managers[0], order.id, now=at(5))
    assert acted.last_action_at == at(5)


async def test_an_action_on_one_order_does_not_count_for_the_managers_other_orders(db):
    shop = await make_shop(managers=1)
    acted_on, other = await _order(shop), await _order(shop)
    await orders.add_comment(shop.managers[0], acted_on.id, "called", now=at(5))
    assert (await reload(acted_on)).last_action_at == at(5)
    assert (await reload(other)).last_action_at is None


async def test_an_action_noted_on_an_order_that_has_since_passed_to_another_manager_does_not_count(db):
    shop = await make_shop(managers=2)
    first, second = shop.managers
    order = await _order(shop)
    await assign_order(shop.owner, order.id, first.id, now=at(1))
    as_first_saw_it = await reload(order)
    await assign_order(shop.owner, order.id, second.id, now=at(2))
    await note_manager_action(as_first_saw_it, first, at(5))
    assert (await reload(order)).last_action_at is None


async def test_a_message_to_a_client_counts_for_the_writers_open_orders_of_that_client_only(db):
    shop = await make_shop(managers=2)
    writer, colleague = shop.managers
    client, someone_else = await new_client(shop), await new_client(shop)
    his, his_paid = await _order(shop, client), await _order(shop, client)
    of_someone_else = await _order(shop, someone_else)
    colleagues = await _order(shop, client)
    for order, manager in ((his, writer), (his_paid, writer), (of_someone_else, writer), (colleagues, colleague)):
        await assign_order(shop.owner, order.id, manager.id, now=at(1))
    await Order.filter(id=his_paid.id).update(status=OrderStatus.PAID)
    await note_actions_on_client(client.id, writer, at(5))
    stamped = [(await reload(o)).last_action_at for o in (his, his_paid, of_someone_else, colleagues)]
    assert stamped == [at(5), None, None, None]
