"""Redis lifecycle (optional: the embedded default runs without it)."""

from __future__ import annotations

from redis.asyncio import Redis


def open_redis(url: str) -> Redis:
    return Redis.from_url(url, decode_responses=True, health_check_interval=30)


async def close_redis(redis: Redis) -> None:
    await redis.aclose()
