"""A chat's private notes (SPEC §11.2) and its timeline (SPEC §11.4)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Annotated

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from core.keys import CLOCK
from inbox.auth import employee_of
from inbox.present import messages_out
from inbox.respond import query, send
from inbox.schemas import (
    EmployeeRef,
    NoteIn,
    NoteOut,
    OfferRef,
    TimelineAssignment,
    TimelineCall,
    TimelineMessage,
    TimelineNote,
    TimelineOrderCreated,
    TimelinePage,
    TimelinePayment,
)
from sales import notes, timeline
from sales.listing import MAX_PAGE
from storage.models import AssignmentLog, CallLog, ChatNote, Employee, Offer, Order, PaymentEvent
from webio.body import parse, path_id


class TimelineQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    # The next_cursor of the page shown: the entries before it.
    before: Annotated[str, Field(max_length=200)] | None = None
    limit: Annotated[int, Field(ge=1, le=MAX_PAGE)] | None = None


async def _staff(ids: Iterable[int | None]) -> dict[int, EmployeeRef]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return {r["id"]: EmployeeRef(id=r["id"], name=r["name"])
            for r in await Employee.filter(id__in=wanted).values("id", "name")}


async def notes_out(rows: Sequence[ChatNote]) -> list[NoteOut]:
    staff = await _staff([n.employee_id for n in rows] + [i for n in rows for i in n.mentioned or []])
    return [
        NoteOut(id=n.id, chat_id=n.chat_id, author=staff[n.employee_id], text=n.text,
                mentioned=[staff[i] for i in n.mentioned or [] if i in staff], created_at=n.created_at)
        for n in rows
    ]


async def timeline_out(entries: Sequence[timeline.Entry]) -> list:
    """The page's entries in their API shapes: one query per related table, never one per entry."""
    by_kind: dict[str, list] = {kind: [] for kind in timeline.KINDS}
    for entry in entries:
        by_kind[entry.kind].append(entry.row)
    messages = {m.id: m for m in await messages_out(by_kind["message"])}
    written = {n.id: n for n in await notes_out(by_kind["note"])}
    order_ids = ({o.id for o in by_kind["order_created"]} | {p.order_id for p in by_kind["payment"]}
                 | {c.order_id for c in by_kind["call"]})
    orders = {o.id: o for o in await Order.filter(id__in=order_ids)} if order_ids else {}
    offer_ids = {o.offer_id for o in orders.values()}
    titles = dict(await Offer.filter(id__in=offer_ids).values_list("id", "title")) if offer_ids else {}
    logs: list[AssignmentLog] = by_kind["assignment"]
    calls: list[CallLog] = by_kind["call"]
    staff = await _staff([i for a in logs for i in (a.from_employee_id, a.to_employee_id, a.actor_id)]
                         + [c.employee_id for c in calls])

    def offer(order_id: int) -> OfferRef:
        order = orders[order_id]
        return OfferRef(id=order.offer_id, title=titles[order.offer_id])

    out = []
    for entry in entries:
        row, common = entry.row, {"at": entry.at, "id": entry.id}
        if entry.kind == "message":
            out.append(TimelineMessage(kind="message", message=messages[row.id], **common))
        elif entry.kind == "note":
            out.append(TimelineNote(kind="note", note=written[row.id], **common))
        elif entry.kind == "order_created":
            out.append(TimelineOrderCreated(kind="order_created", order_id=row.id, offer=offer(row.id),
                                            amount=str(row.amount), currency=row.currency, status=str(row.status),
                                            **common))
        elif entry.kind == "payment":
            event: PaymentEvent = row
            order = orders[event.order_id]
            out.append(TimelinePayment(
                kind="payment", order_id=event.order_id, offer=offer(event.order_id), result=str(event.result),
                amount=str(event.amount if event.amount is not None else order.amount),
                currency=event.currency or order.currency, reason=event.reason, **common))
        elif entry.kind == "assignment":
            out.append(TimelineAssignment(
                kind="assignment", target=str(row.target), order_id=row.order_id,
                from_employee=staff.get(row.from_employee_id), to_employee=staff.get(row.to_employee_id),
                reason=str(row.reason), actor=staff.get(row.actor_id), **common))
        else:
            out.append(TimelineCall(kind="call", order_id=row.order_id, employee=staff[row.employee_id],
                                    outcome=str(row.outcome), comment=row.comment, call_back_at=row.call_back_at,
                                    **common))
    return out


async def add_note(request: web.Request) -> web.Response:
    body = await parse(request, NoteIn)
    note = await notes.add_note(employee_of(request), path_id(request), body.text, now=request.app[CLOCK]())
    return send((await notes_out([note]))[0], status=201)


async def chat_timeline(request: web.Request) -> web.Response:
    """Newest page first, each page oldest first; `before` goes further back."""
    wanted = query(request, TimelineQuery)
    page = await timeline.timeline(employee_of(request), path_id(request), before=wanted.before, limit=wanted.limit)
    return send(TimelinePage(items=await timeline_out(page.entries), next_cursor=page.next_cursor))
