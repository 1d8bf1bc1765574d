"""Benchmark 1 (ingest) and 5 (memory, scale-out): customer text updates posted to closer's Telegram webhook.

closer runs as `closer run` in webhook mode on PostgreSQL and Redis, its bot pointed at the Telegram emulator (for
getMe and setWebhook; a customer's text needs no answer from the bot). Every update is a text from one of many known
customers, so each is stored in his chat, and its outbox rows reach his managers: the work a real update does.
The reference is a bare aiogram app with an empty handler on the same machine and the same load.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
import time

from bench.common import ROOT, BenchEnv, Report, flush_redis, fresh_database, percentile, start_profile
from bench.load import LoadResult, closed_loop, open_loop
from harness.processes import free_port, log_of, serve, stop

TOKEN = "8100:bench-ingest-bot"
BOT_ID = 8100
CUSTOMERS = 2000
MANAGERS = 5
CONCURRENCY = 32


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
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.bare_aiogram", "--port", str(port), "--token", TOKEN, "--secret", secret],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        await asyncio.sleep(0.1)
        try:
            _, reader = await asyncio.open_connection("127.0.0.1", port)
            reader.close()
            return process, port
        except OSError:
            continue
    raise RuntimeError("the bare aiogram app did not start")


async def _warm_up(make) -> int:
    """One message from each customer, 32 at a time; returns how many were not answered 200."""
    import aiohttp

    refused = 0
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one(http) -> None:
        nonlocal refused
        url, body, headers = make()
        async with gate:
            try:
                async with http.post(url, data=body, headers=headers) as response:
                    refused += response.status != 200
            except aiohttp.ClientError:
                refused += 1

    async with aiohttp.ClientSession() as http:
        await asyncio.gather(*(one(http) for _ in range(CUSTOMERS)))
    return refused


def _refused(*results: LoadResult) -> dict[int, int]:
    counts: dict[int, int] = {}
    for result in results:
        for status, n in result.errors.items():
            counts[status] = counts.get(status, 0) + n
    return counts


def _line(label: str, r: LoadResult) -> str:
    return (f"{label}: {r.rate:.0f}/s, p50 {percentile(r.latencies_ms, 50):.1f} ms, "
            f"p99 {percentile(r.latencies_ms, 99):.1f} ms, errors {r.errors or 0}")


async def run(env: BenchEnv) -> Report:
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
    try:
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        closer = await serve(url, port, WEBHOOK_BASE_URL=base, **app_env)
        try:
            secret = await _webhook_secret(url)
            hook = f"{base}/webhooks/telegram/{BOT_ID}"
            first_id = itertools.count(1, 1_000_000)
            # Warm: every customer has written once (his chat exists, routed) before anything is timed, so the
            # 1-process run, the open-loop steps and the 2-process run all meet the same state: existing chats.
            warm = await _warm_up(_updates(hook, secret, next(first_id)))
            report.add("warm-up: customers' first messages answered other than 200", warm, "", goal="0",
                       met=warm == 0, detail=f"{CUSTOMERS} customers, one message each, before timing")
            profile = start_profile(closer.pid, "ingest", seconds)
            saturated = await closed_loop(_updates(hook, secret, next(first_id)), concurrency=CONCURRENCY,
                                          seconds=seconds)
            if profile is not None:
                profile.wait(timeout=60)
            print("  " + _line("closer, closed loop", saturated), flush=True)
            report.add("closer: sustained updates/s, 1 process", saturated.rate, "updates/s",
                       detail=f"{CONCURRENCY} senders, {seconds:.0f} s")
            report.latencies[f"closer at saturation ({CONCURRENCY} senders)"] = saturated.latencies_ms
            steps = {}
            for share in (0.25, 0.5, 0.75, 1.0):
                rate = max(1.0, saturated.rate * share)
                result = await open_loop(_updates(hook, secret, next(first_id)), rate=rate, seconds=seconds)
                steps[share] = result
                print("  " + _line(f"closer, open loop at {share:.0%} ({rate:.0f}/s)", result), flush=True)
                report.latencies[f"closer at {rate:.0f}/s ({share:.0%} of max)"] = result.latencies_ms
            half = steps[0.5]
            p99_half = percentile(half.latencies_ms, 99)
            report.add("closer: p50 at half of its maximum rate", percentile(half.latencies_ms, 50), "ms",
                       detail=f"{half.rate:.0f} updates/s")
            report.add("closer: p99 at half of its maximum rate", p99_half, "ms", goal="≤ 50 ms",
                       met=p99_half <= 50, detail=f"{half.rate:.0f} updates/s")
            refused = _refused(saturated, *steps.values())
            report.add("closer: non-200 answers, 1 process", sum(refused.values()), "", goal="0",
                       met=not refused, detail=", ".join(f"{n} × {status}" for status, n in sorted(refused.items())))
            rss = _peak_rss_mb(closer.pid)
            report.add("closer: peak RSS of the process through benchmark 1", rss, "MB", goal="≤ 200 MB",
                       met=rss <= 200)
        finally:
            stop(closer)
        if closer.returncode not in (0, -15, None):
            report.notes.append("closer exited badly: " + log_of(closer)[-500:])

        bare, bare_port = await _bare(secret)
        try:
            bare_result = await closed_loop(
                _updates(f"http://127.0.0.1:{bare_port}/webhook", secret, 1), concurrency=CONCURRENCY, seconds=seconds
            )
            bare_rss = _peak_rss_mb(bare.pid)
        finally:
            bare.terminate()
            bare.wait(timeout=10)
        print("  " + _line("bare aiogram, closed loop", bare_result), flush=True)
        report.add("bare aiogram: peak RSS under the same load", bare_rss, "MB",
                   detail="aiogram's import alone holds most of it (its pydantic models)")
        report.add("bare aiogram (empty handler): updates/s", bare_result.rate, "updates/s",
                   detail="the framework's ceiling here")
        report.latencies[f"bare aiogram at saturation ({CONCURRENCY} senders)"] = bare_result.latencies_ms
        ratio = saturated.rate / bare_result.rate if bare_result.rate else float("nan")
        report.add("closer / bare aiogram throughput", ratio, "×", goal="≥ 0.5 ×", met=ratio >= 0.5)

        two = await _scale_out(env, url, app_env, secret, seconds)
        print("  " + _line("closer, 2 processes, closed loop", two), flush=True)
        report.add("closer: sustained updates/s, 2 processes", two.rate, "updates/s")
        report.add("closer: non-200 answers, 2 processes", sum(two.errors.values()), "", goal="0",
                   met=not two.errors, detail=", ".join(f"{n} × {status}" for status, n in sorted(two.errors.items())))
        scale = two.rate / saturated.rate if saturated.rate else float("nan")
        report.add("scale-out: 2 processes / 1 process", scale, "×", goal="≥ 1.6 ×", met=scale >= 1.6,
                   detail=f"{os.cpu_count()} CPUs shared with PostgreSQL, Redis and the load generator")
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)
    return report


async def _scale_out(env: BenchEnv, url: str, app_env: dict, secret: str, seconds: float) -> LoadResult:
    """The same closed loop against `closer run --workers 2` (SO_REUSEPORT spreads the connections)."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN",)}
    environment |= {"DATABASE_URL": url, "HTTP_PORT": str(port), "HTTP_HOST": "127.0.0.1",
                    "WEBHOOK_BASE_URL": base, **app_env}
    supervisor = subprocess.Popen([sys.executable, "-m", "closer.cli", "run", "--workers", "2"], cwd=ROOT,
                                  env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        import aiohttp

        async with aiohttp.ClientSession() as http:
            for _ in range(150):
                try:
                    async with http.get(f"{base}/healthz") as response:
                        if response.status == 200 and len(_children(supervisor.pid)) == 2:
                            break
                except aiohttp.ClientError:
                    pass
                await asyncio.sleep(0.2)
        await asyncio.sleep(1.0)  # both workers up, not just the first
        return await closed_loop(_updates(f"{base}/webhooks/telegram/{BOT_ID}", secret, 50_000_000),
                                 concurrency=CONCURRENCY, seconds=seconds)
    finally:
        supervisor.terminate()
        supervisor.wait(timeout=30)
