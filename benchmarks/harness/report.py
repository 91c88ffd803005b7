"""Turning the rounds into the report: medians, per-round ratios, JSON and Markdown.

A speed figure is only meaningful as a ratio against a peer measured in the same run, so the
ratio of this server to each peer is the median of the per-round ratios (round i of this
server over round i of the peer), not the ratio of the medians.
"""

from __future__ import annotations

import json
import statistics
from pathlib import Path
from typing import Any

from .runner import ServerOutcome
from .scenarios import LoadScenario, Scenario
from .servers import BASELINE, Server


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def summarize_load(outcomes: dict[str, ServerOutcome]) -> dict[str, dict[str, Any]]:
    """Medians per server, and this server's per-round ratio to each."""
    baseline = outcomes.get(BASELINE)
    summaries = {}
    for name, outcome in outcomes.items():
        done = [result for result in outcome.rounds if result is not None]
        summary: dict[str, Any] = {
            "status": outcome.status,
            "reason": outcome.reason,
            "median_rate": _median([r["rate"] for r in done]),
            "median_p99_ms": _median([r["p99_ms"] for r in done if r["p99_ms"] is not None]),
            "errors": sum(r["errors"] for r in done),
            "failed_rounds": len(outcome.rounds) - len(done),
            "median_client_cpu_percent": _median([r["client_cpu_percent"] for r in done]),
            "median_server_cpu_percent": _median(
                [r["server_cpu_percent"] for r in done if r["server_cpu_percent"] is not None]
            ),
            "ratio": _ratio(baseline, outcome),
            "crashes": outcome.crashes,
            "log_problems": outcome.log_problems,
            "rounds": outcome.rounds,
        }
        summaries[name] = summary
    return summaries


def _ratio(baseline: ServerOutcome | None, peer: ServerOutcome) -> float | None:
    """Median over rounds of (this server's rate) / (the peer's rate)."""
    if baseline is None:
        return None
    ratios = [
        mine["rate"] / theirs["rate"]
        for mine, theirs in zip(baseline.rounds, peer.rounds, strict=False)
        if mine is not None and theirs is not None and theirs["rate"] > 0
    ]
    return _median(ratios)


def summarize_memory(outcomes: dict[str, ServerOutcome]) -> dict[str, dict[str, Any]]:
    return {
        name: {
            "status": outcome.status,
            "reason": outcome.reason,
            "crashes": outcome.crashes,
            "log_problems": outcome.log_problems,
            **outcome.extra,
        }
        for name, outcome in outcomes.items()
    }


def scenario_record(scenario: Scenario, results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if isinstance(scenario, LoadScenario):
        return {
            "name": scenario.name,
            "title": scenario.title,
            "kind": "load",
            "tool": scenario.tool,
            "unit": scenario.unit,
            "results": results,
        }
    return {
        "name": scenario.name,
        "title": scenario.title,
        "kind": f"memory-{scenario.kind}",
        "results": results,
    }


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=1, sort_keys=False) + "\n")


# --- Markdown -----------------------------------------------------------------------------


def _number(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def _percent(value: float | None) -> str:
    return "-" if value is None else f"{value:.0f}%"


def _load_table(record: dict[str, Any], labels: dict[str, str]) -> list[str]:
    unit = record["unit"]
    lines = [
        f"| server | {unit} | p99 ms | errors | this ÷ server | load-tool CPU | server CPU |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in record["results"].items():
        if result["status"] != "ok":
            continue
        errors = str(result["errors"])
        if result["failed_rounds"]:
            errors += f" ({result['failed_rounds']} failed rounds)"
        if result["crashes"]:
            errors += f" ({result['crashes']} crashes)"
        lines.append(
            f"| {labels[name]} | {_number(result['median_rate'])} "
            f"| {_number(result['median_p99_ms'], 2)} | {errors} "
            f"| {_number(result['ratio'], 2)} | {_percent(result['median_client_cpu_percent'])} "
            f"| {_percent(result['median_server_cpu_percent'])} |"
        )
    return lines


def _idle_table(record: dict[str, Any], labels: dict[str, str]) -> list[str]:
    lines = [
        "| server | connections opened / asked | still open when measured "
        "| RSS before, MiB | RSS with them, MiB | KiB per open connection |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in record["results"].items():
        if result["status"] != "ok":
            continue
        lines.append(
            f"| {labels[name]} | {result['opened']:,} / {result['connections']:,} "
            f"| {result['alive']:,} | {result['rss_before_mib']:.1f} "
            f"| {result['rss_with_mib']:.1f} | {result['per_connection_kib']:.1f} |"
        )
    return lines


def _growth_table(record: dict[str, Any], labels: dict[str, str]) -> list[str]:
    lines = [
        "| server | requests | RSS after warm-up, MiB | half-way | end | growth, MiB "
        "| growth in 2nd half, MiB | errors | req/s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name, result in record["results"].items():
        if result["status"] != "ok":
            continue
        lines.append(
            f"| {labels[name]} | {result['requests']:,} | {result['rss_warm_mib']:.1f} "
            f"| {result['rss_middle_mib']:.1f} | {result['rss_end_mib']:.1f} "
            f"| {result['growth_mib']:+.1f} | {result['second_half_growth_mib']:+.1f} "
            f"| {result['errors']:,} | {_number(result['rate'])} |"
        )
    return lines


def _notes(record: dict[str, Any], labels: dict[str, str]) -> list[str]:
    notes = []
    not_run: dict[str, list[str]] = {}
    for name, result in record["results"].items():
        if result["status"] != "ok":
            key = f"{result['status']}: {result['reason']}"
            not_run.setdefault(key, []).append(labels[name])
        elif result.get("reason"):
            notes.append(f"- {labels[name]}: {result['reason']}")
        problems = result.get("log_problems") or {}
        if problems.get("count"):
            examples = "; ".join(f"`{line[:120]}`" for line in problems["examples"][:2])
            notes.append(
                f"- {labels[name]}: {problems['count']} server log lines looked like errors,"
                f" e.g. {examples}"
            )
    for reason, names in not_run.items():
        status, _, why = reason.partition(": ")
        notes.append(f"- {status.capitalize()}: {', '.join(names)} ({why})")
    return notes


def markdown(report: dict[str, Any], servers: list[Server]) -> str:
    labels = {server.name: server.label for server in servers}
    machine, settings = report["machine"], report["settings"]
    lines = [
        "# Benchmark results",
        "",
        f"Measured {report['generated']} on {machine['cpu']} ({machine['cores']} cores, "
        f"{machine['memory_gib']} GiB), Linux {machine['kernel']}, {machine['os']}. "
        f"This server: hypercorn {report['this_version']} at `{report['this_revision']}`.",
        "",
        f"Method: server pinned to core {settings['server_core']}, load tool to core "
        f"{settings['load_core']}; {settings['rounds']} interleaved round(s) per scenario, "
        f"each {settings['warmup_s']:g} s warm-up then {settings['duration_s']:g} s measured; "
        "medians over rounds; *this ÷ server* is the median of per-round ratios (above 1: "
        "this server is faster). Errors are failed requests, socket errors and non-2xx "
        "responses summed over rounds. CPU is a share of one core. Load average "
        f"{settings['load_average_before']} before the run, "
        f"{settings['load_average_after']} after.",
    ]
    if report["quick"]:
        lines += [
            "",
            "**Quick run** (smoke test): one short round; the numbers are indicative only.",
        ]
    for record in report["scenarios"]:
        lines += ["", f"## {record['title']}", ""]
        if record["kind"] == "load":
            lines += _load_table(record, labels)
        elif record["kind"] == "memory-idle":
            lines += _idle_table(record, labels)
        else:
            lines += _growth_table(record, labels)
        notes = _notes(record, labels)
        if notes:
            lines += ["", *notes]
    lines += ["", "## Versions", "", "| server | packages |", "| --- | --- |"]
    for name, info in report["servers"].items():
        packages = ", ".join(f"{k} {v}" for k, v in info["versions"].items())
        lines.append(f"| {labels[name]} | {packages} |")
    tools = ", ".join(f"{k}: {v}" for k, v in report["tools"].items())
    lines += ["", f"Tools: {tools}."]
    return "\n".join(lines) + "\n"
