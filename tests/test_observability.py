"""Observability (issue: reliability): request ids on answers and log lines, Prometheus metrics at /metrics."""

from __future__ import annotations

import asyncio
import json
import logging
import time

import pytest

from closer.logs import JsonFormatter
from closer.observe import LAG_INTERVAL, REQUEST_ID, RequestIdFilter
from providers.signatures import sign_timestamped
from sales import dialogs
from sales.orders import create_order
from sales.payments import PaymentNotice, apply_payment
from storage.models import PaymentResult
from tests.apitools import make_api
from tests.conftest import require_backend
from tests.factories import at, new_client

SECRET = "metrics-secret"


@pytest.fixture(params=["sqlite", "postgres"])
async def app(request, database_urls, aiohttp_client):
    return await make_api(require_backend(database_urls, request.param), aiohttp_client,
                          settings={"payments_webhook_secret": SECRET})


def _value(text: str, name: str, **labels) -> float:
    wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(f"{name}{{{wanted}}} ") or (not labels and line.startswith(f"{name} ")):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} {labels} not in metrics")


async def test_an_answer_carries_the_callers_request_id_or_a_new_one(app):
    given = await app.client.get("/healthz", headers={"X-Request-Id": "abc-123"})
    assert given.headers["X-Request-Id"] == "abc-123"
    made = await app.client.get("/healthz", headers={"X-Request-Id": "<script>"})
    assert made.headers["X-Request-Id"] != "<script>" and len(made.headers["X-Request-Id"]) == 32


async def test_requests_without_an_id_each_get_a_different_one(app):
    made = {(await app.client.get("/healthz")).headers["X-Request-Id"] for _ in range(5)}
    assert len(made) == 5


def test_log_lines_written_during_a_request_carry_its_id():
    record = logging.LogRecord("closer", logging.INFO, __file__, 1, "hello", None, None)
    token = REQUEST_ID.set("req-42")
    try:
        RequestIdFilter().filter(record)
    finally:
        REQUEST_ID.reset(token)
    assert json.loads(JsonFormatter().format(record))["request_id"] == "req-42"


async def test_metrics_count_webhooks_assignments_outbox_important_items_and_unmatched_payments(app):
    client = await new_client(app.shop)
    order = await create_order(app.shop.account.id, client_id=client.id, offer_id=app.shop.flagged_offer.id, now=at(0))
    await dialogs.record_outbound(app.shop.managers[0], client.id, "hi", now=at(1))
    await apply_payment(PaymentNotice("generic", "m1", str(order.id), PaymentResult.FAILED, occurred_at=at(2)))
    await apply_payment(PaymentNotice("generic", "m2", "99999", PaymentResult.PAID, occurred_at=at(2)))
    body = b'{"event_id": "x"}'
    await app.client.post("/webhooks/payments", data=body, headers={
        "Content-Type": "application/json", "X-Closer-Signature": sign_timestamped(SECRET, body, int(time.time()))})
    await app.client.post("/webhooks/payments", data=body, headers={"Content-Type": "application/json"})
    response = await app.client.get("/metrics")
    assert response.status == 200 and response.content_type.startswith("text/plain")
    text = await response.text()
    assert _value(text, "closer_webhook_requests_total", endpoint="payments", status="400") == 1
    assert _value(text, "closer_webhook_requests_total", endpoint="payments", status="401") == 1
    assert _value(text, "closer_webhook_latency_seconds_count", endpoint="payments") == 2
    assert _value(text, "closer_assignments_total", reason="rotation") == 1
    assert _value(text, "closer_important_items_created_total") == 1
    assert _value(text, "closer_payment_events_unmatched") == 1
    # The assignment ping and the alert, pending or already handled by this app's delivery worker.
    assert sum(_value(text, "closer_outbox_depth", status=s) for s in ("pending", "sent", "skipped", "parked")) >= 2
    assert _value(text, "closer_outbox_oldest_pending_seconds") >= 0


async def test_a_held_event_loop_shows_as_lag_on_the_metrics_page(app):
    await asyncio.sleep(LAG_INTERVAL * 1.5)  # the app's watcher has taken a sample and set its next timer
    time.sleep(0.3)  # holds the loop: the watcher's timer, due within LAG_INTERVAL, runs at least 0.2 s late
    await asyncio.sleep(LAG_INTERVAL * 1.5)
    text = await (await app.client.get("/metrics")).text()
    samples = _value(text, "closer_event_loop_lag_seconds_count")
    on_time = _value(text, "closer_event_loop_lag_seconds_bucket", le="0.1")
    assert samples >= 2 and samples - on_time >= 1
