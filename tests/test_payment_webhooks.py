"""Payment webhooks (SPEC §5, §7, §8): verified first, stored once, applied once; bad input changes nothing."""

from __future__ import annotations

import base64
import json
import time

import pytest

from providers.signatures import liqpay_signature, sign_timestamped
from sales import dialogs
from sales.orders import create_order
from storage.models import CommissionEntry, ImportantItem, Order, OrderStatus, PaymentEffect, PaymentEvent
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, new_client

STRIPE_SECRET = "whsec_test_0123456789abcdef"
GENERIC_SECRET = "closer-generic-secret"
LIQPAY_KEY = "sandbox_private_key_123"


@pytest.fixture(params=["sqlite", "postgres"])
async def hooks(request, database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, request.param), aiohttp_client, settings={
        "stripe_webhook_secret": STRIPE_SECRET, "payments_webhook_secret": GENERIC_SECRET,
        "liqpay_private_key": LIQPAY_KEY,
    })
    return api


async def _flagged_order(hooks, manager_index: int = 0) -> Order:
    """An order of the flagged offer whose manager wrote to the client before any failure."""
    client = await new_client(hooks.shop, name="Ann")
    order = await create_order(hooks.shop.account.id, client_id=client.id, offer_id=hooks.shop.flagged_offer.id,
                               now=at(0))
    manager = hooks.shop.managers[manager_index]
    await Order.filter(id=order.id).update(order_manager_id=manager.id)
    await dialogs.record_outbound(manager, client.id, "here is the link", now=at(1))
    return await Order.get(id=order.id)


def stripe_event(event_id: str, kind: str, order_id: int | str, *, created: int | None = None, **obj) -> bytes:
    body = {
        "id": event_id, "object": "event", "type": kind, "created": created or int(time.time()),
        "data": {"object": {"id": "pi_123", "object": "payment_intent", "amount": 20000, "currency": "eur",
                            "metadata": {"order_id": str(order_id)}, **obj}},
    }
    return json.dumps(body).encode()


async def post_stripe(hooks, body: bytes, *, secret: str = STRIPE_SECRET, timestamp: int | None = None,
                      header: str | None = ...):
    signature = sign_timestamped(secret, body, timestamp or int(time.time())) if header is ... else header
    headers = {"Content-Type": "application/json"} | ({"Stripe-Signature": signature} if signature else {})
    response = await hooks.client.post("/webhooks/stripe", data=body, headers=headers)
    return response.status, await response.json()


def generic_event(order_id, status="failed", **fields) -> bytes:
    body = {"event_id": fields.pop("event_id", f"gen-{order_id}-{status}"), "order_id": order_id, "status": status,
            "amount": 200.0, "currency": "EUR", "occurred_at": "2026-03-02T09:10:00+00:00",
            "reason": "card_declined"} | fields
    return json.dumps(body).encode()


async def post_generic(hooks, body: bytes, **kw):
    headers = {"Content-Type": kw.pop("content_type", "application/json"),
               "X-Closer-Signature": sign_timestamped(GENERIC_SECRET, body, int(time.time()))}
    response = await hooks.client.post("/webhooks/payments", data=body, headers=headers)
    return response.status, await response.json()


# --- Stripe

async def test_a_signed_stripe_failure_marks_the_order_failed_and_alerts_who_wrote(hooks):
    order = await _flagged_order(hooks)
    status, body = await post_stripe(hooks, stripe_event(
        "evt_1", "payment_intent.payment_failed", order.id,
        last_payment_error={"code": "card_declined", "decline_code": "insufficient_funds"}))
    assert (status, body["duplicate"], body["matched"]) == (200, False, True)
    stored = await Order.get(id=order.id)
    assert stored.status == OrderStatus.FAILED and stored.failure_reason == "insufficient_funds"
    assert await ImportantItem.filter(order_id=order.id).values_list("employee_id", flat=True) == [
        hooks.shop.managers[0].id]


async def test_a_completed_checkout_session_pays_the_order_named_by_client_reference_id(hooks):
    order = await _flagged_order(hooks)
    body = json.dumps({"id": "evt_cs", "type": "checkout.session.completed", "created": int(time.time()),
                       "data": {"object": {"id": "cs_1", "object": "checkout.session", "payment_status": "paid",
                                           "client_reference_id": str(order.id), "amount_total": 20000,
                                           "currency": "eur", "metadata": {}}}}).encode()
    status, _ = await post_stripe(hooks, body)
    assert status == 200 and (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_a_completed_checkout_still_unpaid_changes_nothing(hooks):
    order = await _flagged_order(hooks)
    body = json.dumps({"id": "evt_cs2", "type": "checkout.session.completed", "created": int(time.time()),
                       "data": {"object": {"payment_status": "unpaid", "client_reference_id": str(order.id)}}}).encode()
    status, answer = await post_stripe(hooks, body)
    assert status == 200 and answer.get("ignored") is True
    assert await PaymentEvent.all().count() == 0 and (await Order.get(id=order.id)).status == order.status


@pytest.mark.parametrize("case", ["tampered body", "wrong secret", "old timestamp", "future timestamp",
                                  "missing header", "garbage header"])
async def test_a_stripe_event_that_is_not_provably_from_stripe_is_401_and_stores_nothing(hooks, case):
    order = await _flagged_order(hooks)
    body = stripe_event("evt_bad", "payment_intent.payment_failed", order.id)
    now = int(time.time())
    kwargs = {
        "tampered body": {"header": sign_timestamped(STRIPE_SECRET, body.replace(b"evt_bad", b"evt_bax"), now)},
        "wrong secret": {"secret": "whsec_someone_else"},
        # Well outside the tolerance: the server reads its clock a moment after this test did, which
        # moves a one-second margin back inside it (the boundary itself is test_signatures' job).
        "old timestamp": {"timestamp": now - 400},
        "future timestamp": {"timestamp": now + 400},
        "missing header": {"header": None},
        "garbage header": {"header": "v1=abc,t=yesterday"},
    }[case]
    status, answer = await post_stripe(hooks, body, **kwargs)
    assert status == 401 and answer["error"]["code"] == "bad_signature"
    assert await PaymentEvent.all().count() == 0
    assert (await Order.get(id=order.id)).status == order.status


async def test_an_unknown_stripe_event_type_is_acknowledged_and_ignored(hooks):
    status, answer = await post_stripe(hooks, stripe_event("evt_x", "customer.created", 1))
    assert status == 200 and answer["ignored"] is True and await PaymentEvent.all().count() == 0


async def test_an_unconfigured_webhook_answers_503(database_urls, aiohttp_client):
    api = await make_api(require_backend(database_urls, "sqlite"), aiohttp_client)
    response = await api.client.post("/webhooks/stripe", data=b"{}", headers={"Content-Type": "application/json"})
    assert response.status == 503 and (await response.json())["error"]["code"] == "not_configured"


# --- the same event again, and out of order

async def test_the_same_event_delivered_five_times_changes_the_order_once(hooks):
    order = await _flagged_order(hooks)
    body = stripe_event("evt_5x", "payment_intent.payment_failed", order.id,
                        last_payment_error={"code": "card_declined"})
    answers = [await post_stripe(hooks, body) for _ in range(5)]
    assert [a[0] for a in answers] == [200] * 5
    assert [a[1]["duplicate"] for a in answers] == [False, True, True, True, True]
    assert await PaymentEvent.all().count() == 1
    assert await ImportantItem.filter(order_id=order.id).count() == 1


async def test_a_failure_arriving_after_the_success_leaves_the_order_paid_with_one_commission(hooks):
    order = await _flagged_order(hooks)
    paid_at, failed_at = int(time.time()), int(time.time()) - 60
    await post_stripe(hooks, stripe_event("evt_ok", "payment_intent.succeeded", order.id, created=paid_at,
                                          amount_received=20000))
    for _ in range(3):
        await post_stripe(hooks, stripe_event("evt_fail", "payment_intent.payment_failed", order.id,
                                              created=failed_at))
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID
    assert await ImportantItem.filter(order_id=order.id).count() == 0
    assert await CommissionEntry.filter(order_id=order.id).count() == 1


async def test_an_event_for_an_unknown_order_is_acknowledged_and_kept_unmatched(hooks):
    status, answer = await post_stripe(hooks, stripe_event("evt_lost", "payment_intent.succeeded", "99999"))
    assert status == 200 and answer["matched"] is False
    assert (await PaymentEvent.get(event_id="evt_lost")).effect == PaymentEffect.UNMATCHED


# --- the generic webhook

async def test_a_signed_generic_failure_is_applied(hooks):
    order = await _flagged_order(hooks)
    status, answer = await post_generic(hooks, generic_event(order.id, reason="3-D Secure failed ✗ — ошибка"))
    assert status == 200 and answer["matched"]
    stored = await Order.get(id=order.id)
    assert stored.status == OrderStatus.FAILED and stored.failure_reason == "3-D Secure failed ✗ — ошибка"


@pytest.mark.parametrize(("fields", "field"), [
    ({"amount": "200.00"}, "amount"),
    ({"status": "maybe"}, "status"),
    ({"occurred_at": "2026-03-02T09:10:00"}, "occurred_at"),
    ({"currency": "EURO"}, "currency"),
    ({"colour": "red"}, "colour"),
    ({"reason": "nul\u0000byte"}, "reason"),
])
async def test_a_malformed_generic_event_is_400_naming_the_field_and_stores_nothing(hooks, fields, field):
    order = await _flagged_order(hooks)
    status, answer = await post_generic(hooks, generic_event(order.id, **fields))
    assert status == 400 and answer["error"]["field"] == field
    assert await PaymentEvent.all().count() == 0


async def test_invalid_json_is_400(hooks):
    status, answer = await post_generic(hooks, b"{not json")
    assert status == 400 and answer["error"]["field"] == "body"


async def test_a_wrong_content_type_is_415(hooks):
    status, _ = await post_generic(hooks, generic_event(1), content_type="text/plain")
    assert status == 415 and await PaymentEvent.all().count() == 0


async def test_an_oversized_body_is_413(hooks):
    status, _ = await post_generic(hooks, generic_event(1, reason="x" * 300_000))
    assert status == 413 and await PaymentEvent.all().count() == 0


# --- LiqPay

def liqpay_form(callback: dict, key: str = LIQPAY_KEY) -> dict:
    data = base64.b64encode(json.dumps(callback).encode()).decode()
    return {"data": data, "signature": liqpay_signature(key, data)}


async def test_a_liqpay_success_built_by_liqpays_formula_pays_the_order(hooks):
    order = await _flagged_order(hooks)
    form = liqpay_form({"version": 3, "action": "pay", "status": "success", "payment_id": 1234567,
                        "order_id": str(order.id), "amount": 200, "currency": "UAH", "end_date": 1772442600000})
    response = await hooks.client.post("/webhooks/liqpay", data=form)
    assert response.status == 200
    assert (await Order.get(id=order.id)).status == OrderStatus.PAID


async def test_a_liqpay_callback_with_a_wrong_signature_is_401_and_stores_nothing(hooks):
    order = await _flagged_order(hooks)
    form = liqpay_form({"status": "failure", "payment_id": 1, "order_id": str(order.id)}, key="not-the-key")
    response = await hooks.client.post("/webhooks/liqpay", data=form)
    assert response.status == 401 and await PaymentEvent.all().count() == 0


async def test_a_liqpay_failure_creates_the_important_items(hooks):
    order = await _flagged_order(hooks)
    form = liqpay_form({"status": "failure", "payment_id": 77, "order_id": str(order.id), "err_code": "limit",
                        "end_date": 1772442600000})
    response = await hooks.client.post("/webhooks/liqpay", data=form)
    assert response.status == 200
    assert await ImportantItem.filter(order_id=order.id).count() == 1
