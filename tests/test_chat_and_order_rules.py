"""Chat and order rules at their edges: what a snooze leaves behind, what an unanswered alert says, the demo's
payment failure, an outbox row sent again."""

from __future__ import annotations

import pytest

from sales import assignment, conversations, dialogs, orders, outbox
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from sales.payments import PaymentNotice, apply_payment, fail_for_demo
from storage.models import AssignmentLog, Chat, ChatStatus, Client, ImportantItem, Order, OrderStatus, Outbox, OutboxStatus, PaymentEvent, PaymentResult
from tests.factories import at, make_shop, new_client, reload


async def _lead(shop, when: float = 0) -> Chat:
    client = await new_client(shop)
    await dialogs.record_inbound(client, "Hello, is it available?", now=at(when))
    return await Chat.get(client_id=client.id)


async def _order(shop, client: Client, *, flagged: bool = False) -> Order:
    """A new order of the client through the shop's widget, at minute 0."""
    offer = shop.flagged_offer if flagged else shop.offer
    return await orders.create_order(shop.account.id, client_id=client.id, offer_id=offer.id,
                                     widget_id=shop.widget.id, now=at(0))


# --- status (SPEC §10.1, §10.7)

async def test_a_woken_chat_keeps_no_snooze_time(db):
    shop = await make_shop(managers=1)
    chat = await _lead(shop)
    await conversations.set_status(shop.managers[0], chat.id, "snoozed", snoozed_until=at(60), now=at(2))
    assert (await reload(chat)).snoozed_until == at(60)
    assert await conversations.wake_snoozed(at(61)) == [chat.id]
    chat = await reload(chat)
    assert (chat.status, chat.snoozed_until) == (ChatStatus.OPEN, None)


# --- lead routing (SPEC §10.2)

async def test_a_cancelled_orders_manager_does_not_route_the_clients_first_message(db):
    shop = await make_shop(managers=3)
    client = await new_client(shop)
    order = await _order(shop, client)
    await assignment.assign_order(shop.owner, order.id, shop.managers[2].id, now=at(1))
    await orders.set_status(shop.owner, order.id, OrderStatus.CANCELLED, now=at(1))
    await dialogs.record_inbound(client, "About another course", now=at(2))
    chat = await Chat.get(client_id=client.id)
    assert (await Client.get(id=client.id)).personal_manager_id is None
    # Not the cancelled order's manager: the rotation's pick.
    assert (await Order.get(id=order.id)).order_manager_id == shop.managers[2].id
    assert chat.assignee_id != shop.managers[2].id
    reasons = await AssignmentLog.filter(chat_id=chat.id).values_list("reason", flat=True)
    assert [str(r) for r in reasons] == ["rotation"]


# --- take (SPEC §10.4)

async def test_taking_a_chat_someone_else_has_is_refused_saying_so(db):
    shop = await make_shop(managers=2)
    chat = await _lead(shop)
    with pytest.raises(Conflict) as refused:
        await conversations.take_chat(shop.managers[1], chat.id, now=at(3))
    assert (refused.value.message, refused.value.field) == ("someone else already has this chat", "chat_id")
    assert (await reload(chat)).assignee_id == shop.managers[0].id


async def test_taking_over_a_chat_that_was_left_unassigned_since_the_alert_asks_to_look_again(db):
    shop = await make_shop(managers=2)
    chat = await _lead(shop)
    await conversations.assign_chat(shop.admin, chat.id, None, now=at(2))
    with pytest.raises(Conflict) as refused:
        await conversations.take_chat(shop.admin, chat.id, replacing=shop.managers[0].id, now=at(3))
    assert (refused.value.message, refused.value.field) == ("this chat has changed; look again", "chat_id")
    assert (await reload(chat)).assignee_id is None


async def test_a_manager_taking_a_chat_from_its_assignee_is_refused_saying_who_may(db):
    shop = await make_shop(managers=2)
    chat = await _lead(shop)
    with pytest.raises(NotAllowed) as refused:
        await conversations.take_chat(shop.managers[1], chat.id, replacing=shop.managers[0].id, now=at(3))
    assert (refused.value.message, refused.value.field) == (
        "only the owner or an admin may take a chat from its assignee", "chat_id")
    assert (await reload(chat)).assignee_id == shop.managers[0].id


async def test_taking_another_accounts_chat_is_not_found_naming_the_chat(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    chat = await _lead(shop)
    with pytest.raises(NotFound) as refused:
        await conversations.take_chat(other.admin, chat.id, now=at(2))
    assert (refused.value.message, refused.value.field) == (f"chat {chat.id} not found", "chat_id")
    assert (await reload(chat)).assignee_id == shop.managers[0].id


# --- first response (SPEC §10.5)

async def test_an_unanswered_alert_without_reassignment_names_no_new_assignee(db):
    shop = await make_shop(managers=2)
    chat = await _lead(shop, when=0)
    assignee = chat.assignee_id
    assert assignee == shop.managers[0].id
    assert await conversations.sweep_unanswered(now=at(16)) == [chat.id]
    assert (await reload(chat)).assignee_id == assignee
    alerts = await Outbox.filter(kind=outbox.CHAT_UNANSWERED).order_by("employee_id")
    assert len(alerts) == 2
    assert {(a.payload["assignee_id"], a.payload["reassigned_to"]) for a in alerts} == {(assignee, None)}


# --- order status by hand (SPEC §5.3)

async def test_a_status_change_of_another_accounts_order_is_not_found_naming_the_order(db):
    shop, other = await make_shop(managers=1), await make_shop(managers=1)
    client = await new_client(other)
    order = await _order(other, client)
    with pytest.raises(NotFound) as refused:
        await orders.set_status(shop.owner, order.id, OrderStatus.CANCELLED, now=at(5))
    assert (refused.value.message, refused.value.field) == (f"order {order.id} not found", "order_id")
    assert (await Order.get(id=order.id)).status == OrderStatus.NEW


async def test_a_cancelled_order_refuses_a_status_by_hand_naming_the_status(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _order(shop, client)
    await orders.set_status(shop.owner, order.id, OrderStatus.CANCELLED, now=at(5))
    with pytest.raises(Conflict) as refused:
        await orders.set_status(shop.owner, order.id, OrderStatus.NEW, now=at(6))
    assert (refused.value.message, refused.value.field) == (
        "a cancelled order cannot change status by hand", "status")
    assert (await Order.get(id=order.id)).status == OrderStatus.CANCELLED


# --- payments (SPEC §5.2)

async def test_a_payment_event_of_a_provider_named_longer_than_32_characters_is_refused(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _order(shop, client)
    notice = PaymentNotice("p" * 33, "evt-long-provider", str(order.id), PaymentResult.PAID, occurred_at=at(5))
    with pytest.raises(Invalid) as refused:
        await apply_payment(notice, now=at(5))
    assert (refused.value.message, refused.value.field) == ("unknown payment provider", "provider")
    assert (await Order.get(id=order.id)).status == OrderStatus.NEW
    assert await PaymentEvent.filter(event_id="evt-long-provider").count() == 0


# --- the demo's payment failure (SPEC §5.3, §3.4)

async def test_a_demo_payment_failure_without_a_reason_reads_as_a_declined_card(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    order = await _order(shop, client, flagged=True)
    await dialogs.record_outbound(shop.managers[0], client.id, "Your link to pay", now=at(1))
    outcome = await fail_for_demo(shop.owner, order.id, now=at(10))
    order = await Order.get(id=order.id)
    # The code the inbox labels "Card declined", on the order and on the manager's important item.
    assert (order.status, order.failed_at, order.failure_reason) == (OrderStatus.FAILED, at(10), "card_declined")
    (item,) = await ImportantItem.filter(id__in=outcome.important_item_ids)
    assert (item.employee_id, item.reason) == (shop.managers[0].id, "card_declined")


# --- parked notifications (interfaces: POST /api/v1/outbox/{id}/retry, 409 unless parked)

async def test_a_notification_that_is_not_parked_is_refused_a_resend_saying_why(db):
    shop = await make_shop(managers=1)
    row = await outbox.enqueue(account_id=shop.account.id, kind=outbox.ORDER_CREATED_EMAIL,
                               dedupe_key=f"pending-{shop.account.id}", now=at(0), payload={"order_id": 1})
    with pytest.raises(Conflict) as refused:
        await outbox.retry_parked(shop.admin, row.id, now=at(5))
    assert (refused.value.message, refused.value.field) == (
        "only a parked notification can be sent again", "outbox_id")
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.PENDING
