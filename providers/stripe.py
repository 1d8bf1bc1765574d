"""Stripe events (SPEC §5.1) as PaymentNotices; other event types concern nothing here."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sales.errors import Invalid
from sales.payments import PaymentNotice
from storage.models import PaymentResult

PROVIDER = "stripe"
_RESULTS = {
    "checkout.session.completed": PaymentResult.PAID,
    "checkout.session.async_payment_succeeded": PaymentResult.PAID,
    "checkout.session.async_payment_failed": PaymentResult.FAILED,
    "payment_intent.succeeded": PaymentResult.PAID,
    "payment_intent.payment_failed": PaymentResult.FAILED,
}


def _text(value: Any, field: str, limit: int = 255) -> str:
    if not isinstance(value, str) or not value or len(value) > limit:
        raise Invalid(f"{field} is missing or not text", field=field)
    return value


def notice_from_stripe(event: Any) -> PaymentNotice | None:
    """None for what closer ignores (other event types, a completed checkout whose payment is still pending)."""
    if not isinstance(event, dict):
        raise Invalid("an event is a JSON object", field="body")
    event_id = _text(event.get("id"), "id")
    kind = _text(event.get("type"), "type", 100)
    result = _RESULTS.get(kind)
    if result is None:
        return None
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise Invalid("data.object is missing", field="data.object")
    # A completed Checkout Session with a delayed method (SEPA, say) is not paid yet; its async events follow.
    if kind == "checkout.session.completed" and obj.get("payment_status") not in ("paid", "no_payment_required"):
        return None
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    order_ref = metadata.get("order_id") or obj.get("client_reference_id") or ""
    if not isinstance(order_ref, str | int) or isinstance(order_ref, bool):
        raise Invalid("metadata.order_id is not text", field="data.object.metadata.order_id")
    created = event.get("created")
    if not isinstance(created, int) or isinstance(created, bool) or not 0 < created < 2**37:
        raise Invalid("created is a unix time", field="created")
    minor = obj.get("amount_total", obj.get("amount_received" if result == PaymentResult.PAID else "amount"))
    amount = None
    if isinstance(minor, int) and not isinstance(minor, bool) and 0 <= minor < 10**12:
        amount = Decimal(minor) / 100  # closer's offers are in two-decimal currencies
    currency = obj.get("currency") if isinstance(obj.get("currency"), str) else None
    reason = None
    if result == PaymentResult.FAILED:
        error = obj.get("last_payment_error") if isinstance(obj.get("last_payment_error"), dict) else {}
        reason = next((str(error[k]) for k in ("decline_code", "code", "message") if error.get(k)), None)
        reason = reason or "payment_failed"
    return PaymentNotice(
        provider=PROVIDER, event_id=event_id, order_ref=str(order_ref), result=result,
        occurred_at=datetime.fromtimestamp(created, UTC), amount=amount, currency=currency, reason=reason,
        payload={"type": kind, "object_id": obj.get("id") if isinstance(obj.get("id"), str) else None},
    )
