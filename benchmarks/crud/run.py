"""The CRUD benchmark: ``python benchmarks/crud/run.py [--quick] ...``.

The same small CRUD app twice, Quart + asyncpg (on this server and on Uvicorn) and Flask +
psycopg 3 (on Gunicorn's sync, gthread, gevent and eventlet workers), against a real
PostgreSQL the harness starts, with a fast database and with a slow one. Installs the
environments under ``~/.cache/hypercorn-bench/venvs``, starts PostgreSQL from Debian's
package, loads the data, runs interleaved rounds, and writes ``results.json``,
``results.md`` and ``chart.png`` (to ``docs/benchmarks/crud/``, or the cache for --quick).
See benchmarks/crud/README.md and docs/crud-benchmark.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

BENCHMARKS = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(BENCHMARKS))

from harness import envs  # noqa: E402
from harness.procs import Cores, Processes, StartFailed, raise_open_file_limit  # noqa: E402
from harness.runner import say  # noqa: E402

from crud import bench, configs, postgres, report  # noqa: E402
from crud import profile as profiling  # noqa: E402

DOCS_RESULTS = (envs.REPO / "docs" / "benchmarks" / "crud").resolve()
DOCS_PAGE = envs.REPO / "docs" / "crud-benchmark.md"
CHART = Path(__file__).resolve().parent / "chart.py"


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python benchmarks/crud/run.py",
        description="Quart + asyncpg against Flask + psycopg on a real PostgreSQL "
        "(see benchmarks/crud/README.md).",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="smoke test: 1 round of 3 s after a 1 s warm-up; results go to the cache "
        "directory unless --out is given",
    )
    parser.add_argument("--configs", nargs="+", metavar="NAME", help="default: all")
    parser.add_argument("--regimes", nargs="+", metavar="NAME", help="fast, slow (default both)")
    parser.add_argument("--loads", nargs="+", metavar="NAME", help="read, write, mixed (all)")
    parser.add_argument("--rounds", type=int, help="interleaved rounds (default 3, quick 1)")
    parser.add_argument("--duration", type=float, help="measured seconds (default 7, quick 3)")
    parser.add_argument("--warmup", type=float, help="warm-up seconds (default 2, quick 1)")
    parser.add_argument("--connections", type=int, default=64, help="wrk connections (64)")
    parser.add_argument("--rows", type=int, default=10_000, help="seeded rows (10,000)")
    parser.add_argument(
        "--delay-ms", type=float, default=20.0, help="the slow regime's delay per query (20)"
    )
    parser.add_argument("--out", type=Path, help="output directory (default docs/benchmarks/crud)")
    parser.add_argument("--cache-dir", type=Path, default=envs.default_cache_dir())
    parser.add_argument(
        "--this-repo",
        type=Path,
        default=envs.REPO,
        help="the checkout of this project to benchmark (default: this repository)",
    )
    parser.add_argument("--reinstall", action="store_true", help="reinstall every environment")
    parser.add_argument("--setup-only", action="store_true", help="install, then stop")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="instead of the benchmark: sample each chosen configuration with py-spy under "
        "the first chosen regime and load, and write profile.md (e.g. --profile --configs "
        "this uvicorn --regimes fast --loads read)",
    )
    parser.add_argument(
        "--render",
        type=Path,
        metavar="RESULTS_JSON",
        help="run nothing: write results.md and chart.png again from a results.json (and "
        "the docs page's results section, if it is docs/benchmarks/crud/results.json)",
    )
    parser.add_argument("--list", action="store_true", help="list configurations and loads")
    args = parser.parse_args(argv)
    args.this_repo = args.this_repo.resolve()
    if args.rounds is None:
        args.rounds = 1 if args.quick else 3
    if args.duration is None:
        args.duration = 3.0 if args.quick else 7.0
    if args.warmup is None:
        args.warmup = 1.0 if args.quick else 2.0
    if args.rounds < 1 or args.duration < 1 or args.warmup < 0:
        parser.error("--rounds and --duration must be at least 1, --warmup at least 0")
    if not 1 <= args.connections <= 400 or args.rows < 100 or args.delay_ms <= 0:
        parser.error("--connections 1..400, --rows at least 100, --delay-ms above 0")
    try:
        args.config_list = configs.by_name(
            envs.split_names(args.configs) or [c.name for c in configs.CONFIGS]
        )
    except ValueError as exc:
        parser.error(str(exc))
    regimes = {regime.name: regime for regime in bench.regimes(args.delay_ms)}
    loads = {load.name: load for load in bench.LOADS}
    wanted_regimes = envs.split_names(args.regimes) or list(regimes)
    wanted_loads = envs.split_names(args.loads) or list(loads)
    unknown = [n for n in wanted_regimes if n not in regimes]
    unknown += [n for n in wanted_loads if n not in loads]
    if unknown:
        parser.error(f"unknown regime or load: {', '.join(unknown)}")
    args.regime_list = [regimes[n] for n in regimes if n in wanted_regimes]
    args.load_list = [loads[n] for n in loads if n in wanted_loads]
    return args


def print_tables() -> None:
    print("configurations:")
    for config in configs.CONFIGS:
        print(f"  {config.name:12} {config.label}")
    print("regimes:")
    for regime in bench.regimes(20.0):
        print(f"  {regime.name:12} {regime.title}")
    print("loads:")
    for load in bench.LOADS:
        print(f"  {load.name:12} {load.title}")


def setup(args: argparse.Namespace, log: Path) -> tuple[list[configs.Config], dict[str, str]]:
    """Install every environment the chosen configurations need; those that installed."""
    return envs.install_each(
        args.config_list,
        lambda config: config.venv,
        cache=args.cache_dir,
        log=log,
        reinstall=args.reinstall,
        source=args.this_repo,
    )


def _versions(
    args: argparse.Namespace, chosen: list[configs.Config]
) -> tuple[dict[str, dict[str, Any]], str]:
    found: dict[str, dict[str, Any]] = {}
    for config in chosen:
        everything = config.venv.versions(args.cache_dir)
        found[config.name] = {
            "label": config.label,
            "kind": config.kind,
            "environment": config.venv.name,
            "pool": f"{config.pool_size(args.connections)} ({config.pool_note})",
            "command": " ".join(
                config.command(configs.Launch(Path(config.venv.name, "bin"), 0, args.connections))
            ),
            "versions": {n: everything.get(n, "not installed") for n in config.venv.report},
            "all_packages": everything,
        }
    return found, envs.this_version()


def run(args: argparse.Namespace) -> int:
    cache: Path = args.cache_dir
    stamp = datetime.datetime.now(datetime.timezone.utc)
    run_dir = cache / "runs" / ("crud-" + stamp.strftime("%Y%m%dT%H%M%SZ"))
    run_dir.mkdir(parents=True, exist_ok=True)
    log = run_dir / "setup.log"
    usable, install_failures = setup(args, log)
    if args.profile:
        profiling.PROFILER.ensure(cache, log=log, reinstall=args.reinstall)
    bin_dir = postgres.find_bin_dir(install=True, log=log)
    if args.setup_only:
        return 0
    if args.profile:
        default_out = cache / "crud-profile"
    else:
        default_out = cache / "crud-quick" if args.quick else DOCS_RESULTS
    out: Path = args.out or default_out
    out.mkdir(parents=True, exist_ok=True)

    cores = Cores.pick()
    raise_open_file_limit()
    # The harness (and psql) stays off the server's core, with PostgreSQL and wrk.
    os.sched_setaffinity(0, {cores.load})
    versions, this_version = _versions(args, usable)
    # Read before the servers start: they import the code as it is now (an editable install).
    this_revision = envs.repo_revision(args.this_repo)
    load_before = envs.load_average()
    processes = Processes()
    records = []
    with processes.session():
        pg_log = run_dir / "logs" / "postgres.log"
        pg_log.parent.mkdir(parents=True, exist_ok=True)
        with postgres.running(processes, bin_dir, core=cores.load, log_path=pg_log) as pg:
            say(f"PostgreSQL {pg.version} on 127.0.0.1:{pg.port}, core {cores.load}")
            pg.load(args.rows)
            pg_version = pg.version
            context = bench.Context(
                processes=processes,
                postgres=pg,
                cache=cache,
                run_dir=run_dir,
                cores=cores,
                connections=args.connections,
                rows=args.rows,
                rounds=args.rounds,
                warmup=args.warmup,
                duration=args.duration,
            )
            say(f"running; logs in {run_dir / 'logs'}")
            if args.profile:
                return _profile(args, context, usable, out)
            for regime in args.regime_list:
                say(f"{regime.name}: {regime.title}")
                outcomes = bench.run_regime(context, regime, usable, args.load_list)
                for name, reason in install_failures.items():
                    outcomes[name] = bench.Outcome(status="unavailable", reason=reason)
                records.append(report.regime_record(regime, args.load_list, usable, outcomes))

    document: dict[str, Any] = {
        "generated": stamp.strftime("%Y-%m-%d %H:%M UTC"),
        "quick": args.quick,
        "settings": {
            "rounds": args.rounds,
            "warmup_s": args.warmup,
            "duration_s": args.duration,
            "connections": args.connections,
            "rows": args.rows,
            "slow_delay_ms": args.delay_ms,
            "loads": [load.name for load in args.load_list],
            "server_core": cores.server,
            "load_core": cores.load,
            "postgres_core": cores.load,
            "postgres_settings": postgres.SETTINGS,
            "keep_alive_timeout_s": configs.KEEP_ALIVE_SECONDS,
            "backlog": configs.BACKLOG,
            "load_average_before": load_before,
            "load_average_after": envs.load_average(),
        },
        "machine": envs.machine(),
        "tools": {
            "wrk": envs.tool_versions()["wrk"],
            "postgres": pg_version,
            "python": envs.tool_versions()["python (harness)"],
        },
        "this_version": this_version,
        "this_revision": this_revision,
        "configs": {
            **versions,
            **{
                name: {"label": name, "versions": {}, "pool": "-", "kind": "unavailable"}
                for name in install_failures
            },
        },
        "regimes": records,
    }
    document["targets"] = report.targets(records)
    json_path, md_path, chart_path = out / "results.json", out / "results.md", out / "chart.png"
    report.write_json(document, json_path)
    md_path.write_text(report.markdown(document))
    _chart(cache, json_path, chart_path)
    say(f"wrote {json_path}, {md_path}, {chart_path}")
    if out.resolve() == DOCS_RESULTS and not args.quick:
        _update_docs_page(md_path.read_text())
    print(md_path.read_text())
    return 0


def _profile(
    args: argparse.Namespace, context: bench.Context, chosen: list[configs.Config], out: Path
) -> int:
    regime, load = args.regime_list[0], args.load_list[0]
    profiles = {}
    for config in chosen:
        say(f"profiling {config.name}: {regime.name} database, {load.name} load")
        try:
            profiles[config.name] = profiling.profile(
                context, config, regime, load, out, args.cache_dir
            )
        except StartFailed as exc:
            profiles[config.name] = {"error": f"did not start: {exc}"}
    labels = {config.name: config.label for config in chosen}
    text = profiling.markdown(profiles, labels, f"{regime.title}, {load.title}")
    (out / "profile.md").write_text(text)
    report.write_json({"regime": regime.name, "load": load.name, **profiles}, out / "profile.json")
    say(f"wrote {out / 'profile.md'}")
    print(text)
    return 0


def _update_docs_page(results_markdown: str) -> None:
    """Put the chart and tables between the results markers of docs/crud-benchmark.md."""
    if not DOCS_PAGE.exists():
        return
    page = DOCS_PAGE.read_text()
    begin, end = "<!-- results:begin -->", "<!-- results:end -->"
    if begin not in page or end not in page:
        return
    tables = results_markdown.split("\n", 1)[1].strip().replace("\n## ", "\n### ")
    section = (
        f"{begin}\n![Requests per second per configuration, fast and slow database]"
        f"(benchmarks/crud/chart.png)\n\n{tables}\n\nEvery round of every configuration: "
        f"[benchmarks/crud/results.json](benchmarks/crud/results.json).\n{end}"
    )
    head, rest = page.split(begin, 1)
    DOCS_PAGE.write_text(head + section + rest.split(end, 1)[1])
    say(f"updated the results section of {DOCS_PAGE}")


def _chart(cache: Path, json_path: Path, chart_path: Path) -> None:
    python = envs.TOOLS.bin(cache, "python")
    result = subprocess.run(
        [str(python), str(CHART), str(json_path), str(chart_path)], check=False, timeout=120
    )
    if result.returncode != 0:
        say(f"the chart could not be drawn (exit {result.returncode})")


def render(args: argparse.Namespace) -> int:
    """Markdown, chart and docs page again from an existing results.json."""
    json_path: Path = args.render.resolve()
    document = json.loads(json_path.read_text())
    md_path = json_path.parent / "results.md"
    md_path.write_text(report.markdown(document))
    _chart(args.cache_dir, json_path, json_path.parent / "chart.png")
    if json_path.parent == DOCS_RESULTS and not document["quick"]:
        _update_docs_page(md_path.read_text())
    say(f"wrote {md_path}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list:
        print_tables()
        return 0
    if args.render is not None:
        return render(args)
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
