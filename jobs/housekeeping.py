"""Housekeeping (SPEC §7) as a scheduled job: what only guarded against duplicates or recorded delivery is purged
after the retention."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from jobs.guard import TickGuard
from sales.housekeeping import purge

log = logging.getLogger(__name__)
JOB = "housekeeping"


async def run_housekeeping(guard: TickGuard, now: datetime, interval_seconds: int,
                           retention: timedelta) -> dict[str, int] | None:
    """Purge for the tick `now` falls in, unless another process already claimed that tick.

    Returns the rows deleted per table, or None when this process did not run the tick.
    """
    tick = int(now.timestamp()) // interval_seconds
    if not await guard.claim(JOB, tick):
        return None
    purged = await purge(now, retention)
    if any(purged.values()):
        log.info("housekeeping purged old rows", extra={"purged": purged, "tick": tick})
    return purged


def housekeeping_job(guard: TickGuard, clock: Callable[[], datetime], interval_seconds: int, retention: timedelta):
    async def job() -> None:
        await run_housekeeping(guard, clock(), interval_seconds, retention)

    return job
