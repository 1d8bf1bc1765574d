"""What a running closer holds in memory (issue 14, item 5): `python -m bench.memory [--database URL] [--updates N]`.

Starts `closer run` (SQLite by default, a fresh file; the ingest benchmark's seeded account of 2,000 customers),
reads its VmRSS once /healthz answers, posts N customer text updates (the ingest benchmark's, 32 at a time), and
reads VmRSS and VmHWM (peak) again. Then, in a fresh interpreter, which top-level packages `closer run` imports, and
how much memory each holds (tracemalloc: the size of what its import allocated and kept).

Not part of `python -m bench`: a tool for finding what to stop importing. Its figures are a process's, on a machine
shared with whatever else runs.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.common import ROOT


def _status(pid: int) -> dict[str, float]:
    out = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "Threads"):
                out[key] = int(value.split()[0]) / (1 if key == "Threads" else 1024)
    return out


# Run in a fresh interpreter: the packages `closer run` imports before it serves, by the memory their import keeps.
_PROBE = r"""
import sys, tracemalloc, json
tracemalloc.start(1)
root = sys.argv[1]
before = set(sys.modules)
import closer.cli
from closer.app import create_app
snapshot = tracemalloc.take_snapshot()
sizes = {}
for stat in snapshot.statistics("filename"):
    name = stat.traceback[0].filename
    parts = name.replace("\\", "/").split("/")
    if "site-packages" in parts[:-1]:
        top = parts[parts.index("site-packages") + 1]
    elif name.startswith(root) and len(parts) > 1:
        top = "closer:" + name[len(root):].lstrip("/").split("/")[0]
    else:
        top = "stdlib"
    top = top.removesuffix(".py")
    sizes[top] = sizes.get(top, 0) + stat.size
modules = sorted(set(sys.modules) - before)
print(json.dumps({"modules": len(modules), "tops": sorted({m.split(".")[0] for m in modules}),
                  "sizes": sorted(sizes.items(), key=lambda kv: -kv[1])[:25]}))
"""


async def measure(database: str | None, updates: int, preload: list[str] | None = None) -> dict:
    """`preload`: modules the process imports first (through a sitecustomize), to see what an import costs."""
    from bench import ingest
    from harness.processes import free_port, serve, stop

    with tempfile.TemporaryDirectory() as tmp:
        preload_dir = None
        if preload:
            preload_dir = str(Path(tmp) / "preload")
            Path(preload_dir).mkdir()
            (Path(preload_dir) / "sitecustomize.py").write_text("".join(f"import {m}\n" for m in preload))
            preload_dir = f"{preload_dir}:{ROOT}"
        url = database or f"sqlite://{Path(tmp) / 'memory.db'}"
        from storage.db import migrate

        await migrate(url)
        await ingest._seed(url)
        emulator, emulator_port = await ingest._emulator()
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        closer = await serve(url, port, WEBHOOK_BASE_URL=base, TELEGRAM_API_URL=f"http://127.0.0.1:{emulator_port}",
                             LOG_LEVEL="WARNING", **({"PYTHONPATH": preload_dir} if preload_dir else {}))
        try:
            await asyncio.sleep(2.0)  # start-up's own work (bot registry, webhook) done
            ready = _status(closer.pid)
            secret = await ingest._webhook_secret(url)
            make = ingest._updates(f"{base}/webhooks/telegram/{ingest.BOT_ID}", secret, 1)
            refused = 0
            for _ in range(max(1, updates // ingest.CUSTOMERS)):
                refused += sum((await ingest._warm_up(make)).values())
            after = _status(closer.pid)
        finally:
            stop(closer)
            emulator.terminate()
            emulator.wait(timeout=10)
    return {"ready_rss_mb": ready["VmRSS"], "after_rss_mb": after["VmRSS"], "peak_rss_mb": after["VmHWM"],
            "threads": after["Threads"],
            "updates": max(1, updates // ingest.CUSTOMERS) * ingest.CUSTOMERS, "refused": refused}


def imports() -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(ROOT)], cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.memory", description=__doc__)
    parser.add_argument("--database", help="a database URL (default: a fresh SQLite file)")
    parser.add_argument("--updates", type=int, default=2000)
    parser.add_argument("--no-imports", action="store_true", help="skip the import census")
    parser.add_argument("--preload", default="", help="comma-separated modules closer imports first (what-if)")
    args = parser.parse_args()
    result = asyncio.run(measure(args.database, args.updates, [m for m in args.preload.split(",") if m]))
    print(json.dumps(result))
    if not args.no_imports:
        census = imports()
        print(f"{census['modules']} modules imported; top-level: {' '.join(census['tops'])}")
        for name, size in census["sizes"]:
            print(f"  {size / 1024 / 1024:7.2f} MB  {name}")


if __name__ == "__main__":
    main()
