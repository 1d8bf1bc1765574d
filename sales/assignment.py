"""The order manager (SPEC §1.1–1.3, §1.6–1.8): auto-assignment, manual and group assignment, taking, auto-detach.

Every change of order manager goes through `change_order_manager`, which writes the audit row, moves the commission
of a paid order and queues the ping, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from sales import commission, outbox
from sales.access import active_staff, get_in_account, require_active, require_admin
from sales.audit import log_order_manager_change
from sales.clock import utcnow
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from sales.rotation import Candidate, may_keep, pick_next
from storage.models import (
    Account,
    AssignmentLog,
    Chat,
    AssignmentReason,
    Employee,
    Order,
    OrderStatus,
    Role,
    RotationState,
    WidgetExclusion,
)

# Unpaid orders: they count against capacity, appear in call lists and may be detached.
OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT, OrderStatus.FAILED)
MAX_GROUP = 1000


async def rotation_candidates(account_id: int, widget_id: int) -> list[Candidate]:
    """The widget's managers, without their open-order counts (see `with_open_orders`)."""
    staff = await Employee.filter(account_id=account_id, role=Role.MANAGER).values(
        "id", "role", "active", "away", "capacity"
    )
    excluded = set(await WidgetExclusion.filter(widget_id=widget_id).values_list("employee_id", flat=True))
    return [
        Candidate(
            id=row["id"],
            role=Role(row["role"]),
            active=row["active"],
            away=row["away"],
            excluded=row["id"] in excluded,
            capacity=row["capacity"],
        )
        for row in staff
    ]


async def with_open_orders(candidates: list[Candidate]) -> list[Candidate]:
    """The open-order counts of those with a capacity; the only ones it matters for."""
    capped = [c.id for c in candidates if c.capacity is not None]
    if not capped:
        return candidates
    counts = (
        await Order.filter(order_manager_id__in=capped, status__in=OPEN_STATUSES)
        .group_by("order_manager_id")
        .annotate(n=Count("id"))
        .values("order_manager_id", "n")
    )
    open_orders = {row["order_manager_id"]: row["n"] for row in counts}
    return [replace(c, open_orders=open_orders.get(c.id, 0)) for c in candidates]


class Rotation:
    """One auto-assignment's view of a widget's rotation (SPEC §1.1 b, §10.2): orders and leads share it.

    The widget's rotation row is locked before the pointer is read, so concurrent assignments in one widget pick one
    after another: no two read the same pointer. The lock is held until the caller's transaction commits, so what
    needs no lock is read before it: the staff (a change at that very moment is no different from one a moment
    earlier). Open-order counts decide who has room, so when anyone has a capacity they are read under the lock,
    or two assignments at once could both take a manager's last slot.
    """

    def __init__(self, widget_id: int, candidates: list[Candidate]) -> None:
        self.widget_id = widget_id
        self.candidates = candidates
        self._state: RotationState | None = None

    @classmethod
    async def of(cls, account_id: int, widget_id: int) -> Rotation:
        rotation = cls(widget_id, await rotation_candidates(account_id, widget_id))
        if any(c.capacity is not None for c in rotation.candidates):
            await rotation._lock()
            rotation.candidates = await with_open_orders(rotation.candidates)
        return rotation

    async def _lock(self) -> RotationState:
        if self._state is None:
            self._state = await RotationState.filter(widget_id=self.widget_id).select_for_update().get()
        return self._state

    def may_keep(self, employee_id: int | None) -> bool:
        """Sticky: whether this earlier manager may get the new assignment (eligible here, with room if anyone has)."""
        keeper = next((c for c in self.candidates if c.id == employee_id), None)
        return keeper is not None and may_keep(keeper, self.candidates)

    async def next(self) -> int | None:
        """The next eligible member, moving the pointer; None when nobody is eligible (the owner's turn then)."""
        state = await self._lock()
        picked = pick_next(self.candidates, state.last_employee_id)
        if picked is None:
            return None
        state.last_employee_id = picked.id
        await state.save(update_fields=["last_employee_id", "updated_at"])
        return picked.id


async def owner_of(account_id: int) -> int:
    return (await Employee.get(account_id=account_id, role=Role.OWNER)).id


async def choose_order_manager(order: Order) -> tuple[int, AssignmentReason]:
    """Sticky, else rotation, else the owner (SPEC §1.1, §10.2). Runs inside the creating transaction.

    Sticky looks first at who answers for the client's conversation now (his chat's assignee), then at the manager
    of his latest earlier order.
    """
    rotation = await Rotation.of(order.account_id, order.widget_id)
    assignee = await Chat.filter(client_id=order.client_id).values_list("assignee_id", flat=True)
    previous = (
        await Order.filter(client_id=order.client_id, order_manager_id__isnull=False)
        .exclude(id=order.id)
        .order_by("-created_at", "-id")
        .limit(1)
        .values_list("order_manager_id", flat=True)
    )
    for keeper in (*assignee, *previous):
        if rotation.may_keep(keeper):
            return keeper, AssignmentReason.STICKY
    picked = await rotation.next()
    if picked is not None:
        return picked, AssignmentReason.ROTATION
    return await owner_of(order.account_id), AssignmentReason.FALLBACK


async def change_order_manager(
    order: Order,
    new_manager_id: int | None,
    *,
    reason: AssignmentReason,
    actor_id: int | None,
    now: datetime,
    ping: bool = True,
) -> AssignmentLog | None:
    """The one way an order's manager changes. The caller holds the order's row lock and a transaction."""
    previous = order.order_manager_id
    if previous == new_manager_id:
        return None
    order.order_manager_id = new_manager_id
    order.assigned_at = now if new_manager_id is not None else None
    order.last_action_at = None
    await order.save(update_fields=["order_manager_id", "assigned_at", "last_action_at", "updated_at"])
    log = await log_order_manager_change(
        account_id=order.account_id,
        order_id=order.id,
        from_id=previous,
        to_id=new_manager_id,
        reason=reason,
        actor_id=actor_id,
        now=now,
    )
    if order.status == OrderStatus.PAID:
        await commission.move_to_new_manager(order, new_manager_id, now)
    if ping and new_manager_id is not None and new_manager_id != actor_id:
        await outbox.enqueue(
            account_id=order.account_id,
            kind=outbox.ORDER_ASSIGNED,
            dedupe_key=f"{outbox.ORDER_ASSIGNED}:{log.id}",
            employee_id=new_manager_id,
            payload={"order_id": order.id, "reason": str(reason)},
            now=now,
        )
    if reason == AssignmentReason.DETACHED and previous is not None:
        await outbox.enqueue(
            account_id=order.account_id,
            kind=outbox.ORDER_DETACHED,
            dedupe_key=f"{outbox.ORDER_DETACHED}:{log.id}",
            employee_id=previous,
            payload={"order_id": order.id},
            now=now,
        )
    return log


async def _locked_order(account_id: int, order_id: int) -> Order:
    await get_in_account(Order, account_id, order_id, what="order")
    return await Order.filter(id=order_id).select_for_update().get()


async def assign_order(
    actor: Employee, order_id: int, employee_id: int, *, now: datetime | None = None
) -> Order:
    """Owner or admin sets any active employee of the account as the order manager (SPEC §1.2)."""
    require_admin(actor)
    now = now or utcnow()
    async with in_transaction():
        await active_staff(actor.account_id, employee_id)
        order = await _locked_order(actor.account_id, order_id)
        await change_order_manager(
            order, employee_id, reason=AssignmentReason.MANUAL, actor_id=actor.id, now=now
        )
    return order


async def assign_orders(
    actor: Employee, order_ids: Iterable[int], employee_id: int, *, now: datetime | None = None
) -> list[int]:
    """The group operation "Assign responsible": only the selected orders change, all or none.

    The new manager gets one digest for the whole group instead of one ping per order. Returns the ids that changed.
    """
    require_admin(actor)
    now = now or utcnow()
    ids = sorted(set(order_ids))
    if not ids:
        raise Invalid("select at least one order", field="order_ids")
    if len(ids) > MAX_GROUP:
        raise Invalid("at most {limit} orders at once", field="order_ids", limit=MAX_GROUP)
    async with in_transaction():
        await active_staff(actor.account_id, employee_id)
        # Locked in id order, so two group operations over overlapping selections cannot deadlock.
        orders = await Order.filter(id__in=ids, account_id=actor.account_id).order_by("id").select_for_update()
        if len(orders) != len(ids):
            missing = sorted(set(ids) - {o.id for o in orders})
            raise NotFound("orders not found: {ids}", field="order_ids", ids=missing)
        changed: list[int] = []
        for order in orders:
            log = await change_order_manager(
                order, employee_id, reason=AssignmentReason.GROUP, actor_id=actor.id, now=now, ping=False
            )
            if log is not None:
                changed.append(order.id)
        if changed and employee_id != actor.id:
            await outbox.enqueue(
                account_id=actor.account_id,
                kind=outbox.ORDERS_ASSIGNED_DIGEST,
                dedupe_key=f"{outbox.ORDERS_ASSIGNED_DIGEST}:{employee_id}:{now.timestamp()}:{changed[0]}",
                employee_id=employee_id,
                payload={"order_ids": changed},
                now=now,
            )
    return changed


async def take_order(actor: Employee, order_id: int, *, now: datetime | None = None) -> Order:
    """A manager takes an unassigned unpaid order for himself; another manager's order is not his to take."""
    require_active(actor)
    now = now or utcnow()
    async with in_transaction():
        order = await _locked_order(actor.account_id, order_id)
        if order.order_manager_id == actor.id:
            return order
        if order.order_manager_id is not None:
            raise NotAllowed("this order already has a manager", field="order_id")
        if order.status not in OPEN_STATUSES:
            raise Conflict("a {status} order cannot be taken", field="order_id", status=order.status)
        await change_order_manager(order, actor.id, reason=AssignmentReason.TAKEN, actor_id=actor.id, now=now)
    return order


async def note_manager_action(order: Order, actor: Employee, now: datetime) -> None:
    """An action of the order's own manager keeps him attached (SPEC §1.3). Viewing never calls this."""
    if order.order_manager_id == actor.id:
        order.last_action_at = now
        await Order.filter(id=order.id, order_manager_id=actor.id).update(last_action_at=now)


async def note_actions_on_client(client_id: int, actor: Employee, now: datetime) -> None:
    """A message to the client is an action on every open order of his that this employee manages."""
    await Order.filter(client_id=client_id, order_manager_id=actor.id, status__in=OPEN_STATUSES).update(
        last_action_at=now
    )


def _idle_since(cutoff: datetime) -> Q:
    return Q(assigned_at__lte=cutoff) & (Q(last_action_at__isnull=True) | Q(last_action_at__lte=cutoff))


async def detach_idle_orders(now: datetime | None = None) -> list[int]:
    """Detach order managers who took no action within their account's `detach_after` (SPEC §1.3).

    Safe to run from several processes at once: each order is re-checked under its row lock, so it is detached
    (and audited) once.
    """
    now = now or utcnow()
    detached: list[int] = []
    accounts = await Account.filter(detach_after_seconds__gt=0).values("id", "detach_after_seconds")
    for account in accounts:
        cutoff = now - timedelta(seconds=account["detach_after_seconds"])
        idle = Order.filter(
            _idle_since(cutoff),
            account_id=account["id"],
            status__in=OPEN_STATUSES,
            order_manager_id__isnull=False,
        )
        for order_id in await idle.values_list("id", flat=True):
            async with in_transaction():
                order = (
                    await Order.filter(_idle_since(cutoff), id=order_id, status__in=OPEN_STATUSES)
                    .filter(order_manager_id__isnull=False)
                    .select_for_update()
                    .first()
                )
                if order is None:
                    continue
                await change_order_manager(
                    order, None, reason=AssignmentReason.DETACHED, actor_id=None, now=now, ping=False
                )
                detached.append(order.id)
    return detached
