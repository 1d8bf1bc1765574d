"""The auto-detach sweep (SPEC §1.3) as a scheduled job."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from jobs.guard import TickGuard
from sales.assignment import detach_idle_orders

log = logging.getLogger(__name__)
JOB = "detach"


async def run_detach_sweep(guard: TickGuard, now: datetime, interval_seconds: int) -> list[int] | None:
    """Run the sweep for the tick `now` falls in, unless another process already claimed that tick.

    Returns the detached order ids, or None when this process did not run the tick.
    """
    tick = int(now.timestamp()) // interval_seconds
    if not await guard.claim(JOB, tick):
        return None
    detached = await detach_idle_orders(now)
    if detached:
        log.info("detached idle order managers", extra={"orders": detached, "tick": tick})
    return detached


def detach_job(guard: TickGuard, clock: Callable[[], datetime], interval_seconds: int):
    async def job() -> None:
        await run_detach_sweep(guard, clock(), interval_seconds)

    return job
