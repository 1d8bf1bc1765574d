"""An order's change as a live event of its client's chat (SPEC §11.4): whoever has the conversation open sees the
order appear, fail, get paid or be cancelled in the timeline and the card, without reloading."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sales import outbox
from sales.conversations import announce
from storage.models import Chat, Order


async def order_changed(order: Order, now: datetime, *, key: object = None) -> None:
    """In the caller's transaction, after the change."""
    await announce_order(await Chat.filter(client_id=order.client_id).first(), order, now, key=key)


async def announce_order(chat: Chat | None, order: Order, now: datetime, *, key: object = None,
                         along: Sequence[outbox.NewRow] = ()) -> None:
    """`order_changed` for a caller that has read the client's chat already (None: he has none yet, so no screen to
    update). `along`: the caller's other outbox rows of this change, written with the event in one statement."""
    if chat is None:
        await outbox.enqueue_many(list(along))
        return
    await announce(chat, "order", now, key=key, along=along, order_id=order.id, order_status=str(order.status))
