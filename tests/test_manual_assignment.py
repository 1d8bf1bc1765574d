"""SPEC §1.2 and §1.6: manual and group assignment by owner/admin, a manager taking an unassigned order, the audit."""

from __future__ import annotations

import asyncio

import pytest

from sales import accounts
from sales.assignment import assign_order, assign_orders, take_order
from sales.audit import order_history
from sales.errors import Invalid, NotAllowed, NotFound
from sales.orders import create_order
from storage.models import AssignmentLog, AssignmentReason, Order, Outbox, Role
from tests.factories import at, make_shop, new_client, reload


async def _order(shop):
    client = await new_client(shop)
    return await create_order(
        shop.account.id, client_id=client.id, offer_id=shop.offer.id, widget_id=shop.widget.id, now=at(0)
    )


async def _unassigned(shop):
    order = await _order(shop)
    await Order.filter(id=order.id).update(order_manager_id=None, assigned_at=None)
    return await reload(order)


async def test_owner_may_assign_any_active_employee_including_an_admin(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await assign_order(shop.owner, order.id, shop.admin.id)
    assert (await reload(order)).order_manager_id == shop.admin.id


async def test_admin_may_assign_the_owner(db):
    shop = await make_shop(managers=1)
    order = await _order(shop)
    await assign_order(shop.admin, order.id, shop.owner.id)
    assert (await reload(order)).order_manager_id == shop.owner.id


async def test_manager_may_not_assign_orders(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    with pytest.raises(NotAllowed):
        await assign_order(shop.managers[0], order.id, shop.managers[0].id)


async def test_a_deactivated_employee_cannot_be_assigned(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    await accounts.update_employee(shop.owner, shop.managers[1].id, active=False)
    with pytest.raises(NotAllowed):
        await assign_order(shop.owner, order.id, shop.managers[1].id)
    assert (await reload(order)).order_manager_id == order.order_manager_id


async def test_another_accounts_order_or_employee_is_not_found(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    theirs = await _order(other)
    with pytest.raises(NotFound):
        await assign_order(shop.owner, theirs.id, shop.managers[0].id)
    mine = await _order(shop)
    with pytest.raises(NotFound):
        await assign_order(shop.owner, mine.id, other.managers[0].id)


async def test_manual_assignment_is_audited_with_actor_and_reason(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    previous = order.order_manager_id
    target = next(m for m in shop.managers if m.id != previous)
    await assign_order(shop.admin, order.id, target.id, now=at(5))
    log = (await order_history(order.id))[-1]
    assert (log.from_employee_id, log.to_employee_id, log.reason, log.actor_id) == (
        previous,
        target.id,
        AssignmentReason.MANUAL,
        shop.admin.id,
    )
    assert log.created_at == at(5)


async def test_manual_assignment_pings_the_new_manager_once(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    target = next(m for m in shop.managers if m.id != order.order_manager_id)
    await assign_order(shop.owner, order.id, target.id)
    assert await Outbox.filter(kind="order.assigned", employee_id=target.id).count() == 1


async def test_group_assignment_changes_only_the_selected_orders(db):
    shop = await make_shop(managers=2)
    orders = [await _order(shop) for _ in range(3)]
    before = {o.id: o.order_manager_id for o in orders}
    target = shop.admin
    changed = await assign_orders(shop.owner, [orders[0].id, orders[2].id], target.id)
    after = {o.id: (await reload(o)).order_manager_id for o in orders}
    assert sorted(changed) == [orders[0].id, orders[2].id]
    assert after[orders[0].id] == after[orders[2].id] == target.id
    assert after[orders[1].id] == before[orders[1].id]


async def test_group_assignment_sends_one_digest_per_manager(db):
    shop = await make_shop(managers=1)
    orders = [await _order(shop) for _ in range(4)]
    await assign_orders(shop.owner, [o.id for o in orders], shop.admin.id)
    digests = await Outbox.filter(kind="orders.assigned_digest", employee_id=shop.admin.id)
    assert len(digests) == 1
    assert sorted(digests[0].payload["order_ids"]) == sorted(o.id for o in orders)
    assert await Outbox.filter(kind="order.assigned", employee_id=shop.admin.id).count() == 0


async def test_group_assignment_audits_each_order_as_group(db):
    shop = await make_shop(managers=1)
    orders = [await _order(shop) for _ in range(2)]
    await assign_orders(shop.admin, [o.id for o in orders], shop.owner.id)
    for order in orders:
        assert (await order_history(order.id))[-1].reason == AssignmentReason.GROUP


async def test_group_assignment_with_an_unknown_order_changes_nothing(db):
    shop = await make_shop(managers=1)
    other = await make_shop(managers=1)
    mine = await _order(shop)
    theirs = await _order(other)
    with pytest.raises(NotFound):
        await assign_orders(shop.owner, [mine.id, theirs.id], shop.admin.id)
    assert (await reload(mine)).order_manager_id == shop.managers[0].id
    assert (await reload(theirs)).order_manager_id == other.managers[0].id


async def test_group_assignment_needs_a_selection(db):
    shop = await make_shop(managers=1)
    with pytest.raises(Invalid) as error:
        await assign_orders(shop.owner, [], shop.admin.id)
    assert error.value.field == "order_ids"


async def test_manager_may_take_an_unassigned_order(db):
    shop = await make_shop(managers=2)
    order = await _unassigned(shop)
    await take_order(shop.managers[1], order.id)
    assert (await reload(order)).order_manager_id == shop.managers[1].id
    assert (await order_history(order.id))[-1].reason == AssignmentReason.TAKEN


async def test_manager_cannot_take_another_managers_order(db):
    shop = await make_shop(managers=2)
    order = await _order(shop)
    thief = next(m for m in shop.managers if m.id != order.order_manager_id)
    with pytest.raises(NotAllowed):
        await take_order(thief, order.id)
    assert (await reload(order)).order_manager_id == order.order_manager_id


async def test_deactivated_manager_cannot_take(db):
    shop = await make_shop(managers=2)
    order = await _unassigned(shop)
    await accounts.update_employee(shop.owner, shop.managers[0].id, active=False)
    with pytest.raises(NotAllowed):
        await take_order(await reload(shop.managers[0]), order.id)


async def test_manager_roles_cannot_be_turned_into_owner(db):
    shop = await make_shop(managers=1)
    with pytest.raises(NotAllowed):
        await accounts.update_employee(shop.owner, shop.managers[0].id, role=Role.OWNER)


async def test_two_managers_taking_at_once_one_wins(db):
    shop = await make_shop(managers=2)
    order = await _unassigned(shop)
    results = await asyncio.gather(
        *(take_order(m, order.id) for m in shop.managers), return_exceptions=True
    )
    winners = [r for r in results if not isinstance(r, Exception)]
    assert len(winners) == 1
    assert all(isinstance(r, NotAllowed) for r in results if isinstance(r, Exception))
    assert await AssignmentLog.filter(order_id=order.id, reason=AssignmentReason.TAKEN).count() == 1
