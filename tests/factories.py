"""Building blocks for tests: a shop (account, staff, widget, offers) and clients, made through the real rules."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sales import accounts
from sales.clients import find_or_create_client
from storage.models import Account, Client, Employee, Offer, Role, Widget

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
_seq = itertools.count(1)


def at(minutes: float) -> datetime:
    """A moment `minutes` after T0: tests speak in minutes on a fixed clock."""
    return T0 + timedelta(minutes=minutes)


@dataclass
class Shop:
    account: Account
    owner: Employee
    admin: Employee
    managers: list[Employee]
    widget: Widget
    offer: Offer
    flagged_offer: Offer
    extra: dict = field(default_factory=dict)


async def make_shop(managers: int = 3, *, name: str | None = None, commission_rate: str = "0.10") -> Shop:
    n = next(_seq)
    account = await accounts.create_account(name or f"Shop {n}", f"owner{n}@shop.test", "owner-password")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    admin = await accounts.add_employee(owner, email=f"admin{n}@shop.test", name="Admin", role=Role.ADMIN)
    staff = [
        await accounts.add_employee(
            owner, email=f"m{i}.{n}@shop.test", name=f"Manager {i}", commission_rate=commission_rate
        )
        for i in range(managers)
    ]
    widget = await accounts.add_widget(owner, code=f"w{n}", name="Landing", notification_emails=["sales@shop.test"])
    offer = await accounts.add_offer(owner, title="Course", price="100.00", currency="EUR")
    flagged = await accounts.add_offer(
        owner, title="Flagged course", price="200.00", currency="EUR", notify_on_failed_payment=True
    )
    return Shop(account, owner, admin, staff, widget, offer, flagged)


async def new_client(shop: Shop, email: str | None = None, name: str = "Client") -> Client:
    return await find_or_create_client(
        shop.account.id, email=email or f"client{next(_seq)}@example.com", name=name
    )


async def reload(model_instance):
    return await type(model_instance).get(id=model_instance.id)
