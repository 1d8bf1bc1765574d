"""Statements outside a transaction that arrive in one turn of the event loop run as one (issue 14).

Every customer update reads its sender first, outside any transaction, and the delivery worker marks each row it
sent. Under load several webhook requests reach that read in one turn of the event loop (the requests whose bytes one
`select` returned), and several sends finish in one; each group shares one round trip. Nobody waits for anybody: the
shared statement is sent by the turn's first caller once the turn's other ready work has run, so an idle process
pays one turn of the event loop. Inside a transaction (whose own writes a read must see, and which the caller
commits) and on SQLite each runs alone. A write joins only if it commits by itself: a failed shared statement
changed nothing, and each caller's runs again alone.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from tortoise.backends.base.client import TransactionalDBClient
from tortoise.connection import get_connection

from storage import sql

R = TypeVar("R")
# Statements whose first caller was cancelled, run on for the others (a reference, so they are not collected).
_ORPHANS: set[asyncio.Task] = set()


class Numbers:
    """What this process's coalesced statements did: `statements` run for several callers, `calls` they stood
    for."""

    statements = 0
    calls = 0


class Coalesced(sql.Forms[R]):
    """A statement: `one` for a caller alone, `many` for the callers of one turn."""

    __slots__ = ("_pending",)

    def __init__(self, one: Callable[..., Awaitable[R]],
                 many: Callable[[list[tuple[Any, ...]]], Awaitable[Sequence[R]]]) -> None:
        super().__init__(one, many)
        self._pending: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop,
                                                 list[tuple[tuple[Any, ...], asyncio.Future]]] = (
            weakref.WeakKeyDictionary())

    async def __call__(self, *values: Any) -> R:
        connection = get_connection("default")
        if isinstance(connection, TransactionalDBClient) or connection.capabilities.dialect != "postgres":
            return await self.one(*values)
        loop = asyncio.get_running_loop()
        future = loop.create_future()
        pending = self._pending.setdefault(loop, [])
        pending.append((values, future))
        if len(pending) == 1:
            # The first caller of this turn sends it, once the turn's other ready work has joined: one turn of the
            # event loop, no task of its own.
            calls: list[tuple[tuple[Any, ...], asyncio.Future]] = []
            try:
                await asyncio.sleep(0)
                calls = self._pending.pop(loop, [])
                await self._run(calls)
            except asyncio.CancelledError:
                # Its caller went away (say, the request was dropped): the others' statement still runs.
                others = [call for call in calls or self._pending.pop(loop, []) if not call[1].done()]
                if others:
                    task = loop.create_task(self._run(others))
                    _ORPHANS.add(task)
                    task.add_done_callback(_ORPHANS.discard)
                raise
        return await future

    async def _run(self, calls: list[tuple[tuple[Any, ...], asyncio.Future]]) -> None:
        try:
            results = await self.results([values for values, _ in calls])
        except Exception as error:
            if len(calls) == 1:
                _settle(calls[0][1], error=error)
            else:
                # One caller's bad values must not fail the others: each runs again alone.
                await asyncio.gather(*(self._run([call]) for call in calls))
            return
        if len(calls) > 1:
            Numbers.statements += 1
            Numbers.calls += len(calls)
        for (_, future), result in zip(calls, results, strict=True):
            _settle(future, result=result)


def _settle(future: asyncio.Future, *, result: Any = None, error: BaseException | None = None) -> None:
    if future.done():
        return  # its caller has gone (cancelled)
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(result)
