"""A separate OS process that creates orders, for the multi-process race test.

usage: python -m tests.workers.create_orders DB_URL ACCOUNT OFFER WIDGET COUNT PREFIX START_FILE
It connects, makes its clients, writes START_FILE's sibling `ready-PREFIX`, waits until START_FILE exists (so every
worker begins at once), creates COUNT orders for new clients, and prints how many it made.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

from sales.clients import find_or_create_client
from sales.orders import create_order
from storage.db import close_database, open_database


async def main(db_url: str, account_id: int, offer_id: int, widget_id: int, count: int, prefix: str, start: Path) -> int:
    ctx = await open_database(db_url)
    try:
        clients = [
            await find_or_create_client(account_id, email=f"{prefix}-{i}@race.test") for i in range(count)
        ]
        start.with_name(f"ready-{prefix}").write_text("ready")
        deadline = time.monotonic() + 120
        while not start.exists():
            if time.monotonic() > deadline:
                raise SystemExit("start signal never came")
            await asyncio.sleep(0.005)
        for client in clients:
            await create_order(account_id, client_id=client.id, offer_id=offer_id, widget_id=widget_id)
        return count
    finally:
        await close_database(ctx)


if __name__ == "__main__":
    url, account, offer, widget, n, prefix, start_file = sys.argv[1:8]
    made = asyncio.run(main(url, int(account), int(offer), int(widget), int(n), prefix, Path(start_file)))
    print(made)
