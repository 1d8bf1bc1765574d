"""Pushes updates to a bot's webhook like Telegram: in order, one at a time, resending until a 2xx answer."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp

from telegram_emulator.world import Bot, World

log = logging.getLogger(__name__)


class WebhookPusher:
    def __init__(self, world: World, *, retry_delay: float = 0.2, max_delay: float = 5.0) -> None:
        self.world = world
        self.retry_delay = retry_delay
        self.max_delay = max_delay
        self._queues: dict[int, asyncio.Queue] = {}
        self._tasks: dict[int, asyncio.Task] = {}
        self._session: aiohttp.ClientSession | None = None
        world.on_update = self.enqueue

    async def enqueue(self, bot: Bot, update: dict) -> None:
        queue = self._queues.setdefault(bot.id, asyncio.Queue())
        await queue.put(update)
        task = self._tasks.get(bot.id)
        if task is None or task.done():
            self._tasks[bot.id] = asyncio.create_task(self._push_all(bot, queue))

    async def _push_all(self, bot: Bot, queue: asyncio.Queue) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession()
        while True:
            update = await queue.get()
            delay = self.retry_delay
            while True:
                url = bot.webhook_url
                if url is None:  # the webhook was removed: keep the update for getUpdates
                    bot.updates.append(update)
                    bot.new_update.set()
                    break
                headers = {"X-Telegram-Bot-Api-Secret-Token": bot.webhook_secret} if bot.webhook_secret else {}
                try:
                    async with self._session.post(url, json=update, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as response:
                        if 200 <= response.status < 300:
                            self.world.counters["webhook_delivered"] += 1
                            break
                        self.world.counters["webhook_failed"] += 1
                except (aiohttp.ClientError, TimeoutError):
                    self.world.counters["webhook_failed"] += 1
                await asyncio.sleep(delay)
                delay = min(delay * 2, self.max_delay)

    async def close(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        for task in self._tasks.values():
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._session is not None:
            await self._session.close()
