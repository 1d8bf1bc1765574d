"""Faults (SPEC §7, issue: reliability): PostgreSQL goes away under a stream of webhooks and comes back.

The test runs its own PostgreSQL (initdb into a temporary directory, a free port) so that stopping it disturbs nothing
else. Every request gets either success or a 5xx, every success is stored, the same process serves again when the
database returns, and resending what failed leaves each event stored exactly once.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import tempfile
import time
from contextlib import contextmanager
from glob import glob
from pathlib import Path

import aiohttp
import pytest

from providers.signatures import sign_timestamped
from sales.orders import create_order
from sales.sessions import issue_api_token
from storage.db import close_database, migrate, open_database
from storage.models import Order, PaymentEvent
from tests.factories import at, make_shop, new_client
from harness.processes import free_port, log_of, serve, stop

# Asserts on wall-clock time or runs several processes: run with the machine to itself (scripts/test.sh).
pytestmark = pytest.mark.alone

SECRET = "outage-secret"
BIN = Path(sorted(glob("/usr/lib/postgresql/*/bin"))[-1]) if glob("/usr/lib/postgresql/*/bin") else None


class PrivatePostgres:
    def __init__(self, directory: Path, port: int) -> None:
        self.directory, self.port = directory, port
        self.url = f"postgres://postgres@127.0.0.1:{port}/postgres"

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(["su", "postgres", "-c", " ".join(command)], check=True, capture_output=True, timeout=60)

    def start(self) -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.directory), "-w", "-l", str(self.directory / "log"),
                          "-o", f"'-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1'", "start")

    def stop(self) -> None:
        self._as_postgres(str(BIN / "pg_ctl"), "-D", str(self.directory), "-m", "fast", "-w", "stop")


@contextmanager
def private_postgres():
    if BIN is None or os.geteuid() != 0:
        pytest.fail("the outage test needs PostgreSQL's binaries and root (to run them as the postgres user)")
    root = Path(tempfile.mkdtemp(prefix="closer-pg-"))
    shutil.chown(root, "postgres")
    data = root / "data"
    subprocess.run(["su", "postgres", "-c", f"{BIN / 'initdb'} -D {data} -A trust -U postgres"], check=True,
                   capture_output=True, timeout=120)
    server = PrivatePostgres(data, free_port())
    server.start()
    try:
        yield server
    finally:
        subprocess.run(["su", "postgres", "-c", f"{BIN / 'pg_ctl'} -D {data} -m immediate stop"], capture_output=True)
        shutil.rmtree(root, ignore_errors=True)


def _event(order_id: int, n: int) -> bytes:
    return json.dumps({"event_id": f"outage-{n}", "order_id": order_id, "status": "failed", "amount": 1.5,
                       "currency": "EUR", "occurred_at": "2026-03-02T09:10:00+00:00", "reason": f"try {n}"}).encode()


async def _send(http: aiohttp.ClientSession, base: str, body: bytes) -> int:
    headers = {"Content-Type": "application/json",
               "X-Closer-Signature": sign_timestamped(SECRET, body, int(time.time()))}
    try:
        async with http.post(f"{base}/webhooks/payments", data=body, headers=headers,
                             timeout=aiohttp.ClientTimeout(total=10)) as response:
            return response.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return 599  # no answer at all counts as a failure the sender resends


async def _probe(http: aiohttp.ClientSession, base: str, token: str) -> tuple[int, int]:
    async with http.get(f"{base}/healthz") as health:
        pass
    async with http.get(f"{base}/api/v1/important", headers={"Authorization": f"Bearer {token}"}) as api:
        return health.status, api.status


async def test_postgres_going_away_under_a_stream_of_webhooks_loses_and_doubles_nothing():
    with private_postgres() as pg:
        await migrate(pg.url)
        ctx = await open_database(pg.url)
        shop = await make_shop(managers=2)
        order = await create_order(shop.account.id, client_id=(await new_client(shop)).id, offer_id=shop.offer.id,
                                   now=at(0))
        token = await issue_api_token(shop.owner, "outage")
        await close_database(ctx)
        port = free_port()
        app = await serve(pg.url, port, PAYMENTS_WEBHOOK_SECRET=SECRET)
        base = f"http://127.0.0.1:{port}"
        statuses: dict[int, int] = {}
        try:
            async with aiohttp.ClientSession() as http:
                total = 300
                for n in range(total):
                    if n == 100:
                        pg.stop()
                    if n == 150:
                        during = await _probe(http, base, token)
                    if n == 200:
                        pg.start()
                    statuses[n] = await _send(http, base, _event(order.id, n))
                after = await _probe(http, base, token)
                # Whatever failed is resent by the provider; the same process now takes it.
                resent = {n: await _send(http, base, _event(order.id, n)) for n, s in statuses.items() if s != 200}
                again = {n: await _send(http, base, _event(order.id, n)) for n in range(0, total, 7)}
        finally:
            stop(app)
        outcomes = sorted(set(statuses.values()))
        assert all(s == 200 or s >= 500 for s in statuses.values()), outcomes
        assert any(s >= 500 for s in statuses.values()), "the outage was not noticed"
        assert set(resent.values()) <= {200}, (resent, log_of(app)[-3000:])
        assert set(again.values()) == {200}
        assert during == (503, 503) and after == (200, 200)  # readiness and the API say so, then recover
        ctx = await open_database(pg.url)
        stored = await PaymentEvent.filter(provider="generic").values_list("event_id", flat=True)
        assert sorted(stored) == sorted(f"outage-{n}" for n in range(total))  # lost: 0, doubled: 0
        assert (await Order.get(id=order.id)).status == "failed"
        await close_database(ctx)


def _postgres_processes(pg: PrivatePostgres) -> list[int]:
    """The postmaster of the private server and its children (backends, checkpointer, ...)."""
    postmaster = int((pg.directory / "postmaster.pid").read_text().split()[0])
    children = subprocess.run(["pgrep", "-P", str(postmaster)], capture_output=True, text=True).stdout.split()
    return [postmaster, *map(int, children)]


def _freeze_postgres(pg: PrivatePostgres) -> list[int]:
    """SIGSTOP the whole server. Listed at the moment of freezing, and again until no new backend appears:
    a backend forked for the app's pool after an earlier listing would otherwise keep answering."""
    import signal

    frozen: list[int] = []
    while new := [pid for pid in _postgres_processes(pg) if pid not in frozen]:
        for pid in new:
            os.kill(pid, signal.SIGSTOP)
        frozen += new
    return frozen


async def test_a_frozen_database_is_answered_503_within_seconds_and_served_again_when_it_thaws():
    """SPEC §7: every statement has a timeout; a hung PostgreSQL (SIGSTOP) answers 503, never hangs the request."""
    import signal

    with private_postgres() as pg:
        await migrate(pg.url)
        ctx = await open_database(pg.url)
        shop = await make_shop(managers=1)
        token = await issue_api_token(shop.owner, "frozen")
        await close_database(ctx)
        port = free_port()
        app = await serve(pg.url, port)
        base = f"http://127.0.0.1:{port}"
        try:
            async with aiohttp.ClientSession() as http:
                assert await _probe(http, base, token) == (200, 200)
                frozen = _freeze_postgres(pg)
                started = time.monotonic()
                try:
                    during = await _probe(http, base, token)
                    waited = time.monotonic() - started
                finally:
                    for pid in frozen:
                        os.kill(pid, signal.SIGCONT)
                after = await _probe(http, base, token)
        finally:
            stop(app)
        print(f"\nfrozen database: two requests answered {during} in {waited:.1f} s")
        assert during == (503, 503), log_of(app)[-3000:]
        # Two requests, each bounded by the 5 s timeouts (a statement's, and a connection's when the pool opens a new
        # one), not by the freeze, which lasts until the test ends it. A fresh-clone run took 20.03 s.
        assert waited < 30
        assert after == (200, 200)
