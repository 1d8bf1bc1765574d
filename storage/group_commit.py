"""Group commit (issue 14): writes that arrive together share one transaction.

A customer's message is a handful of small statements inside a transaction. Its BEGIN and COMMIT are two more round
trips, and the COMMIT waits for the write-ahead log to reach the disk, the slowest step of all. Bodies that arrive
within `WINDOW` of each other, or while `PARALLEL` batches are running, run in one transaction on one connection,
and each caller returns only once that transaction has committed (SPEC §7: a webhook answers after the commit that
holds its update).

On PostgreSQL a batch's bodies also share their statements (`Batched`): each body runs as a task, one at a time as
if alone, until it needs a `Batched` statement; once every body of the batch waits on one, each such statement runs
once for all of them, set-based (one INSERT of sixteen messages), and the bodies go on. A customer's message is six
such statements, so a batch of sixteen is six round trips instead of ninety-six. Bodies with the same `order` key
would lock and write the same rows, so they never share a batch: each would read the row before the other wrote it.

A body that fails takes the whole transaction with it (PostgreSQL aborts it, and what the body wrote before failing
must not be kept). Then every body of the batch runs again alone, each in its own transaction, so a failing write
never takes its batch-mates down; they only pay a second run. A body must therefore be the inside of a transaction
and nothing else: safe to run again after a rollback.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

from storage import sql

T = TypeVar("T")
R = TypeVar("R")
Body = Callable[[], Awaitable[Any]]

# Long enough for the updates a busy webhook has in flight to meet, short against a webhook's answer time.
WINDOW = 0.002
# Rows locked by one transaction wait for all of its bodies: a batch stays small.
MOST = 16
# Batches in flight at once. While they run, what arrives waits and forms the next batch, which starts the moment
# one commits: under load batches grow by themselves, and an idle process still writes within WINDOW. Measured
# (bench ingest, 32 senders, one run each): one at a time, 945 updates/s with batches held at MOST; two, 1,092 with
# 8.9 messages per batch, p99 at half load 116 ms; four, 1,092 with 4.9, p99 36 ms; unbounded (a batch per WINDOW),
# 947 with 3.6.
PARALLEL = 4


class Batched(sql.Forms[R]):
    """A statement the bodies of one batch run as one: `one` outside a batch (and on SQLite), `many` for the batch's
    bodies waiting on it."""

    __slots__ = ()

    async def __call__(self, *values: Any) -> R:
        batch = _BATCH.get()
        if batch is None:
            return await self.one(*values)
        return await batch.wait_for(self, values)


class _Batch:
    """The bodies of one transaction taking turns. One runs at a time (`turn`), so whatever a body does between its
    `Batched` statements, it does as if alone; a `Batched` statement parks the body and passes the turn on. When every
    body still running is parked, the parked statements run, one per kind, holding the turn, and their bodies go on
    in the order they parked."""

    def __init__(self, group: GroupCommit, size: int) -> None:
        self.group = group
        self.turn = asyncio.Lock()
        self.holder: asyncio.Task | None = None
        self.running = size
        self.parked: dict[Batched, list[tuple[tuple[Any, ...], asyncio.Future]]] = {}
        self.waiting = 0
        self.flushing = False

    async def _take_turn(self) -> None:
        await self.turn.acquire()
        self.holder = asyncio.current_task()

    def _pass_turn(self) -> None:
        # A body cancelled while waiting for its turn does not hold it: only the holder releases.
        if self.holder is asyncio.current_task():
            self.holder = None
            self.turn.release()

    async def run(self, body: Body) -> Any:
        try:
            await self._take_turn()
            return await body()
        finally:
            self._pass_turn()
            self.running -= 1
            await self._flush_if_all_parked()

    async def wait_for(self, statement: Batched, values: tuple[Any, ...]) -> Any:
        future = asyncio.get_running_loop().create_future()
        self.parked.setdefault(statement, []).append((values, future))
        self.waiting += 1
        self._pass_turn()
        await self._flush_if_all_parked()
        try:
            return await future
        finally:
            await self._take_turn()

    async def _flush_if_all_parked(self) -> None:
        # The body that completes the set runs the statements itself: a task of their own would cost every step of
        # every batch a turn of the event loop, which under load is what a webhook waits for most.
        if self.parked and self.waiting == self.running and not self.flushing:
            self.flushing = True
            await self._flush()

    async def _flush(self) -> None:
        await self._take_turn()
        try:
            parked, self.parked, self.waiting = self.parked, {}, 0
            for statement, calls in parked.items():
                try:
                    results = await statement.results([values for values, _ in calls])
                except Exception as error:
                    # The transaction is lost with it: every body of the batch will run again alone.
                    for _, future in calls:
                        if not future.done():
                            future.set_exception(error)
                    continue
                if len(calls) > 1:
                    self.group.shared_statements += 1
                    self.group.shared_calls += len(calls)
                for (_, future), result in zip(calls, results, strict=True):
                    if not future.done():
                        future.set_result(result)
        finally:
            self.flushing = False
            self._pass_turn()


_BATCH: ContextVar[_Batch | None] = ContextVar("closer_group_commit_batch", default=None)


class GroupCommit:
    """The batches of one event loop. `transactions` and `bodies` count what ran (a body run alone counts again);
    `shared_statements` the set-based statements run for several bodies, and `shared_calls` the bodies' statements
    they stood for."""

    def __init__(self, window: float = WINDOW, most: int = MOST, parallel: int = PARALLEL) -> None:
        self.window = window
        self.most = most
        self.parallel = parallel
        self.transactions = 0
        self.bodies = 0
        self.shared_statements = 0
        self.shared_calls = 0
        self._waiting: list[tuple[int | None, Body, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        # The batches running, with their keys.
        self._running: dict[asyncio.Task, set[int]] = {}

    async def run(self, body: Callable[[], Awaitable[T]], *, order: int | None = None) -> T:
        """`body`'s result once the transaction it ran in has committed; its exception if it fails alone. A batch
        runs its bodies by ascending `order`: bodies that lock rows by that key lock them in one order in every
        batch, so two processes' batches cannot deadlock on them. Bodies of one `order` run one after another, in the
        order they came: never in one batch, nor in two running at once."""
        if isinstance(get_connection("default"), TransactionalDBClient):
            # The caller's own transaction holds it and commits it: batch-mates must not ride on a transaction that
            # may still roll back after they were told theirs committed.
            return await body()
        future = asyncio.get_running_loop().create_future()
        self._waiting.append((order, body, future))
        if len(self._running) < self.parallel:
            if len(self._waiting) >= self.most:
                self._start()
            elif self._timer is None:
                self._timer = asyncio.get_running_loop().call_later(self.window, self._start)
        return await future

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if len(self._running) >= self.parallel:
            return  # the first to commit starts it (_finished)
        # A key in a running batch waits for its commit: one client's messages are written in the order they came.
        busy = {key for keys in self._running.values() for key in keys}
        batch: list[tuple[int | None, Body, asyncio.Future]] = []
        rest: list[tuple[int | None, Body, asyncio.Future]] = []
        for waiting in self._waiting:
            order = waiting[0]
            if len(batch) < self.most and (order is None or order not in busy):
                batch.append(waiting)
                if order is not None:
                    busy.add(order)
            else:
                rest.append(waiting)
        self._waiting = rest
        if batch:
            task = asyncio.get_running_loop().create_task(self._commit(batch))
            self._running[task] = {order for order, _, _ in batch if order is not None}
            task.add_done_callback(self._finished)
        if len(self._running) < self.parallel and any(order is None or order not in busy for order, _, _ in rest):
            self._timer = asyncio.get_running_loop().call_later(self.window, self._start)

    def _finished(self, task: asyncio.Task) -> None:
        del self._running[task]
        # What arrived meanwhile has waited already: it goes at once.
        if self._waiting and self._timer is None:
            self._start()

    async def _commit(self, batch: list[tuple[int | None, Body, asyncio.Future]]) -> None:
        ordered = sorted(batch, key=lambda waiting: -1 if waiting[0] is None else waiting[0])
        pairs = [(body, future) for _, body, future in ordered]
        try:
            await self._commit_or_retry(pairs)
        finally:
            # Cancelled (the process stops): the callers are not left waiting.
            for _, future in pairs:
                if not future.done():
                    future.cancel()

    async def _commit_or_retry(self, batch: list[tuple[Body, asyncio.Future]]) -> None:
        if len(batch) == 1:
            await self._alone(*batch[0])
            return
        try:
            self.transactions += 1
            self.bodies += len(batch)
            async with in_transaction() as connection:
                if connection.capabilities.dialect == "postgres":
                    results = await self._together([body for body, _ in batch])
                else:
                    # SQLite has one writer at a time and no set-based forms here: one body after another.
                    results = [await body() for body, _ in batch]
        except Exception:
            await asyncio.gather(*(self._alone(body, future) for body, future in batch))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

    async def _together(self, bodies: list[Body]) -> list[Any]:
        shared = _Batch(self, len(bodies))
        token = _BATCH.set(shared)
        try:
            # The tasks copy this context: the transaction's connection and the batch.
            outcomes = await asyncio.gather(*(shared.run(body) for body in bodies), return_exceptions=True)
        finally:
            _BATCH.reset(token)
        for outcome in outcomes:
            if isinstance(outcome, BaseException):
                raise outcome
        return outcomes

    async def _alone(self, body: Body, future: asyncio.Future) -> None:
        try:
            self.transactions += 1
            self.bodies += 1
            async with in_transaction():
                result = await body()
        except Exception as error:
            if not future.done():
                future.set_exception(error)
            return
        if not future.done():
            future.set_result(result)


_GROUPS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, GroupCommit] = weakref.WeakKeyDictionary()


def of_this_loop() -> GroupCommit:
    """The event loop's batches: one per loop, as a loop's tasks share its database connections."""
    loop = asyncio.get_running_loop()
    group = _GROUPS.get(loop)
    if group is None:
        group = _GROUPS[loop] = GroupCommit()
    return group


async def run(body: Callable[[], Awaitable[T]], *, order: int | None = None) -> T:
    return await of_this_loop().run(body, order=order)
