"""The e-mail channel (SPEC §1.7): a widget's notification addresses hear of each new order and its manager, in the
language of the account's owner (the addresses are the business's, not an employee's).

Every mail carries a Message-ID made from its outbox row, so a resend after a crash is the same message to the
receiving side (mail systems and our test's SMTP server recognise it).
"""

from __future__ import annotations

import logging
from email.message import EmailMessage
from email.utils import formatdate
from urllib.parse import parse_qs, unquote, urlsplit

import aiosmtplib
from aiogram.utils.i18n import I18n

from core import links
from sales import outbox
from storage.models import Client, Employee, Offer, Order, Outbox, Role, Widget

log = logging.getLogger(__name__)


class SmtpTarget:
    """Where and how to send, from SMTP_URL: smtp://[user:pass@]host[:port][?starttls=1] or smtps://…"""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps") or not parts.hostname:
            raise ValueError("SMTP_URL is smtp://host:port or smtps://host:port")
        self.hostname = parts.hostname
        self.implicit_tls = parts.scheme == "smtps"
        self.port = parts.port or (465 if self.implicit_tls else 25)
        self.username = unquote(parts.username) if parts.username else None
        self.password = unquote(parts.password) if parts.password else None
        self.starttls = parse_qs(parts.query).get("starttls", ["0"])[0] in ("1", "true", "yes")


def _header_safe(text: str) -> str:
    # Names come from customers: a CR or LF in them must not start a header of its own.
    return " ".join(text.replace("\r", " ").replace("\n", " ").split())


class EmailChannel:
    kinds = frozenset({outbox.ORDER_CREATED_EMAIL})

    def __init__(self, target: SmtpTarget | None, sender: str, public_url: str, i18n: I18n | None = None) -> None:
        self.target = target
        self.sender = sender
        self.public_url = public_url
        self.i18n = i18n

    def _(self, text: str, locale: str) -> str:
        return self.i18n.gettext(text, locale=locale) if self.i18n is not None else text

    async def recipient_unreachable(self, row: Outbox) -> None:
        """Nobody blocks an e-mail; refused addresses are reported on the row instead."""

    async def compose(self, row: Outbox) -> EmailMessage | None:
        order = await Order.get_or_none(id=row.payload.get("order_id"))
        recipients = [a for a in row.payload.get("to", []) if isinstance(a, str) and "@" in a]
        if order is None or not recipients:
            return None
        client = await Client.get(id=order.client_id)
        offer = await Offer.get(id=order.offer_id)
        widget = await Widget.get(id=order.widget_id)
        manager = await Employee.get_or_none(id=order.order_manager_id) if order.order_manager_id else None
        owner = await Employee.get_or_none(account_id=order.account_id, role=Role.OWNER)
        lang = owner.language if owner is not None else "en"
        client_name = _header_safe(client.name or client.email or f"#{client.id}")
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = ", ".join(recipients)
        message["Subject"] = self._("New order #{number}: {offer} for {client}", lang).format(
            number=order.id, offer=_header_safe(offer.title), client=client_name)
        message["Message-ID"] = f"<closer-outbox-{row.id}@closer>"
        message["Date"] = formatdate(row.created_at.timestamp(), usegmt=True)
        lines = [
            self._("A new order came through {widget}.", lang).format(widget=widget.name),
            "",
            self._("Order: #{number}", lang).format(number=order.id),
            self._("Client: {client}", lang).format(client=f"{client_name} {client.email or ''}".strip()),
            self._("Offer: {offer}, {amount} {currency}", lang).format(
                offer=offer.title, amount=order.amount, currency=order.currency),
            self._("Manager: {name}", lang).format(name=manager.name) if manager
            else self._("Manager: nobody yet", lang),
            "",
            self._("Open it: {url}", lang).format(url=links.order_url(self.public_url, order.id)),
        ]
        message.set_content("\n".join(lines) + "\n")
        return message

    async def deliver(self, row: Outbox) -> bool:
        if self.target is None:
            return False  # no SMTP configured: the row is skipped on purpose, not retried
        message = await self.compose(row)
        if message is None:
            return False
        target = self.target
        try:
            _, refused = await aiosmtplib.send(
                message, hostname=target.hostname, port=target.port, username=target.username,
                password=target.password, use_tls=target.implicit_tls, start_tls=target.starttls or None,
                timeout=30,
            )
        except aiosmtplib.SMTPRecipientsRefused as exc:
            if all(refusal.code >= 500 for refusal in exc.recipients):
                # Every address refused for good (5xx): retrying changes nothing. A 4xx is retried later.
                log.warning("all recipients refused", extra={"outbox_id": row.id,
                                                             "refused": [r.recipient for r in exc.recipients]})
                return False
            raise
        if refused:
            log.warning("some recipients refused", extra={"outbox_id": row.id, "refused": list(refused)})
        return True
