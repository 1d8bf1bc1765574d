"""Group commit (issue 14): writes that arrive together share one transaction.

A customer's message is a handful of small statements inside a transaction. Its BEGIN and COMMIT are two more round
trips, and the COMMIT waits for the write-ahead log to reach the disk, the slowest step of all. Bodies that arrive
within `WINDOW` of each other run one after another in one transaction on one connection, and each caller returns
only once that transaction has committed (SPEC §7: a webhook answers after the commit that holds its update).

A body that fails takes the whole transaction with it (PostgreSQL aborts it, and what the body wrote before failing
must not be kept). Then every body of the batch runs again alone, each in its own transaction, so a failing write
never takes its batch-mates down; they only pay a second run. A body must therefore be the inside of a transaction
and nothing else: safe to run again after a rollback.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connection
from tortoise.transactions import in_transaction

T = TypeVar("T")
Body = Callable[[], Awaitable[Any]]

# Long enough for the updates a busy webhook has in flight to meet, short against a webhook's answer time.
WINDOW = 0.002
# Rows locked by one transaction wait for all of its bodies: a batch stays small.
MOST = 16


class GroupCommit:
    """The batches of one event loop. `transactions` and `bodies` count what ran (a body run alone counts again)."""

    def __init__(self, window: float = WINDOW, most: int = MOST) -> None:
        self.window = window
        self.most = most
        self.transactions = 0
        self.bodies = 0
        self._waiting: list[tuple[int, Body, asyncio.Future]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task] = set()

    async def run(self, body: Callable[[], Awaitable[T]], *, order: int = 0) -> T:
        """`body`'s result once the transaction it ran in has committed; its exception if it fails alone. A batch
        runs its bodies by ascending `order`: bodies that lock rows by that key lock them in one order in every
        batch, so two processes' batches cannot deadlock on them."""
        if isinstance(get_connection("default"), TransactionalDBClient):
            # The caller's own transaction holds it and commits it: batch-mates must not ride on a transaction that
            # may still roll back after they were told theirs committed.
            return await body()
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        self._waiting.append((order, body, future))
        if len(self._waiting) >= self.most:
            self._start()
        elif self._timer is None:
            self._timer = loop.call_later(self.window, self._start)
        return await future

    def _start(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch, self._waiting = self._waiting[:self.most], self._waiting[self.most:]
        if self._waiting:
            self._timer = asyncio.get_running_loop().call_later(self.window, self._start)
        if batch:
            task = asyncio.get_running_loop().create_task(self._commit(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    async def _commit(self, batch: list[tuple[int, Body, asyncio.Future]]) -> None:
        batch = [(body, future) for _, body, future in sorted(batch, key=lambda waiting: waiting[0])]
        try:
            await self._commit_or_retry(batch)
        finally:
            # Cancelled (the process stops): the callers are not left waiting.
            for _, future in batch:
                if not future.done():
                    future.cancel()

    async def _commit_or_retry(self, batch: list[tuple[Body, asyncio.Future]]) -> None:
        if len(batch) == 1:
            await self._alone(*batch[0])
            return
        try:
            self.transactions += 1
            async with in_transaction():
                results = []
                for body, _ in batch:
                    self.bodies += 1
                    results.append(await body())
        except Exception:
            await asyncio.gather(*(self._alone(body, future) for body, future in batch))
            return
        for (_, future), result in zip(batch, results, strict=True):
            if not future.done():
                future.set_result(result)

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


async def run(body: Callable[[], Awaitable[T]], *, order: int = 0) -> T:
    return await of_this_loop().run(body, order=order)
