"""Clients: identity by e-mail and/or Telegram id, the personal manager, notes (SPEC §2)."""

from __future__ import annotations

import re
from datetime import datetime

from tortoise.exceptions import IntegrityError
from tortoise.transactions import in_transaction

from sales import outbox
from sales.access import active_staff, get_in_account, is_admin, require_active
from sales.audit import log_personal_manager_change
from sales.clock import utcnow
from sales.errors import Invalid, NotAllowed
from storage.models import AssignmentReason, Client, Employee, Order

# Deliberately modest: a real address has one @, a dot in the domain, and no spaces.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
MAX_NOTES = 10_000


def normalize_email(raw: str) -> str:
    """Clients are the same person when their e-mails match trimmed and case-insensitively."""
    email = raw.strip().lower()
    if len(email) > 254 or not _EMAIL.match(email):
        raise Invalid("not a valid e-mail address", field="email")
    return email


async def find_or_create_client(
    account_id: int,
    *,
    email: str | None = None,
    telegram_user_id: int | None = None,
    name: str = "",
) -> Client:
    """The client with this e-mail (or Telegram id) in the account, created when new.

    Two requests may create the same client at once; the unique index decides and the loser reads the winner.
    """
    if email is None and telegram_user_id is None:
        raise Invalid("a client needs an e-mail or a Telegram id", field="email")
    key = {"email": normalize_email(email)} if email is not None else {"telegram_user_id": telegram_user_id}
    client = await Client.get_or_none(account_id=account_id, **key)
    if client is not None:
        return client
    try:
        async with in_transaction():
            return await Client.create(
                account_id=account_id,
                telegram_user_id=telegram_user_id,
                name=name.strip()[:200],
                **({"email": key["email"]} if "email" in key else {}),
            )
    except IntegrityError:
        return await Client.get(account_id=account_id, **key)


async def set_personal_manager(
    actor: Employee,
    client_id: int,
    employee_id: int | None,
    *,
    now: datetime | None = None,
) -> Client:
    """Set (or clear) the client's personal manager. It belongs to the client, so every order of his shows it.

    Owner and admin may set anyone active; a manager may only make himself the personal manager of a client who
    has none.
    """
    require_active(actor)
    now = now or utcnow()
    async with in_transaction():
        client = await get_in_account(Client, actor.account_id, client_id, what="client")
        client = await Client.filter(id=client.id).select_for_update().get()
        if employee_id is not None:
            await active_staff(actor.account_id, employee_id)
        if not is_admin(actor):
            if employee_id != actor.id or client.personal_manager_id not in (None, actor.id):
                raise NotAllowed("a manager may only take a client without a personal manager")
        previous = client.personal_manager_id
        if previous == employee_id:
            return client
        client.personal_manager_id = employee_id
        await client.save(update_fields=["personal_manager_id"])
        log = await log_personal_manager_change(
            account_id=actor.account_id,
            client_id=client.id,
            from_id=previous,
            to_id=employee_id,
            reason=AssignmentReason.MANUAL if is_admin(actor) else AssignmentReason.TAKEN,
            actor_id=actor.id,
            now=now,
        )
        if employee_id is not None and employee_id != actor.id:
            await outbox.enqueue(
                account_id=actor.account_id,
                kind=outbox.PERSONAL_MANAGER_SET,
                dedupe_key=f"{outbox.PERSONAL_MANAGER_SET}:{log.id}",
                employee_id=employee_id,
                client_id=client.id,
                payload={"client_id": client.id},
                now=now,
            )
    return client


async def set_personal_manager_from_order(
    actor: Employee, order_id: int, employee_id: int | None, *, now: datetime | None = None
) -> Client:
    """The same rule reached from an order's customer information: it changes the client, not the order."""
    order = await get_in_account(Order, actor.account_id, order_id, what="order")
    return await set_personal_manager(actor, order.client_id, employee_id, now=now)


async def update_notes(actor: Employee, client_id: int, notes: str) -> Client:
    require_active(actor)
    if len(notes) > MAX_NOTES:
        raise Invalid(f"notes are limited to {MAX_NOTES} characters", field="notes")
    client = await get_in_account(Client, actor.account_id, client_id, what="client")
    client.notes = notes
    await client.save(update_fields=["notes"])
    return client


async def personal_manager_of_order(order: Order) -> Employee | None:
    client = await Client.get(id=order.client_id).prefetch_related("personal_manager")
    return client.personal_manager


async def orders_of_personal_manager(account_id: int, employee_id: int) -> list[Order]:
    """SPEC §2.3: a personal manager chooses himself and gets the orders of all his clients."""
    return await Order.filter(account_id=account_id, client__personal_manager_id=employee_id).order_by(
        "-created_at", "-id"
    )

