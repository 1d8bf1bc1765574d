"""Request ids in every log line, and Prometheus metrics at /metrics (issue: observability).

Per-process counters (webhook requests and their latency) live in this process's registry; the numbers every
process shares (outbox depth and age, assignments by reason, important items) are read from the database at
scrape time, so any replica answers for the whole deployment.
"""

from __future__ import annotations

import asyncio
import contextvars
import gc
import itertools
import logging
import re
import os
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from aiohttp import web
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from tortoise.functions import Count

from sales.clock import utcnow
from storage import coalesce, group_commit
from storage.models import AssignmentLog, ImportantItem, Outbox, OutboxStatus, PaymentEffect, PaymentEvent

REQUEST_ID = contextvars.ContextVar("request_id", default=None)
# How often the event loop's lag is sampled: a timer set this far ahead, and how late the loop ran it.
LAG_INTERVAL = 0.1
_GOOD_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class _RequestIds:
    """Ids for requests that come without one: a random prefix per process and a counter (unique as a uuid4 is in
    practice, at a fraction of its cost on every webhook; issue 14). A forked child draws a prefix of its own."""

    def __init__(self) -> None:
        self._renew()
        os.register_at_fork(after_in_child=self._renew)

    def _renew(self) -> None:
        self._prefix = secrets.token_hex(12)
        self._count = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._count):08x}"


_request_ids = _RequestIds()


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        request_id = REQUEST_ID.get()
        if request_id is not None:
            record.request_id = request_id
        return True


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.webhooks = Counter("closer_webhook_requests", "Webhook requests by endpoint and status",
                                ["endpoint", "status"], registry=self.registry)
        self.webhook_latency = Histogram(
            "closer_webhook_latency_seconds", "Time to answer a webhook", ["endpoint"], registry=self.registry,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        # Every request, update and send of the process waits behind whatever holds its event loop: the lag tells a
        # slow request that waited from one that worked (issue 14: the tail at half load).
        self.loop_lag = Histogram(
            "closer_event_loop_lag_seconds", f"How late the event loop ran a timer set {LAG_INTERVAL} s ahead",
            registry=self.registry, buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
        )
        self.shared = _SharedNumbers()
        self.registry.register(self.shared)
        self.registry.register(_GroupCommitNumbers())
        self.registry.register(_CoalescedNumbers())
        self.registry.register(_FrozenObjects())


class _SharedNumbers:
    """Read from the database on each scrape: prometheus_client collects synchronously, so the view refreshes
    `values` (async) right before generating the page."""

    def __init__(self) -> None:
        self.values: dict = {}

    def collect(self):
        values = self.values
        depth = GaugeMetricFamily("closer_outbox_depth", "Outbox rows by status", labels=["status"])
        for status, count in values.get("outbox", {}).items():
            depth.add_metric([status], count)
        yield depth
        yield GaugeMetricFamily("closer_outbox_oldest_pending_seconds", "Age of the oldest pending outbox row",
                                value=values.get("oldest", 0.0))
        assignments = CounterMetricFamily("closer_assignments", "Order manager changes by reason", labels=["reason"])
        for reason, count in values.get("assignments", {}).items():
            assignments.add_metric([reason], count)
        yield assignments
        yield CounterMetricFamily("closer_important_items_created", "Important items created",
                                  value=values.get("important", 0))
        yield GaugeMetricFamily("closer_payment_events_unmatched", "Payment events that named no known order",
                                value=values.get("unmatched", 0))


class _GroupCommitNumbers:
    """This process's group commit (storage.group_commit): bodies per transaction is the batching it achieves.
    Collected while /metrics is served, in the event loop whose batches they are."""

    def collect(self):
        group = group_commit.of_this_loop()
        yield CounterMetricFamily("closer_group_commit_transactions", "Transactions of grouped writes (a body "
                                  "run again alone after its batch failed counts again)", value=group.transactions)
        yield CounterMetricFamily("closer_group_commit_bodies", "Grouped writes run", value=group.bodies)
        yield CounterMetricFamily("closer_group_commit_shared_statements", "Set-based statements run for several "
                                  "grouped writes at once", value=group.shared_statements)
        yield CounterMetricFamily("closer_group_commit_shared_calls", "Grouped writes' statements that a set-based "
                                  "statement ran", value=group.shared_calls)


class _CoalescedNumbers:
    """This process's coalesced statements (storage.coalesce): calls per statement is the sharing it achieves."""

    def collect(self):
        yield CounterMetricFamily("closer_coalesced_statements", "Statements run once for several callers "
                                  "(storage.coalesce)", value=coalesce.Numbers.statements)
        yield CounterMetricFamily("closer_coalesced_calls", "Callers' statements those stood for",
                                  value=coalesce.Numbers.calls)


class _FrozenObjects:
    """What `closer run` froze once started (closer.cli): the garbage collector's full passes skip these."""

    def collect(self):
        yield GaugeMetricFamily("closer_gc_frozen_objects", "Objects frozen at startup, skipped by full collections",
                                value=gc.get_freeze_count())


async def refresh_shared_numbers(shared: _SharedNumbers) -> None:
    outbox = {s.value: 0 for s in OutboxStatus}
    for row in await Outbox.all().group_by("status").annotate(n=Count("id")).values("status", "n"):
        outbox[str(row["status"])] = row["n"]
    oldest = await Outbox.filter(status=OutboxStatus.PENDING).order_by("created_at").first().values("created_at")
    assignments = {
        str(row["reason"]): row["n"]
        for row in await AssignmentLog.filter(target="order").group_by("reason").annotate(n=Count("id"))
        .values("reason", "n")
    }
    shared.values = {
        "outbox": outbox,
        "oldest": (utcnow() - oldest["created_at"]).total_seconds() if oldest else 0.0,
        "assignments": assignments,
        "important": await ImportantItem.all().count(),
        "unmatched": await PaymentEvent.filter(effect=PaymentEffect.UNMATCHED).count(),
    }


METRICS = web.AppKey("metrics", Metrics)


@web.middleware
async def observe_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    given = request.headers.get("X-Request-Id", "")
    request_id = given if _GOOD_ID.match(given) else _request_ids.next()
    token = REQUEST_ID.set(request_id)
    started = time.perf_counter()
    status = 500
    try:
        response = await handler(request)
        status = response.status
        response.headers["X-Request-Id"] = request_id
        return response
    except web.HTTPException as exc:
        status = exc.status
        exc.headers["X-Request-Id"] = request_id
        raise
    finally:
        if request.path.startswith("/webhooks/"):
            endpoint = request.path.split("/")[2]
            metrics = request.app[METRICS]
            metrics.webhooks.labels(endpoint, str(status)).inc()
            metrics.webhook_latency.labels(endpoint).observe(time.perf_counter() - started)
        REQUEST_ID.reset(token)


async def metrics_view(request: web.Request) -> web.Response:
    try:
        await refresh_shared_numbers(request.app[METRICS].shared)
    except Exception:  # the database may be down; the per-process numbers are still worth scraping
        logging.getLogger(__name__).warning("metrics: shared numbers unavailable")
    body = generate_latest(request.app[METRICS].registry)
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def watch_loop(metrics: Metrics, interval: float = LAG_INTERVAL) -> None:
    """Samples the event loop's lag into `metrics.loop_lag` until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        before = loop.time()
        await asyncio.sleep(interval)
        metrics.loop_lag.observe(max(0.0, loop.time() - before - interval))


async def _loop_watch(app: web.Application) -> AsyncIterator[None]:
    task = asyncio.create_task(watch_loop(app[METRICS]), name="loop-lag")
    yield
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)


def setup_observability(app: web.Application) -> None:
    app[METRICS] = Metrics()
    app.middlewares.insert(0, observe_middleware)
    app.router.add_get("/metrics", metrics_view)
    app.cleanup_ctx.append(_loop_watch)

