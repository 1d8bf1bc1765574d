"""Time in closer is always aware UTC; every rule takes `now` so tests and jobs can control it."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def aware(value: datetime) -> datetime:
    """Reject naive datetimes from outside: a time without a zone is a bug waiting to happen."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("datetime must carry a time zone")
    return value.astimezone(UTC)
