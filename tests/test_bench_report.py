"""The benchmark harness reports what it measured: percentiles by nearest rank, every figure in the table with its
goal and verdict, and a latency chart. (The benchmarks themselves run with `scripts/bench.sh`, not in the suite.)"""

from __future__ import annotations

import math

from bench.common import Report, percentile
from bench.report import write_chart, write_markdown

META = {"when": "2026-11-25T00:00:00+00:00", "machine": "x86_64, 2 CPUs", "python": "3.11.7", "quick": False,
        "seconds": 1.0, "failed": []}


def test_percentiles_are_nearest_rank():
    samples = list(range(1, 101))  # 1..100
    assert percentile(samples, 50) == 50
    assert percentile(samples, 99) == 99
    assert percentile(samples, 100) == 100
    assert percentile([7.0], 99) == 7.0
    assert math.isnan(percentile([], 50))


def test_the_table_shows_each_figure_with_its_goal_and_whether_it_was_met():
    report = Report("ingest")
    report.add("closer / bare aiogram throughput", 0.31, "×", goal="≥ 0.5 ×", met=False)
    report.add("bare aiogram: updates/s", 4400, "updates/s")
    report.latencies["closer at 100/s"] = [1.0, 2.0, 3.0, 40.0]
    table = write_markdown(META, [report])
    assert "| ingest | closer / bare aiogram throughput | 0.31 × | ≥ 0.5 × | **no** |" in table
    assert "| ingest | bare aiogram: updates/s | 4,400 updates/s |  |  |" in table
    assert "| ingest | closer at 100/s | 4 | 2.00 | 40.0 | 40.0 | 40.0 |" in table


def test_the_chart_is_written_as_a_png(tmp_path):
    report = Report("fanout")
    report.latencies["webhook to 50th item"] = [5.0, 6.0, 9.0]
    write_chart([report], tmp_path / "latency.png")
    assert (tmp_path / "latency.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
