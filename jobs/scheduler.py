"""The APScheduler of one process. Jobs are defined in code; the guard makes each tick run once overall."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from jobs.detach import detach_job
from jobs.guard import TickGuard


def build_scheduler(guard: TickGuard, clock: Callable[[], datetime], detach_interval_seconds: int) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    # Anchored at the epoch so every process fires on the same instants and claims the same tick.
    scheduler.add_job(
        detach_job(guard, clock, detach_interval_seconds),
        IntervalTrigger(seconds=detach_interval_seconds, start_date=datetime(2020, 1, 1, tzinfo=UTC)),
        id="detach",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=detach_interval_seconds,
    )
    return scheduler
