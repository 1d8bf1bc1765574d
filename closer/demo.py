"""The demo of `closer demo`: a seeded account, and an emulated Telegram where its staff and customers live."""

from __future__ import annotations

from dataclasses import dataclass

from sales import accounts, conversations, dialogs, orders
from sales.clients import find_or_create_client
from sales.clock import utcnow
from sales.payments import PaymentNotice, apply_payment
from storage.models import Account, Chat, Client, Employee, Order, PaymentResult, Role
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
    return DemoLogin(DEMO_OWNER_EMAIL, DEMO_PASSWORD)
