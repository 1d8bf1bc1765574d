"""New-order e-mails (SPEC §1.7) over real SMTP (an aiosmtpd server on 127.0.0.1), through the outbox worker."""

from __future__ import annotations

from email import message_from_bytes
from email.header import decode_header, make_header

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import Envelope

from core.i18n import make_i18n
from delivery.email import EmailChannel, SmtpTarget
from delivery.worker import DeliveryWorker
from sales import accounts, outbox
from sales.orders import create_order
from storage.models import Client, Employee, Order, Outbox, OutboxStatus, Widget
from tests.factories import at, make_shop, new_client
from harness.processes import free_port


class Mailbox:
    """An SMTP server's handler: keeps what arrived, refuses addresses at refused.test with 550."""

    def __init__(self) -> None:
        self.received: list[tuple[list[str], bytes]] = []

    async def handle_RCPT(self, server, session, envelope: Envelope, address: str, rcpt_options):
        if address.endswith("@refused.test"):
            return "550 5.1.1 no such mailbox"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope: Envelope):
        self.received.append((list(envelope.rcpt_tos), envelope.content))
        return "250 Message accepted"

    def message_ids(self) -> list[str]:
        return [message_from_bytes(content)["Message-ID"] for _, content in self.received]


@pytest.fixture
def smtp():
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield mailbox, f"smtp://127.0.0.1:{controller.port}"
    controller.stop()


def worker_for(url: str | None) -> DeliveryWorker:
    channel = EmailChannel(SmtpTarget(url) if url else None, "closer@shop.test", "https://closer.example")
    return DeliveryWorker([channel], clock=lambda: at(60))


async def _order(shop, widget=None, name="Ann"):
    client = await new_client(shop, name=name)
    return await create_order(shop.account.id, client_id=client.id, offer_id=shop.offer.id,
                              widget_id=(widget or shop.widget).id, now=at(0))


async def test_a_new_order_mails_the_widgets_addresses_with_its_manager(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    await accounts.set_notification_emails(shop.owner, shop.widget.id, ["sales@shop.test", "boss@shop.test"])
    order = await _order(shop)
    assert await worker_for(url).run_once() == 1
    [(recipients, content)] = mailbox.received
    assert sorted(recipients) == ["boss@shop.test", "sales@shop.test"]
    mail = message_from_bytes(content)
    manager = await (await Order.get(id=order.id)).order_manager
    assert f"#{order.id}" in mail["Subject"] and manager.name in mail.get_payload()
    assert f"https://closer.example/inbox/orders?order={order.id}\r\n" in mail.get_payload()  # opens this order
    assert (await Outbox.get(kind=outbox.ORDER_CREATED_EMAIL)).status == OutboxStatus.SENT


async def test_the_mail_is_written_in_the_account_owners_language(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    await Employee.filter(id=shop.owner.id).update(language="ru")
    await accounts.set_notification_emails(shop.owner, shop.widget.id, ["sales@shop.test"])
    order = await _order(shop)
    channel = EmailChannel(SmtpTarget(url), "closer@shop.test", "https://closer.example", make_i18n())
    assert await DeliveryWorker([channel], clock=lambda: at(60)).run_once() == 1
    [(_, content)] = mailbox.received
    mail = message_from_bytes(content)
    body = mail.get_payload(decode=True).decode()
    assert str(make_header(decode_header(mail["Subject"]))).startswith(f"Новый заказ №{order.id}: ")
    assert f"Открыть: https://closer.example/inbox/orders?order={order.id}" in body
    assert "Order:" not in body and "Open it" not in body


async def test_a_widget_without_addresses_sends_no_mail(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    await Widget.filter(id=shop.widget.id).update(notification_emails=[])
    await _order(shop)
    await worker_for(url).run_once()
    assert mailbox.received == [] and not await Outbox.exists(kind=outbox.ORDER_CREATED_EMAIL)


async def test_a_refused_address_does_not_stop_the_others(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    await accounts.set_notification_emails(shop.owner, shop.widget.id, ["gone@refused.test", "sales@shop.test"])
    await _order(shop)
    await worker_for(url).run_once()
    assert [r for r, _ in mailbox.received] == [["sales@shop.test"]]
    assert (await Outbox.get(kind=outbox.ORDER_CREATED_EMAIL)).status == OutboxStatus.SENT


async def test_only_refused_addresses_skip_the_row_instead_of_retrying_forever(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    await accounts.set_notification_emails(shop.owner, shop.widget.id, ["gone@refused.test"])
    await _order(shop)
    await worker_for(url).run_once()
    assert mailbox.received == []
    assert (await Outbox.get(kind=outbox.ORDER_CREATED_EMAIL)).status == OutboxStatus.SKIPPED


async def test_mail_waits_while_the_smtp_server_is_down_and_goes_once_it_is_back(db):
    shop = await make_shop()
    await _order(shop)
    port = free_port()
    down = DeliveryWorker([EmailChannel(SmtpTarget(f"smtp://127.0.0.1:{port}"), "c@shop.test", "")],
                          clock=lambda: at(60))
    await down.run_once()
    row = await Outbox.get(kind=outbox.ORDER_CREATED_EMAIL)
    assert row.status == OutboxStatus.PENDING and row.attempts == 1 and row.last_error
    mailbox = Mailbox()
    controller = Controller(mailbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        later = DeliveryWorker([EmailChannel(SmtpTarget(f"smtp://127.0.0.1:{port}"), "c@shop.test", "")],
                               clock=lambda: at(120))
        await later.run_once()
    finally:
        controller.stop()
    assert len(mailbox.received) == 1
    assert (await Outbox.get(id=row.id)).status == OutboxStatus.SENT


async def test_a_client_name_with_line_breaks_cannot_add_a_header(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    order = await _order(shop, name="Eve\r\nBcc: victim@else.test")
    await Client.filter(id=order.client_id).update(name="Eve\r\nBcc: victim@else.test")
    await worker_for(url).run_once()
    [(recipients, content)] = mailbox.received
    mail = message_from_bytes(content)
    assert mail["Bcc"] is None and "victim@else.test" not in recipients
    assert "\n" not in mail["Subject"]


async def test_running_the_worker_again_sends_each_mail_once(db, smtp):
    mailbox, url = smtp
    shop = await make_shop()
    for name in ("A", "B", "C"):
        await _order(shop, name=name)
    worker = worker_for(url)
    await worker.run_once()
    await worker.run_once()
    await worker_for(url).run_once()
    assert len(mailbox.received) == 3 and len(set(mailbox.message_ids())) == 3


async def test_without_smtp_configured_the_mail_rows_are_skipped(db):
    shop = await make_shop()
    await _order(shop)
    await worker_for(None).run_once()
    assert (await Outbox.get(kind=outbox.ORDER_CREATED_EMAIL)).status == OutboxStatus.SKIPPED
