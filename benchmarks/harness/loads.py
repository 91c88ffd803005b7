"""Running the load tools (wrk, h2load, the Node WebSocket client) and reading their output.

Each run is one warm-up followed by one measured period against a server that is already
listening; the result is a :class:`Measurement`. The parsers are plain functions of the
tool's text so they can be checked against saved output.
"""

from __future__ import annotations

import json
import math
import os
import re
import statistics
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from .envs import BENCHMARKS
from .procs import Finished, Processes, cpu_seconds, pinned
from .scenarios import LoadScenario

# A measured run that takes this much longer than asked is killed and counted as failed.
OVERRUN_SECONDS = 60.0
# The server's CPU window starts this long after the warm-up should have ended: a tool's
# start-up (Node's is the slowest, ~0.1 s) delays its warm-up.
WINDOW_MARGIN_SECONDS = 0.3


@dataclass
class Measurement:
    """One measured run of one scenario against one server."""

    rate: float  # requests or messages per second
    p99_ms: float | None
    errors: int  # failed requests, socket errors and non-2xx responses together
    client_cpu_percent: float  # the load tool's CPU, 100 = one core
    server_cpu_percent: float | None  # the server's process tree, 100 = one core
    details: dict[str, float | int | str] = field(default_factory=dict)


class LoadError(RuntimeError):
    """A load tool failed or printed something the parser does not understand."""


@dataclass(frozen=True)
class Target:
    port: int
    server_pid: int
    core: int  # the core the load tool is pinned to
    scratch: Path  # for scripts and log files
    node_modules: Path


def measure(
    processes: Processes, scenario: LoadScenario, target: Target, warmup: float, duration: float
) -> Measurement:
    if scenario.tool == "wrk":
        return _measure_wrk(processes, scenario, target, warmup, duration)
    if scenario.tool == "h2load":
        return _measure_h2load(processes, scenario, target, warmup, duration)
    return _measure_ws(processes, scenario, target, warmup, duration)


def _server_cpu_percent(pid: int, before: float, finished: Finished) -> float:
    return 100.0 * (cpu_seconds(pid) - before) / finished.wall_seconds


class CpuWindow:
    """The server's CPU use from ``delay`` seconds after now until :meth:`percent` is read.

    h2load and the WebSocket client warm up inside one run, so the server's CPU over the
    measured period is read from a timer that fires once the warm-up is over.
    """

    def __init__(self, pid: int, delay: float) -> None:
        self._pid = pid
        self._start: tuple[float, float] | None = None
        self._timer = threading.Timer(delay, self._mark)
        self._timer.daemon = True
        self._timer.start()

    def _mark(self) -> None:
        self._start = (time.monotonic(), cpu_seconds(self._pid))

    def percent(self) -> float | None:
        self._timer.cancel()
        if self._start is None:
            return None
        started, cpu = self._start
        elapsed = time.monotonic() - started
        return 100.0 * (cpu_seconds(self._pid) - cpu) / elapsed if elapsed > 0 else None


def _check(finished: Finished, tool: str) -> None:
    if finished.timed_out:
        raise LoadError(f"{tool} overran its time limit and was stopped")
    if finished.returncode != 0:
        tail = (finished.stderr or finished.stdout).strip().splitlines()[-3:]
        raise LoadError(f"{tool} exited {finished.returncode}: {' | '.join(tail)}")


# --- wrk ----------------------------------------------------------------------------------


def wrk_script(scenario: LoadScenario, scratch: Path) -> Path | None:
    """A Lua script giving wrk the method and body, or None for a plain GET."""
    if scenario.method == "GET":
        return None
    script = scratch / f"{scenario.name}.lua"
    script.write_text(
        f'wrk.method = "{scenario.method}"\n'
        f'wrk.body = string.rep("x", {scenario.body_bytes})\n'
        'wrk.headers["Content-Type"] = "application/octet-stream"\n'
    )
    return script


def _wrk_argv(scenario: LoadScenario, target: Target, seconds: float) -> list[str]:
    argv = [
        "wrk", "-t1", f"-c{scenario.connections}", f"-d{max(1, round(seconds))}s",
        "--latency", "--timeout", "10s",
    ]  # fmt: skip
    script = wrk_script(scenario, target.scratch)
    if script is not None:
        argv += ["-s", str(script)]
    return pinned(target.core, [*argv, f"http://127.0.0.1:{target.port}{scenario.path}"])


def _measure_wrk(
    processes: Processes, scenario: LoadScenario, target: Target, warmup: float, duration: float
) -> Measurement:
    if warmup > 0:
        _check(processes.run(_wrk_argv(scenario, target, warmup), timeout=warmup + 30), "wrk")
    before = cpu_seconds(target.server_pid)
    argv = _wrk_argv(scenario, target, duration)
    finished = processes.run(argv, timeout=duration + OVERRUN_SECONDS)
    _check(finished, "wrk")
    parsed = parse_wrk(finished.stdout)
    errors = int(parsed["non_2xx"] + parsed["socket_errors"])
    p99 = parsed["p99_ms"]
    return Measurement(
        rate=parsed["rate"],
        p99_ms=None if math.isnan(p99) else p99,
        errors=errors,
        client_cpu_percent=finished.cpu_percent,
        server_cpu_percent=_server_cpu_percent(target.server_pid, before, finished),
        details={k: v for k, v in parsed.items() if k not in ("rate", "p99_ms")},
    )


_UNITS_MS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _to_ms(value: str, unit: str) -> float:
    return float(value) * _UNITS_MS[unit]


def parse_wrk(text: str) -> dict[str, float]:
    """Rate, p99 (ms), request count and error counts from ``wrk --latency`` output."""
    rate = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if rate is None:
        raise LoadError(f"no Requests/sec in wrk output: {text.strip()[-300:]!r}")
    found: dict[str, float] = {"rate": float(rate.group(1))}
    p99 = re.search(r"^\s+99%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    found["p99_ms"] = _to_ms(p99.group(1), p99.group(2)) if p99 else math.nan
    requests = re.search(r"(\d+) requests in", text)
    found["requests"] = float(requests.group(1)) if requests else 0.0
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text
    )
    names = ("connect", "read", "write", "timeout")
    counts = [int(n) for n in socket.groups()] if socket else [0, 0, 0, 0]
    for name, count in zip(names, counts, strict=True):
        found[f"socket_{name}"] = float(count)
    found["socket_errors"] = float(sum(counts))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    found["non_2xx"] = float(non_2xx.group(1)) if non_2xx else 0.0
    return found


# --- h2load -------------------------------------------------------------------------------


def h2load_argv(
    port: int,
    core: int,
    *,
    path: str = "/",
    tls: bool = False,
    http1: bool = False,
    connections: int = 16,
    streams: int = 1,
    requests: int | None = None,
    warmup: float = 0,
    duration: float = 0,
    log_file: Path | None = None,
) -> list[str]:
    """An h2load command: h2c prior knowledge by default, ALPN h2 only with ``tls``."""
    scheme = "https" if tls else "http"
    argv = ["h2load", "-t1", f"-c{connections}", f"-m{streams}"]
    if requests is not None:
        argv.append(f"-n{requests}")
    else:
        argv += [f"-D{max(1, round(duration))}", f"--warm-up-time={max(1, round(warmup))}"]
    if http1:
        argv.append("--h1")
    elif tls:
        argv.append("--npn-list=h2")  # h2 or nothing: never quietly measure HTTP/1.1
    if log_file is not None:
        argv.append(f"--log-file={log_file}")
    return pinned(core, [*argv, f"{scheme}://127.0.0.1:{port}{path}"])


def _measure_h2load(
    processes: Processes, scenario: LoadScenario, target: Target, warmup: float, duration: float
) -> Measurement:
    log_file = target.scratch / f"h2load-{scenario.name}.log"
    argv = h2load_argv(
        target.port,
        target.core,
        path=scenario.path,
        tls=scenario.tls,
        connections=scenario.connections,
        streams=scenario.streams,
        warmup=warmup,
        duration=duration,
        log_file=log_file,
    )
    window = CpuWindow(target.server_pid, warmup + WINDOW_MARGIN_SECONDS)
    finished = processes.run(argv, timeout=warmup + duration + OVERRUN_SECONDS)
    server_cpu = window.percent()
    _check(finished, "h2load")
    parsed = parse_h2load(finished.stdout)
    p99 = p99_from_h2load_log(log_file)
    log_file.unlink(missing_ok=True)
    return Measurement(
        rate=parsed["rate"],
        p99_ms=p99,
        errors=h2load_errors(parsed),
        client_cpu_percent=finished.cpu_percent,
        server_cpu_percent=server_cpu,
        details={k: v for k, v in parsed.items() if k != "rate"},
    )


def parse_h2load(text: str) -> dict[str, float]:
    """Rate and request counts from h2load's summary."""
    rate = re.search(r"finished in [\d.]+(?:us|ms|s), ([\d.]+) req/s", text)
    counts = re.search(
        r"requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed,"
        r" (\d+) errored, (\d+) timeout",
        text,
    )
    if rate is None or counts is None:
        raise LoadError(f"unexpected h2load output: {text.strip()[-300:]!r}")
    names = ("total", "started", "done", "succeeded", "failed", "errored", "timeout")
    found = {"rate": float(rate.group(1))}
    found.update({name: float(n) for name, n in zip(names, counts.groups(), strict=True)})
    statuses = re.search(r"status codes: (\d+) 2xx, (\d+) 3xx, (\d+) 4xx, (\d+) 5xx", text)
    if statuses:
        for name, count in zip(("2xx", "3xx", "4xx", "5xx"), statuses.groups(), strict=True):
            found[f"status_{name}"] = float(count)
    protocol = re.search(r"Application protocol: (\S+)", text)
    if protocol:
        found["h2"] = 1.0 if protocol.group(1) == "h2" else 0.0
    return found


def h2load_errors(parsed: dict[str, float]) -> int:
    """Requests that failed, plus responses that were not 2xx."""
    non_2xx = sum(parsed.get(f"status_{name}", 0.0) for name in ("3xx", "4xx", "5xx"))
    return int(parsed["failed"] + non_2xx)


def p99_from_h2load_log(log_file: Path) -> float | None:
    """The 99th percentile of the per-request times h2load logged (µs), in ms."""
    try:
        lines = log_file.read_text().splitlines()
    except OSError:
        return None
    times = sorted(int(line.split("\t")[2]) for line in lines if line.count("\t") == 2)
    if len(times) < 2:
        return None
    return statistics.quantiles(times, n=100, method="inclusive")[98] / 1000.0


# --- WebSocket ----------------------------------------------------------------------------


def _measure_ws(
    processes: Processes, scenario: LoadScenario, target: Target, warmup: float, duration: float
) -> Measurement:
    argv = pinned(
        target.core,
        [
            "node", str(BENCHMARKS / "ws_client.cjs"),
            "--url", f"ws://127.0.0.1:{target.port}{scenario.path}",
            "--connections", str(scenario.connections), "--size", str(scenario.body_bytes),
            "--warmup", str(warmup), "--duration", str(duration),
        ],
    )  # fmt: skip
    env = {**os.environ, "NODE_PATH": str(target.node_modules)}
    window = CpuWindow(target.server_pid, warmup + WINDOW_MARGIN_SECONDS)
    finished = processes.run(argv, timeout=warmup + duration + OVERRUN_SECONDS, env=env)
    server_cpu = window.percent()
    _check(finished, "ws client")
    try:
        parsed = json.loads(finished.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError) as exc:
        raise LoadError(f"unexpected ws client output: {finished.stdout[-300:]!r}") from exc
    errors = parsed["errors"] + parsed["closed_early"] + parsed["wrong_length"]
    errors += parsed["connections"] - parsed["opened"]
    return Measurement(
        rate=parsed["msgs_per_s"],
        p99_ms=parsed["p99_ms"],
        errors=errors,
        # The client's own reading covers the measured period only.
        client_cpu_percent=parsed["cpu_percent"],
        server_cpu_percent=server_cpu,
        details={
            k: parsed[k] for k in ("messages", "p50_ms", "opened", "closed_early", "wrong_length")
        },
    )
