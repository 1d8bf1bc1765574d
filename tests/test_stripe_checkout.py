"""Stripe Checkout for bot orders (issue: Telegram bot, /offers): with STRIPE_SECRET_KEY an order made in the bot gets a
payment page whose events name the order. Stripe is stood in for by a small server that answers as its API does."""

from __future__ import annotations

from decimal import Decimal

import pytest
from aiohttp import web
from aiohttp.test_utils import unused_port

from core.config import Settings
from providers.stripe_checkout import CheckoutUnavailable, checkout_url
from tests.test_bot_e2e import CUSTOMER, Stack, eventually, order_winter_tyres, start_stack

SECRET_KEY = "sk_test_closer"
SESSION_URL = "https://checkout.stripe.com/c/pay/cs_test_a1"


class FakeStripe:
    """Answers POST /v1/checkout/sessions like Stripe: form-encoded parameters in, the session as JSON out."""

    def __init__(self, status: int = 200) -> None:
        self.status = status
        self.requests: list[tuple[dict, dict]] = []

    async def sessions(self, request: web.Request) -> web.Response:
        form = dict(await request.post())
        self.requests.append((form, dict(request.headers)))
        if request.headers.get("Authorization") != f"Bearer {SECRET_KEY}":
            return web.json_response({"error": {"type": "invalid_request_error", "message": "Invalid API Key"}},
                                     status=401)
        if self.status != 200:
            return web.json_response({"error": {"type": "api_error", "message": "Stripe is down"}}, status=self.status)
        return web.json_response({"id": "cs_test_a1", "object": "checkout.session", "url": SESSION_URL,
                                  "client_reference_id": form.get("client_reference_id")})

    def app(self) -> web.Application:
        app = web.Application()
        app.router.add_post("/v1/checkout/sessions", self.sessions)
        return app


@pytest.fixture
def stripe():
    return FakeStripe()


def _settings(stripe_server) -> Settings:
    return Settings(stripe_secret_key=SECRET_KEY, stripe_api_url=str(stripe_server.make_url("")).rstrip("/"))


async def test_a_checkout_session_names_the_order_and_charges_the_price_in_minor_units(stripe, aiohttp_server):
    server = await aiohttp_server(stripe.app())
    url = await checkout_url(_settings(server), order_id=42, title="Winter tyres", amount=Decimal("320.50"),
                             currency="EUR", return_url="https://t.me/closer_bot")
    assert url == SESSION_URL
    [(form, headers)] = stripe.requests
    assert form == {
        "mode": "payment",
        "client_reference_id": "42",
        "metadata[order_id]": "42",
        "payment_intent_data[metadata][order_id]": "42",
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": "eur",
        "line_items[0][price_data][unit_amount]": "32050",
        "line_items[0][price_data][product_data][name]": "Winter tyres",
        "success_url": "https://t.me/closer_bot",
        "cancel_url": "https://t.me/closer_bot",
    }
    # A retry for the same order gets the same session back from Stripe instead of a second one.
    assert headers["Idempotency-Key"] == "closer-order-42"


async def test_stripe_refusing_is_reported_without_the_key(aiohttp_server):
    stripe = FakeStripe(status=500)
    server = await aiohttp_server(stripe.app())
    with pytest.raises(CheckoutUnavailable) as error:
        await checkout_url(_settings(server), order_id=1, title="X", amount=Decimal("1"), currency="EUR",
                           return_url="https://t.me/b")
    assert "500" in str(error.value) and "Stripe is down" in str(error.value)
    assert SECRET_KEY not in str(error.value)


async def test_stripe_unreachable_is_reported():
    settings = Settings(stripe_secret_key=SECRET_KEY, stripe_api_url=f"http://127.0.0.1:{unused_port()}")
    with pytest.raises(CheckoutUnavailable):
        await checkout_url(settings, order_id=1, title="X", amount=Decimal("1"), currency="EUR",
                           return_url="https://t.me/b")


async def _bot_with_stripe(tmp_path, aiohttp_server, stripe: FakeStripe) -> Stack:
    stripe_server = await aiohttp_server(stripe.app())
    return await start_stack(tmp_path, aiohttp_server, "webhook", stripe_secret_key=SECRET_KEY,
                             stripe_api_url=str(stripe_server.make_url("")).rstrip("/"))


async def test_an_order_in_the_bot_gets_a_stripe_payment_button_instead_of_an_invoice(stripe, tmp_path,
                                                                                      aiohttp_server):
    stack = await _bot_with_stripe(tmp_path, aiohttp_server, stripe)
    order = await order_winter_tyres(stack)
    offer_message = await eventually(lambda: next(
        (m for m in stack.chat(CUSTOMER) if f"Order #{order.id}: Winter tyres." in (m.get("text") or "")), None))
    [[button]] = offer_message["reply_markup"]["inline_keyboard"]
    assert (button["text"], button["url"]) == ("Pay 320.00 EUR", SESSION_URL)
    assert not any("invoice" in m for m in stack.chat(CUSTOMER))
    [(form, _)] = stripe.requests
    assert (form["client_reference_id"], form["success_url"]) == (str(order.id), "https://t.me/closer_e2e_bot")


async def test_when_stripe_is_down_the_order_stands_and_the_customer_is_told(tmp_path, aiohttp_server):
    stack = await _bot_with_stripe(tmp_path, aiohttp_server, FakeStripe(status=503))
    order = await order_winter_tyres(stack)
    await eventually(lambda: any(f"Your order #{order.id} is saved" in t for t in stack.bot_texts(CUSTOMER)))
    assert order.order_manager_id is not None
