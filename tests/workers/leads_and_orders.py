"""Separate OS processes for the lead-routing race tests (SPEC §10.2, §10.4): new leads and new orders on one widget's
rotation, or one employee taking unassigned chats.

usage:
  python -m tests.workers.leads_and_orders leads DB_URL ACCOUNT OFFER WIDGET COUNT PREFIX READY_FILE START_FILE
  python -m tests.workers.leads_and_orders take DB_URL EMPLOYEE CHAT_IDS READY_FILE START_FILE

Each worker connects and prepares everything it needs (its clients, or its employee), then writes READY_FILE and
waits until START_FILE exists, so that every worker begins at once. It prints one JSON line of what it did.

`leads`: COUNT new leads (a new client through WIDGET writes "hi") interleaved with COUNT orders of other new clients
through WIDGET, so both kinds of assignment compete for the same rotation pointer.
`take`: the employee takes every chat of CHAT_IDS (comma-separated), all at once over the connection pool; each one
ends as "won" or "lost" (sales.errors.Conflict). Any other error fails the worker.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

from sales import conversations, dialogs
from sales.errors import Conflict
from sales.orders import create_order
from storage.db import close_database, open_database
from storage.models import Client, Employee


async def _ready_then_wait(ready: Path, start: Path) -> None:
    ready.write_text("ready")
    deadline = time.monotonic() + 120
    while not start.exists():
        if time.monotonic() > deadline:
            raise SystemExit("start signal never came")
        await asyncio.sleep(0.002)


async def leads(account_id: int, offer_id: int, widget_id: int, count: int, prefix: str,
                ready: Path, start: Path) -> dict:
    # They all came through this widget (its bot deep link): its rotation is theirs. Made in one statement, as
    # making them is not what is under test.
    emails = [f"{prefix}-{kind}-{i}@race.test" for kind in ("lead", "buyer") for i in range(count)]
    await Client.bulk_create([Client(account_id=account_id, email=e, name=e, widget_id=widget_id) for e in emails])
    made = {c.email: c for c in await Client.filter(account_id=account_id, email__in=emails)}
    lead_clients = [made[e] for e in emails[:count]]
    buyers = [made[e] for e in emails[count:]]
    await _ready_then_wait(ready, start)
    for lead, buyer in zip(lead_clients, buyers, strict=True):
        await dialogs.record_inbound(lead, "hi")
        await create_order(account_id, client_id=buyer.id, offer_id=offer_id, widget_id=widget_id)
    return {"leads": count, "orders": count}


async def take(employee_id: int, chat_ids: list[int], ready: Path, start: Path) -> dict:
    employee = await Employee.get(id=employee_id)

    async def one(chat_id: int) -> str:
        try:
            await conversations.take_chat(employee, chat_id)
        except Conflict:
            return "lost"
        return "won"

    await _ready_then_wait(ready, start)
    outcomes = await asyncio.gather(*(one(chat_id) for chat_id in chat_ids))
    return {
        "won": [c for c, o in zip(chat_ids, outcomes, strict=True) if o == "won"],
        "lost": [c for c, o in zip(chat_ids, outcomes, strict=True) if o == "lost"],
    }


async def main(mode: str, db_url: str, args: list[str]) -> dict:
    ctx = await open_database(db_url)
    try:
        if mode == "leads":
            account, offer, widget, count, prefix, ready, start = args
            return await leads(int(account), int(offer), int(widget), int(count), prefix, Path(ready), Path(start))
        if mode == "take":
            employee, chat_ids, ready, start = args
            return await take(int(employee), [int(c) for c in chat_ids.split(",")], Path(ready), Path(start))
        raise SystemExit(f"unknown mode {mode!r}")
    finally:
        await close_database(ctx)


if __name__ == "__main__":
    print(json.dumps(asyncio.run(main(sys.argv[1], sys.argv[2], sys.argv[3:]))))
