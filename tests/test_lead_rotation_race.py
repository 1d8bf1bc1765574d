"""SPEC §10.2: lead routing is race-free and fair across processes as §1.1 (it shares the widget's rotation pointer
with orders); SPEC §10.4: two employees taking one unassigned chat at once, exactly one wins. PostgreSQL, real OS
processes (tests/workers/leads_and_orders.py)."""

from __future__ import annotations

import pytest

import asyncio
import json
import sys
import time
from collections import Counter
from pathlib import Path

from sales import conversations, dialogs, outbox
from sales.clients import find_or_create_client
from storage.models import AssignmentLog, AssignmentReason, AssignmentTarget, Chat, Client, Message, Order, Outbox
from tests.factories import make_shop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

ROOT = Path(__file__).resolve().parent.parent
WORKER = "tests.workers.leads_and_orders"
PROCESSES = 4
EACH = 250
MANAGERS = 5
TAKEN_CHATS = 50


async def _spawn(tmp_path: Path, name: str, *args: str) -> asyncio.subprocess.Process:
    # stderr to a file: a pipe nobody reads while the workers wait could fill up and stall one.
    err = open(tmp_path / f"{name}.err", "wb")  # closed by `_finish`
    worker = await asyncio.create_subprocess_exec(
        sys.executable, "-m", WORKER, *args, cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=err,
    )
    worker.err_file = err
    worker.err_path = tmp_path / f"{name}.err"
    return worker


def _stderr(worker: asyncio.subprocess.Process) -> str:
    worker.err_file.flush()
    return worker.err_path.read_text(errors="replace")[-3000:]


async def _start_together(workers: list[asyncio.subprocess.Process], ready: list[Path], start: Path) -> None:
    """The barrier: every worker has connected and prepared its data (it wrote its ready file); then go."""
    deadline = time.monotonic() + 120
    while not all(r.exists() for r in ready):
        for worker in workers:
            assert worker.returncode is None, f"a worker quit before the start:\n{_stderr(worker)}"
        assert time.monotonic() < deadline, "the workers never got ready"
        await asyncio.sleep(0.01)
    start.touch()


async def _finish(workers: list[asyncio.subprocess.Process]) -> list[dict]:
    try:
        results = await asyncio.wait_for(asyncio.gather(*(w.communicate() for w in workers)), timeout=180)
    except TimeoutError:
        for worker in workers:
            if worker.returncode is None:
                worker.kill()
        raise
    finally:
        for worker in workers:
            worker.err_file.close()
    reports = []
    for worker, (out, _) in zip(workers, results, strict=True):
        assert worker.returncode == 0, _stderr(worker)
        reports.append(json.loads(out.decode().strip().splitlines()[-1]))
    return reports


async def test_four_processes_of_leads_and_orders_share_one_rotation_fairly_and_assign_each_once(pg, tmp_path):
    shop = await make_shop(managers=MANAGERS)
    managers = sorted(m.id for m in shop.managers)
    start = tmp_path / "go"
    ready = [tmp_path / f"ready-p{n}" for n in range(PROCESSES)]
    workers = [
        await _spawn(tmp_path, f"p{n}", "leads", pg, str(shop.account.id), str(shop.offer.id), str(shop.widget.id),
                     str(EACH), f"p{n}", str(ready[n]), str(start))
        for n in range(PROCESSES)
    ]
    began = time.monotonic()
    await _start_together(workers, ready, start)
    racing = time.monotonic()
    reports = await _finish(workers)
    print(f"\n{PROCESSES} workers ready in {racing - began:.1f} s; {PROCESSES * EACH} leads + {PROCESSES * EACH} "
          f"orders in {time.monotonic() - racing:.1f} s")
    assert reports == [{"leads": EACH, "orders": EACH}] * PROCESSES

    # Every lead has its one chat with the one message, and exactly one assignee, by rotation, audited once.
    leads = set(await Client.filter(account_id=shop.account.id, email__contains="-lead-").values_list("id", flat=True))
    chats = await Chat.filter(account_id=shop.account.id)
    assert len(leads) == len(chats) == PROCESSES * EACH
    assert {c.client_id for c in chats} == leads
    assert all(c.assignee_id in managers for c in chats)
    assert await Message.filter(chat__account_id=shop.account.id).count() == len(chats)
    chat_logs = await AssignmentLog.filter(account_id=shop.account.id, target=AssignmentTarget.CHAT)
    assert Counter(log.chat_id for log in chat_logs) == Counter({c.id: 1 for c in chats})
    assignee = {c.id: c.assignee_id for c in chats}
    assert all(log.reason == AssignmentReason.ROTATION for log in chat_logs)
    assert all((log.from_employee_id, log.to_employee_id) == (None, assignee[log.chat_id]) for log in chat_logs)

    # Every order exactly one order manager, by rotation, audited once.
    orders = await Order.filter(account_id=shop.account.id)
    assert len(orders) == PROCESSES * EACH
    assert not leads & {o.client_id for o in orders}
    assert all(o.order_manager_id in managers for o in orders)
    order_logs = await AssignmentLog.filter(account_id=shop.account.id, target=AssignmentTarget.ORDER)
    assert Counter(log.order_id for log in order_logs) == Counter({o.id: 1 for o in orders})
    manager = {o.id: o.order_manager_id for o in orders}
    assert all(log.reason == AssignmentReason.ROTATION for log in order_logs)
    assert all(log.to_employee_id == manager[log.order_id] for log in order_logs)

    # Fair: leads and orders together, every manager within one of the others.
    counts = Counter(assignee.values()) + Counter(manager.values())
    assert set(counts) == set(managers), counts
    assert max(counts.values()) - min(counts.values()) <= 1, counts
    # And strictly round-robin: each log is written under the rotation lock, so log ids follow the pointer.
    picks = await AssignmentLog.filter(account_id=shop.account.id).order_by("id").values_list(
        "to_employee_id", flat=True)
    assert len(picks) == 2 * PROCESSES * EACH
    out_of_turn = [i for i, picked in enumerate(picks) if picked != managers[i % MANAGERS]]
    assert not out_of_turn, f"{len(out_of_turn)} picks out of turn, first at {out_of_turn[:5]}"

    # One assignment ping per chat and per order, to the one assigned; no key twice.
    pings = await Outbox.filter(account_id=shop.account.id, kind__in=[outbox.CHAT_ASSIGNED, outbox.ORDER_ASSIGNED])
    chat_pings = [p for p in pings if p.kind == outbox.CHAT_ASSIGNED]
    order_pings = [p for p in pings if p.kind == outbox.ORDER_ASSIGNED]
    assert Counter(p.payload["chat_id"] for p in chat_pings) == Counter({c.id: 1 for c in chats})
    assert all(p.employee_id == assignee[p.payload["chat_id"]] for p in chat_pings)
    assert Counter(p.payload["order_id"] for p in order_pings) == Counter({o.id: 1 for o in orders})
    assert all(p.employee_id == manager[p.payload["order_id"]] for p in order_pings)
    assert len({p.dedupe_key for p in pings}) == len(pings)
    # The lead's "hi" reached the assignee chosen in its own transaction.
    to_staff = await Outbox.filter(account_id=shop.account.id, kind=outbox.MESSAGE_TO_STAFF).values_list(
        "client_id", "employee_id")
    lead_chat = {c.client_id: c for c in chats}
    assert sorted(to_staff) == sorted((client, lead_chat[client].assignee_id) for client in leads)


async def test_two_employees_taking_the_same_unassigned_chats_at_once_one_wins_each(pg, tmp_path):
    shop = await make_shop(managers=MANAGERS)
    chat_ids = []
    for i in range(TAKEN_CHATS):
        client = await find_or_create_client(shop.account.id, email=f"take-{i}@race.test", name=f"Lead {i}")
        await Client.filter(id=client.id).update(widget_id=shop.widget.id)
        await dialogs.record_inbound(client, "hi")
        chat = await Chat.get(client_id=client.id)
        await conversations.assign_chat(shop.admin, chat.id, None)
        chat_ids.append(chat.id)
    assert await Chat.filter(id__in=chat_ids, assignee_id__isnull=True).count() == TAKEN_CHATS

    takers = [shop.managers[1], shop.managers[3]]
    start = tmp_path / "go"
    ready = [tmp_path / f"ready-t{n}" for n in range(len(takers))]
    ids = ",".join(map(str, chat_ids))
    workers = [
        await _spawn(tmp_path, f"t{n}", "take", pg, str(taker.id), ids, str(ready[n]), str(start))
        for n, taker in enumerate(takers)
    ]
    await _start_together(workers, ready, start)
    reports = await _finish(workers)
    print(f"\nwins per taker: {[len(r['won']) for r in reports]}")

    # Each taker saw every chat end one way or the other; each chat has exactly one winner and one Conflict.
    for report in reports:
        assert sorted(report["won"] + report["lost"]) == sorted(chat_ids)
    winner = {}
    for taker, report in zip(takers, reports, strict=True):
        for chat_id in report["won"]:
            assert chat_id not in winner, f"chat {chat_id} taken by both"
            winner[chat_id] = taker.id
    assert sorted(winner) == sorted(chat_ids)
    assert {c.id: c.assignee_id for c in await Chat.filter(id__in=chat_ids)} == winner

    takes = await AssignmentLog.filter(chat_id__in=chat_ids, reason=AssignmentReason.TAKE)
    assert Counter(log.chat_id for log in takes) == Counter({chat_id: 1 for chat_id in chat_ids})
    assert all((log.from_employee_id, log.to_employee_id, log.actor_id) == (None, winner[log.chat_id],
                                                                            winner[log.chat_id]) for log in takes)
    trail = Counter()
    for log in await AssignmentLog.filter(chat_id__in=chat_ids).order_by("id"):
        trail[(log.chat_id, str(log.reason))] += 1
    assert trail == Counter({(c, r): 1 for c in chat_ids for r in ("rotation", "manual", "take")})
    # Nobody was pinged about a take twice (the taker needs no ping of his own take).
    take_pings = [p for p in await Outbox.filter(account_id=shop.account.id, kind=outbox.CHAT_ASSIGNED)
                  if p.payload.get("reason") == "take"]
    assert all(n == 1 for n in Counter(p.payload["chat_id"] for p in take_pings).values())
