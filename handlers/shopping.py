"""The customer buys (SPEC §4.1): /offers → an order assigned by §1.1 → a payment; /orders; /manager."""

from __future__ import annotations

import logging
from decimal import Decimal
from html import escape

from aiogram import Bot, Router
from aiogram.filters import Command
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LabeledPrice,
    Message,
    PreCheckoutQuery,
)
from aiogram.utils.i18n import gettext as _

from core.config import Settings
from bot.callbacks import BuyOffer
from bot.middlewares import CLAIMS_WITH_EFFECTS
from handlers.filters import SuccessfulPayment, customer_router
from handlers.texts import status_label
from providers.stripe_checkout import CheckoutUnavailable, checkout_url
from sales import orders
from sales.clock import utcnow
from sales.errors import DomainError
from sales.payments import PaymentNotice, apply_payment, minor_units, order_id_from_ref
from storage.models import Client, Employee, Offer, Order, PaymentResult


log = logging.getLogger(__name__)

INVOICE_PREFIX = "order:"
MAX_LISTED = 20


async def list_offers(message: Message, account_id: int) -> None:
    offers = await Offer.filter(account_id=account_id, active=True).order_by("id").limit(MAX_LISTED)
    if not offers:
        await message.answer(_("There is nothing on sale right now."))
        return
    buttons = [
        [
            InlineKeyboardButton(
                text=f"{offer.title} — {offer.price} {offer.currency}",
                callback_data=BuyOffer(offer_id=offer.id).pack(),
            )
        ]
        for offer in offers
    ]
    await message.answer(_("What would you like to order?"), reply_markup=InlineKeyboardMarkup(inline_keyboard=buttons))


async def buy(query: CallbackQuery, callback_data: BuyOffer, client: Client, account_id: int, bot: Bot, settings: Settings) -> None:
    try:
        order = await orders.create_order(
            account_id, client_id=client.id, offer_id=callback_data.offer_id, widget_id=client.widget_id
        )
    except DomainError:
        await query.answer(_("This offer is not available."), show_alert=True)
        return
    offer = await Offer.get(id=order.offer_id)
    await query.answer()
    if settings.stripe_secret_key is not None:
        await _send_checkout_link(query, bot, settings, order, offer)
        return
    await bot.send_invoice(
        chat_id=query.from_user.id,
        title=offer.title[:32],
        description=_("Order #{number}").format(number=order.id),
        payload=f"{INVOICE_PREFIX}{order.id}",
        provider_token=settings.telegram_provider_token.get_secret_value() if settings.telegram_provider_token else "",
        currency=order.currency,
        prices=[LabeledPrice(label=offer.title[:32], amount=minor_units(order.amount))],
    )


async def _send_checkout_link(query: CallbackQuery, bot: Bot, settings: Settings, order: Order, offer: Offer) -> None:
    me = await bot.me()
    try:
        url = await checkout_url(settings, order_id=order.id, title=offer.title, amount=order.amount,
                                 currency=order.currency, return_url=f"https://t.me/{me.username}")
    except CheckoutUnavailable as exc:
        # The order stands and its manager was told; the customer can ask again or be called.
        log.warning("no Stripe checkout page", extra={"order_id": order.id, "error": str(exc)})
        await bot.send_message(query.from_user.id, _("The payment page is not available right now. Your order "
                                                     "#{number} is saved; your manager will contact you.").format(
                                                         number=order.id))
        return
    button = InlineKeyboardButton(text=_("Pay {amount} {currency}").format(amount=order.amount,
                                                                             currency=order.currency), url=url)
    await bot.send_message(
        query.from_user.id,
        _("Order #{number}: {title}.").format(number=order.id, title=escape(offer.title)),
        reply_markup=InlineKeyboardMarkup(inline_keyboard=[[button]]),
    )


def _order_from_payload(payload: str) -> int | None:
    if not payload.startswith(INVOICE_PREFIX):
        return None
    return order_id_from_ref(payload[len(INVOICE_PREFIX):])


async def pre_checkout(query: PreCheckoutQuery, client: Client | None = None) -> None:
    """Telegram asks whether to take the money (answer within 10 s): only for his own unpaid order."""
    order_id = _order_from_payload(query.invoice_payload)
    if client is None or await orders.payable_order(client.id, order_id) is None:
        await query.answer(ok=False, error_message=_("This order cannot be paid any more."))
        return
    await query.answer(ok=True)


async def paid(message: Message, client: Client) -> None:
    payment = message.successful_payment
    order_id = _order_from_payload(payment.invoice_payload)
    await apply_payment(
        PaymentNotice(
            provider="telegram",
            event_id=payment.telegram_payment_charge_id,
            order_ref=str(order_id or payment.invoice_payload),
            result=PaymentResult.PAID,
            occurred_at=utcnow(),
            amount=Decimal(payment.total_amount) / 100,
            currency=payment.currency,
            payload=payment.model_dump(mode="json"),
        )
    )
    await message.answer(_("Payment received. Thank you!"))


async def my_orders(message: Message, client: Client) -> None:
    mine = await Order.filter(client_id=client.id).order_by("-created_at", "-id").limit(MAX_LISTED).prefetch_related("offer")
    if not mine:
        await message.answer(_("You have no orders yet. /offers shows what we sell."))
        return
    lines = [
        f"#{o.id} {escape(o.offer.title)} — {o.amount} {o.currency}: {status_label(o.status)}" for o in mine
    ]
    await message.answer(_("Your orders:") + "\n" + "\n".join(lines))


async def my_manager(message: Message, client: Client) -> None:
    manager = await Employee.get_or_none(id=client.personal_manager_id) if client.personal_manager_id else None
    if manager is None:
        await message.answer(_("You have no personal manager yet. Just write, and the team will answer."))
        return
    await message.answer(_("Your personal manager is {name}.").format(name=escape(manager.name)))


def build_router() -> Router:
    """A fresh Router per dispatcher: a Router can be attached to one parent only."""
    router = customer_router(__name__)
    router.message.register(list_offers, Command("offers"))
    router.callback_query.register(buy, BuyOffer.filter())
    router.pre_checkout_query.register(pre_checkout)
    # Not claimed before it runs: a payment is stored once by its own id (sales.payments), so a resend after a crash
    # applies it rather than losing it.
    router.message.register(paid, SuccessfulPayment(), flags={CLAIMS_WITH_EFFECTS: True})
    router.message.register(my_orders, Command("orders"))
    router.message.register(my_manager, Command("manager"))
    return router
