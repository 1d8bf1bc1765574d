"""Times the API reads are ISO 8601 with a time zone only (SPEC §7, issue 11 item 9).

pydantic's AwareDatetime takes numbers, and digits in a string, as Unix times: `created_to=0.5` was 1970 and
`call_back_at: 0` a call-back due since 1970. Every time input, in a body or a query string, now refuses them with
422 naming the field, as it refuses a time without its zone.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from inbox.routes import DEMO_ENDPOINTS, ENDPOINTS
from inbox.schemas import CallIn, ChatStatusIn
from providers.generic import GenericEvent
from providers.signatures import sign_timestamped
from sales import dialogs
from sales.orders import create_order
from storage.models import CallLog, Chat, Order, PaymentEvent
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, new_client

GENERIC_SECRET = "closer-generic-times"
ISO_TIMES = ["2026-03-02T09:00:00+00:00", "2026-03-02T09:00:00Z"]
NUMBERS = [0.5, 0, 1_700_000_000]
# A query string carries text: the same numbers as digits, which pydantic would read as Unix times too.
NUMBERS_AS_TEXT = ["0.5", "0", "1700000000"]
ZONELESS = ["2026-03-02T09:00:00", "2026-03-02"]


@pytest.fixture
async def api(database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, "sqlite"), aiohttp_client,
                          settings={"payments_webhook_secret": GENERIC_SECRET})


async def _my_order(api) -> Order:
    client = await new_client(api.shop)
    order = await create_order(api.shop.account.id, client_id=client.id, offer_id=api.shop.offer.id, now=at(0))
    await Order.filter(id=order.id).update(order_manager_id=api.shop.managers[0].id)
    await api.as_(api.shop.managers[0])
    return order


async def _chat(api) -> Chat:
    client = await new_client(api.shop)
    await dialogs.record_inbound(client, "hello?")
    await api.as_(api.shop.admin)
    return await Chat.get(client_id=client.id)


# --- query strings: GET /api/v1/orders and the commission report

@pytest.mark.parametrize("field", ["created_from", "created_to"])
@pytest.mark.parametrize("value", NUMBERS_AS_TEXT + ZONELESS)
async def test_an_orders_filter_time_that_is_a_number_or_has_no_zone_is_422_naming_it(api, field, value):
    await api.as_(api.shop.admin)
    status, body = await api.get("/api/v1/orders", **{field: value})
    assert (status, body["error"]["field"]) == (422, field)


@pytest.mark.parametrize("field", ["created_from", "created_to"])
@pytest.mark.parametrize("value", ISO_TIMES)
async def test_an_orders_filter_time_in_iso_8601_with_a_zone_is_accepted(api, field, value):
    order = await create_order(api.shop.account.id, client_id=(await new_client(api.shop)).id,
                               offer_id=api.shop.offer.id, now=at(0))
    await Order.filter(id=order.id).update(created_at=datetime(2026, 1, 5, tzinfo=UTC))
    await api.as_(api.shop.admin)
    status, body = await api.get("/api/v1/orders", **{field: value})
    assert status == 200
    # Made before 2026-03-02T09:00Z: kept by created_to (up to that time), not by created_from.
    assert [o["id"] for o in body["items"]] == ([order.id] if field == "created_to" else [])


@pytest.mark.parametrize("value", NUMBERS_AS_TEXT + ZONELESS)
async def test_a_report_period_bound_that_is_a_number_or_has_no_zone_is_422_naming_it(api, value):
    await api.as_(api.shop.owner)
    status, body = await api.get("/api/v1/reports/commissions", **{"from": value, "to": "2100-01-01T00:00:00Z"})
    assert (status, body["error"]["field"]) == (422, "from")


# --- bodies: a call's call_back_at, a chat's snoozed_until

@pytest.mark.parametrize("value", NUMBERS + NUMBERS_AS_TEXT + ZONELESS)
async def test_a_call_back_time_that_is_a_number_or_has_no_zone_is_422_and_records_no_call(api, value):
    order = await _my_order(api)
    status, body = await api.post(f"/api/v1/orders/{order.id}/calls", {"outcome": "call_back", "call_back_at": value})
    assert (status, body["error"]["field"]) == (422, "call_back_at")
    assert await CallLog.all().count() == 0


@pytest.mark.parametrize("value", ISO_TIMES)
async def test_a_call_back_time_in_iso_8601_with_a_zone_is_recorded(api, value):
    order = await _my_order(api)
    status, body = await api.post(f"/api/v1/orders/{order.id}/calls", {"outcome": "call_back", "call_back_at": value})
    assert status == 201
    assert datetime.fromisoformat(body["call_back_at"]) == datetime(2026, 3, 2, 9, tzinfo=UTC)


@pytest.mark.parametrize("value", NUMBERS + NUMBERS_AS_TEXT + ZONELESS)
async def test_a_snooze_time_that_is_a_number_or_has_no_zone_is_422_and_leaves_the_chat_open(api, value):
    chat = await _chat(api)
    status, body = await api.post(f"/api/v1/chats/{chat.id}/status", {"status": "snoozed", "snoozed_until": value})
    assert (status, body["error"]["field"]) == (422, "snoozed_until")
    assert (await Chat.get(id=chat.id)).status == "open"


@pytest.mark.parametrize("zone", ["+00:00", "Z"])
async def test_a_snooze_time_in_iso_8601_with_a_zone_snoozes_the_chat(api, zone):
    chat = await _chat(api)
    until = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    value = until.strftime("%Y-%m-%dT%H:%M:%S") + zone
    status, body = await api.post(f"/api/v1/chats/{chat.id}/status", {"status": "snoozed", "snoozed_until": value})
    assert status == 200 and body["status"] == "snoozed"
    assert datetime.fromisoformat(body["snoozed_until"]) == until


async def test_the_refusal_says_what_a_time_looks_like(api):
    order = await _my_order(api)
    _, body = await api.post(f"/api/v1/orders/{order.id}/calls", {"outcome": "call_back", "call_back_at": 0})
    assert "ISO 8601 with a time zone" in body["error"]["message"]


# --- the generic payment webhook's occurred_at (the one time a provider sends in closer's own format)

@pytest.mark.parametrize("value", NUMBERS + NUMBERS_AS_TEXT + ZONELESS)
async def test_a_payment_event_time_that_is_a_number_or_has_no_zone_is_400_naming_it_and_stores_nothing(api, value):
    body = json.dumps({"event_id": "t-1", "order_id": "1", "status": "paid", "occurred_at": value}).encode()
    response = await api.client.post("/webhooks/payments", data=body, headers={
        "Content-Type": "application/json",
        "X-Closer-Signature": sign_timestamped(GENERIC_SECRET, body, int(time.time()))})
    assert response.status == 400
    assert (await response.json())["error"]["field"] == "occurred_at"
    assert await PaymentEvent.all().count() == 0


# --- the type itself: made once in inbox/schemas.py, used by every model

def test_a_time_made_in_code_still_passes_when_it_has_a_zone():
    when = datetime(2026, 3, 2, 9, tzinfo=UTC)
    assert CallIn(outcome="call_back", call_back_at=when).call_back_at == when


def test_a_time_made_in_code_without_a_zone_is_refused():
    with pytest.raises(ValueError, match="timezone"):
        ChatStatusIn(status="snoozed", snoozed_until=datetime(2026, 3, 2, 9))


def _time_fields(model) -> list[str]:
    properties = model.model_json_schema()["properties"]
    return [name for name, prop in properties.items()
            if "date-time" in {prop.get("format")} | {p.get("format") for p in prop.get("anyOf", [])}]


def test_every_time_the_api_reads_refuses_a_unix_number():
    inputs = {m for e in ENDPOINTS + DEMO_ENDPOINTS for m in (e.body, e.query) if m is not None} | {GenericEvent}
    found = {(model.__name__, name) for model in inputs for name in _time_fields(model)}
    assert found >= {("CallIn", "call_back_at"), ("ChatStatusIn", "snoozed_until"), ("OrderQuery", "created_from"),
                     ("OrderQuery", "created_to"), ("Period", "from"), ("Period", "to"),
                     ("GenericEvent", "occurred_at")}
    lax = set()
    for model in inputs:
        for name in _time_fields(model):
            with pytest.raises(ValidationError) as error:
                model.model_validate({name: 1_700_000_000})
            if not any(e["loc"] == (name,) and e["type"] == "iso_datetime" for e in error.value.errors()):
                lax.add((model.__name__, name))
    assert lax == set()
