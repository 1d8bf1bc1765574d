"""The conversation sweep (SPEC §10.5, §10.7) as a scheduled job: unanswered clients raise their alert, snoozed
chats whose time has come open again."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from jobs.guard import TickGuard
from sales.conversations import sweep_unanswered, wake_snoozed

log = logging.getLogger(__name__)
JOB = "conversations"


async def run_conversation_sweep(guard: TickGuard, now: datetime, interval_seconds: int) -> list[int] | None:
    """Run the sweep for the tick `now` falls in, unless another process already claimed that tick.

    Returns the chats that raised a first-response alert, or None when this process did not run the tick.
    """
    tick = int(now.timestamp()) // interval_seconds
    if not await guard.claim(JOB, tick):
        return None
    woken = await wake_snoozed(now)
    alerted = await sweep_unanswered(now)
    if woken or alerted:
        log.info("conversation sweep", extra={"woken": woken, "unanswered": alerted, "tick": tick})
    return alerted


def conversation_job(guard: TickGuard, clock: Callable[[], datetime], interval_seconds: int):
    async def job() -> None:
        await run_conversation_sweep(guard, clock(), interval_seconds)

    return job
