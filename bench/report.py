"""The Markdown table and the latency chart of a benchmark run."""

from __future__ import annotations

import math
from pathlib import Path

from bench.common import Report, summary


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def write_markdown(meta: dict, reports: list[Report]) -> str:
    lines = [
        f"Run of {meta['when']} on {meta['machine']}, Python {meta['python']}"
        f"{' (quick: not for figures)' if meta['quick'] else ''}; {meta['seconds']} s.",
        "",
        "| benchmark | figure | value | goal | met |",
        "|---|---|---|---|---|",
    ]
    for report in reports:
        for f in report.figures:
            met = "" if f.met is None else ("yes" if f.met else "**no**")
            value = f"{_fmt(f.value)} {f.unit}".strip()
            name = f"{f.name} ({f.detail})" if f.detail else f.name
            lines.append(f"| {report.bench} | {name} | {value} | {f.goal} | {met} |")
    latency_rows = [(r.bench, label, summary(s)) for r in reports for label, s in r.latencies.items() if s]
    if latency_rows:
        lines += ["", "| benchmark | latency of | n | p50 ms | p95 ms | p99 ms | max ms |", "|---|---|---|---|---|---|---|"]
        for bench, label, s in latency_rows:
            lines.append(f"| {bench} | {label} | {s['n']} | {_fmt(s['p50'])} | {_fmt(s['p95'])} | {_fmt(s['p99'])} "
                         f"| {_fmt(s['max'])} |")
    notes = [f"- {r.bench}: {n}" for r in reports for n in r.notes]
    if notes:
        lines += ["", *notes]
    if meta["failed"]:
        lines += ["", f"Failed to run: {', '.join(meta['failed'])}."]
    return "\n".join(lines) + "\n"


def write_chart(reports: list[Report], path: Path) -> None:
    """One panel per benchmark: the cumulative distribution of each latency, log-scaled in milliseconds."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels = [r for r in reports if any(r.latencies.values())]
    if not panels:
        return
    fig, axes = plt.subplots(len(panels), 1, figsize=(9, 3.2 * len(panels)), squeeze=False)
    for ax, report in zip(axes[:, 0], panels, strict=True):
        for label, samples in report.latencies.items():
            if not samples:
                continue
            ordered = sorted(samples)
            n = len(ordered)
            ax.plot(ordered, [(i + 1) / n * 100 for i in range(n)], label=f"{label} (n={n})")
        ax.set_xscale("log")
        ax.set_xlabel("latency, ms (log)")
        ax.set_ylabel("percentile")
        ax.set_title(report.bench)
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
