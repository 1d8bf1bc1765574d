"""Stripe Checkout for orders made in the bot (issue: Telegram bot, /offers): a hosted payment page.

Its outcome comes back through `POST /webhooks/stripe` (providers.stripe): the session carries the order in
`client_reference_id` and `metadata.order_id`, and its payment intent carries it in `metadata.order_id` too, so every
event SPEC §5.1 lists names the order.
"""

from __future__ import annotations

import logging
from decimal import Decimal

import aiohttp

from core.config import Settings
from sales.payments import minor_units

log = logging.getLogger(__name__)

TIMEOUT = aiohttp.ClientTimeout(total=10)


class CheckoutUnavailable(Exception):
    """Stripe did not give a payment page (down, refused the key, or answered nonsense)."""


def checkout_form(*, order_id: int, title: str, amount: Decimal, currency: str, return_url: str) -> dict[str, str]:
    """The Checkout Session's parameters, in Stripe's form encoding of nested fields."""
    ref = str(order_id)
    return {
        "mode": "payment",
        "client_reference_id": ref,
        "metadata[order_id]": ref,
        "payment_intent_data[metadata][order_id]": ref,
        "line_items[0][quantity]": "1",
        "line_items[0][price_data][currency]": currency.lower(),
        "line_items[0][price_data][unit_amount]": str(minor_units(amount)),
        "line_items[0][price_data][product_data][name]": title[:250],
        # Back to the chat with the bot, paid or not: the bot tells him the outcome when the webhook comes.
        "success_url": return_url,
        "cancel_url": return_url,
    }


async def checkout_url(settings: Settings, *, order_id: int, title: str, amount: Decimal, currency: str,
                       return_url: str) -> str:
    """A Checkout Session for the order; its page's URL. One session per order: a retry with the same idempotency
    key gets the same session back instead of a second one."""
    if settings.stripe_secret_key is None:
        raise CheckoutUnavailable("STRIPE_SECRET_KEY is not set")
    form = checkout_form(order_id=order_id, title=title, amount=amount, currency=currency, return_url=return_url)
    headers = {"Authorization": f"Bearer {settings.stripe_secret_key.get_secret_value()}",
               "Idempotency-Key": f"closer-order-{order_id}"}
    try:
        async with aiohttp.ClientSession(timeout=TIMEOUT) as http, http.post(
            f"{settings.stripe_api_url.rstrip('/')}/v1/checkout/sessions", data=form, headers=headers
        ) as response:
            body = await response.json(content_type=None)
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        raise CheckoutUnavailable(f"Stripe could not be reached: {exc!r}") from exc
    url = body.get("url") if isinstance(body, dict) else None
    if response.status != 200 or not isinstance(url, str) or not url.startswith("https://"):
        # Stripe's error message, never the key.
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
        raise CheckoutUnavailable(f"Stripe answered {response.status}: {message or 'no checkout URL'}")
    return url
