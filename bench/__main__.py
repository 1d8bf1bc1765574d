"""`python -m bench [--only NAME,...] [--quick] [--repeat N]`: runs the benchmarks against the local PostgreSQL and
Redis and writes bench/results/results.json, results.md and latency.png. Each benchmark runs N times (default 3) and
each figure is reported as the median run's, with the spread of all runs. Each run prints its figures as it goes."""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import platform
import sys
import time
import traceback
from datetime import UTC, datetime

from bench.common import RESULTS, BenchEnv, Report, merge_runs
from bench.report import write_chart, write_markdown

# Run in this order: the inbox's data set is the largest; it goes last so a failure elsewhere is seen early.
BENCHMARKS = ["ingest", "fanout", "rotation", "inbox_scale"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="", help="comma-separated benchmark names: " + ", ".join(BENCHMARKS))
    parser.add_argument("--quick", action="store_true", help="small data and short runs (checks, not figures)")
    parser.add_argument("--out", default=str(RESULTS), help="directory for the results")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each benchmark (the median is reported)")
    args = parser.parse_args(argv)
    names = [n for n in args.only.split(",") if n] or BENCHMARKS
    unknown = set(names) - set(BENCHMARKS)
    if unknown:
        parser.error(f"unknown benchmark(s): {', '.join(sorted(unknown))}")
    env = BenchEnv(quick=args.quick)
    reports: list[Report] = []
    failed: list[str] = []
    started = time.monotonic()
    if args.repeat < 1:
        parser.error("--repeat is at least 1")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        runs = []
        for n in range(1, args.repeat + 1):
            print(f"== {name}, run {n} of {args.repeat}", flush=True)
            try:
                runs.append(asyncio.run(module.run(env)))
            except Exception:
                traceback.print_exc()
                failed.append(f"{name} (run {n})")
        if runs:
            reports.append(merge_runs(runs))
    meta = {
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "machine": f"{platform.machine()}, {_cpus()} CPUs",
        "quick": args.quick,
        "seconds": round(time.monotonic() - started, 1),
        "failed": failed,
        "repeat": args.repeat,
    }
    from pathlib import Path

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(
        json.dumps({"meta": meta, "reports": [r.as_dict() for r in reports]}, indent=2, default=str) + "\n"
    )
    (out / "results.md").write_text(write_markdown(meta, reports))
    write_chart(reports, out / "latency.png")
    print(f"results in {out}/ (results.json, results.md, latency.png)", flush=True)
    if failed:
        print(f"benchmarks that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


def _cpus() -> int:
    import os

    return len(os.sched_getaffinity(0))


if __name__ == "__main__":
    raise SystemExit(main())
