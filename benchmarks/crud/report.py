"""The CRUD results: medians, per-round ratios, the targets, JSON and Markdown.

As in the main harness, a ratio is the median over rounds of (this server's rate in round i)
÷ (the other configuration's rate in round i): both ran minutes apart in the same run.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from . import configs
from .bench import Load, Outcome, Regime

# (regime, what this server is compared with, the ratio it should reach)
TARGETS: tuple[tuple[str, str, float], ...] = (
    ("fast", "best_flask", 1.4),
    ("fast", "uvicorn", 1.05),
    ("slow", "best_sync_flask", 3.0),
)
COMPARISONS = {
    "uvicorn": "Quart on Uvicorn",
    "best_flask": "the best Flask configuration",
    "best_sync_flask": "the best sync Flask configuration (sync or gthread)",
    "gevent": "Flask on gevent",
    "eventlet": "Flask on eventlet",
}


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _done(rounds: list[dict[str, Any] | None]) -> list[dict[str, Any]]:
    return [r for r in rounds if r is not None]


def _summary(rounds: list[dict[str, Any] | None]) -> dict[str, Any]:
    done = _done(rounds)

    def median_of(key: str) -> float | None:
        return _median([r[key] for r in done if r.get(key) is not None])

    return {
        "median_rate": median_of("rate"),
        "median_p50_ms": median_of("p50_ms"),
        "median_p99_ms": median_of("p99_ms"),
        "errors": sum(r["errors"] for r in done),
        "failed_rounds": len(rounds) - len(done),
        "median_server_cpu_percent": median_of("server_cpu_percent"),
        "median_server_cpu_us_per_request": median_of("server_cpu_us_per_request"),
        "median_postgres_cpu_percent": median_of("postgres_cpu_percent"),
        "median_wrk_cpu_percent": median_of("wrk_cpu_percent"),
        "rounds": rounds,
    }


def _ratio(mine: list[dict[str, Any] | None], theirs: list[dict[str, Any] | None]) -> float | None:
    """Median over rounds of this server's rate ÷ theirs (above 1: this is faster)."""
    return _median(
        [
            a["rate"] / b["rate"]
            for a, b in zip(mine, theirs, strict=False)
            if a is not None and b is not None and b["rate"] > 0
        ]
    )


def _cpu_ratio(
    mine: list[dict[str, Any] | None], theirs: list[dict[str, Any] | None]
) -> float | None:
    """Median over rounds of their CPU per request ÷ this server's (above 1: this is cheaper)."""
    key = "server_cpu_us_per_request"
    return _median(
        [
            b[key] / a[key]
            for a, b in zip(mine, theirs, strict=False)
            if a is not None and b is not None and a.get(key) and b.get(key)
        ]
    )


def regime_record(
    regime: Regime, loads: list[Load], chosen: list[configs.Config], outcomes: dict[str, Outcome]
) -> dict[str, Any]:
    kinds = {config.name: config.kind for config in chosen}
    results: dict[str, Any] = {}
    for name, outcome in outcomes.items():
        results[name] = {
            "status": outcome.status,
            "reason": outcome.reason,
            "crashes": outcome.crashes,
            "notes": outcome.notes,
            "log_problems": outcome.log_problems,
            "loads": {
                load.name: _summary(outcome.rounds.get(load.name, []))
                for load in loads
                if outcome.status != "unavailable"
            },
        }
    comparisons: dict[str, dict[str, Any]] = {}
    this = outcomes.get(configs.BASELINE)
    for load in loads:
        if this is None or this.status == "unavailable":
            break
        mine = this.rounds.get(load.name, [])

        def fastest(allowed: tuple[str, ...], load: Load = load) -> str | None:
            rates = {
                name: results[name]["loads"][load.name]["median_rate"]
                for name, kind in kinds.items()
                if kind in allowed and results[name]["loads"].get(load.name, {}).get("median_rate")
            }
            return max(rates, key=lambda name: rates[name]) if rates else None

        peers = {
            "uvicorn": "uvicorn" if "uvicorn" in outcomes else None,
            "best_flask": fastest(("sync", "green")),
            "best_sync_flask": fastest(("sync",)),
            "gevent": "gevent" if "gevent" in outcomes else None,
            "eventlet": "eventlet" if "eventlet" in outcomes else None,
        }
        comparisons[load.name] = {
            key: {
                "config": peer,
                "ratio": _ratio(mine, outcomes[peer].rounds.get(load.name, [])),
                "cpu_ratio": _cpu_ratio(mine, outcomes[peer].rounds.get(load.name, [])),
            }
            for key, peer in peers.items()
            if peer is not None
        }
    return {
        "name": regime.name,
        "title": regime.title,
        "delay_s": regime.delay,
        "results": results,
        "comparisons": comparisons,
    }


def targets(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for record in records:
        for regime, against, goal in TARGETS:
            if record["name"] != regime:
                continue
            for load, comparison in record["comparisons"].items():
                entry = comparison.get(against)
                if entry is None or entry["ratio"] is None:
                    continue
                found.append(
                    {
                        "regime": regime,
                        "load": load,
                        "against": against,
                        "config": entry["config"],
                        "goal": goal,
                        "ratio": entry["ratio"],
                        "met": entry["ratio"] >= goal,
                    }
                )
    return found


def write_json(document: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(document, indent=1) + "\n")


# --- Markdown -----------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _rate_table(record: dict[str, Any], loads: list[str], labels: dict[str, str]) -> list[str]:
    head = " | ".join(f"{load} req/s | {load} p99 ms" for load in loads)
    lines = [
        f"| configuration | {head} | errors |",
        "| --- |" + " ---: | ---: |" * len(loads) + " ---: |",
    ]
    for name, result in record["results"].items():
        if result["status"] == "unavailable":
            continue
        cells = []
        errors, failed = 0, 0
        for load in loads:
            summary = result["loads"].get(load, {})
            cells.append(
                f"{_number(summary.get('median_rate'))} "
                f"| {_number(summary.get('median_p99_ms'), 1)}"
            )
            errors += summary.get("errors", 0)
            failed += summary.get("failed_rounds", 0)
        error_text = f"{errors:,}" + (f" ({failed} failed rounds)" if failed else "")
        if result["crashes"]:
            error_text += f" ({result['crashes']} crashes)"
        lines.append(f"| {labels[name]} | {' | '.join(cells)} | {error_text} |")
    return lines


def _ratio_table(record: dict[str, Any], loads: list[str], field: str, head: str) -> list[str]:
    lines = [f"| {head} | " + " | ".join(loads) + " |", "| --- |" + " ---: |" * len(loads)]
    for key, text in COMPARISONS.items():
        cells = []
        for load in loads:
            entry = record["comparisons"].get(load, {}).get(key)
            if entry is None:
                cells.append("-")
                continue
            cells.append(_number(entry[field], 2))
            if key.startswith("best"):
                cells[-1] += f" ({entry['config']})"
        if any(cell != "-" for cell in cells):
            lines.append(f"| {text} | {' | '.join(cells)} |")
    return lines


def _cpu_table(record: dict[str, Any], loads: list[str], labels: dict[str, str]) -> list[str]:
    heads = [f"{load}: µs per request | {load}: server / PostgreSQL / wrk" for load in loads]
    lines = [
        "| configuration | " + " | ".join(heads) + " |",
        "| --- |" + " ---: | ---: |" * len(loads),
    ]

    def percent(value: float | None) -> str:
        return "-" if value is None else f"{value:.0f}%"

    for name, result in record["results"].items():
        if result["status"] == "unavailable":
            continue
        cells = []
        for load in loads:
            summary = result["loads"].get(load, {})
            cells.append(
                f"{_number(summary.get('median_server_cpu_us_per_request'))} | "
                f"{percent(summary.get('median_server_cpu_percent'))} / "
                f"{percent(summary.get('median_postgres_cpu_percent'))} / "
                f"{percent(summary.get('median_wrk_cpu_percent'))}"
            )
        lines.append(f"| {labels[name]} | {' | '.join(cells)} |")
    return lines


def _notes(record: dict[str, Any], labels: dict[str, str]) -> list[str]:
    notes = []
    for name, result in record["results"].items():
        if result["status"] != "ok":
            notes.append(f"- {labels[name]}: {result['status']}: {result['reason']}")
        notes.extend(f"- {labels[name]}: {note}" for note in result["notes"])
        problems = result.get("log_problems") or {}
        if problems.get("count"):
            examples = "; ".join(f"`{line[:110]}`" for line in problems["examples"][:2])
            notes.append(
                f"- {labels[name]}: {problems['count']} server log line(s) looked like errors,"
                f" e.g. {examples}"
            )
    return notes


def _target_lines(found: list[dict[str, Any]]) -> list[str]:
    if not found:
        return []
    loads = list(dict.fromkeys(t["load"] for t in found))  # in the order they were run
    lines = ["| regime | this server ÷ | goal | " + " | ".join(loads) + " |"]
    lines.append("| --- | --- | ---: |" + " ---: |" * len(loads))
    rows: dict[tuple[str, str, float], dict[str, dict[str, Any]]] = {}
    for target in found:
        key = (target["regime"], target["against"], target["goal"])
        rows.setdefault(key, {})[target["load"]] = target
    for (regime, against, goal), by_load in rows.items():
        cells = []
        for load in loads:
            entry = by_load.get(load)
            if entry is None:
                cells.append("-")
                continue
            mark = "met" if entry["met"] else "**not met**"
            cells.append(f"{entry['ratio']:.2f} ({entry['config']}) {mark}")
        lines.append(f"| {regime} | {COMPARISONS[against]} | ≥ {goal:g} | {' | '.join(cells)} |")
    return lines


def markdown(document: dict[str, Any]) -> str:
    labels = {name: info["label"] for name, info in document["configs"].items()}
    machine, settings = document["machine"], document["settings"]
    loads = settings["loads"]
    lines = [
        "# CRUD benchmark results",
        "",
        f"Measured {document['generated']} on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['memory_gib']} GiB), Linux {machine['kernel']}, {machine['os']}. "
        f"This server: hypercorn {document['this_version']} at `{document['this_revision']}`. "
        f"{document['tools']['postgres']}.",
        "",
        f"Method: one server process per configuration pinned to core {settings['server_core']};"
        f" PostgreSQL and wrk share core {settings['load_core']}. wrk -t1 "
        f"-c{settings['connections']}, Lua mixes over a table of {settings['rows']:,} rows, "
        "reset to the seeded rows (and vacuumed) before every measured run. "
        f"{settings['rounds']} interleaved round(s) per load, each {settings['warmup_s']:g} s "
        f"warm-up then {settings['duration_s']:g} s measured; medians over rounds; ratios are "
        "medians of per-round ratios. Errors are non-2xx responses plus socket errors, summed "
        "over rounds. CPU is a share of one core. Load average "
        f"{settings['load_average_before']} before the run, "
        f"{settings['load_average_after']} after (the machine is shared: other work shows here).",
    ]
    if document["quick"]:
        lines += ["", "**Quick run** (smoke test): one short round; the numbers are indicative."]
    found = document["targets"]
    if found:
        lines += ["", "## Targets", "", *_target_lines(found)]
    for record in document["regimes"]:
        lines += ["", f"## {record['title']}", ""]
        lines += _rate_table(record, loads, labels)
        if record["comparisons"]:
            lines += ["", "Throughput, median of per-round ratios (above 1: this server faster):"]
            lines += ["", *_ratio_table(record, loads, "ratio", "this server's req/s ÷")]
        lines += [
            "",
            "Server CPU per request (median µs; it moves less than req/s when other work takes"
            " a share of the server's core) and CPU use (median share of one core):",
            "",
            *_cpu_table(record, loads, labels),
        ]
        if record["comparisons"]:
            lines += [
                "",
                "CPU per request, median of per-round ratios (above 1: this server spends less):",
            ]
            lines += ["", *_ratio_table(record, loads, "cpu_ratio", "their µs ÷ this server's")]
        notes = _notes(record, labels)
        if notes:
            lines += ["", *notes]
    lines += ["", "## Configurations", "", "| name | configuration | pool | packages |"]
    lines.append("| --- | --- | --- | --- |")
    for name, info in document["configs"].items():
        packages = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        lines.append(f"| `{name}` | {info['label']} | {info['pool']} | {packages} |")
    tools = ", ".join(f"{k}: {v}" for k, v in document["tools"].items())
    lines += ["", f"Tools: {tools}."]
    return "\n".join(lines) + "\n"
