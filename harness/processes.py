"""Real app processes for tests that need several of them (or a client that is not in the test's event loop)."""

from __future__ import annotations

import asyncio
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

import aiohttp
from aiohttp import web


async def serve_emulator(world, **options) -> tuple[web.AppRunner, str]:
    """The Telegram emulator over `world` on a free port of 127.0.0.1, in this process: its runner (clean it up) and
    the Bot API base URL for the app's TELEGRAM_API_URL."""
    from telegram_emulator.app import create_emulator_app

    runner = web.AppRunner(create_emulator_app(world), **options)
    await runner.setup()
    port = free_port()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    return runner, f"http://127.0.0.1:{port}"


def _ephemeral_start() -> int:
    try:
        return int(open("/proc/sys/net/ipv4/ip_local_port_range").read().split()[0])
    except (OSError, ValueError, IndexError):
        return 32768


_RANDOM = random.SystemRandom()
_PORTS_FROM, _PORTS_TO = 10000, min(_ephemeral_start(), 32768)


def free_port() -> int:
    """A port of 127.0.0.1 nobody listens on. Chosen at random below the kernel's ephemeral range, so no outgoing
    connection is handed it between this check and the server's bind; under pytest-xdist each worker takes only the
    ports whose remainder by the number of workers is its own index, so two workers of one run never pick the same.
    (Not bind(0): Linux gives bind(0) even ports only, which would leave odd-numbered workers none.)"""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    workers = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    index = int(worker[2:]) % workers if worker.startswith("gw") and worker[2:].isdigit() else 0
    for _ in range(1000):
        port = _RANDOM.randrange(_PORTS_FROM - _PORTS_FROM % workers + workers + index, _PORTS_TO, workers)
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port between {_PORTS_FROM} and {_PORTS_TO}")


async def serve(database_url: str, port: int, **env: str) -> subprocess.Popen:
    """`closer run` on 127.0.0.1:port, returned once /healthz answers 200."""
    environment = {k: v for k, v in os.environ.items() if k not in ("BOT_TOKEN", "WEBHOOK_BASE_URL", "REDIS_URL")}
    environment |= {
        "DATABASE_URL": database_url, "HTTP_PORT": str(port), "HTTP_HOST": "127.0.0.1",
        "TELEGRAM_API_URL": "http://127.0.0.1:1",
        # Tests seed rows on a fixed day years back: housekeeping firing at the top of an hour mid-test would purge
        # what they count, and the auto-detach sweep would take their orders from their managers (years idle) while
        # the test assigns them. A tick this long never comes in a test's lifetime.
        "HOUSEKEEPING_SECONDS": "1000000000", "DETACH_SWEEP_SECONDS": "1000000000", **env,
    }
    # The log goes to a file: a pipe nobody reads fills up and stalls the server mid-test.
    log = tempfile.TemporaryFile()
    process = subprocess.Popen([sys.executable, "-m", "closer.cli", "run"], env=environment,
                               stdout=log, stderr=subprocess.STDOUT)
    process.log = log
    # Imports alone take seconds of CPU; on a loaded machine several processes starting together need far more.
    deadline = time.monotonic() + 120
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                break
            try:
                async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                    if response.status == 200:
                        return process
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    process.kill()
    raise AssertionError(log_of(process)[-3000:])


def log_of(process: subprocess.Popen) -> str:
    process.log.seek(0)
    return process.log.read().decode(errors="replace")


def stop(*processes: subprocess.Popen) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
