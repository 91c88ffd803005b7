"""Draw the CRUD benchmark's ``chart.png`` from its ``results.json``.

One panel per regime and load, one bar per configuration, p99 in the bar's label. Run with
the harness-tools environment's Python (matplotlib is no project dependency)::

    python benchmarks/crud/chart.py results.json chart.png
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt

COLOURS = {"this": "#d1495b", "asgi": "#edae49", "sync": "#5b7c99", "green": "#66a182"}


def _label(rate: float | None, p99: float | None) -> str:
    if rate is None:
        return "not run"
    return f"{rate:,.0f}" + (f"  (p99 {p99:,.0f} ms)" if p99 is not None else "")


def draw(report: dict[str, Any], out: Path) -> None:
    loads = report["settings"]["loads"]
    regimes = report["regimes"]
    configs = report["configs"]
    figure, axes = plt.subplots(
        len(regimes), len(loads), figsize=(6 * len(loads), 3.4 * len(regimes) + 1), squeeze=False
    )
    for row, record in enumerate(regimes):
        names = [n for n, r in record["results"].items() if r["status"] != "unavailable"]
        names = names[::-1]  # table order, top to bottom
        for column, load in enumerate(loads):
            axis = axes[row][column]
            summaries = [record["results"][n]["loads"].get(load, {}) for n in names]
            rates = [s.get("median_rate") for s in summaries]
            bars = axis.barh(
                [configs[n]["label"].replace(" + ", "+") for n in names],
                [rate or 0.0 for rate in rates],
                color=[COLOURS.get(configs[n].get("kind", ""), "#999999") for n in names],
            )
            labels = [_label(s.get("median_rate"), s.get("median_p99_ms")) for s in summaries]
            axis.bar_label(bars, labels=labels, padding=3, fontsize=7)
            axis.set_title(f"{record['title']} — {load}", fontsize=9)
            axis.set_xlabel("requests/s (median)", fontsize=8)
            axis.tick_params(labelsize=7)
            axis.margins(x=0.45)
            if column:
                axis.set_yticklabels([])
    machine = report["machine"]
    quick = " — QUICK RUN (smoke test)" if report["quick"] else ""
    figure.suptitle(
        f"CRUD app on PostgreSQL, {report['settings']['connections']} clients — hypercorn "
        f"{report['this_version']} ({report['this_revision']}) — {report['generated']}, "
        f"{machine['cpu']}, {machine['cores']} cores{quick}",
        fontsize=10,
    )
    figure.tight_layout(rect=(0, 0, 1, 0.97))
    figure.savefig(out, dpi=100)


def main() -> None:
    source, target = Path(sys.argv[1]), Path(sys.argv[2])
    draw(json.loads(source.read_text()), target)


if __name__ == "__main__":
    main()
