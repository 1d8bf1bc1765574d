"""Benchmark 1 (ingest) and 5 (memory, scale-out): customer text updates posted to closer's Telegram webhook.

closer runs as `closer run` in webhook mode on PostgreSQL and Redis, its bot pointed at the Telegram emulator (for
getMe and setWebhook; a customer's text needs no answer from the bot). Every update is a text from one of many known
customers, so each is stored in his chat, and its outbox rows reach his managers: the work a real update does.
Two references under the same load, on the same machine, in the same run: a bare aiogram app with an empty handler
(the framework's ceiling) and the storage floor (bench/floor.py: closer's own statements for the update, written by
hand over asyncpg, one transaction per update, 20 connections), with a check that the floor wrote the rows closer
writes for each update.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import tempfile
import time

from bench.common import ROOT, BenchEnv, Report, flush_redis, fresh_database, percentile, start_profile
from bench.load import LoadResult, closed_loop, open_loop
from harness.processes import free_port, log_of, serve, stop

TOKEN = "8100:bench-ingest-bot"
BOT_ID = 8100
CUSTOMERS = 2000
MANAGERS = 5
CONCURRENCY = 32
# The storage floor's connection pool (issue 14: hand-written SQL over 20 connections).
FLOOR_CONNECTIONS = 20


async def _seed(url: str) -> None:
    from sales import accounts
    from sales.clients import client_from_telegram
    from storage.db import close_database, open_database
    from storage.models import Account, Client, Employee, Role

    ctx = await open_database(url)
    try:
        account = await accounts.create_account("Ingest", "owner@ingest.bench", "bench-password")
        await Account.filter(id=account.id).update(bot_token=TOKEN)
        owner = await Employee.get(account_id=account.id, role=Role.OWNER)
        managers = [await accounts.add_employee(owner, email=f"m{i}@ingest.bench", name=f"M{i}")
                    for i in range(MANAGERS)]
        for i in range(CUSTOMERS):
            client, _ = await client_from_telegram(account.id, 500_000 + i, name=f"Customer {i}", language_code="en")
            # Known customers past the e-mail question, each with a personal manager: the everyday update.
            await Client.filter(id=client.id).update(
                email_asked=True, personal_manager_id=managers[i % MANAGERS].id
            )
    finally:
        await close_database(ctx)


async def _webhook_secret(url: str) -> str:
    from storage.db import close_database, open_database
    from storage.models import Account

    ctx = await open_database(url)
    try:
        return (await Account.get(bot_token=TOKEN)).webhook_secret
    finally:
        await close_database(ctx)


def _updates(url: str, secret: str, first_id: int):
    """A maker of fresh updates: each a new update_id from the next customer."""
    ids = itertools.count(first_id)
    headers = {"Content-Type": "application/json", "X-Telegram-Bot-Api-Secret-Token": secret}

    def make():
        n = next(ids)
        user = {"id": 500_000 + n % CUSTOMERS, "is_bot": False, "first_name": "Customer", "language_code": "en"}
        body = {
            "update_id": n,
            "message": {"message_id": n, "date": int(time.time()), "chat": {"id": user["id"], "type": "private",
                        "first_name": "Customer"}, "from": user, "text": f"Hello, is the course still on? #{n}"},
        }
        return url, json.dumps(body).encode(), headers

    return make


def _peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _children(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as f:
            return [int(p) for p in f.read().split()]
    except OSError:
        return []


def _listening(pid: int, port: int) -> bool:
    """Whether process `pid` holds a TCP socket listening on `port` (IPv4 or IPv6)."""
    inodes = set()
    for name in ("tcp", "tcp6"):
        try:
            with open(f"/proc/net/{name}") as table:
                next(table)
                for line in table:
                    fields = line.split()
                    if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:
                        inodes.add(fields[9])
        except OSError:
            continue
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
    except OSError:
        return False
    for fd in fds:
        try:
            target = os.readlink(f"/proc/{pid}/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:[") and target[8:-1] in inodes:
            return True
    return False


async def _emulator() -> tuple[subprocess.Popen, int]:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "telegram_emulator", "--port", str(port), "--bot-token", TOKEN],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    await asyncio.sleep(1.0)
    return process, port


async def _bare(secret: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        # `--secret=…`: a secret may start with a dash, which argparse would take for an option.
        [sys.executable, "-m", "bench.bare_aiogram", "--port", str(port), "--token", TOKEN, f"--secret={secret}"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
    )
    await _wait_for_port(process, port, "the bare aiogram app", errors)
    return process, port


async def _warm_up(make) -> dict[int, int]:
    """One message from each customer, 32 at a time; returns the answers other than 200, by status (599: none)."""
    import aiohttp

    refused: dict[int, int] = {}
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(http) -> None:
        url, body, headers = make()
        async with gate:
            try:
                async with http.post(url, data=body, headers=headers,
                                     timeout=aiohttp.ClientTimeout(total=30)) as response:
                    status = response.status
            except (aiohttp.ClientError, asyncio.TimeoutError):
                status = 599
        if status != 200:
            refused[status] = refused.get(status, 0) + 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(CUSTOMERS)))
    return refused


def _refused(*results: LoadResult) -> dict[int, int]:
    counts: dict[int, int] = {}
    for result in results:
        for status, n in result.errors.items():
            counts[status] = counts.get(status, 0) + n
    return counts


# What one customer text update writes, as counted afterwards: the same for closer and for the storage floor.
_COUNTS = {
    "telegram_update": "SELECT count(*) FROM telegram_update",
    "message": "SELECT count(*) FROM message",
    "chat": "SELECT count(*) FROM chat",
    "outbox message.to_staff": "SELECT count(*) FROM outbox WHERE kind = 'message.to_staff'",
    "outbox chat.event": "SELECT count(*) FROM outbox WHERE kind = 'chat.event'",
    "outbox, other kinds": "SELECT count(*) FROM outbox WHERE kind NOT IN ('message.to_staff', 'chat.event')",
    "assignment_log": "SELECT count(*) FROM assignment_log",
    "staff_relay": "SELECT count(*) FROM staff_relay",
}
# Chats whose pointer to their newest inbound message is wrong: each side must move it.
_STALE_CHATS = """
    SELECT count(*) FROM chat c
    WHERE c.last_inbound_message_id IS DISTINCT FROM
          (SELECT max(m.id) FROM message m WHERE m.chat_id = c.id AND m.direction = 'in')
       OR c.last_message_at IS DISTINCT FROM (SELECT max(m.created_at) FROM message m WHERE m.chat_id = c.id)
"""


async def _counts(url: str) -> dict[str, int]:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return {name: await conn.fetchval(sql) for name, sql in _COUNTS.items()}
    finally:
        await conn.close()


async def _drain(url: str, limit: float = 180.0) -> tuple[float, int]:
    """Waits until closer's delivery worker has no due outbox row left (or `limit` seconds): (seconds waited, rows
    left). The closed loop leaves thousands of rows (a staff copy and a live event per update) that the worker, in the
    same process, drains for long after; a step timed over that backlog measures it, not the step's own rate."""
    import asyncpg

    conn = await asyncpg.connect(url)
    started = time.perf_counter()
    try:
        while True:
            left = await conn.fetchval(
                "SELECT count(*) FROM outbox WHERE status = 'pending' AND available_at <= now()")
            waited = time.perf_counter() - started
            if left == 0 or waited >= limit:
                return waited, left
            await asyncio.sleep(0.5)
    finally:
        await conn.close()


async def _stale_chats(url: str) -> int:
    import asyncpg

    conn = await asyncpg.connect(url)
    try:
        return await conn.fetchval(_STALE_CHATS)
    finally:
        await conn.close()


def _written(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {name: after[name] - before[name] for name in before}


def _per_update(written: dict[str, int], updates: int) -> dict[str, int]:
    """Rows of each kind one update writes, as a whole number (closer's pattern)."""
    return {name: round(n / updates) if updates else 0 for name, n in written.items()}


def _unlike(written: dict[str, int], updates: int, pattern: dict[str, int]) -> int:
    """Rows more or fewer than `updates` updates of `pattern` write."""
    return sum(abs(n - pattern[name] * updates) for name, n in written.items())


def _shape(written: dict[str, int], updates: int) -> str:
    return f"{updates} updates acknowledged: " + ", ".join(f"{name} {n}" for name, n in written.items() if n)


async def _floor(url: str, secret: str) -> tuple[subprocess.Popen, int]:
    port = free_port()
    errors = tempfile.TemporaryFile()
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.floor", "--port", str(port), "--database", url, f"--secret={secret}",
         "--bot-id", str(BOT_ID), "--connections", str(FLOOR_CONNECTIONS)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=errors,
    )
    await _wait_for_port(process, port, "the storage floor", errors)
    return process, port


async def _wait_for_port(process: subprocess.Popen, port: int, what: str, errors) -> None:
    """`errors`: the file the process writes its stderr to (a pipe nobody reads could fill and stall it)."""
    for _ in range(300):
        await asyncio.sleep(0.1)
        if process.poll() is not None:
            break
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            continue
    process.kill()
    process.wait()
    errors.seek(0)
    said = errors.read().decode(errors="replace")[-2000:]
    raise RuntimeError(f"{what} did not start (exit {process.returncode}): {said}")


def _errors_logged(log: str) -> int:
    return sum(1 for line in log.splitlines() if '"level": "error"' in line or '"level": "critical"' in line)


def _statuses(errors: dict[int, int]) -> str:
    return ", ".join(f"{n} × {'no answer' if status == 599 else status}" for status, n in sorted(errors.items()))


def _line(label: str, r: LoadResult) -> str:
    return (f"{label}: {r.rate:.0f}/s, p50 {percentile(r.latencies_ms, 50):.1f} ms, "
            f"p99 {percentile(r.latencies_ms, 99):.1f} ms, errors {r.errors or 0}")


async def _grouped(base: str) -> dict[str, float]:
    """The group commit's counters on closer's /metrics page (storage.group_commit)."""
    import aiohttp

    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as page:
        text = await page.text()
    prefix = "closer_group_commit_"
    return {line[len(prefix):].rsplit(" ", 1)[0].removesuffix("_total"): float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(prefix)}


async def _loop_lag(base: str) -> dict[str, float]:
    """closer's event loop lag histogram on /metrics (closer.observe.watch_loop): samples at or under each bound."""
    import aiohttp

    prefix = 'closer_event_loop_lag_seconds_bucket{le="'
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as page:
        text = await page.text()
    return {line[len(prefix):].split('"', 1)[0]: float(line.rsplit(" ", 1)[1])
            for line in text.splitlines() if line.startswith(prefix)}


async def run(env: BenchEnv) -> Report:
    """Every side meets the same state: each customer has written once through that very side (its chat exists and
    is routed, the side's caches, connections and prepared statements are warm) before anything is timed: closer
    (1 process, then 2), the storage floor and bare aiogram alike. Then each is timed against existing chats."""
    report = Report("ingest")
    seconds = 3.0 if env.quick else 10.0
    url = await fresh_database(env, "closer_bench_ingest")
    await flush_redis(env)
    await _seed(url)
    emulator, emulator_port = await _emulator()
    app_env = {
        "REDIS_URL": env.redis_url, "TELEGRAM_API_URL": f"http://127.0.0.1:{emulator_port}",
        "LOG_LEVEL": "WARNING",
    }
    first_id = itertools.count(1, 1_000_000)
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        closer = await serve(url, port, WEBHOOK_BASE_URL=base, **app_env)
        try:
            secret = await _webhook_secret(url)
            hook = f"{base}/webhooks/telegram/{BOT_ID}"
            # Warm: every customer has written once (his chat exists, routed) before anything is timed, so the
            # 1-process run, the open-loop steps and the 2-process run all meet the same state: existing chats.
            warm = await _warm_up(_updates(hook, secret, next(first_id)))
            report.add("closer warm-up: customers' first messages answered other than 200", sum(warm.values()), "",
                       goal="0", met=not warm,
                       detail=f"{CUSTOMERS} customers, one message each, before timing"
                              + (f": {_statuses(warm)}" if warm else ""))
            rows_before = await _counts(url)
            grouped_before = await _grouped(base)
            profile = start_profile(closer.pid, "ingest", seconds)
            saturated = await closed_loop(_updates(hook, secret, next(first_id)), concurrency=CONCURRENCY,
                                          seconds=seconds)
            if profile is not None:
                profile.wait(timeout=60)
            grouped = {name: value - grouped_before[name] for name, value in (await _grouped(base)).items()}
            print("  " + _line("closer, closed loop", saturated), flush=True)
            report.add("closer: sustained updates/s, 1 process", saturated.rate, "updates/s",
                       detail=f"{CONCURRENCY} senders, {seconds:.0f} s")
            transactions = grouped["transactions"] or 1
            report.add("closer: messages per transaction at saturation (group commit)",
                       grouped["bodies"] / transactions, "",
                       detail=f"{grouped['shared_statements'] / transactions:.1f} set-based statements per "
                              f"transaction, each for {grouped['shared_calls'] / (grouped['shared_statements'] or 1):.1f}"
                              " messages' statements")
            report.latencies[f"closer at saturation ({CONCURRENCY} senders)"] = saturated.latencies_ms
            steps = {}
            drains = {}
            lags = {}  # per step: closer's loop-lag samples over 50 ms, and all of them
            for share in (0.25, 0.5, 0.75, 1.0):
                drains[share] = await _drain(url)
                print(f"  outbox drained before the {share:.0%} step in {drains[share][0]:.1f} s"
                      f" ({drains[share][1]} rows left)", flush=True)
                rate = max(1.0, saturated.rate * share)
                lag_before = await _loop_lag(base)
                result = await open_loop(_updates(hook, secret, next(first_id)), rate=rate, seconds=seconds)
                lag = {bound: n - lag_before[bound] for bound, n in (await _loop_lag(base)).items()}
                lags[share] = (lag["+Inf"] - lag["0.05"], lag["+Inf"])
                steps[share] = result
                print("  " + _line(f"closer, open loop at {share:.0%} ({rate:.0f}/s)", result), flush=True)
                report.latencies[f"closer at {rate:.0f}/s ({share:.0%} of max)"] = result.latencies_ms
            closer_rows = _written(rows_before, await _counts(url))
            closer_updates = saturated.acknowledged + sum(r.ok for r in steps.values())
            half = steps[0.5]
            p99_half = percentile(half.latencies_ms, 99)
            report.add("closer: p50 at half of its maximum rate", percentile(half.latencies_ms, 50), "ms",
                       detail=f"{half.rate:.0f} updates/s")
            waited, left = drains[0.5]
            report.add("closer: p99 at half of its maximum rate", p99_half, "ms", goal="≤ 50 ms",
                       met=p99_half <= 50,
                       detail=f"{half.rate:.0f} updates/s, started from a drained outbox (the earlier steps' rows took "
                              f"{waited:.0f} s to deliver{f', {left} left' if left else ''}); closer's event loop ran "
                              f"{lags[0.5][0]:.0f} of {lags[0.5][1]:.0f} timers more than 50 ms late")
            refused = _refused(saturated, *steps.values())
            report.add("closer: non-200 answers, 1 process", sum(refused.values()), "", goal="0",
                       met=not refused, detail=_statuses(refused))
            rss = _peak_rss_mb(closer.pid)
            report.add("closer: peak RSS of the process through benchmark 1", rss, "MB", goal="≤ 200 MB",
                       met=rss <= 200)
        finally:
            stop(closer)
        logged = _errors_logged(log_of(closer))
        report.add("closer: errors logged, 1 process", logged, "", goal="0", met=logged == 0,
                   detail="log lines at level error or critical, warm-up included")
        if closer.returncode not in (0, -15, None):
            report.notes.append("closer exited badly: " + log_of(closer)[-500:])
        pattern = _per_update(closer_rows, closer_updates)
        closer_unlike = _unlike(closer_rows, closer_updates, pattern)
        report.add("closer: rows unlike whole updates' (the pattern the floor is held to)", closer_unlike, "",
                   goal="0", met=closer_unlike == 0,
                   detail=_shape(closer_rows, closer_updates) + "; per update: "
                   + ", ".join(f"{name} {n}" for name, n in pattern.items() if n))

        # The storage floor: closer's statements by hand over asyncpg, one transaction per update, on the same
        # database (the chats closer made), behind the same webhook URL shape, under the same load.
        floor, floor_port = await _floor(url, secret)
        try:
            floor_hook = f"http://127.0.0.1:{floor_port}/webhooks/telegram/{BOT_ID}"
            floor_warm = await _warm_up(_updates(floor_hook, secret, next(first_id)))
            floor_before = await _counts(url)
            floor_result = await closed_loop(_updates(floor_hook, secret, next(first_id)), concurrency=CONCURRENCY,
                                             seconds=seconds)
            floor_rows = _written(floor_before, await _counts(url))
            floor_rss = _peak_rss_mb(floor.pid)
        finally:
            floor.terminate()
            floor.wait(timeout=10)
        print("  " + _line("storage floor, closed loop", floor_result), flush=True)
        report.add("storage floor: updates/s", floor_result.rate, "updates/s",
                   detail=f"closer's statements by hand over asyncpg, one transaction per update, "
                          f"{FLOOR_CONNECTIONS} connections, {CONCURRENCY} senders, {seconds:.0f} s")
        report.latencies[f"storage floor at saturation ({CONCURRENCY} senders)"] = floor_result.latencies_ms
        floor_refused = sum(floor_warm.values()) + sum(floor_result.errors.values())
        report.add("storage floor: non-200 answers", floor_refused, "", goal="0", met=floor_refused == 0,
                   detail=f"warm-up: {_statuses(floor_warm) or 0}; timed: {_statuses(floor_result.errors) or 0}")
        stale = await _stale_chats(url)
        floor_unlike = _unlike(floor_rows, floor_result.acknowledged, pattern)
        report.add("storage floor: rows unlike closer's per update, and chats not moved", floor_unlike + stale, "",
                   goal="0", met=floor_unlike + stale == 0,
                   detail=f"{_shape(floor_rows, floor_result.acknowledged)}; chats whose last inbound message or "
                          f"last_message_at is not their newest: {stale}")
        report.add("storage floor: peak RSS", floor_rss, "MB", detail="aiohttp and asyncpg, no aiogram")
        floor_ratio = saturated.rate / floor_result.rate if floor_result.rate else float("nan")
        report.add("closer / storage floor throughput", floor_ratio, "×", goal="≥ 1.0 ×", met=floor_ratio >= 1.0)

        bare, bare_port = await _bare(secret)
        try:
            bare_hook = f"http://127.0.0.1:{bare_port}/webhook"
            bare_warm = await _warm_up(_updates(bare_hook, secret, 1))
            bare_result = await closed_loop(_updates(bare_hook, secret, 1), concurrency=CONCURRENCY, seconds=seconds)
            bare_rss = _peak_rss_mb(bare.pid)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
        print("  " + _line("bare aiogram, closed loop", bare_result), flush=True)
        report.add("bare aiogram: peak RSS under the same load", bare_rss, "MB",
                   detail="aiogram's import alone holds most of it (its pydantic models)")
        report.add("bare aiogram (empty handler): updates/s", bare_result.rate, "updates/s",
                   detail="the framework's ceiling here")
        bare_refused = sum(bare_warm.values()) + sum(bare_result.errors.values())
        report.add("bare aiogram: non-200 answers", bare_refused, "", goal="0", met=bare_refused == 0,
                   detail=f"warm-up: {_statuses(bare_warm) or 0}; timed: {_statuses(bare_result.errors) or 0}")
        report.latencies[f"bare aiogram at saturation ({CONCURRENCY} senders)"] = bare_result.latencies_ms
        ratio = saturated.rate / bare_result.rate if bare_result.rate else float("nan")
        report.add("closer / bare aiogram throughput", ratio, "×", goal="≥ 0.5 ×", met=ratio >= 0.5)
        floor_bare = floor_result.rate / bare_result.rate if bare_result.rate else float("nan")
        report.add("storage floor / bare aiogram throughput", floor_bare, "×",
                   detail="what one transaction per update leaves of the framework's ceiling")

        two, two_warm, two_log = await _scale_out(env, url, app_env, secret, seconds, next(first_id), next(first_id))
        print("  " + _line("closer, 2 processes, closed loop", two), flush=True)
        report.add("closer: sustained updates/s, 2 processes", two.rate, "updates/s")
        two_refused = sum(two_warm.values()) + sum(two.errors.values())
        report.add("closer: non-200 answers, 2 processes", two_refused, "", goal="0", met=two_refused == 0,
                   detail=f"warm-up: {_statuses(two_warm) or 0}; timed: {_statuses(two.errors) or 0}")
        report.add("closer: errors logged, 2 processes", _errors_logged(two_log), "", goal="0",
                   met=_errors_logged(two_log) == 0, detail="log lines at level error or critical, warm-up included")
        if _errors_logged(two_log):
            report.notes.append("closer, 2 processes, first error logged: "
                                + next(line for line in two_log.splitlines() if '"level": "error"' in line
                                       or '"level": "critical"' in line)[:600])
        scale = two.rate / saturated.rate if saturated.rate else float("nan")
        report.add("scale-out: 2 processes / 1 process", scale, "×", goal="≥ 1.6 ×", met=scale >= 1.6,
                   detail=f"{os.cpu_count()} CPUs shared with PostgreSQL, Redis and the load generator")
        report.notes.append("every side (closer 1 process, storage floor, bare aiogram, closer 2 processes) gets one "
                            f"message from each of the {CUSTOMERS} customers before it is timed: all are timed warm, "
                            "against existing chats")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return report


async def _scale_out(env: BenchEnv, url: str, app_env: dict, secret: str, seconds: float, warm_id: int,
                     first_id: int) -> tuple[LoadResult, dict[int, int], str]:
    """The same closed loop against `closer run --workers 2` (SO_REUSEPORT spreads the connections), after the same
    warm-up as the 1-process run; returns the result, the warm-up's answers other than 200 and the processes' log."""
    import tempfile

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN",)}
    environment |= {"DATABASE_URL": url, "HTTP_PORT": str(port), "HTTP_HOST": "127.0.0.1",
                    "WEBHOOK_BASE_URL": base, **app_env}
    log = tempfile.TemporaryFile()
    supervisor = subprocess.Popen([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], cwd=ROOT,
                                  env=environment, stdout=log, stderr=subprocess.STDOUT)
    try:
        import aiohttp

        # Both workers listening (a healthz answer proves only one: SO_REUSEPORT sends every connection to the
        # sockets bound so far), then healthy. Imports take seconds of CPU each on a busy machine: up to 2 minutes.
        deadline = time.monotonic() + 120
        async with aiohttp.ClientSession() as http:
            while True:
                if time.monotonic() > deadline or supervisor.poll() is not None:
                    raise RuntimeError("closer run --workers 2 did not start both workers")
                children = _children(supervisor.pid)
                if len(children) == 2 and all(_listening(pid, port) for pid in children):
                    try:
                        async with http.get(f"{base}/healthz") as response:
                            if response.status == 200:
                                break
                    except aiohttp.ClientError:
                        pass
                await asyncio.sleep(0.2)
        hook = f"{base}/webhooks/telegram/{BOT_ID}"
        warm = await _warm_up(_updates(hook, secret, warm_id))
        result = await closed_loop(_updates(hook, secret, first_id), concurrency=CONCURRENCY, seconds=seconds)
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)
    log.seek(0)
    return result, warm, log.read().decode(errors="replace")
