"""An order's change as a live event of its client's chat (SPEC §11.4): whoever has the conversation open sees the
order appear, fail, get paid or be cancelled in the timeline and the card, without reloading."""

from __future__ import annotations

from datetime import datetime

from sales.conversations import announce
from storage.models import Chat, Order


async def order_changed(order: Order, now: datetime, *, key: object = None) -> None:
    """In the caller's transaction, after the change. A client with no conversation yet has no screen to update."""
    chat = await Chat.filter(client_id=order.client_id).first()
    if chat is not None:
        await announce(chat, "order", now, key=key, order_id=order.id, order_status=str(order.status))
