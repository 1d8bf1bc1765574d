"""SPEC §11.4: a change of an order is a live event of its client's chat, so an open conversation's timeline and card
follow it; a client with no conversation has no screen to update."""

from __future__ import annotations

from sales import conversations, dialogs, outbox
from sales.orders import create_order, mark_payment_link_sent, set_status
from sales.payments import PaymentNotice, apply_payment
from storage.models import Order, OrderStatus, Outbox, PaymentResult
from tests.factories import at, make_shop, new_client


async def _order_events() -> list[dict]:
    rows = await Outbox.filter(kind=outbox.CHAT_EVENT).order_by("id")
    return [row.payload for row in rows if row.payload["event"] == "order"]


async def _talking(shop, name: str = "Petro"):
    """A client who wrote first, answered by manager 0."""
    client = await new_client(shop, name=name)
    message = await dialogs.record_inbound(client, "How much is it?", now=at(0))
    await conversations.assign_chat(shop.admin, message.chat_id, shop.managers[0].id, now=at(0.5))
    return client, message.chat_id


async def test_a_new_order_of_a_client_in_conversation_is_an_event_of_his_chat(db):
    shop = await make_shop(managers=2)
    client, chat_id = await _talking(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    [event] = await _order_events()
    assert (event["chat_id"], event["order_id"], event["order_status"]) == (chat_id, order.id, "new")
    assert shop.managers[0].id in event["audience"]["employee_ids"]


async def test_an_order_of_a_client_who_never_wrote_is_no_chat_event(db):
    shop = await make_shop(managers=2)
    client = await new_client(shop)
    await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    assert await _order_events() == []


async def test_a_failed_then_paid_payment_is_one_event_each_with_the_orders_status(db):
    shop = await make_shop(managers=2)
    client, chat_id = await _talking(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    await apply_payment(PaymentNotice("generic", "f1", str(order.id), PaymentResult.FAILED, occurred_at=at(2),
                                      reason="card_declined"), now=at(2))
    await apply_payment(PaymentNotice("generic", "p1", str(order.id), PaymentResult.PAID, occurred_at=at(3)), now=at(3))
    assert [(e["order_id"], e["order_status"]) for e in await _order_events()] == [
        (order.id, "new"), (order.id, "failed"), (order.id, "paid")]


async def test_an_ignored_payment_event_is_no_chat_event(db):
    shop = await make_shop(managers=2)
    client, _ = await _talking(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    await apply_payment(PaymentNotice("generic", "p1", str(order.id), PaymentResult.PAID, occurred_at=at(3)), now=at(3))
    # An older failure delivered late: the paid order stays paid, nothing changed to show.
    await apply_payment(PaymentNotice("generic", "f0", str(order.id), PaymentResult.FAILED, occurred_at=at(2),
                                      reason="card_declined"), now=at(4))
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert [e["order_status"] for e in await _order_events()] == ["new", "paid"]


async def test_a_cancel_and_a_payment_link_by_hand_are_events_of_the_chat(db):
    shop = await make_shop(managers=2)
    client, _ = await _talking(shop)
    first = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    second = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    manager = (await Order.get(id=first.id).prefetch_related("order_manager")).order_manager
    await mark_payment_link_sent(manager, first.id, now=at(2))
    await set_status(shop.admin, second.id, OrderStatus.CANCELLED, now=at(3))
    assert [(e["order_id"], e["order_status"]) for e in await _order_events()][2:] == [
        (first.id, "awaiting_payment"), (second.id, "cancelled")]


async def test_a_payment_link_sent_again_changes_nothing_to_show(db):
    shop = await make_shop(managers=2)
    client, _ = await _talking(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(1))
    manager = (await Order.get(id=order.id).prefetch_related("order_manager")).order_manager
    await mark_payment_link_sent(manager, order.id, now=at(2))
    await mark_payment_link_sent(manager, order.id, now=at(3))
    assert [e["order_status"] for e in await _order_events()] == ["new", "awaiting_payment"]
