"""Draw ``chart.png`` from ``results.json``: one panel per scenario, one bar per server.

Run by the harness with the harness-tools environment's Python (matplotlib is no project
dependency)::

    python benchmarks/chart.py docs/benchmarks/results.json docs/benchmarks/chart.png
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

THIS_COLOUR = "#d1495b"
PEER_COLOUR = "#5b7c99"


Panel = tuple[str, str, dict[str, float | None]]


def _panels(report: dict[str, Any]) -> list[Panel]:
    """(title, axis label, {server: value or None when not run}) for each scenario."""
    panels = []
    for record in report["scenarios"]:
        results = record["results"]
        ok = {name: r for name, r in results.items() if r.get("status") == "ok"}
        if record["kind"] == "load":
            values = {n: r["median_rate"] for n, r in ok.items()}
            axis = f"{record['unit']} (median)"
        elif record["kind"] == "memory-idle":
            values = {n: r["per_connection_kib"] for n, r in ok.items()}
            axis = "KiB per idle connection (lower is better)"
        else:
            values = {n: r["growth_mib"] for n, r in ok.items()}
            axis = f"RSS growth over {_count(ok)} requests, MiB (lower is better)"
        if any(value is not None for value in values.values()):
            panels.append((record["title"], axis, {n: values.get(n) for n in results}))
    return panels


def _label(value: float | None) -> str:
    if value is None:
        return "not run"
    return f"{value:,.0f}" if abs(value) >= 10 else f"{value:.1f}"


def _count(results: dict[str, Any]) -> str:
    counts = {r.get("target_requests", r["requests"]) for r in results.values()}
    return f"{max(counts):,}" if counts else "the"


def draw(report: dict[str, Any], out: Path) -> None:
    panels = _panels(report)
    labels = {name: info["label"] for name, info in report["servers"].items()}
    this = {name for name in report["servers"] if name.startswith("this")}
    columns = 2
    rows = max(1, math.ceil(len(panels) / columns))
    figure, axes = plt.subplots(rows, columns, figsize=(14, 3.2 * rows + 1), squeeze=False)
    for axis, (title, unit, values) in zip(axes.flat, panels, strict=False):
        names = list(values)[::-1]  # table order, top to bottom
        colours = [THIS_COLOUR if name in this else PEER_COLOUR for name in names]
        heights = [values[n] or 0.0 for n in names]
        bars = axis.barh([labels.get(n, n) for n in names], heights, color=colours)
        axis.bar_label(bars, labels=[_label(values[n]) for n in names], padding=3, fontsize=8)
        axis.set_title(title, fontsize=10)
        axis.set_xlabel(unit, fontsize=8)
        axis.tick_params(labelsize=8)
        axis.margins(x=0.18)
    for axis in list(axes.flat)[len(panels) :]:
        axis.axis("off")
    machine = report["machine"]
    quick = " — QUICK RUN (smoke test)" if report["quick"] else ""
    figure.suptitle(
        f"hypercorn {report['this_version']} ({report['this_revision']}) vs peers — "
        f"{report['generated']}, {machine['cpu']}, {machine['cores']} cores, "
        f"Linux {machine['kernel']}{quick}",
        fontsize=10,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.98))
    figure.savefig(out, dpi=110)


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text()), target)


if __name__ == "__main__":
    main()
