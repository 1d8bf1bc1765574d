"""The APScheduler of one process. Jobs are defined in code; the guard makes each tick run once overall."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from jobs.conversations import conversation_job
from jobs.detach import detach_job
from jobs.guard import TickGuard
from jobs.housekeeping import Discard, housekeeping_job
from sales.housekeeping import DEFAULT_RETENTION


def build_scheduler(guard: TickGuard, clock: Callable[[], datetime], detach_interval_seconds: int,
                    conversation_interval_seconds: int = 30, housekeeping_interval_seconds: int = 3600,
                    retention: timedelta = DEFAULT_RETENTION,
                    uploads: tuple[timedelta, Discard] | None = None) -> AsyncIOScheduler:
    scheduler = AsyncIOScheduler(timezone=UTC)
    jobs = [
        ("detach", detach_job(guard, clock, detach_interval_seconds), detach_interval_seconds),
        ("conversations", conversation_job(guard, clock, conversation_interval_seconds), conversation_interval_seconds),
        ("housekeeping", housekeeping_job(guard, clock, housekeeping_interval_seconds, retention, uploads),
         housekeeping_interval_seconds),
    ]
    for job_id, job, interval in jobs:
        # Every process fires on the same instants (a fixed start, midnight 2020-01-01 UTC), a little after the tick
        # boundary the sweep claims (seconds since the epoch // interval, for intervals that divide a day).
        scheduler.add_job(
            job,
            IntervalTrigger(seconds=interval, start_date=datetime(2020, 1, 1, tzinfo=UTC)),
            id=job_id,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=interval,
        )
    return scheduler
