"""Long polling that never moves past an update it has not handled (SPEC §7).

aiogram's own polling confirms an update to Telegram (the next getUpdates' offset) as soon as it has read it, and
only logs a handler's failure: an update that failed because Redis or the database was away is gone. Here the offset
only ever moves past updates that are done; one that fails for want of storage is tried again, with a growing pause,
until storage returns; a process that dies meanwhile leaves it unconfirmed, and Telegram hands it to the next poller.
Across the processes of a deployment one polls each bot, holding a lease in the database (Telegram answers a second
getUpdates consumer with 409 Conflict); the others take over when it stops renewing it.

Updates of different chats are handled concurrently, as they arrive; one chat's in the order he sent them (a lock
taken in turn would not keep that order). The update-once claim makes a second delivery harmless.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

from aiogram import Bot, Dispatcher
from aiogram.dispatcher.middlewares.user_context import UserContextMiddleware
from aiogram.types import Update
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q

from storage.db import STORAGE_DOWN
from storage.models import PollerLease

log = logging.getLogger(__name__)

# Pauses between tries of an update that failed, and between getUpdates calls that failed.
FIRST_PAUSE_SECONDS = 0.2
MAX_PAUSE_SECONDS = 5.0
# A failure that is not an outage is a bug in handling this update: tried this many times, then logged and left.
ATTEMPTS_ON_ERROR = 3
# How long a stopping poller waits for the updates it cancelled.
STOP_SECONDS = 5.0


class Poller:
    def __init__(self, dispatcher: Dispatcher, bot: Bot, *, polling_timeout: int = 10) -> None:
        self.dispatcher, self.bot = dispatcher, bot
        self.polling_timeout = polling_timeout
        self._running: dict[int, asyncio.Task] = {}
        self._chat_tail: dict[tuple[int | None, int | None], asyncio.Task] = {}  # each chat's latest update
        self._highest = -1  # the highest update id read so far
        self._storage_down = False

    @property
    def offset(self) -> int | None:
        """What Telegram may forget: every update below the earliest one still being handled."""
        if self._running:
            return min(self._running)
        return self._highest + 1 if self._highest >= 0 else None

    async def run(self) -> None:
        allowed = self.dispatcher.resolve_used_update_types()
        pause = FIRST_PAUSE_SECONDS
        try:
            while True:
                # With updates in hand Telegram answers at once (they are unconfirmed): no long poll then.
                timeout = 0 if self._running else self.polling_timeout
                try:
                    updates = await self.bot.get_updates(
                        offset=self.offset, timeout=timeout, allowed_updates=allowed,
                        request_timeout=int(self.bot.session.timeout + timeout),
                    )
                except Exception as exc:  # Telegram or the network away: read again later, nothing is confirmed
                    log.warning("could not fetch updates", extra={"bot_id": self.bot.id, "error": repr(exc)})
                    await asyncio.sleep(pause)
                    pause = min(pause * 2, MAX_PAUSE_SECONDS)
                    continue
                pause = FIRST_PAUSE_SECONDS
                for update in updates:
                    if update.update_id > self._highest:
                        self._highest = update.update_id
                        self._start(update)
                if self._running:
                    # Read on when these are done, or after half a second anyway: new updates need not wait long
                    # for a slow one (an answer paced behind a fan-out, an update waiting for storage).
                    await asyncio.wait(list(self._running.values()), timeout=0.5)
        finally:
            tasks = list(self._running.values())
            for task in tasks:
                task.cancel()
            if tasks:
                # Bounded: a shutdown once hung here (a test's teardown, 300 s), and a hang says nothing of its cause.
                _, stuck = await asyncio.wait(tasks, timeout=STOP_SECONDS)
                if stuck:
                    log.error("updates still being handled after the poller stopped",
                              extra={"bot_id": self.bot.id, "update_ids": sorted(
                                  update_id for update_id, task in self._running.items() if task in stuck),
                                     "stacks": [repr(task.get_stack(limit=5)) for task in stuck]})

    def _start(self, update: Update) -> None:
        context = UserContextMiddleware.resolve_event_context(update)
        chat = (context.chat_id, context.user_id)
        after = self._chat_tail.get(chat) if chat != (None, None) else None
        task = asyncio.create_task(self._handle(update, after))
        self._running[update.update_id] = task
        if chat != (None, None):
            self._chat_tail[chat] = task
            task.add_done_callback(lambda done: self._chat_tail.pop(chat, None) if self._chat_tail.get(chat) is done
                                   else None)

    async def _handle(self, update: Update, after: asyncio.Task | None) -> None:
        pause, errors = FIRST_PAUSE_SECONDS, 0
        try:
            if after is not None:
                await asyncio.wait([after])  # his earlier update first, however it ended
            while True:
                try:
                    await self.dispatcher.feed_update(self.bot, update)
                    if self._storage_down:
                        self._storage_down = False
                        log.info("updates handled again", extra={"bot_id": self.bot.id})
                    return
                except STORAGE_DOWN as exc:
                    # Said once per outage, not once per try of every waiting update.
                    if not self._storage_down:
                        self._storage_down = True
                        log.warning("updates wait: storage unavailable",
                                    extra={"bot_id": self.bot.id, "error": repr(exc)})
                except Exception:
                    errors += 1
                    if errors >= ATTEMPTS_ON_ERROR:
                        log.exception("update dropped after repeated failures",
                                      extra={"bot_id": self.bot.id, "update_id": update.update_id})
                        return
                await asyncio.sleep(pause)
                pause = min(pause * 2, MAX_PAUSE_SECONDS)
        finally:
            self._running.pop(update.update_id, None)


# The poller's lease (SPEC §7): renewed every RENEW_SECONDS, taken over by another process when LEASE_SECONDS pass
# without renewal — a killed poller is replaced within LEASE_SECONDS + RENEW_SECONDS.
LEASE_SECONDS = 8.0
RENEW_SECONDS = 2.0


async def hold_lease(bot_id: int, holder: str, now: datetime, ttl: timedelta) -> bool:
    """Take the lease of polling this bot, or keep it: True while it is `holder`'s. One statement each way, so two
    processes asking at once cannot both get it."""
    try:
        await PollerLease.create(bot_id=bot_id, holder=holder, expires_at=now + ttl)
        return True
    except IntegrityError:
        pass
    won = await PollerLease.filter(Q(bot_id=bot_id) & (Q(holder=holder) | Q(expires_at__lt=now))).update(
        holder=holder, expires_at=now + ttl)
    return won == 1


async def release_lease(bot_id: int, holder: str) -> None:
    await PollerLease.filter(bot_id=bot_id, holder=holder).delete()


def process_identity() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


async def poll_while_leased(dispatcher: Dispatcher, bot: Bot, holder: str, clock: Callable[[], datetime]) -> None:
    """Every process runs this for every bot; only the lease's holder polls, the others wait to take over."""
    ttl = timedelta(seconds=LEASE_SECONDS)
    polling: asyncio.Task | None = None
    try:
        while True:
            try:
                ours = await hold_lease(bot.id, holder, clock(), ttl)
            except STORAGE_DOWN:
                ours = False  # cannot prove it is ours: another may hold it by now
            if polling is not None and polling.done():
                if not polling.cancelled() and polling.exception() is not None:
                    log.error("polling stopped; restarting", exc_info=polling.exception(), extra={"bot_id": bot.id})
                polling = None
            if ours and polling is None:
                log.info("polling this bot", extra={"bot_id": bot.id})
                polling = asyncio.create_task(Poller(dispatcher, bot).run(), name=f"polling-{bot.id}")
            elif not ours and polling is not None:
                log.warning("lost the polling lease; another process polls", extra={"bot_id": bot.id})
                await _stop(polling)
                polling = None
            await asyncio.sleep(RENEW_SECONDS)
    finally:
        if polling is not None:
            await _stop(polling)
            with contextlib.suppress(Exception):
                # Handed on at once rather than after the lease runs out.
                await release_lease(bot.id, holder)


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
