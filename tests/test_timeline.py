"""A chat's timeline (SPEC §11.4): messages both ways, notes, orders, payments, assignments and calls in time order,
paged backwards without gaps or repeats."""

from __future__ import annotations

import base64
import logging
import re
from decimal import Decimal

import pytest

from sales import conversations, dialogs
from sales.clients import set_personal_manager
from sales.errors import Invalid, NotFound
from sales.notes import add_note
from sales.orders import create_order, record_call
from sales.payments import PaymentNotice, apply_payment
from sales.timeline import encode_cursor, timeline
from storage.models import Chat, Client, PaymentResult
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, make_shop, new_client


def _pay(order_id: int, event_id: str, result: PaymentResult, minute: float, reason: str | None = None):
    return apply_payment(PaymentNotice("generic", event_id, str(order_id), result, occurred_at=at(minute),
                                       amount=Decimal("200.00"), currency="EUR", reason=reason), now=at(minute))


async def _story(shop) -> tuple[Client, Chat]:
    """One client's conversation with one of everything, a minute apart; another client's order beside it."""
    client = await new_client(shop, name="Petro")
    await dialogs.record_inbound(client, "Hi, how much?", now=at(1))  # the chat is made and routed
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.flagged_offer.id, now=at(2))
    await record_call(shop.admin, order.id, "call_back", call_back_at=at(100), comment="busy", now=at(3))
    await add_note(shop.admin, (await Chat.get(client_id=client.id)).id, "Wants a discount", now=at(4))
    await dialogs.record_bot_message(client, "Your invoice is ready", now=at(5))
    await dialogs.record_outbound(shop.managers[0], client.id, "Here is the link", now=at(6))
    await _pay(order.id, "e-fail", PaymentResult.FAILED, 7, reason="insufficient_funds")
    await _pay(order.id, "e-paid", PaymentResult.PAID, 8)
    await _pay(order.id, "e-paid-again", PaymentResult.PAID, 8.5)  # the same payment reported twice: ignored
    await _pay(order.id, "e-refund", PaymentResult.REFUNDED, 9)
    await set_personal_manager(shop.admin, client.id, shop.managers[1].id, now=at(10))
    chat = await Chat.get(client_id=client.id)
    await conversations.assign_chat(shop.admin, chat.id, shop.managers[1].id, now=at(11))
    # Someone else's business, in the same account and minutes.
    other = await new_client(shop, name="Olena")
    theirs = await create_order(shop.account.id, client_id=other.id, offer_id=shop.offer.id, now=at(3))
    await record_call(shop.admin, theirs.id, "talked", now=at(4))
    await _pay(theirs.id, "e-theirs", PaymentResult.FAILED, 7, reason="declined")
    await set_personal_manager(shop.admin, other.id, shop.managers[0].id, now=at(10))
    return client, chat


async def test_every_kind_appears_once_in_time_order(db):
    shop = await make_shop(managers=2)
    client, chat = await _story(shop)
    page = await timeline(shop.admin, chat.id)
    assert page.next_cursor is None
    seen = [(e.kind, e.at) for e in page.entries]
    assert seen == [
        ("message", at(1)), ("assignment", at(1)),  # his first message, and the chat's first assignee
        ("order_created", at(2)), ("assignment", at(2)),  # the order, and its manager
        ("call", at(3)), ("note", at(4)), ("message", at(5)), ("message", at(6)),
        ("payment", at(7)), ("payment", at(8)), ("payment", at(9)),
        ("assignment", at(10)), ("assignment", at(11)),  # personal manager, then the chat handed on
    ]
    targets = [e.row.target for e in page.entries if e.kind == "assignment"]
    assert targets == ["chat", "order", "client", "chat"]
    assert [e.row.result for e in page.entries if e.kind == "payment"] == ["failed", "paid", "refunded"]


async def test_pages_go_back_in_time_without_gaps_or_repeats(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop, name="Dana")
    order = await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id, now=at(0))
    for minute in range(1, 9):
        # Three kinds at the very same moment: the cursor must tell them apart.
        await dialogs.record_inbound(client, f"message {minute}", now=at(minute))
        chat = await Chat.get(client_id=client.id)
        await add_note(shop.admin, chat.id, f"note {minute}", now=at(minute))
        await record_call(shop.admin, order.id, "no_answer", now=at(minute))
    whole = [(e.kind, e.id) for e in (await timeline(shop.admin, chat.id, limit=200)).entries]
    assert len(whole) == 2 + 8 * 3 + 1  # the order and its manager, 24 entries, the chat's first assignee
    for limit in (1, 4, 7):
        pages, cursor = [], None
        while True:
            page = await timeline(shop.admin, chat.id, before=cursor, limit=limit)
            assert len(page.entries) <= limit
            pages.append([(e.kind, e.id) for e in page.entries])
            cursor = page.next_cursor
            if cursor is None:
                break
        walked = [entry for page in reversed(pages) for entry in page]
        assert walked == whole, limit


async def test_another_clients_orders_payments_calls_and_managers_are_not_in_it(db):
    shop = await make_shop(managers=2)
    client, chat = await _story(shop)
    page = await timeline(shop.admin, chat.id)
    order_ids = {e.row.id for e in page.entries if e.kind == "order_created"}
    assert {e.row.order_id for e in page.entries if e.kind in ("payment", "call")} == order_ids
    assert {e.row.client_id for e in page.entries if e.kind == "assignment"} - {None} == {client.id}
    assert [e.row.reason for e in page.entries if e.kind == "payment"] == ["insufficient_funds", None, None]


async def test_a_cursor_of_another_shape_is_invalid(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    await dialogs.record_inbound(client, "hello", now=at(1))
    chat = await Chat.get(client_id=client.id)
    forged = [
        "not a cursor", "", "%%%",
        base64.urlsafe_b64encode(b"2026-03-02T09:00:00+00:00|order|1").decode(),  # no such kind
        base64.urlsafe_b64encode(b"2026-03-02T09:00:00|message|1").decode(),  # no time zone
        base64.urlsafe_b64encode(f"2026-03-02T09:00:00+00:00|message|{2**63}".encode()).decode(),  # no such id
        base64.urlsafe_b64encode(b"2026-03-02T09:00:00+00:00|message|-1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe|message|1").decode(),
        base64.urlsafe_b64encode(b"0001-01-01T00:00:00+05:00|note|1").decode(),  # before year 1 in UTC
    ]
    for cursor in forged[1:2]:
        assert (await timeline(shop.admin, chat.id, before=cursor or None)).entries  # no cursor: the newest page
    for cursor in forged[:1] + forged[2:]:
        with pytest.raises(Invalid) as refused:
            await timeline(shop.admin, chat.id, before=cursor)
        assert refused.value.field == "before", cursor


async def test_another_account_and_a_manager_who_may_not_see_the_chat_find_nothing(db):
    shop, other = await make_shop(managers=3), await make_shop(managers=1)
    _, chat = await _story(shop)
    for outsider in (other.owner, shop.managers[2]):  # neither his chat, nor his client, nor his order
        with pytest.raises(NotFound):
            await timeline(outsider, chat.id)


# --- the HTTP route

@pytest.fixture
async def api(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client, managers=3)


async def test_the_route_shows_each_kind_in_its_shape(api):
    shop = api.shop
    client, chat = await _story(shop)
    await api.as_(shop.managers[1])
    status, body = await api.get(f"/api/v1/chats/{chat.id}/timeline")
    assert status == 200, body
    kinds = [item["kind"] for item in body["items"]]
    assert kinds == ["message", "assignment", "order_created", "assignment", "call", "note", "message", "message",
                     "payment", "payment", "payment", "assignment", "assignment"]
    first, _, order, _, call, note, bot, staff, failed, paid, refunded, personal, handed = body["items"]
    _, messages = await api.get(f"/api/v1/chats/{chat.id}/messages")
    assert [first["message"], bot["message"], staff["message"]] == messages["items"][::-1]
    assert (bot["message"]["sender_kind"], bot["message"]["employee"]) == ("bot", None)
    assert {k: order[k] for k in ("offer", "amount", "currency", "status")} == {
        "offer": {"id": shop.flagged_offer.id, "title": "Flagged course"}, "amount": "200.00", "currency": "EUR",
        "status": "refunded"}
    assert {k: call[k] for k in ("outcome", "comment", "employee")} == {
        "outcome": "call_back", "comment": "busy", "employee": {"id": shop.admin.id, "name": "Admin"}}
    assert call["call_back_at"] is not None
    assert (note["note"]["text"], note["note"]["author"]["name"]) == ("Wants a discount", "Admin")
    assert [(p["result"], p["amount"], p["reason"]) for p in (failed, paid, refunded)] == [
        ("failed", "200.00", "insufficient_funds"), ("paid", "200.00", None), ("refunded", "200.00", None)]
    assert (personal["target"], personal["to_employee"]["name"], personal["actor"]["name"]) == (
        "client", "Manager 1", "Admin")
    assert (handed["target"], handed["from_employee"]["name"], handed["to_employee"]["name"], handed["reason"]) == (
        "chat", "Manager 0", "Manager 1", "manual")
    assert body["next_cursor"] is None


async def test_the_route_pages_backwards_with_before(api):
    client, chat = await _story(api.shop)
    await api.as_(api.shop.admin)
    _, newest = await api.get(f"/api/v1/chats/{chat.id}/timeline", limit="5")
    _, older = await api.get(f"/api/v1/chats/{chat.id}/timeline", limit="5", before=newest["next_cursor"])
    _, oldest = await api.get(f"/api/v1/chats/{chat.id}/timeline", limit="5", before=older["next_cursor"])
    _, whole = await api.get(f"/api/v1/chats/{chat.id}/timeline")
    assert oldest["next_cursor"] is None
    assert oldest["items"] + older["items"] + newest["items"] == whole["items"]


async def test_a_bad_cursor_or_limit_is_422(api):
    _, chat = await _story(api.shop)
    await api.as_(api.shop.admin)
    for params in ({"before": "garbage"}, {"before": "x" * 201}, {"limit": "0"}, {"limit": "201"},
                   {"cursor": "abc"}):
        status, body = await api.get(f"/api/v1/chats/{chat.id}/timeline", **params)
        assert status == 422, (params, body)
    status, body = await api.get(f"/api/v1/chats/{chat.id}/timeline", before="garbage")
    assert body["error"]["field"] == "before"


async def test_another_accounts_chat_is_404_for_the_timeline(api):
    _, chat = await _story(api.shop)
    await api.as_(api.other.owner)
    assert (await api.get(f"/api/v1/chats/{chat.id}/timeline"))[0] == 404
    await api.as_(api.shop.managers[2])  # neither his chat, nor his client, nor his order
    assert (await api.get(f"/api/v1/chats/{chat.id}/timeline"))[0] == 404


def test_a_cursor_names_a_moment_a_kind_and_an_id():
    from sales.timeline import Entry, decode_cursor

    entry = Entry("note", at(4), 12, None)
    decoded = decode_cursor(encode_cursor(entry))
    assert (decoded.at, decoded.kind, decoded.id) == (at(4), "note", 12)


async def test_entries_of_one_kind_at_one_moment_are_paged_one_by_one_without_gaps(db):
    shop = await make_shop(managers=1)
    client = await new_client(shop)
    for text in ("one", "two", "three"):
        await dialogs.record_inbound(client, text, now=at(1))  # three messages of the very same moment
    chat = await Chat.get(client_id=client.id)
    whole = [(e.kind, e.id) for e in (await timeline(shop.admin, chat.id)).entries]
    pages, cursor = [], None
    while True:
        page = await timeline(shop.admin, chat.id, before=cursor, limit=1)
        pages.append([(e.kind, e.id) for e in page.entries])
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [entry for page in reversed(pages) for entry in page] == whole


async def test_each_kind_is_read_by_a_query_of_at_most_one_row_more_than_the_page(db, caplog):
    shop = await make_shop(managers=2)
    _, chat = await _story(shop)
    caplog.set_level(logging.DEBUG, logger="tortoise.db_client")
    await timeline(shop.admin, chat.id, limit=3)
    bounds = [re.search(r" LIMIT \S+: \[.*\b(\d+)\]$", r.getMessage()) for r in caplog.records
              if r.name == "tortoise.db_client" and "ORDER BY" in r.getMessage()]
    assert len(bounds) == 8  # messages, notes, three of assignments, orders, payments, calls
    assert {int(bound.group(1)) for bound in bounds} == {3 + 1}


def test_a_cursor_has_no_base64_padding_and_still_decodes():
    from sales.timeline import Entry, decode_cursor

    # 32, 33 and 34 characters: base64 would pad the first and the last with "=", which a URL query would mangle.
    for row_id in (1, 12, 123):
        cursor = encode_cursor(Entry("note", at(4), row_id, None))
        assert "=" not in cursor, cursor
        decoded = decode_cursor(cursor)
        assert (decoded.at, decoded.kind, decoded.id) == (at(4), "note", row_id)
