"""What every benchmark shares: where the services are, how figures are reported, percentiles.

A benchmark is a module with `async def run(env: BenchEnv) -> Report`. It measures, it never asserts: a missed goal
is a figure with `met=False`, printed and written like the others.
"""

from __future__ import annotations

import asyncio
import math
import os
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import asyncpg

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"


@dataclass
class BenchEnv:
    """The services a benchmark runs against, each benchmark's own so they never disturb the test suite's."""

    pg_admin_url: str = os.environ.get("BENCH_PG_ADMIN_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url: str = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    # Smaller data and shorter runs: for checking that a benchmark works, not for its figures.
    quick: bool = False

    def pg_url(self, database: str) -> str:
        return self.pg_admin_url.rsplit("/", 1)[0] + "/" + database


@dataclass
class Figure:
    name: str
    value: float
    unit: str
    goal: str = ""
    # None when the figure has no goal of its own (a reference, such as the framework's ceiling).
    met: bool | None = None
    detail: str = ""


@dataclass
class Report:
    bench: str
    figures: list[Figure] = field(default_factory=list)
    # Latency samples in milliseconds, by label, for the chart.
    latencies: dict[str, list[float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, name: str, value: float, unit: str, goal: str = "", met: bool | None = None, detail: str = "") -> None:
        self.figures.append(Figure(name, value, unit, goal, met, detail))
        mark = "" if met is None else (" ✓" if met else " ✗")
        print(f"  [{self.bench}] {name}: {value:.6g} {unit}{'  (goal ' + goal + ')' if goal else ''}{mark}"
              f"{'  ' + detail if detail else ''}", flush=True)

    def as_dict(self) -> dict:
        out = asdict(self)
        out["latency_summary"] = {label: summary(samples) for label, samples in self.latencies.items()}
        del out["latencies"]
        return out


def merge_runs(runs: Sequence[Report]) -> Report:
    """Repeated runs of one benchmark as one report: each figure is the median run's (its value and verdict), with
    the spread of all runs in its detail; latency samples and notes of every run together. A figure some run did not
    produce (it failed part-way) counts only the runs that did, and says so."""
    if len(runs) == 1:
        return runs[0]
    merged = Report(runs[0].bench)
    names = list(dict.fromkeys(f.name for run in runs for f in run.figures))
    for name in names:
        found = [f for run in runs for f in run.figures if f.name == name]
        ordered = sorted(found, key=lambda f: (math.isnan(f.value), f.value))
        middle = ordered[(len(ordered) - 1) // 2]
        values = [f.value for f in found]
        spread = f"median of {len(found)} runs" + ("" if len(found) == len(runs) else f" (of {len(runs)})")
        spread += f", {min(values):.4g}–{max(values):.4g}; runs: {', '.join(f'{v:.4g}' for v in values)}"
        detail = f"{spread}; median run: {middle.detail}" if middle.detail else spread
        merged.figures.append(Figure(name, middle.value, middle.unit, middle.goal, middle.met, detail))
    for run in runs:
        for label, samples in run.latencies.items():
            merged.latencies.setdefault(label, []).extend(samples)
    merged.notes = [f"run {n}: {note}" for n, run in enumerate(runs, 1) for note in run.notes]
    return merged


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100); NaN for no samples."""
    if not samples:
        return math.nan
    ordered = sorted(samples)
    rank = max(1, math.ceil(p / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


def summary(samples: Sequence[float]) -> dict:
    return {"n": len(samples), "p50": percentile(samples, 50), "p95": percentile(samples, 95),
            "p99": percentile(samples, 99), "max": max(samples) if samples else math.nan}


async def fresh_database(env: BenchEnv, name: str) -> str:
    """An empty PostgreSQL database `name` (dropped and created again), migrated by closer's own migrations."""
    from storage.db import migrate

    await drop_create(env, name)
    url = env.pg_url(name)
    await migrate(url)
    return url


async def drop_create(env: BenchEnv, name: str) -> None:
    conn = await asyncpg.connect(env.pg_admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def database_exists(env: BenchEnv, name: str) -> bool:
    conn = await asyncpg.connect(env.pg_admin_url)
    try:
        return bool(await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name))
    finally:
        await conn.close()


class Stopwatch:
    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def ms(self) -> float:
        return (time.perf_counter() - self.started) * 1000


async def flush_redis(env: BenchEnv) -> None:
    from redis.asyncio import Redis

    redis = Redis.from_url(env.redis_url)
    try:
        await redis.flushdb()
    finally:
        await redis.aclose()


def run_sync(coro):
    return asyncio.run(coro)


def start_profile(pid: int, name: str, seconds: float) -> subprocess.Popen | None:
    """With BENCH_PROFILE=1: py-spy samples process `pid` for `seconds` into bench/results/profile-<name>.txt
    (collapsed stacks, one line per stack with its sample count; `python -m bench.profile FILE` summarises it)."""
    import shutil
    import sys

    if os.environ.get("BENCH_PROFILE") != "1":
        return None
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not os.access(spy, os.X_OK):
        print(f"  (no profile of {name}: py-spy is not installed; scripts/setup.sh installs it)", flush=True)
        return None
    RESULTS.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [spy, "record", "--pid", str(pid), "--duration", str(int(seconds)), "--rate", "200", "--format", "raw",
         "--output", str(RESULTS / f"profile-{name}.txt")],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )


async def timed_after_signal(ids: Sequence[int], start: Path, make: Callable[[int], Awaitable[object]]) -> dict:
    """A racing worker's run: says "ready", waits for the parent's start signal (the file `start`), then calls
    `make` for each id in turn, timing each. CLOCK_MONOTONIC is system-wide on Linux, so `finished` compares with
    the parent's start time."""
    print("ready", flush=True)
    deadline = time.monotonic() + 300
    while not start.exists():
        if time.monotonic() > deadline:
            raise SystemExit("start signal never came")
        await asyncio.sleep(0.001)
    latencies = []
    for item in ids:
        began = time.perf_counter()
        await make(item)
        latencies.append((time.perf_counter() - began) * 1000)
    return {"made": len(latencies), "finished": time.monotonic(), "latencies": latencies}
