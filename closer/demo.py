"""The demo account of `closer demo`: a few staff, widgets, offers, clients and orders to look at."""

from __future__ import annotations

from dataclasses import dataclass

from sales import accounts, dialogs, orders
from sales.clients import find_or_create_client
from storage.models import Account, Employee, Role

DEMO_OWNER_EMAIL = "owner@demo.closer"
DEMO_PASSWORD = "demo-password"


@dataclass(frozen=True)
class DemoLogin:
    email: str
    password: str


async def seed_demo() -> DemoLogin:
    """Create the demo account once; later runs find it and change nothing."""
    if await Employee.exists(email=DEMO_OWNER_EMAIL, role=Role.OWNER):
        return DemoLogin(DEMO_OWNER_EMAIL, DEMO_PASSWORD)
    account: Account = await accounts.create_account("Demo Motors", DEMO_OWNER_EMAIL, DEMO_PASSWORD, "Olena Owner")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    await accounts.add_employee(owner, email="admin@demo.closer", name="Adam Admin", role=Role.ADMIN, password=DEMO_PASSWORD)
    managers = [
        await accounts.add_employee(
            owner, email=f"{login}@demo.closer", name=name, password=DEMO_PASSWORD, commission_rate="0.05"
        )
        for login, name in (("maria", "Maria Manager"), ("ivan", "Ivan Manager"), ("sofia", "Sofia Manager"))
    ]
    landing = await accounts.add_widget(
        owner, code="landing", name="Spring landing page", notification_emails=["sales@demo.closer"]
    )
    course = await accounts.add_offer(
        owner, title="Driving course", price="490.00", currency="EUR", notify_on_failed_payment=True
    )
    await accounts.add_offer(owner, title="Winter tyres", price="320.00", currency="EUR")
    for email, name in (("anna@example.com", "Anna Client"), ("petro@example.com", "Petro Client")):
        client = await find_or_create_client(account.id, email=email, name=name)
        await dialogs.record_inbound(client, "Hello! Is the driving course still available?")
        order = await orders.create_order(account.id, client_id=client.id, offer_id=course.id, widget_id=landing.id)
        manager = next(m for m in managers if m.id == order.order_manager_id)
        await dialogs.record_outbound(manager, client.id, "Yes, it is. I have sent you the payment link.")
    return DemoLogin(DEMO_OWNER_EMAIL, DEMO_PASSWORD)
