"""LiqPay callbacks (SPEC §5.5): `data` is base64 JSON, signed with the merchant's private key."""

from __future__ import annotations

import base64
import binascii
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from webio.body import BadJson, load_json
from sales.errors import Invalid
from sales.payments import PaymentNotice
from storage.models import PaymentResult

PROVIDER = "liqpay"
_RESULTS = {
    "success": PaymentResult.PAID,
    "sandbox": PaymentResult.PAID,
    "failure": PaymentResult.FAILED,
    "error": PaymentResult.FAILED,
    "reversed": PaymentResult.REFUNDED,
}


def decode_data(data: str) -> dict:
    try:
        decoded = load_json(base64.b64decode(data, validate=True))
    except BadJson as error:
        raise Invalid(f"data is {error}", field="data") from None
    except (binascii.Error, ValueError):
        raise Invalid("data is not base64-encoded JSON", field="data") from None
    if not isinstance(decoded, dict):
        raise Invalid("data is not a JSON object", field="data")
    return decoded


def notice_from_liqpay(callback: dict) -> PaymentNotice | None:
    """None for interim states (wait_accept, processing, 3DS verification…): LiqPay calls again when it settles."""
    status = callback.get("status")
    result = _RESULTS.get(status) if isinstance(status, str) else None
    if result is None:
        return None
    order_id = callback.get("order_id")
    if not isinstance(order_id, str | int) or isinstance(order_id, bool):
        raise Invalid("order_id is missing", field="order_id")
    payment_id = callback.get("payment_id")
    if not isinstance(payment_id, str | int) or isinstance(payment_id, bool):
        raise Invalid("payment_id is missing", field="payment_id")
    amount = callback.get("amount")
    try:
        amount = None if amount is None else Decimal(str(amount))
    except InvalidOperation:
        raise Invalid("amount is not a number", field="amount") from None
    end_date = callback.get("end_date") or callback.get("create_date")
    if isinstance(end_date, int) and not isinstance(end_date, bool) and 0 < end_date < 2**44:
        occurred_at = datetime.fromtimestamp(end_date / 1000, UTC)  # LiqPay sends milliseconds
    else:
        occurred_at = datetime.now(UTC)
    reason = None
    if result == PaymentResult.FAILED:
        reason = str(callback.get("err_code") or callback.get("err_description") or status)[:200]
    currency = callback.get("currency") if isinstance(callback.get("currency"), str) else None
    return PaymentNotice(
        # One payment passes through several statuses; each status of it is one event.
        provider=PROVIDER, event_id=f"{payment_id}:{status}", order_ref=str(order_id), result=result,
        occurred_at=occurred_at, amount=amount, currency=currency, reason=reason, payload={"status": status},
    )
