"""Load generation: closed loop (the most a server takes) and open loop at a fixed rate (latency at that rate).

Open-loop latency is measured from each request's scheduled start, not its actual one, so a server that falls
behind is charged for the queue it builds (no coordinated omission). For the same reason the generator must not
pause by itself: its garbage collector is off while it sends (a full collection of the benchmark's process took
35-80 ms, and every request scheduled meanwhile was charged for it).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import aiohttp


@dataclass
class LoadResult:
    sent: int = 0
    ok: int = 0
    errors: dict[int, int] = field(default_factory=dict)
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    # Answered 200 during the closed loop's untimed warm-up: stored all the same (for counting rows afterwards).
    unmeasured_ok: int = 0

    @property
    def acknowledged(self) -> int:
        """Every request answered 200, timed or not."""
        return self.ok + self.unmeasured_ok

    @property
    def rate(self) -> float:
        return self.ok / self.seconds if self.seconds else 0.0

    def record(self, status: int, latency_ms: float) -> None:
        self.sent += 1
        if status == 200:
            self.ok += 1
            self.latencies_ms.append(latency_ms)
        else:
            self.errors[status] = self.errors.get(status, 0) + 1


# A request: (url, body, headers); made fresh for each call so every update has its own id.
RequestMaker = Callable[[], tuple[str, bytes, dict[str, str]]]


def _session(connections: int) -> aiohttp.ClientSession:
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=connections, force_close=False))


async def _post(http: aiohttp.ClientSession, make: RequestMaker) -> int:
    url, body, headers = make()
    try:
        async with http.post(url, data=body, headers=headers, timeout=aiohttp.ClientTimeout(total=30)) as response:
            await response.read()
            return response.status
    except (aiohttp.ClientError, asyncio.TimeoutError):
        return 599


@contextlib.contextmanager
def _no_pauses() -> Iterator[None]:
    """The garbage collector off for a timed load (what one run of ten seconds leaves uncollected is small)."""
    gc.collect()
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


async def closed_loop(make: RequestMaker, *, concurrency: int, seconds: float, warmup: float = 1.0) -> LoadResult:
    """`concurrency` senders, each posting the next request as soon as the last one is answered."""
    result = LoadResult()
    with _no_pauses():
        async with _session(concurrency) as http:
            start = time.perf_counter()
            measure_from = start + warmup
            stop = measure_from + seconds

            async def sender() -> None:
                while (now := time.perf_counter()) < stop:
                    status = await _post(http, make)
                    if now >= measure_from:
                        result.record(status, (time.perf_counter() - now) * 1000)
                    elif status == 200:
                        result.unmeasured_ok += 1

            await asyncio.gather(*(sender() for _ in range(concurrency)))
            result.seconds = seconds
    return result


async def open_loop(make: RequestMaker, *, rate: float, seconds: float, max_in_flight: int = 512) -> LoadResult:
    """Requests started at `rate` per second regardless of answers (up to `max_in_flight` outstanding)."""
    result = LoadResult()
    total = int(rate * seconds)
    with _no_pauses():
        async with _session(max_in_flight) as http:
            start = time.perf_counter()
            tasks = []

            async def one(scheduled: float) -> None:
                status = await _post(http, make)
                result.record(status, (time.perf_counter() - scheduled) * 1000)

            for i in range(total):
                scheduled = start + i / rate
                delay = scheduled - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                tasks.append(asyncio.create_task(one(scheduled)))
            await asyncio.gather(*tasks)
            result.seconds = max(time.perf_counter() - start, seconds)
    return result
