"""Where a configuration's CPU goes under load: py-spy samples, summed by component.

``run.py --profile`` starts each chosen configuration in the first chosen regime, loads it
with wrk as a measured run would, and samples it with py-spy (``--nonblocking``, so the
server is never paused; ``--gil``, so only the thread running Python code is sampled, not
threads waiting in C; py-spy runs on the load core). Each sample is charged to the
innermost frame that belongs to a known component (this server, Uvicorn, Gunicorn, Quart,
Werkzeug, Flask, asyncpg, psycopg, the app); standard-library frames (asyncio, json, ...)
are charged to the component that called them. Samples with no such frame are the event
loop itself. The raw collapsed stacks stay beside the summary for a flame graph.
"""

from __future__ import annotations

import collections
import re
import subprocess
import time
from pathlib import Path
from typing import Any

from harness.procs import cpu_seconds, pinned

from . import bench, configs

PROFILER = configs.Venv("crud-profile", (("py-spy",),), report=("py-spy",))
SAMPLE_RATE = 250  # per second

# (component, pattern matched against a frame's file name), first match wins.
COMPONENTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("the app (quart_app/flask_app/sql)", re.compile(r"(^|/)(quart_app|flask_app|sql)\.py$")),
    ("this server (hypercorn)", re.compile(r"(^|/)hypercorn/")),
    ("uvicorn", re.compile(r"(^|/)uvicorn/")),
    ("gunicorn", re.compile(r"(^|/)gunicorn/")),
    ("quart", re.compile(r"(^|/)quart/")),
    ("flask", re.compile(r"(^|/)flask/")),
    ("werkzeug", re.compile(r"(^|/)werkzeug/")),
    ("asyncpg", re.compile(r"(^|/)asyncpg/")),
    ("psycopg", re.compile(r"(^|/)psycopg(_pool)?/")),
    ("gevent / eventlet", re.compile(r"(^|/)(gevent|eventlet|greenlet)/")),
    ("blinker / jinja2 / itsdangerous / click", re.compile(r"(^|/)(blinker|jinja2|click)/")),
)
_FRAME = re.compile(r"^(?P<function>.*) \((?P<file>[^():]+)(?::\d+)?\)$")
# The frames under which an event loop runs its C code (uvloop's polling, socket reads and
# writes, callback dispatch): a sample whose innermost frames are these is the loop's, not
# the component that started the loop.
EVENT_LOOP = "the event loop (uvloop or asyncio, sockets, in C)"
_LOOP_FRAME = re.compile(r"asyncio/(runners|base_events)\.py$")


def component_of(file: str) -> str | None:
    for name, pattern in COMPONENTS:
        if pattern.search(file):
            return name
    return None


def summarize(raw: str, top: int = 25) -> dict[str, Any]:
    """Samples by component (innermost owner) and the top functions by own samples."""
    by_component: collections.Counter[str] = collections.Counter()
    by_function: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [f for f in stack.split(";") if _FRAME.match(f)]
        if not frames:
            continue
        total += count
        by_function[frames[-1]] += count
        owner = "other (no component on the stack)"
        for frame in reversed(frames):
            match = _FRAME.match(frame)
            assert match is not None
            if _LOOP_FRAME.search(match.group("file")):
                owner = EVENT_LOOP
                break
            found = component_of(match.group("file"))
            if found is not None:
                owner = found
                break
        by_component[owner] += count
    return {
        "samples": total,
        "components": [
            {"component": name, "samples": n, "share": n / total if total else 0.0}
            for name, n in by_component.most_common()
        ],
        "functions": [
            {"function": name, "samples": n, "share": n / total if total else 0.0}
            for name, n in by_function.most_common(top)
        ],
    }


def profile(
    context: bench.Context,
    config: configs.Config,
    regime: bench.Regime,
    load: bench.Load,
    out_dir: Path,
    cache: Path,
) -> dict[str, Any]:
    """Load ``config`` with ``load`` and sample it for the context's duration."""
    server = bench.Server(context, config, regime)
    server.start()
    raw_path = out_dir / f"profile-{regime.name}-{load.name}-{config.name}.txt"
    try:
        env = {"CRUD_MIX": load.name, "CRUD_ROWS": str(context.rows)}
        if context.warmup > 0:
            warm = bench.wrk_argv(context, server.port, context.warmup)
            context.processes.run(warm, timeout=context.warmup + 60, env=bench.wrk_env(env))
        bench.settle(context, server)
        context.postgres.reset(context.rows)
        seconds = max(1, round(context.duration))
        # wrk runs a second longer than py-spy samples, started first.
        load_process = context.processes.start(
            bench.wrk_argv(context, server.port, seconds + 2),
            env=bench.wrk_env(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        time.sleep(0.5)
        cpu_before, requests_started = cpu_seconds(server.pid), time.monotonic()
        spy = pinned(
            context.cores.load,
            [
                str(PROFILER.bin(cache) / "py-spy"), "record", "--pid", str(server.pid),
                "--duration", str(seconds), "--rate", str(SAMPLE_RATE), "--nonblocking",
                # Only the thread holding the GIL: threads blocked in C (psycopg's wait in a
                # gthread worker) would otherwise count as busy.
                "--gil",
                "--subprocesses", "--format", "raw", "--output", str(raw_path),
            ],
        )  # fmt: skip
        spied = context.processes.run(spy, timeout=seconds + 60)
        cpu_used = cpu_seconds(server.pid) - cpu_before
        elapsed = time.monotonic() - requests_started
        out, _ = load_process.communicate(timeout=seconds + 60)
        context.processes.stop(load_process)
        bench.settle(context, server)
        if spied.returncode != 0 or not raw_path.exists():
            return {"error": f"py-spy exited {spied.returncode}: {spied.stderr.strip()[-300:]}"}
    finally:
        server.stop()
    summary = summarize(raw_path.read_text())
    rate = re.search(r"Requests/sec:\s+([\d.]+)", out.decode(errors="replace"))
    summary["rate_while_sampled"] = float(rate.group(1)) if rate else None
    summary["server_cpu_percent"] = 100.0 * cpu_used / elapsed
    if rate:
        # wrk's rate over its whole run stands in for the rate during the sampled window.
        per_request = 1e6 * cpu_used / (float(rate.group(1)) * elapsed)
        summary["server_cpu_us_per_request"] = per_request
        for entry in summary["components"]:
            entry["us_per_request"] = entry["share"] * per_request
    summary["raw"] = str(raw_path)
    return summary


def markdown(profiles: dict[str, dict[str, Any]], labels: dict[str, str], title: str) -> str:
    lines = [f"# Where the CPU goes: {title}", ""]
    lines.append(
        "py-spy samples of the server process(es) under load (non-blocking, of the thread "
        f"holding the GIL, {SAMPLE_RATE}/s). A sample is charged to the innermost frame of a "
        "known component; standard-library frames (asyncio, json, ...) to the component that "
        "called them."
    )
    for name, summary in profiles.items():
        lines += ["", f"## {labels.get(name, name)}", ""]
        if "error" in summary:
            lines.append(f"Not profiled: {summary['error']}")
            continue
        rate = summary.get("rate_while_sampled")
        per_request = summary.get("server_cpu_us_per_request")
        lines.append(
            f"{summary['samples']:,} samples"
            + (f", {rate:,.0f} req/s while sampled" if rate else "")
            + f", server CPU {summary['server_cpu_percent']:.0f}% of a core"
            + (f", {per_request:,.0f} µs of CPU per request" if per_request else "")
            + f"; raw stacks: `{summary['raw']}`."
        )
        lines += ["", "| component | share | µs per request |", "| --- | ---: | ---: |"]
        lines += [
            f"| {entry['component']} | {entry['share']:.1%} "
            f"| {entry.get('us_per_request', float('nan')):.0f} |"
            for entry in summary["components"]
        ]
        lines += ["", "| function (own time) | share |", "| --- | ---: |"]
        lines += [
            f"| `{entry['function'][:100]}` | {entry['share']:.1%} |"
            for entry in summary["functions"][:15]
        ]
    return "\n".join(lines) + "\n"
