"""The JSON API of SPEC §8 for each role: allowed, forbidden, another account's ids (404), bad input (4xx, nothing changed)."""

from __future__ import annotations

import pytest

from sales import dialogs
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import (
    Account,
    AssignmentLog,
    CallLog,
    Client,
    DialogRecord,
    Employee,
    Message,
    Offer,
    Order,
    OrderComment,
    PaymentResult,
    TelegramInvite,
    Widget,
)
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, new_client


@pytest.fixture(params=["sqlite", "postgres"])
async def api(request, database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, request.param), aiohttp_client, managers=3)


async def _order(shop, client=None, offer=None, manager=None):
    client = client or await new_client(shop)
    order = await create_order(shop.account.id, client_id=client.id, offer_id=(offer or shop.offer).id, now=at(0))
    if manager is not ...:
        await Order.filter(id=order.id).update(order_manager_id=manager.id if manager else None)
    return await Order.get(id=order.id)


# --- employees and the account

async def test_an_admin_adds_an_employee(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/employees", {"email": " New@Shop.test ", "name": "New", "role": "manager"})
    assert status == 201 and body["email"] == "new@shop.test" and body["role"] == "manager"
    assert await Employee.filter(account_id=api.shop.account.id, email="new@shop.test").exists()


async def test_a_manager_cannot_add_employees(api):
    await api.as_(api.shop.managers[0])
    status, body = await api.post("/api/v1/employees", {"email": "x@shop.test", "name": "X"})
    assert status == 403 and body["error"]["code"] == "forbidden"
    assert not await Employee.filter(email="x@shop.test").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"email": "not-an-email", "name": "X"}, "email"),
        ({"email": "x@shop.test", "name": ""}, "name"),
        ({"email": "x@shop.test", "name": "X", "role": "owner"}, "role"),
        ({"email": "x@shop.test", "name": "X", "commission_rate": 2}, "commission_rate"),
        ({"email": "x@shop.test", "name": "X", "capacity": "5"}, "capacity"),
        ({"email": "x@shop.test", "name": "X", "colour": "red"}, "colour"),
    ],
)
async def test_a_bad_employee_is_refused_naming_the_field(api, body, field):
    await api.as_(api.shop.owner)
    before = await Employee.all().count()
    status, answer = await api.post("/api/v1/employees", body)
    assert status == 422 and answer["error"]["field"] == field
    assert await Employee.all().count() == before


async def test_a_manager_marks_himself_away_but_not_a_colleague(api):
    me, colleague = api.shop.managers[0], api.shop.managers[1]
    await api.as_(me)
    assert (await api.patch(f"/api/v1/employees/{me.id}", {"away": True}))[0] == 200
    assert (await api.patch(f"/api/v1/employees/{colleague.id}", {"away": True}))[0] == 403
    assert (await Employee.get(id=me.id)).away and not (await Employee.get(id=colleague.id)).away


async def test_an_admin_changes_role_capacity_and_rate(api):
    target = api.shop.managers[1]
    await api.as_(api.shop.admin)
    status, body = await api.patch(
        f"/api/v1/employees/{target.id}", {"role": "admin", "capacity": 3, "commission_rate": "0.2"}
    )
    assert status == 200 and (body["role"], body["capacity"], body["commission_rate"]) == ("admin", 3, "0.2000")


async def test_another_accounts_employee_is_not_found(api):
    await api.as_(api.shop.owner)
    status, body = await api.patch(f"/api/v1/employees/{api.other.managers[0].id}", {"away": True})
    assert status == 404 and body["error"]["code"] == "not_found"
    assert not (await Employee.get(id=api.other.managers[0].id)).away


async def test_a_telegram_invite_is_a_deep_link_to_the_accounts_bot(api):
    await Account.filter(id=api.shop.account.id).update(bot_username="shop_bot")
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/employees/{api.shop.managers[0].id}/telegram-invite")
    assert status == 201 and body["url"].startswith("https://t.me/shop_bot?start=staff-")


async def test_an_invite_without_a_connected_bot_is_refused_and_writes_nothing(api):
    await api.as_(api.shop.owner)
    status, body = await api.post(f"/api/v1/employees/{api.shop.managers[0].id}/telegram-invite")
    assert status == 409 and body["error"]["field"] == "bot"
    assert await TelegramInvite.all().count() == 0


async def test_a_manager_cannot_invite_a_colleague(api):
    await Account.filter(id=api.shop.account.id).update(bot_username="shop_bot")
    await api.as_(api.shop.managers[0])
    status, _ = await api.post(f"/api/v1/employees/{api.shop.managers[1].id}/telegram-invite")
    assert status == 403


async def test_the_owner_sets_detach_after_and_a_manager_cannot(api):
    await api.as_(api.shop.owner)
    assert (await api.patch("/api/v1/account", {"detach_after": 3600}))[1]["detach_after"] == 3600
    await api.as_(api.shop.managers[0])
    assert (await api.patch("/api/v1/account", {"detach_after": 60}))[0] == 403
    assert (await Account.get(id=api.shop.account.id)).detach_after_seconds == 3600


# --- widgets and offers

async def test_an_admin_creates_a_widget_with_exclusions_and_emails(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/widgets", {
        "code": "spring", "name": "Spring", "notification_emails": ["Sales@Shop.test"],
        "excluded_employee_ids": [api.shop.managers[2].id],
    })
    assert status == 201
    assert body["notification_emails"] == ["sales@shop.test"]
    assert body["excluded_employee_ids"] == [api.shop.managers[2].id]


async def test_a_widget_excluding_another_accounts_employee_is_refused_and_not_created(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/widgets", {
        "code": "spring", "name": "Spring", "excluded_employee_ids": [api.other.managers[0].id],
    })
    assert status == 422 and body["error"]["field"] == "excluded_employee_ids"
    assert not await Widget.filter(code="spring").exists()


async def test_patching_another_accounts_widget_is_not_found(api):
    await api.as_(api.shop.admin)
    status, _ = await api.patch(f"/api/v1/widgets/{api.other.widget.id}", {"name": "Mine now"})
    assert status == 404
    assert (await Widget.get(id=api.other.widget.id)).name == "Landing"


async def test_offers_carry_the_notify_on_failed_payment_flag(api):
    await api.as_(api.shop.admin)
    status, body = await api.post(
        "/api/v1/offers", {"title": "Coaching", "price": "49.90", "currency": "eur", "notify_on_failed_payment": True}
    )
    assert status == 201 and body["notify_on_failed_payment"] and body["currency"] == "EUR" and body["price"] == "49.90"
    status, body = await api.patch(f"/api/v1/offers/{body['id']}", {"notify_on_failed_payment": False})
    assert status == 200 and body["notify_on_failed_payment"] is False


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "X", "price": -1, "currency": "EUR"}, "price"),
    ({"title": "X", "price": 1, "currency": "EURO"}, "currency"),
    ({"title": "X", "price": 1, "currency": "EUR", "notify_on_failed_payment": "yes"}, "notify_on_failed_payment"),
])
async def test_a_bad_offer_is_refused_naming_the_field(api, body, field):
    await api.as_(api.shop.admin)
    status, answer = await api.post("/api/v1/offers", body)
    assert status == 422 and answer["error"]["field"] == field
    assert not await Offer.filter(title="X").exists()


async def test_a_manager_sees_offers_but_cannot_change_them(api):
    await api.as_(api.shop.managers[0])
    status, body = await api.get("/api/v1/offers")
    assert status == 200 and {o["title"] for o in body["items"]} == {"Course", "Flagged course"}
    assert (await api.patch(f"/api/v1/offers/{api.shop.offer.id}", {"title": "Cheap"}))[0] == 403


# --- clients

async def test_a_duplicate_client_email_is_a_conflict(api):
    await new_client(api.shop, email="ann@example.com")
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/clients", {"email": " ANN@example.com"})
    assert status == 409 and body["error"]["field"] == "email"


async def test_another_accounts_client_is_not_found(api):
    client = await new_client(api.other)
    await api.as_(api.shop.owner)
    assert (await api.get(f"/api/v1/clients/{client.id}"))[0] == 404
    assert (await api.patch(f"/api/v1/clients/{client.id}", {"notes": "mine"}))[0] == 404
    assert (await Client.get(id=client.id)).notes == ""


async def test_a_rep_corrects_a_clients_e_mail(api):
    client = await new_client(api.shop, email="ann@typo.test")
    await api.as_(api.shop.admin)
    status, body = await api.patch(f"/api/v1/clients/{client.id}", {"email": " Ann@Example.COM "})
    assert status == 200 and body["email"] == "ann@example.com"
    assert (await Client.get(id=client.id)).email == "ann@example.com"


async def test_another_clients_e_mail_is_refused_and_changes_nothing(api):
    taken = await new_client(api.shop, email="boris@example.com")
    client = await new_client(api.shop, email="ann@example.com")
    await api.as_(api.shop.admin)
    status, body = await api.patch(f"/api/v1/clients/{client.id}", {"email": taken.email, "name": "Ann B."})
    assert status == 409 and body["error"]["field"] == "email"
    unchanged = await Client.get(id=client.id)
    assert (unchanged.email, unchanged.name) == ("ann@example.com", client.name)


async def test_an_e_mail_is_cleared_only_for_a_client_telegram_reaches(api):
    by_mail = await new_client(api.shop, email="ann@example.com")
    by_telegram = await new_client(api.shop, email="petro@example.com")
    await Client.filter(id=by_telegram.id).update(telegram_user_id=777)
    await api.as_(api.shop.admin)
    status, body = await api.patch(f"/api/v1/clients/{by_mail.id}", {"email": ""})
    assert status == 422 and body["error"]["field"] == "email"
    assert (await Client.get(id=by_mail.id)).email == "ann@example.com"
    status, body = await api.patch(f"/api/v1/clients/{by_telegram.id}", {"email": ""})
    assert status == 200 and body["email"] is None


async def test_a_manager_does_not_see_a_colleagues_client(api):
    order = await _order(api.shop, manager=api.shop.managers[1])
    await api.as_(api.shop.managers[0])
    assert (await api.get(f"/api/v1/clients/{order.client_id}"))[0] == 404
    assert (await api.get(f"/api/v1/orders/{order.id}"))[0] == 404


async def test_the_personal_manager_set_on_the_client_shows_on_all_his_orders(api):
    client = await new_client(api.shop)
    first, second = await _order(api.shop, client), await _order(api.shop, client)
    await api.as_(api.shop.admin)
    manager = api.shop.managers[2]
    status, body = await api.patch(f"/api/v1/clients/{client.id}", {"personal_manager_id": manager.id})
    assert status == 200 and body["personal_manager"] == {"id": manager.id, "name": manager.name}
    for order in (first, second):
        assert (await api.get(f"/api/v1/orders/{order.id}"))[1]["personal_manager"]["id"] == manager.id


async def test_a_refused_personal_manager_leaves_the_notes_unchanged(api):
    client = await new_client(api.shop)
    await api.as_(api.shop.admin)
    status, body = await api.patch(
        f"/api/v1/clients/{client.id}", {"notes": "VIP", "personal_manager_id": api.other.managers[0].id}
    )
    assert status == 404 and body["error"]["field"] == "employee_id"
    assert (await Client.get(id=client.id)).notes == ""


async def test_the_client_card_lists_all_his_orders_with_status(api):
    client = await new_client(api.shop)
    await _order(api.shop, client)
    failed = await _order(api.shop, client)
    await Order.filter(id=failed.id).update(status="failed")
    await api.as_(api.shop.admin)
    status, body = await api.get(f"/api/v1/clients/{client.id}/orders")
    assert status == 200 and sorted(o["status"] for o in body["items"]) == ["failed", "new"]


# --- orders

async def test_an_order_created_over_the_api_gets_a_manager_at_once(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/orders", {
        "client_email": "lead@example.com", "offer_id": api.shop.offer.id, "widget_id": api.shop.widget.id,
    })
    assert status == 201 and body["order_manager"]["id"] in {m.id for m in api.shop.managers}
    assert await AssignmentLog.filter(order_id=body["id"]).count() == 1


async def test_an_order_for_another_accounts_offer_is_not_found_and_not_created(api):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/orders", {"client_email": "lead@example.com", "offer_id": api.other.offer.id})
    assert status == 404 and body["error"]["field"] == "offer_id"
    assert await Order.all().count() == 0


async def test_orders_are_filtered_by_personal_manager(api):
    mine, theirs = await new_client(api.shop), await new_client(api.shop)
    await Client.filter(id=mine.id).update(personal_manager_id=api.shop.managers[0].id)
    wanted = [await _order(api.shop, mine), await _order(api.shop, mine)]
    await _order(api.shop, theirs)
    await api.as_(api.shop.admin)
    status, body = await api.get("/api/v1/orders", personal_manager_id=str(api.shop.managers[0].id))
    assert status == 200 and sorted(o["id"] for o in body["items"]) == sorted(o.id for o in wanted)


async def test_a_bad_filter_is_refused_naming_it(api):
    await api.as_(api.shop.admin)
    for params, field in (({"status": "lost"}, "status"), ({"created_from": "yesterday"}, "created_from"),
                          ({"order_manager_id": "x"}, "order_manager_id"), ({"colour": "red"}, "colour"),
                          ({"cursor": "garbage!"}, "cursor")):
        status, body = await api.get("/api/v1/orders", **params)
        assert (status, body["error"]["field"]) == (422, field)


async def test_the_orders_list_pages_through_every_order_once(api):
    created = {(await _order(api.shop)).id for _ in range(7)}
    await api.as_(api.shop.admin)
    seen, cursor = [], None
    while True:
        params = {"limit": "3"} | ({"cursor": cursor} if cursor else {})
        status, body = await api.get("/api/v1/orders", **params)
        assert status == 200
        seen += [o["id"] for o in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert sorted(seen) == sorted(created) and len(seen) == len(created)


async def test_group_assignment_changes_only_the_selected_orders(api):
    orders = [await _order(api.shop, manager=api.shop.managers[0]) for _ in range(3)]
    target = api.shop.managers[1]
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/orders/assign",
                                  {"order_ids": [orders[0].id, orders[2].id], "employee_id": target.id})
    assert status == 200 and sorted(body["changed"]) == [orders[0].id, orders[2].id]
    managers = [(await Order.get(id=o.id)).order_manager_id for o in orders]
    assert managers == [target.id, api.shop.managers[0].id, target.id]


async def test_a_manager_cannot_assign_orders(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    status, _ = await api.post("/api/v1/orders/assign", {"order_ids": [order.id], "employee_id": api.shop.managers[1].id})
    assert status == 403 and (await Order.get(id=order.id)).order_manager_id == api.shop.managers[0].id


async def test_group_assignment_with_another_accounts_order_changes_nothing(api):
    mine = await _order(api.shop, manager=api.shop.managers[0])
    foreign = await _order(api.other, manager=api.other.managers[0])
    await api.as_(api.shop.admin)
    status, _ = await api.post("/api/v1/orders/assign",
                               {"order_ids": [mine.id, foreign.id], "employee_id": api.shop.managers[1].id})
    assert status == 404 and (await Order.get(id=mine.id)).order_manager_id == api.shop.managers[0].id


async def test_a_manager_takes_an_unassigned_order_but_not_a_colleagues(api):
    free = await _order(api.shop, manager=None)
    taken = await _order(api.shop, manager=api.shop.managers[1])
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{free.id}/take")
    assert status == 200 and body["order_manager"]["id"] == api.shop.managers[0].id
    status, _ = await api.post(f"/api/v1/orders/{taken.id}/take")
    assert status in (403, 404) and (await Order.get(id=taken.id)).order_manager_id == api.shop.managers[1].id


async def test_the_order_manager_records_a_call_and_it_shows_in_the_history(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/calls",
                                  {"outcome": "call_back", "call_back_at": "2026-03-03T10:00:00+00:00",
                                   "comment": "after lunch"})
    assert status == 201 and body["outcome"] == "call_back"
    assert await CallLog.filter(order_id=order.id).count() == 1
    status, history = await api.get(f"/api/v1/orders/{order.id}/history")
    assert status == 200 and [e["reason"] for e in history["items"]][0] in ("rotation", "sticky", "fallback")


async def test_a_call_with_an_unknown_outcome_is_refused(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/calls", {"outcome": "maybe"})
    assert status == 422 and body["error"]["field"] == "outcome"
    assert await CallLog.all().count() == 0


async def test_a_comment_by_the_order_manager_is_listed_and_counts_as_his_action(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await Order.filter(id=order.id).update(last_action_at=at(0))
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/comments", {"text": "  asked for an invoice  "})
    assert status == 201 and body["text"] == "asked for an invoice"
    assert (await Order.get(id=order.id)).last_action_at > at(0)  # SPEC §1.3: auto-detach counts from here
    status, listed = await api.get(f"/api/v1/orders/{order.id}/comments")
    assert status == 200 and [c["text"] for c in listed["items"]] == ["asked for an invoice"]


async def test_a_manager_cannot_comment_on_a_colleagues_order(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[1])
    status, _ = await api.post(f"/api/v1/orders/{order.id}/comments", {"text": "mine now"})
    assert status in (403, 404)
    assert await OrderComment.all().count() == 0


async def test_staff_cannot_mark_an_order_paid_by_hand(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/status", {"status": "paid"})
    assert status == 422 and body["error"]["field"] == "status"
    assert (await Order.get(id=order.id)).status == "new"


async def test_the_order_manager_cancels_an_unpaid_order(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/status", {"status": "cancelled"})
    assert status == 200 and body["status"] == "cancelled"


async def test_a_sent_payment_link_makes_a_new_order_await_payment(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await Order.filter(id=order.id).update(last_action_at=at(0))
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/orders/{order.id}/payment-link-sent")
    assert status == 200 and body["status"] == "awaiting_payment"
    assert (await Order.get(id=order.id)).last_action_at > at(0)


async def test_an_orders_history_says_who_cancelled_it_and_when(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    await api.post(f"/api/v1/orders/{order.id}/status", {"status": "cancelled"})
    status, body = await api.get(f"/api/v1/orders/{order.id}/history")
    assert status == 200
    [change] = [e for e in body["items"] if e["kind"] == "status"]
    assert (change["from_status"], change["status"], change["actor_id"]) == ("new", "cancelled", api.shop.managers[0].id)


async def test_a_sent_payment_link_is_in_the_orders_history_once_and_a_second_send_adds_nothing(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await api.as_(api.shop.managers[0])
    await api.post(f"/api/v1/orders/{order.id}/payment-link-sent")
    await api.post(f"/api/v1/orders/{order.id}/payment-link-sent")  # sent again: an action, not a change
    _, body = await api.get(f"/api/v1/orders/{order.id}/history")
    changes = [(e["from_status"], e["status"]) for e in body["items"] if e["kind"] == "status"]
    assert changes == [("new", "awaiting_payment")]


async def test_an_orders_history_holds_its_payment_events_in_the_providers_time_order(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await apply_payment(PaymentNotice("generic", "paid-1", str(order.id), PaymentResult.PAID, occurred_at=at(30),
                                      amount=order.amount, currency=order.currency))
    # Reported after the payment but it happened before it: it goes first, and it changed nothing.
    await apply_payment(PaymentNotice("generic", "failed-1", str(order.id), PaymentResult.FAILED, occurred_at=at(20),
                                      reason="card_declined"))
    await api.as_(api.shop.managers[0])
    _, body = await api.get(f"/api/v1/orders/{order.id}/history")
    payments = [(e["status"], e["failure_reason"], e["effect"]) for e in body["items"] if e["kind"] == "payment"]
    assert payments == [("failed", "card_declined", "ignored"), ("paid", None, "applied")]
    paid = next(e for e in body["items"] if e["kind"] == "payment" and e["status"] == "paid")
    assert (paid["amount"], paid["currency"]) == (f"{order.amount:.2f}", order.currency)
    times = [e["created_at"] for e in body["items"]]
    assert times == sorted(times)


# --- chats

async def test_the_mine_tab_holds_chats_of_my_orders_and_my_personal_clients(api):
    me = api.shop.managers[0]
    by_order = await new_client(api.shop, name="By order")
    await _order(api.shop, by_order, manager=me)
    personal = await new_client(api.shop, name="Personal")
    await Client.filter(id=personal.id).update(personal_manager_id=me.id)
    other = await new_client(api.shop, name="Other")
    await _order(api.shop, other, manager=api.shop.managers[1])
    for client in (by_order, personal, other):
        await dialogs.record_inbound(client, "hi", now=at(1))
    await api.as_(me)
    status, body = await api.get("/api/v1/chats", tab="mine")
    assert status == 200 and {c["client"]["name"] for c in body["items"]} == {"By order", "Personal"}


async def test_each_chat_in_a_tab_shows_its_newest_message(api):
    early, late = await new_client(api.shop, name="Early"), await new_client(api.shop, name="Late")
    await dialogs.record_inbound(early, "first words", now=at(1))
    await dialogs.record_inbound(early, "newest words", now=at(3))
    # Stored later but written earlier (a delayed delivery): not the newest.
    await dialogs.record_inbound(early, "delayed words", now=at(2))
    await dialogs.record_inbound(late, "only words", now=at(4))
    await api.as_(api.shop.owner)
    status, body = await api.get("/api/v1/chats", tab="all")
    assert status == 200
    assert [(c["client"]["name"], c["last_message"]) for c in body["items"]] == [
        ("Late", "only words"), ("Early", "newest words")]


async def test_the_unassigned_tab_holds_chats_nobody_answers_for(api):
    lonely = await new_client(api.shop, name="Lonely")
    managed = await new_client(api.shop, name="Managed")
    await _order(api.shop, managed, manager=api.shop.managers[1])
    for client in (lonely, managed):
        await dialogs.record_inbound(client, "hi", now=at(1))
    # Every lead gets an assignee at once (SPEC §10.2); an admin leaves Lonely's chat to whoever takes it.
    await api.as_(api.shop.admin)
    lonely_chat = (await Message.get(chat__client_id=lonely.id)).chat_id
    assert (await api.post(f"/api/v1/chats/{lonely_chat}/assign", {"employee_id": None}))[0] == 200
    await api.as_(api.shop.managers[0])
    status, body = await api.get("/api/v1/chats", tab="unassigned")
    assert status == 200 and [c["client"]["name"] for c in body["items"]] == ["Lonely"]


async def test_only_owner_and_admin_see_the_all_tab(api):
    await api.as_(api.shop.managers[0])
    assert (await api.get("/api/v1/chats", tab="all"))[0] == 403
    await api.as_(api.shop.admin)
    assert (await api.get("/api/v1/chats", tab="all"))[0] == 200


async def test_writing_in_a_chat_stores_the_message_and_the_dialog_record(api):
    client = await new_client(api.shop)
    await _order(api.shop, client, manager=api.shop.managers[0])
    await dialogs.record_inbound(client, "hello?", now=at(1))
    chat_id = (await Message.get(text="hello?")).chat_id
    await api.as_(api.shop.managers[0])
    status, body = await api.post(f"/api/v1/chats/{chat_id}/messages", {"text": "Hi, <b>Ann</b>"})
    assert status == 201 and body["text"] == "Hi, <b>Ann</b>" and body["direction"] == "out"
    assert await DialogRecord.filter(employee_id=api.shop.managers[0].id, chat_id=chat_id).exists()
    status, history = await api.get(f"/api/v1/chats/{chat_id}/messages")
    assert [m["text"] for m in history["items"]] == ["Hi, <b>Ann</b>", "hello?"]


async def test_an_empty_message_is_refused_and_nothing_is_stored(api):
    client = await new_client(api.shop)
    await dialogs.record_inbound(client, "hello?", now=at(1))
    chat_id = (await Message.get(text="hello?")).chat_id
    await api.as_(api.shop.admin)
    status, body = await api.post(f"/api/v1/chats/{chat_id}/messages", {"text": ""})
    assert status == 422 and body["error"]["field"] == "text"
    assert await Message.all().count() == 1


async def test_another_accounts_chat_is_not_found(api):
    client = await new_client(api.other)
    await dialogs.record_inbound(client, "secret", now=at(1))
    chat_id = (await Message.get(text="secret")).chat_id
    await api.as_(api.shop.owner)
    assert (await api.get(f"/api/v1/chats/{chat_id}/messages"))[0] == 404
    assert (await api.post(f"/api/v1/chats/{chat_id}/messages", {"text": "hi"}))[0] == 404
    assert await Message.all().count() == 1


# --- important history and reports

async def test_a_paid_order_moves_its_important_item_to_history(api):
    client = await new_client(api.shop)
    order = await _order(api.shop, client, offer=api.shop.flagged_offer, manager=api.shop.managers[0])
    await dialogs.record_outbound(api.shop.managers[0], client.id, "hello", now=at(1))
    await apply_payment(PaymentNotice("generic", "f1", str(order.id), PaymentResult.FAILED, occurred_at=at(5)))
    await apply_payment(PaymentNotice("generic", "p1", str(order.id), PaymentResult.PAID, occurred_at=at(9)))
    await api.as_(api.shop.managers[0])
    assert (await api.get("/api/v1/important"))[1]["items"] == []
    status, body = await api.get("/api/v1/important/history")
    assert status == 200 and [i["order_id"] for i in body["items"]] == [order.id]
    assert body["items"][0]["resolved"] is True


async def test_the_commission_report_gives_each_manager_his_total(api):
    order = await _order(api.shop, manager=api.shop.managers[0])
    await apply_payment(PaymentNotice("generic", "p1", str(order.id), PaymentResult.PAID, occurred_at=at(5)))
    await api.as_(api.shop.owner)
    status, body = await api.get("/api/v1/reports/commissions", **{"from": "2000-01-01T00:00:00Z",
                                                                     "to": "2100-01-01T00:00:00Z"})
    assert status == 200
    assert body["lines"] == [{"employee": {"id": api.shop.managers[0].id, "name": "Manager 0"}, "total": "10.0000"}]


async def test_a_report_period_that_ends_before_it_starts_is_refused(api):
    await api.as_(api.shop.owner)
    status, body = await api.get("/api/v1/reports/commissions", **{"from": "2026-02-01T00:00:00Z",
                                                                     "to": "2026-01-01T00:00:00Z"})
    assert status == 422 and body["error"]["field"] == "to"


# --- the document

async def test_the_openapi_document_lists_every_route_and_needs_no_login(api):
    from inbox.routes import ENDPOINTS

    status, document = await api.get("/api/v1/openapi.json")
    assert status == 200 and document["openapi"].startswith("3.")
    for endpoint in ENDPOINTS:
        assert endpoint.method.lower() in document["paths"][endpoint.path]


@pytest.mark.parametrize("text", ["nul\u0000inside", "lone \ud800 surrogate"])
async def test_text_the_database_cannot_keep_is_refused_naming_the_field(api, text):
    await api.as_(api.shop.admin)
    status, body = await api.post("/api/v1/clients", {"email": "x@example.com", "name": text})
    assert status == 422 and body["error"]["field"] == "name"
    assert not await Client.filter(email="x@example.com").exists()


async def test_a_manager_lists_only_the_clients_he_answers_for(api):
    me = api.shop.managers[0]
    mine = await new_client(api.shop, name="Mine")
    await _order(api.shop, mine, manager=me)
    personal = await new_client(api.shop, name="Personal")
    await Client.filter(id=personal.id).update(personal_manager_id=me.id)
    await _order(api.shop, await new_client(api.shop, name="Theirs"), manager=api.shop.managers[1])
    await api.as_(me)
    status, body = await api.get("/api/v1/clients")
    assert status == 200 and sorted(c["name"] for c in body["items"]) == ["Mine", "Personal"]
    await api.as_(api.shop.admin)
    assert len((await api.get("/api/v1/clients"))[1]["items"]) == 3


async def test_staff_and_widget_lists_hold_only_this_accounts_rows(api):
    await api.as_(api.shop.managers[0])
    status, staff = await api.get("/api/v1/employees")
    assert status == 200
    assert {e["id"] for e in staff["items"]} == {api.shop.owner.id, api.shop.admin.id, *(m.id for m in api.shop.managers)}
    status, widgets = await api.get("/api/v1/widgets")
    assert status == 200 and api.other.widget.id not in {w["id"] for w in widgets["items"]}


async def test_my_call_list_puts_overdue_call_backs_first(api):
    me = api.shop.managers[0]
    fresh = await _order(api.shop, manager=me)
    overdue = await _order(api.shop, manager=me)
    await Order.filter(id=overdue.id).update(call_back_at=at(-60), last_call_at=at(-120))
    await api.as_(me)
    status, body = await api.get("/api/v1/call-list")
    assert status == 200 and [e["order"]["id"] for e in body["items"]] == [overdue.id, fresh.id]
    assert [e["overdue"] for e in body["items"]] == [True, False]


async def test_an_oversized_body_is_refused_with_413_and_nothing_changes(api):
    client = await new_client(api.shop)
    await api.as_(api.shop.admin)
    response = await api.client.patch(f"/api/v1/clients/{client.id}", data="{" + " " * (2 * 1024 * 1024) + "}",
                                      headers={"X-CSRF-Token": api.csrf, "Content-Type": "application/json"})
    assert response.status == 413
    assert (await Client.get(id=client.id)).notes == ""


async def test_a_body_that_is_not_json_is_refused_naming_the_body(api):
    await api.as_(api.shop.admin)
    response = await api.client.post("/api/v1/offers", data="title=x", headers={
        "X-CSRF-Token": api.csrf, "Content-Type": "application/x-www-form-urlencoded"})
    assert response.status == 422 and (await response.json())["error"]["field"] == "body"
