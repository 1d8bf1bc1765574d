"""The webhook endpoints: read within limits, verify first, then translate and apply in one transaction.

A 2xx goes out only after the effect is committed (SPEC §7); an outage answers 503 so the provider resends.
"""

from __future__ import annotations

import logging
import time
from urllib.parse import parse_qsl
from collections.abc import Callable

from aiohttp import web

from core.keys import SETTINGS
from webio.body import BadJson, check_storable, load_json
from webio.errors import json_error
from providers.generic import notice_from_generic
from providers.liqpay import decode_data, notice_from_liqpay
from providers.signatures import BadSignature, verify_liqpay, verify_timestamped
from providers.stripe import notice_from_stripe
from sales.errors import Invalid
from sales.payments import PaymentNotice, apply_payment
from storage.db import STORAGE_DOWN

log = logging.getLogger(__name__)

MAX_BODY = 256 * 1024


class Refused(Exception):
    def __init__(self, status: int, code: str, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.response = json_error(status, code, message, field)


async def _body(request: web.Request, content_type: str) -> bytes:
    if request.content_type != content_type:
        raise Refused(415, "unsupported_media_type", f"send {content_type}", "Content-Type")
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise Refused(413, "too_large", f"a webhook body is at most {MAX_BODY} bytes", "body")
    body = await request.content.read(MAX_BODY + 1)
    if len(body) > MAX_BODY:
        raise Refused(413, "too_large", f"a webhook body is at most {MAX_BODY} bytes", "body")
    return body


def _json(body: bytes) -> object:
    try:
        value = load_json(body)
    except BadJson as error:
        raise Refused(400, "invalid", f"the body is {error}", "body") from None
    try:
        check_storable(value)
    except Invalid as error:
        raise Refused(400, "invalid", error.message, error.field) from None
    return value


def _secret(request: web.Request, name: str) -> str:
    secret = getattr(request.app[SETTINGS], name)
    if secret is None:
        raise Refused(503, "not_configured", "this webhook is not configured on this server")
    return secret.get_secret_value()


async def _apply(provider: str, notice: PaymentNotice | None) -> web.Response:
    if notice is None:
        return web.json_response({"ok": True, "ignored": True})
    outcome = await apply_payment(notice)
    log.info("payment event", extra={"provider": provider, "event_id": notice.event_id,
                                      "duplicate": outcome.duplicate, "effect": str(outcome.effect)})
    return web.json_response({"ok": True, "duplicate": outcome.duplicate, "matched": outcome.order_id is not None})


def _endpoint(provider: str, handle: Callable) -> Callable:
    async def view(request: web.Request) -> web.Response:
        try:
            return await handle(request)
        except Refused as refused:
            if refused.response.status == 401:
                log.warning("webhook signature refused", extra={"provider": provider, "reason": str(refused)})
            return refused.response
        except BadSignature as bad:
            log.warning("webhook signature refused", extra={"provider": provider, "reason": str(bad)})
            return json_error(401, "bad_signature", str(bad), "signature")
        except Invalid as error:
            return json_error(400, "invalid", error.message, error.field)
        except STORAGE_DOWN as exc:
            log.error("webhook not applied: storage unavailable", extra={"provider": provider, "error": repr(exc)})
            return json_error(503, "unavailable", "try again later; nothing was stored")

    view.__name__ = f"{provider}_webhook"
    return view


async def _stripe(request: web.Request) -> web.Response:
    secret = _secret(request, "stripe_webhook_secret")
    body = await _body(request, "application/json")
    verify_timestamped(secret, request.headers.get("Stripe-Signature"), body, time.time())
    return await _apply("stripe", notice_from_stripe(_json(body)))


async def _generic(request: web.Request) -> web.Response:
    secret = _secret(request, "payments_webhook_secret")
    body = await _body(request, "application/json")
    verify_timestamped(secret, request.headers.get("X-Closer-Signature"), body, time.time())
    return await _apply("generic", notice_from_generic(_json(body)))


async def _liqpay(request: web.Request) -> web.Response:
    secret = _secret(request, "liqpay_private_key")
    body = await _body(request, "application/x-www-form-urlencoded")
    try:
        form = dict(parse_qsl(body.decode(), strict_parsing=True))
    except (UnicodeDecodeError, ValueError):
        raise Refused(400, "invalid", "the body is not a form", "body") from None
    verify_liqpay(secret, form.get("data"), form.get("signature"))
    callback = decode_data(form["data"])
    check_storable(callback)
    return await _apply("liqpay", notice_from_liqpay(callback))


stripe_webhook = _endpoint("stripe", _stripe)
generic_webhook = _endpoint("generic", _generic)
liqpay_webhook = _endpoint("liqpay", _liqpay)


def setup_payment_webhooks(app: web.Application) -> None:
    app.router.add_post("/webhooks/stripe", stripe_webhook)
    app.router.add_post("/webhooks/payments", generic_webhook)
    app.router.add_post("/webhooks/liqpay", liqpay_webhook)
