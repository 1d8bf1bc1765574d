"""The order manager (SPEC §1.1–1.3, §1.6–1.8): auto-assignment, manual and group assignment, taking, auto-detach.

Every change of order manager goes through `change_order_manager`, which writes the audit row, moves the commission
of a paid order and queues the ping, in the caller's transaction.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime, timedelta

from tortoise.exceptions import DoesNotExist
from tortoise.expressions import Q
from tortoise.functions import Count
from tortoise.transactions import in_transaction

from sales import commission, outbox
from sales.access import active_staff, get_in_account, require_active, require_admin
from sales.audit import log_order_manager_change
from sales.clock import utcnow
from sales.errors import Conflict, Invalid, NotAllowed, NotFound
from sales.rotation import Candidate, may_keep, pick_next
from storage import sql
from storage.models import (
    Account,
    AssignmentLog,
    Chat,
    AssignmentReason,
    Employee,
    Order,
    OrderStatus,
    Role,
)

# Unpaid orders: they count against capacity, appear in call lists and may be detached.
OPEN_STATUSES = (OrderStatus.NEW, OrderStatus.AWAITING_PAYMENT, OrderStatus.FAILED)
MAX_GROUP = 1000


# One statement: every order and every new lead reads it, and the widget's exclusions are a join, not a second read.
_CANDIDATES = sql.Statement(
    "SELECT e.id, e.role, e.active, e.away, e.capacity, x.id IS NOT NULL AS excluded FROM employee e "
    "LEFT JOIN widget_exclusion x ON x.widget_id = $2 AND x.employee_id = e.id "
    "WHERE e.account_id = $1 AND e.role = $3"
)


async def rotation_candidates(account_id: int, widget_id: int) -> list[Candidate]:
    """The widget's managers, without their open-order counts (see `with_open_orders`)."""
    return [
        Candidate(
            id=row["id"],
            role=Role(row["role"]),
            active=bool(row["active"]),
            away=bool(row["away"]),
            excluded=bool(row["excluded"]),
            capacity=row["capacity"],
        )
        for row in await sql.rows(_CANDIDATES, account_id, widget_id, Role.MANAGER.value)
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


# The widget's row is the rotation's lock: from here to the assignment's commit, the next one in this widget waits.
# Each statement under it costs every order of the widget, so the pointer is read and moved by hand.
_POINTER = sql.Statement("SELECT last_employee_id FROM rotation_state WHERE widget_id = $1 FOR UPDATE")
_MOVE = sql.Statement("UPDATE rotation_state SET last_employee_id = $2, updated_at = $3 WHERE widget_id = $1")


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
        self._locked = False
        self._last: int | None = None

    @classmethod
    async def of(cls, account_id: int, widget_id: int) -> Rotation:
        rotation = cls(widget_id, await rotation_candidates(account_id, widget_id))
        if any(c.capacity is not None for c in rotation.candidates):
            await rotation._lock()
            rotation.candidates = await with_open_orders(rotation.candidates)
        return rotation

    async def _lock(self) -> int | None:
        """The pointer, read under the row's lock (once per assignment)."""
        if not self._locked:
            row = await sql.first(_POINTER, self.widget_id)
            if row is None:
                raise DoesNotExist(f"widget {self.widget_id} has no rotation")
            self._locked, self._last = True, row["last_employee_id"]
        return self._last

    def may_keep(self, employee_id: int | None) -> bool:
        """Sticky: whether this earlier manager may get the new assignment (eligible here, with room if anyone has)."""
        keeper = next((c for c in self.candidates if c.id == employee_id), None)
        return keeper is not None and may_keep(keeper, self.candidates)

    async def pick(self) -> tuple[int, sql.Write] | None:
        """The next eligible member and the pointer's move to him, which the caller writes in this transaction (with
        its next statement, `sql.rows(…, along=move)`: one round trip fewer under the lock); None when nobody is
        eligible (the owner's turn then)."""
        picked = pick_next(self.candidates, await self._lock())
        if picked is None:
            return None
        self._last = picked.id
        return picked.id, sql.Write(_MOVE, (self.widget_id, picked.id, utcnow()))

    async def next(self) -> int | None:
        """`pick`, with the pointer moved at once."""
        turn = await self.pick()
        if turn is None:
            return None
        picked, move = turn
        await sql.execute(move.statement, *move.values)
        return picked


async def owner_of(account_id: int) -> int:
    return (await Employee.get(account_id=account_id, role=Role.OWNER)).id


async def choose_order_manager(account_id: int, widget_id: int, chat: Chat | None, previous_manager_id: int | None,
                               ) -> tuple[int, AssignmentReason, sql.Write | None]:
    """Sticky, else rotation, else the owner (SPEC §1.1, §10.2), for a new order of a client through this widget.
    Runs inside the creating transaction, before the order is written; returns, with the manager and why, the
    rotation pointer's move when the rotation chose him, for the caller to write with the order.

    Sticky looks first at who answers for the client's conversation now (`chat`, the caller's read of it: his
    chat's assignee), then at `previous_manager_id`, the manager of his latest earlier order (the caller's read).
    """
    rotation = await Rotation.of(account_id, widget_id)
    keepers = (chat.assignee_id if chat is not None else None, previous_manager_id)
    for keeper in keepers:
        if rotation.may_keep(keeper):
            return keeper, AssignmentReason.STICKY, None
    turn = await rotation.pick()
    if turn is not None:
        return turn[0], AssignmentReason.ROTATION, turn[1]
    return await owner_of(account_id), AssignmentReason.FALLBACK, None


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
    log, pings = await manager_changed(order, previous, reason=reason, actor_id=actor_id, now=now, ping=ping)
    await outbox.enqueue_many(pings)
    return log


async def manager_changed(
    order: Order,
    previous: int | None,
    *,
    reason: AssignmentReason,
    actor_id: int | None,
    now: datetime,
    ping: bool = True,
) -> tuple[AssignmentLog, list[outbox.NewRow]]:
    """What follows the change of an order's manager from `previous` to the one `order` has now (already written):
    the audit row, a paid order's commission, and the pings (`outbox.row`s) for the caller to write. A new order is
    written with its first manager, so it comes here directly and writes its pings with its other rows."""
    new_manager_id = order.order_manager_id
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
    pings = []
    if ping and new_manager_id is not None and new_manager_id != actor_id:
        pings.append(outbox.row(
            account_id=order.account_id,
            kind=outbox.ORDER_ASSIGNED,
            dedupe_key=f"{outbox.ORDER_ASSIGNED}:{log.id}",
            employee_id=new_manager_id,
            payload={"order_id": order.id, "reason": str(reason)},
            now=now,
        ))
    if reason == AssignmentReason.DETACHED and previous is not None:
        pings.append(outbox.row(
            account_id=order.account_id,
            kind=outbox.ORDER_DETACHED,
            dedupe_key=f"{outbox.ORDER_DETACHED}:{log.id}",
            employee_id=previous,
            payload={"order_id": order.id},
            now=now,
        ))
    return log, pings


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
