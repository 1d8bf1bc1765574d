"""The demo of `closer demo`: a seeded account, and an emulated Telegram where its staff and customers live."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sales import accounts, conversations, dialogs, important, orders
from sales.clients import find_or_create_client
from sales.clock import utcnow
from sales.payments import PaymentNotice, apply_payment
from storage.models import (
    Account,
    Chat,
    ChatStatus,
    Client,
    Employee,
    ImportantItem,
    Offer,
    Order,
    OrderStatus,
    Outbox,
    OutboxStatus,
    PaymentResult,
    Role,
    Widget,
)
from telegram_emulator.world import World

DEMO_OWNER_EMAIL = "owner@demo.closer"
DEMO_PASSWORD = "demo-password"
DEMO_BOT_TOKEN = "100200:demo-closer-bot"
# Telegram user ids of the demo people: staff link their accounts, customers chat with the bot.
DEMO_STAFF = {"maria@demo.closer": (2001, "Maria Manager"), "ivan@demo.closer": (2002, "Ivan Manager"),
              "sofia@demo.closer": (2003, "Sofia Manager")}
DEMO_CUSTOMERS = {"anna@example.com": (1001, "Anna Client"), "petro@example.com": (1002, "Petro Client")}


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


def demo_world() -> World:
    """Telegram as the demo needs it: the bot, the staff who opened their invite links, and two customers."""
    world = World()
    bot = world.add_bot(DEMO_BOT_TOKEN, username="closer_demo_bot", first_name="Demo Motors")
    for user_id, name in [*DEMO_STAFF.values(), *DEMO_CUSTOMERS.values()]:
        world.add_user(user_id, name.split()[0])
        world.started.add((bot.id, user_id))
    return world


async def seed_demo() -> DemoLogin:
    """Create the demo account once; later runs find it and change nothing."""
    if await Employee.exists(email=DEMO_OWNER_EMAIL, role=Role.OWNER):
        return DemoLogin(DEMO_OWNER_EMAIL, DEMO_PASSWORD)
    account: Account = await accounts.create_account("Demo Motors", DEMO_OWNER_EMAIL, DEMO_PASSWORD, "Olena Owner")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    await accounts.add_employee(owner, email="admin@demo.closer", name="Adam Admin", role=Role.ADMIN, password=DEMO_PASSWORD)
    managers = []
    for email, (user_id, name) in DEMO_STAFF.items():
        manager = await accounts.add_employee(owner, email=email, name=name, password=DEMO_PASSWORD, commission_rate="0.05")
        await Employee.filter(id=manager.id).update(telegram_user_id=user_id, telegram_chat_id=user_id)
        managers.append(manager)
    landing = await accounts.add_widget(
        owner, code="landing", name="Spring landing page", notification_emails=["sales@demo.closer"]
    )
    course = await accounts.add_offer(
        owner, title="Driving course", price="490.00", currency="EUR", notify_on_failed_payment=True
    )
    await accounts.add_offer(owner, title="Winter tyres", price="320.00", currency="EUR")
    for email, (user_id, name) in DEMO_CUSTOMERS.items():
        client = await find_or_create_client(account.id, email=email, name=name)
        await Client.filter(id=client.id).update(telegram_user_id=user_id, email_asked=True, widget_id=landing.id)
        await dialogs.record_inbound(client, "Hello! Is the driving course still available?")
        order = await orders.create_order(account.id, client_id=client.id, offer_id=course.id, widget_id=landing.id)
        manager = next(m for m in managers if m.id == order.order_manager_id)
        await dialogs.record_outbound(manager, client.id, "Yes, it is. I have sent you the payment link.")
    # Something for every tab: Petro's card was declined (the Important tab of everyone who wrote to him, the owner
    # included); Anna's course is unpaid (the owner greeted her too, so making her payment fail from the inbox puts
    # her in his Important tab); a new lead routed to a manager the moment he wrote; and a chat the owner left for
    # whoever takes it (Unassigned).
    petro = await Client.get(account_id=account.id, email="petro@example.com")
    await dialogs.record_outbound(owner, petro.id, "Petro, welcome! Maria will help you with the course.")
    anna = await Client.get(account_id=account.id, email="anna@example.com")
    await dialogs.record_outbound(owner, anna.id, "Anna, welcome to Demo Motors!")
    petro_order = await Order.filter(client_id=petro.id).first()
    await apply_payment(PaymentNotice(
        "demo", f"demo-failure-{petro_order.id}", str(petro_order.id), PaymentResult.FAILED, occurred_at=utcnow(),
        reason="insufficient_funds",
    ))
    lead = await find_or_create_client(account.id, email="taras@example.com", name="Taras Lead")
    await dialogs.record_inbound(lead, "Do you have a course on weekends?")
    waiting = await find_or_create_client(account.id, email="olha@example.com", name="Olha Lead")
    await dialogs.record_inbound(waiting, "Can I book a test drive on Saturday?")
    await conversations.assign_chat(owner, (await Chat.get(client_id=waiting.id)).id, None)
    await seed_recovery_history(owner, managers, landing, course)
    return DemoLogin(DEMO_OWNER_EMAIL, DEMO_PASSWORD)


# The Driving course's failed payments of the last eight weeks, for the recovered-revenue report (SPEC §11.5): the
# client, how many days ago his payment failed, how many hours later he paid (None: never, the order was cancelled),
# whether a second manager who had written to him took the important item, and whether it failed twice.
# 16 failures, 12 recovered: 12 × 490.00 = 5,880.00 EUR (with Petro's failure of today, 17 failed).
DEMO_RECOVERY_HISTORY: tuple[tuple[str, int, float | None, bool, bool], ...] = (
    ("Bohdan Kovalenko", 54, 26, False, False),
    ("Iryna Melnyk", 53, 70, True, False),
    ("Oleh Shevchenko", 47, None, False, False),
    ("Kateryna Bondar", 46, 6, True, False),
    ("Dmytro Tkachenko", 40, 96, False, True),
    ("Natalia Kravets", 33, None, True, False),
    ("Andrii Oliinyk", 32, 50, False, False),
    ("Yulia Moroz", 31, 12, False, False),
    ("Serhii Lysenko", 26, 120, True, False),
    ("Halyna Savchenko", 19, None, False, False),
    ("Maksym Rudenko", 18, 27, True, False),
    ("Larysa Hrytsenko", 17, 3, False, False),
    ("Viktor Pavlenko", 12, 40, False, False),
    ("Roman Karpenko", 11, None, False, False),
    ("Oksana Zinchenko", 5, 9, True, False),
    ("Pavlo Ishchenko", 3, 30, False, False),
)
_REASONS = ("insufficient_funds", "card_declined", "3ds_failed")


async def seed_recovery_history(owner: Employee, managers: list[Employee], widget: Widget, offer: Offer,
                                *, now: datetime | None = None) -> None:
    """Weeks of history made through the same rules as today's (messages, orders, payment events, *Take*), then
    filed away: the chats resolved and read by the owner and admins, the unpaid orders cancelled, and the pings and
    alerts of back then marked as done, so that nobody's Telegram or tab rings for them now."""
    now = now or utcnow()
    admins = await Employee.filter(account_id=owner.account_id, role__in=(Role.OWNER, Role.ADMIN), active=True)
    last = await Outbox.all().order_by("-id").first()
    watermark = last.id if last else 0
    for n, (name, days_ago, paid_after, helped, twice) in enumerate(DEMO_RECOVERY_HISTORY):
        failed_at = now - timedelta(days=days_ago, hours=n % 5)
        start = failed_at - timedelta(days=3)
        client = await find_or_create_client(owner.account_id, email=name.lower().replace(" ", ".") + "@example.com",
                                             name=name)
        await Client.filter(id=client.id).update(email_asked=True, widget_id=widget.id)
        await dialogs.record_inbound(client, "Hi! I would like to sign up for the driving course.", now=start)
        order = await orders.create_order(owner.account_id, client_id=client.id, offer_id=offer.id,
                                          widget_id=widget.id, now=start + timedelta(minutes=5))
        manager = next(m for m in managers if m.id == order.order_manager_id)
        await dialogs.record_outbound(manager, client.id, "Great! Here is your payment link.",
                                      now=start + timedelta(minutes=20))
        helper = managers[(managers.index(manager) + 1) % len(managers)] if helped else None
        if helper is not None:
            await dialogs.record_outbound(helper, client.id, "Hello! I can help if anything goes wrong with the payment.",
                                          now=start + timedelta(days=1))
        failures = [failed_at] + ([failed_at + timedelta(hours=20)] if twice else [])
        for k, moment in enumerate(failures):
            await apply_payment(PaymentNotice(
                "demo", f"demo-history-{order.id}-failed-{k}", str(order.id), PaymentResult.FAILED,
                occurred_at=moment, reason=_REASONS[(n + k) % len(_REASONS)],
            ), now=moment + timedelta(minutes=1))
        for item in await ImportantItem.filter(order_id=order.id, resolved_at=None):
            await important.mark_seen(await Employee.get(id=item.employee_id), item.id,
                                      now=failed_at + timedelta(minutes=30))
        handler = manager
        if helper is not None:
            item = await ImportantItem.get(order_id=order.id, employee_id=helper.id)
            await important.take(helper, item.id, now=failed_at + timedelta(minutes=40))
            handler = helper
        await dialogs.record_outbound(handler, client.id, "Your card did not go through. Shall I send a new link?",
                                      now=failed_at + timedelta(hours=1))
        if paid_after is not None:
            paid_at = failed_at + timedelta(hours=paid_after)
            await apply_payment(PaymentNotice(
                "demo", f"demo-history-{order.id}-paid", str(order.id), PaymentResult.PAID, occurred_at=paid_at,
                amount=offer.price, currency=offer.currency,
            ), now=paid_at + timedelta(minutes=1))
            closed_at = paid_at + timedelta(minutes=10)
            await dialogs.record_outbound(handler, client.id, "Payment received, thank you! See you at the first lesson.",
                                          now=closed_at)
        else:
            closed_at = failed_at + timedelta(days=3)
            await orders.set_status(manager, order.id, OrderStatus.CANCELLED, now=closed_at)
        chat = await Chat.get(client_id=client.id)
        await conversations.set_status(owner, chat.id, ChatStatus.RESOLVED, now=closed_at + timedelta(minutes=1))
        for admin in admins:
            await conversations.mark_read(admin, chat.id, now=closed_at + timedelta(minutes=2))
    await Outbox.filter(id__gt=watermark, status=OutboxStatus.PENDING).update(status=OutboxStatus.SKIPPED, sent_at=now)
