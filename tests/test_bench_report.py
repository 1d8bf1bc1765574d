"""The benchmark harness reports what it measured: percentiles by nearest rank, every figure in the table with its
goal and verdict, and a latency chart. (The benchmarks themselves run with `scripts/bench.sh`, not in the suite.)"""

from __future__ import annotations

import math

from bench.common import Report, merge_runs, percentile
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


def test_repeated_runs_report_the_median_run_with_the_spread():
    runs = []
    for rate, met in ((27.9, False), (28.6, True), (28.4, True)):
        run = Report("fanout")
        run.add("send rate", rate, "msg/s", goal=">= 28 msg/s", met=met, detail=f"at {rate}")
        run.latencies["webhook"] = [rate]
        runs.append(run)
    [figure] = merge_runs(runs).figures
    assert (figure.value, figure.met) == (28.4, True)
    assert figure.detail.startswith("median of 3 runs, 27.9–28.6; runs: 27.9, 28.6, 28.4; median run: at 28.4")
    assert merge_runs(runs).latencies["webhook"] == [27.9, 28.6, 28.4]


def test_a_figure_missing_from_a_failed_run_says_how_many_runs_it_rests_on():
    runs = [Report("ingest"), Report("ingest")]
    runs[0].add("updates/s", 150.0, "updates/s")
    [figure] = merge_runs(runs).figures
    assert figure.value == 150.0 and "median of 1 runs (of 2)" in figure.detail
