"""SPEC §1.1: rotation is fair and race-free with many processes creating orders at once (PostgreSQL)."""

from __future__ import annotations

import pytest

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path

from storage.models import AssignmentLog, AssignmentReason, Order
from tests.factories import make_shop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

ROOT = Path(__file__).resolve().parent.parent
PROCESSES = 4
ORDERS_EACH = 250


async def test_four_processes_creating_1000_orders_share_them_fairly_and_each_once(pg, tmp_path):
    shop = await make_shop(managers=5)
    start = tmp_path / "go"
    workers = [
        await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tests.workers.create_orders",
            pg, str(shop.account.id), str(shop.offer.id), str(shop.widget.id), str(ORDERS_EACH), f"p{n}", str(start),
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )
        for n in range(PROCESSES)
    ]
    # The barrier: every worker has connected and made its clients (it wrote its ready file); then they go together.
    ready = [tmp_path / f"ready-p{n}" for n in range(PROCESSES)]
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        assert all(w.returncode is None for w in workers), "a worker quit before the start"
        assert time.monotonic() < deadline, "the workers never got ready"
        await asyncio.sleep(0.01)
    start.touch()
    results = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), timeout=300)
    for worker, (out, err) in zip(workers, results, strict=True):
        assert worker.returncode == 0, err.decode()[-2000:]
        assert out.decode().strip() == str(ORDERS_EACH)

    orders = await Order.filter(account_id=shop.account.id)
    assert len(orders) == PROCESSES * ORDERS_EACH
    managers = {m.id for m in shop.managers}
    assert all(o.order_manager_id in managers for o in orders)
    logs = await AssignmentLog.filter(account_id=shop.account.id, order_id__isnull=False)
    assert Counter(log.order_id for log in logs) == Counter({o.id: 1 for o in orders})
    assert {log.reason for log in logs} == {AssignmentReason.ROTATION}
    counts = Counter(o.order_manager_id for o in orders)
    assert set(counts) == managers
    assert max(counts.values()) - min(counts.values()) <= 1
