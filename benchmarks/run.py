"""Benchmark this server against its peers: ``python benchmarks/run.py [--quick] ...``.

Installs each peer into its own virtual environment under a cache directory outside the
repository, runs every scenario (HTTP/1.1, HTTP/2, WebSocket, memory) against every server
that supports it, with the server pinned to one core and the load tool to the other, in
interleaved rounds, and writes ``results.json``, ``results.md`` and ``chart.png``.
See benchmarks/README.md and docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import datetime
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import envs, report, scenarios, servers
from harness.memory import run_memory_scenario
from harness.procs import Cores, Processes, raise_open_file_limit
from harness.runner import Context, run_load_scenario, say

QUICK_DURATION = 3.0
DOCS_RESULTS = (envs.REPO / "docs" / "benchmarks").resolve()
DOCS_PAGE = envs.REPO / "docs" / "benchmarks.md"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/run.py",
        description="Benchmark this server against its peers (see benchmarks/README.md).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"smoke test: 1 round of {QUICK_DURATION:g} s, smaller memory scenarios; "
        "results go to the cache directory unless --out is given",
    )
    parser.add_argument("--scenarios", nargs="+", metavar="NAME", help="default: all")
    parser.add_argument("--servers", nargs="+", metavar="NAME", help="default: all")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="measured seconds (default 10)")
    parser.add_argument("--warmup", type=float, default=2.0, help="warm-up seconds (2)")
    parser.add_argument("--out", type=Path, help="output directory (default docs/benchmarks)")
    parser.add_argument("--cache-dir", type=Path, default=envs.default_cache_dir())
    parser.add_argument(
        "--this-repo",
        type=Path,
        default=envs.REPO,
        help="the checkout of this project to benchmark (default: this repository)",
    )
    parser.add_argument("--reinstall", action="store_true", help="reinstall every environment")
    parser.add_argument("--setup-only", action="store_true", help="install, then stop")
    parser.add_argument("--list", action="store_true", help="list servers and scenarios")
    args = parser.parse_args(argv)
    args.this_repo = args.this_repo.resolve()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.duration is None:
        args.duration = QUICK_DURATION if args.quick else 10.0
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be at least 1, --warmup at least 0")
    try:
        args.server_list = servers.by_name(
            envs.split_names(args.servers) or [s.name for s in servers.SERVERS]
        )
        args.scenario_list = scenarios.by_name(
            envs.split_names(args.scenarios) or [s.name for s in scenarios.SCENARIOS]
        )
    except ValueError as exc:
        parser.error(str(exc))
    return args


def print_tables() -> None:
    print("servers:")
    for server in servers.SERVERS:
        print(f"  {server.name:16} {server.label}")
    print("scenarios:")
    for scenario in scenarios.SCENARIOS:
        print(f"  {scenario.name:16} {scenario.title}")


def setup(args: argparse.Namespace, log: Path) -> tuple[list[servers.Server], dict[str, str]]:
    """Install every environment the chosen servers need; returns those that installed."""
    return envs.install_each(
        args.server_list,
        lambda server: server.env,
        cache=args.cache_dir,
        log=log,
        reinstall=args.reinstall,
        source=args.this_repo,
    )


def _versions(cache: Path, chosen: list[servers.Server]) -> tuple[dict[str, dict[str, Any]], str]:
    found: dict[str, dict[str, Any]] = {}
    for server in chosen:
        everything = server.env.versions(cache)
        reported = {name: everything.get(name, "not installed") for name in server.env.report}
        found[server.name] = {
            "label": server.label,
            "environment": server.env.name,
            "versions": reported,
            "all_packages": everything,
        }
    return found, envs.this_version()


def run(args: argparse.Namespace) -> int:
    cache: Path = args.cache_dir
    stamp = datetime.datetime.now(datetime.timezone.utc)
    run_dir = cache / "runs" / stamp.strftime("%Y%m%dT%H%M%SZ")
    (run_dir / "scratch").mkdir(parents=True, exist_ok=True)
    log = run_dir / "setup.log"
    usable, install_failures = setup(args, log)
    node_modules = envs.ensure_node_packages(cache, log)
    tls = envs.ensure_tls_files(cache, log)
    if args.setup_only:
        return 0
    out: Path = args.out or (cache / "quick" if args.quick else DOCS_RESULTS)
    out.mkdir(parents=True, exist_ok=True)

    cores = Cores.pick()
    open_files = raise_open_file_limit()
    # The harness itself stays off the server's core; children that are not pinned to a
    # core of their own (probes, the idle client's parent) inherit this.
    os.sched_setaffinity(0, {cores.load})
    context = Context(
        processes=Processes(),
        cache=cache,
        run_dir=run_dir,
        cores=cores,
        tls=tls,
        node_modules=node_modules,
        rounds=args.rounds,
        warmup=args.warmup,
        duration=args.duration,
        quick=args.quick,
    )
    versions, this_version = _versions(cache, usable)
    records = []
    load_before = envs.load_average()
    say(f"running; server logs in {run_dir / 'logs'}")
    with context.processes.session():
        for scenario in args.scenario_list:
            say(f"{scenario.name}: {scenario.title}")
            if isinstance(scenario, scenarios.LoadScenario):
                results = report.summarize_load(run_load_scenario(context, scenario, usable))
            else:
                results = report.summarize_memory(run_memory_scenario(context, scenario, usable))
            for name, reason in install_failures.items():
                results[name] = {"status": "unavailable", "reason": reason}
            records.append(report.scenario_record(scenario, results))

    document: dict[str, Any] = {
        "generated": stamp.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "settings": {
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "server_core": cores.server,
            "load_core": cores.load,
            "open_file_limit": open_files,
            "keep_alive_timeout_s": servers.KEEP_ALIVE_SECONDS,
            "backlog": servers.BACKLOG,
            # Other work on the machine shows here (the benchmark itself adds about 2).
            "load_average_before": load_before,
            "load_average_after": envs.load_average(),
        },
        "machine": envs.machine(),
        "tools": {
            **envs.tool_versions(),
            **{f"npm {k}": v for k, v in envs.node_package_versions(node_modules).items()},
            "matplotlib": envs.TOOLS.versions(cache).get("matplotlib", "unknown"),
        },
        "this_version": this_version,
        "this_revision": envs.repo_revision(args.this_repo.resolve()),
        "servers": versions,
        "scenarios": records,
    }
    json_path, md_path, chart_path = out / "results.json", out / "results.md", out / "chart.png"
    report.write_json(document, json_path)
    md_path.write_text(report.markdown(document, args.server_list))
    _chart(cache, json_path, chart_path)
    say(f"wrote {json_path}, {md_path}, {chart_path}")
    if out.resolve() == DOCS_RESULTS and not args.quick:
        _update_docs_page(md_path.read_text())
        say(f"updated the results section of {DOCS_PAGE}")
    print(md_path.read_text())
    return 0


def _update_docs_page(results_markdown: str) -> None:
    """Put the chart and the tables between the results markers of docs/benchmarks.md."""
    page = DOCS_PAGE.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in page or end not in page:
        return
    tables = results_markdown.split("\n", 1)[1].strip()  # without its own title
    tables = tables.replace("\n## ", "\n### ")  # nested under the page's Results
    section = (
        f"{begin}\n![Requests or messages per second, and memory, per server]"
        f"(benchmarks/chart.png)\n\n{tables}\n\nEvery round of every server: "
        f"[benchmarks/results.json](benchmarks/results.json).\n{end}"
    )
    head, rest = page.split(begin, 1)
    DOCS_PAGE.write_text(head + section + rest.split(end, 1)[1])


def _chart(cache: Path, json_path: Path, chart_path: Path) -> None:
    """Draw the chart with matplotlib from the harness-tools environment."""
    python = envs.TOOLS.bin(cache, "python")
    script = envs.BENCHMARKS / "chart.py"
    result = subprocess.run(
        [str(python), str(script), str(json_path), str(chart_path)], check=False, timeout=120
    )
    if result.returncode != 0:
        say(f"the chart could not be drawn (exit {result.returncode})")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print_tables()
        return 0
    try:
        return run(args)
    except KeyboardInterrupt:
        say("interrupted; every process the harness started has been stopped")
        return 130
    except envs.SetupError as exc:
        say(f"setup failed: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
