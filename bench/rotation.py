"""Benchmark 4, rotation (SPEC §1.1): 4 OS processes creating 10,000 orders at once in one widget of 5 managers.

Each process makes its 2,500 clients first, says it is ready, and waits for a start file; orders/s is 10,000 over
the wall time from the start signal to the last process finishing. Spread is max - min of the managers' counts;
every order must have exactly one manager and one audit row. Then the storage floor (bench/rotation_floor.py: the
same statements by hand over asyncpg) makes as many orders the same way, and must write the same rows per order.

The worker side is this module too: `python -m bench.rotation worker|floor DB_URL ACCOUNT OFFER WIDGET COUNT PREFIX START`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from bench.common import ROOT, BenchEnv, Report, fresh_database, percentile, timed_after_signal
from sales.accounts import add_employee, add_widget, create_account
from sales.orders import create_order
from storage.db import close_database, open_database
from storage.models import Client, Employee, Offer, Role

DATABASE = "closer_bench_rotation"
PROCESSES = 4
MANAGERS = 5


async def _setup() -> tuple[int, int, int, set[int]]:
    account = await create_account("Rotation", "owner@rotation.bench", "bench-password")
    owner = await Employee.get(account_id=account.id, role=Role.OWNER)
    managers = {(await add_employee(owner, email=f"m{i}@rotation.bench", name=f"Manager {i}")).id
                for i in range(MANAGERS)}
    widget = await add_widget(owner, code="landing", name="Landing", notification_emails=["sales@rotation.bench"])
    offer = await Offer.create(account_id=account.id, title="Course", price="100.00", currency="EUR")
    return account.id, offer.id, widget.id, managers


async def _race(url: str, mode: str, account_id: int, offer_id: int, widget_id: int, each: int,
                prefix: str) -> tuple[float, list[dict]]:
    """PROCESSES workers of `mode` ("worker": closer's create_order; "floor": the hand-written SQL) make their
    clients, say ready, and start on one signal; returns the wall time from the signal to the last one done."""
    with tempfile.TemporaryDirectory() as tmp:
        start = Path(tmp) / "go"
        workers = [
            await asyncio.create_subprocess_exec(
                sys.executable, "-m", "bench.rotation", mode, url, str(account_id), str(offer_id),
                str(widget_id), str(each), f"{prefix}{n}", str(start),
                cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
            )
            for n in range(PROCESSES)
        ]
        for worker in workers:
            line = await asyncio.wait_for(worker.stdout.readline(), timeout=300)
            if line.strip() != b"ready":
                raise RuntimeError(f"worker not ready: {line!r} {(await worker.stderr.read()).decode()[-2000:]}")
        started = time.monotonic()
        start.touch()
        outputs = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), timeout=900)
    results = []
    for worker, (out, err) in zip(workers, outputs, strict=True):
        if worker.returncode != 0:
            raise RuntimeError(err.decode()[-3000:])
        results.append(json.loads(out))
    return max(r["finished"] for r in results) - started, results


async def _rows(url: str, account_id: int, prefix: str) -> dict:
    """What the orders of the clients named `prefix`… left: per manager, orders without exactly one manager and one
    audit row, and the rows of each kind (orders, audit rows, outbox rows by kind)."""
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        orders = await conn.fetch(
            "SELECT o.id, o.order_manager_id, (SELECT count(*) FROM assignment_log l WHERE l.order_id = o.id) AS logs "
            "FROM orders o JOIN client c ON c.id = o.client_id WHERE o.account_id = $1 AND c.email LIKE $2",
            account_id, f"{prefix}%")
        ids = [o["id"] for o in orders]
        outbox = dict(await conn.fetch(
            "SELECT kind, count(*) FROM outbox WHERE (payload->>'order_id')::int = ANY($1::int[]) GROUP BY kind", ids))
    finally:
        await conn.close()
    return {"orders": orders, "rows": {"orders": len(orders), "audit rows": sum(o["logs"] for o in orders),
                                       **{f"outbox {kind}": n for kind, n in sorted(outbox.items())}}}


def _unlike(rows: dict[str, int], orders: int, pattern: dict[str, int]) -> int:
    return sum(abs(rows.get(name, 0) - pattern.get(name, 0) * orders) for name in {*rows, *pattern})


async def run(env: BenchEnv) -> Report:
    report = Report(bench="rotation")
    each = 250 if env.quick else 2_500
    total = PROCESSES * each
    url = await fresh_database(env, DATABASE)
    ctx = await open_database(url)
    try:
        account_id, offer_id, widget_id, managers = await _setup()
    finally:
        await close_database(ctx)

    wall, results = await _race(url, "worker", account_id, offer_id, widget_id, each, "p")
    rate = total / wall
    made = await _rows(url, account_id, "p")
    orders = made["orders"]
    counts, spread, wrong = _assignments(orders, managers)
    latencies = [ms for r in results for ms in r["latencies"]]
    report.latencies["create_order, 4 processes at once"] = latencies
    report.add("orders created per second, 4 processes", rate, "orders/s", goal=">= 500/s", met=rate >= 500,
               detail=f"{total} orders in {wall:.2f} s")
    report.add("spread of orders per manager (max - min)", spread, "", goal="<= 1", met=spread <= 1,
               detail=", ".join(str(counts.get(m, 0)) for m in sorted(managers)))
    report.add("orders without exactly one manager and one audit row", wrong + (total - len(orders)), "",
               goal="0", met=wrong == 0 and len(orders) == total)
    report.add("create_order latency, p99", percentile(latencies, 99), "ms",
               detail=f"p50 {percentile(latencies, 50):.1f} ms")

    # The floor: the same statements by hand (bench.rotation_floor), the same 4 processes, one transaction per
    # order, in the same widget (its pointer carries on from closer's run), for clients of its own.
    pattern = {name: round(n / len(orders)) for name, n in made["rows"].items()} if orders else {}
    floor_wall, floor_results = await _race(url, "floor", account_id, offer_id, widget_id, each, "f")
    floor_rate = total / floor_wall
    floor_made = await _rows(url, account_id, "f")
    _, floor_spread, floor_wrong = _assignments(floor_made["orders"], managers)
    unlike = _unlike(floor_made["rows"], total, pattern) + floor_wrong + floor_spread
    report.latencies["storage floor, 4 processes at once"] = [ms for r in floor_results for ms in r["latencies"]]
    report.add("rotation floor orders/s, 4 processes", floor_rate, "orders/s",
               detail=f"closer's statements by hand over asyncpg: SELECT … FOR UPDATE on the pointer, the order, "
                      f"its audit row and outbox rows, one transaction per order; {total} orders in "
                      f"{floor_wall:.2f} s")
    report.add("rotation floor: rows unlike closer's per order, wrong or uneven assignments", unlike, "", goal="0",
               met=unlike == 0,
               detail="closer per order: " + ", ".join(f"{k} {v}" for k, v in pattern.items())
                      + "; floor: " + ", ".join(f"{k} {v}" for k, v in floor_made["rows"].items())
                      + f"; floor spread {floor_spread}, orders without one manager and one audit row {floor_wrong}")
    ratio = rate / floor_rate if floor_rate else float("nan")
    report.add("rotation: closer / floor", ratio, "×", goal="≥ 1.0 ×", met=ratio >= 1.0)
    return report


def _assignments(orders: list[dict], managers: list[int]) -> tuple[Counter, int, int]:
    """Orders per manager, the spread (most - fewest), and orders with a manager not of the widget or not exactly
    one audit row."""
    counts = Counter(o["order_manager_id"] for o in orders)
    spread = max(counts.get(m, 0) for m in managers) - min(counts.get(m, 0) for m in managers)
    wrong = sum(1 for o in orders if o["order_manager_id"] not in managers or o["logs"] != 1)
    return counts, spread, wrong


async def _worker(url: str, account_id: int, offer_id: int, widget_id: int, count: int, prefix: str,
                  start: Path) -> dict:
    ctx = await open_database(url)
    try:
        await Client.bulk_create(
            [Client(account_id=account_id, email=f"{prefix}-{i}@rotation.bench") for i in range(count)]
        )
        ids = await Client.filter(account_id=account_id, email__startswith=f"{prefix}-").order_by("id").values_list(
            "id", flat=True)
        return await timed_after_signal(
            ids, start, lambda client_id: create_order(account_id, client_id=client_id, offer_id=offer_id,
                                                       widget_id=widget_id))
    finally:
        await close_database(ctx)


if __name__ == "__main__" and sys.argv[1:2] in (["worker"], ["floor"]):
    db_url, account, offer, widget, n, name, start_file = sys.argv[2:9]
    if sys.argv[1] == "floor":
        from bench.rotation_floor import worker as _floor_worker

        result = asyncio.run(_floor_worker(db_url, int(account), int(offer), int(widget), int(n), name,
                                           Path(start_file)))
    else:
        result = asyncio.run(_worker(db_url, int(account), int(offer), int(widget), int(n), name,
                                     Path(start_file)))
    print(json.dumps(result))
