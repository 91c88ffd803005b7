"""The memory scenarios: RSS with many idle connections, and RSS growth over many requests.

RSS is the sum of VmRSS over the server's process tree (a supervisor and its worker count
together), read from /proc. These scenarios are not interleaved: memory does not drift with
the machine's load the way throughput does, and each needs a fresh server.
"""

from __future__ import annotations

import json
import math
import select
import statistics
import subprocess
import sys
import time
from typing import IO, Any

from .envs import BENCHMARKS
from .loads import OVERRUN_SECONDS, LoadError, parse_wrk
from .procs import StartFailed, pinned, rss_bytes
from .runner import Context, RunningServer, ServerOutcome, say
from .scenarios import MemoryScenario
from .servers import Server

MIB = 1024 * 1024
# Seconds the server gets to settle before each RSS reading.
SETTLE_SECONDS = 2.0
# The growth scenario's warm-up, which also measures the rate that sizes the two halves.
WARMUP_SECONDS = 3
# A bound on each half of the growth scenario, whatever the server's rate (1,000,000
# requests at Daphne's ~6,000 a second take under 90 s a half).
MAX_HALF_SECONDS = 600


def run_memory_scenario(
    context: Context, scenario: MemoryScenario, servers: list[Server]
) -> dict[str, ServerOutcome]:
    count = scenario.quick_count if context.quick else scenario.count
    outcomes = {}
    for server in servers:
        outcome = ServerOutcome()
        if server.http2_only:
            outcome.status, outcome.reason = "skipped", "speaks HTTP/2 only"
            outcomes[server.name] = outcome
            continue
        handle = RunningServer(
            context, server, tls=False, log_name=f"{scenario.name}-{server.name}"
        )
        try:
            handle.start()
            if scenario.kind == "idle":
                outcome.extra = _idle(context, handle, count)
            else:
                outcome.extra = _growth(context, handle, count)
        except StartFailed as exc:
            outcome.status, outcome.reason = "unavailable", str(exc)
        except (LoadError, OSError) as exc:
            outcome.status, outcome.reason = "failed", str(exc)
        finally:
            if handle.process is not None and not handle.running():
                outcome.crashes += 1
            handle.stop()
            outcome.log_problems = handle.log_problems()
        say(
            f"  [{scenario.name}] {server.name}: {outcome.status} {outcome.reason} {outcome.extra}"
        )
        outcomes[server.name] = outcome
    return outcomes


def _read_json_line(stream: IO[bytes], timeout: float) -> dict[str, Any]:
    ready, _, _ = select.select([stream], [], [], timeout)
    if not ready:
        raise LoadError(f"the idle client said nothing for {timeout:.0f} s")
    line = stream.readline()
    if not line:
        raise LoadError("the idle client exited early")
    found: dict[str, Any] = json.loads(line)
    return found


def _idle(context: Context, handle: RunningServer, connections: int) -> dict[str, Any]:
    """RSS before and with ``connections`` idle keep-alive connections."""
    time.sleep(SETTLE_SECONDS)
    before = rss_bytes(handle.pid)
    argv = [
        sys.executable, str(BENCHMARKS / "idle_client.py"), "--port", str(handle.port),
        "--connections", str(connections), "--max-seconds", "300",
    ]  # fmt: skip
    client = context.processes.start(
        pinned(context.cores.load, argv),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    try:
        assert client.stdin is not None and client.stdout is not None
        opened = _read_json_line(client.stdout, timeout=240)
        time.sleep(SETTLE_SECONDS)
        with_connections = rss_bytes(handle.pid)
        client.stdin.write(b"check\n")
        client.stdin.flush()
        alive = _read_json_line(client.stdout, timeout=30)["alive"]
        client.stdin.close()
    finally:
        context.processes.stop(client)
    # Per connection still open when RSS was read (a server may close idle ones early).
    per_connection = (with_connections - before) / max(1, alive)
    return {
        "connections": connections,
        "opened": opened["opened"],
        "failed": opened["failed"],
        "alive": alive,
        "rss_before_mib": before / MIB,
        "rss_with_mib": with_connections / MIB,
        "per_connection_kib": per_connection / 1024,
    }


def _wrk(context: Context, handle: RunningServer, seconds: int) -> dict[str, float]:
    argv = ["wrk", "-t1", "-c64", f"-d{seconds}s", f"http://127.0.0.1:{handle.port}/"]
    finished = context.processes.run(
        pinned(context.cores.load, argv), timeout=seconds + OVERRUN_SECONDS
    )
    if finished.timed_out or finished.returncode != 0:
        raise LoadError(f"wrk -d{seconds}s failed: {finished.stdout[-200:]!r}")
    return parse_wrk(finished.stdout)


def _serve(
    context: Context, handle: RunningServer, requests: int, rate: float
) -> dict[str, float]:
    """At least ``requests`` requests, in wrk runs sized by the last rate seen."""
    served, errors, rates = 0.0, 0.0, []
    deadline = time.monotonic() + MAX_HALF_SECONDS
    while served < requests and time.monotonic() < deadline:
        seconds = math.ceil((requests - served) / max(rate, 1.0))
        run = _wrk(context, handle, max(1, min(seconds, MAX_HALF_SECONDS)))
        served += run["requests"]
        errors += run["non_2xx"] + run["socket_errors"]
        rate = run["rate"] or rate
        rates.append(rate)
    return {"requests": served, "errors": errors, "rate": statistics.median(rates)}


def _growth(context: Context, handle: RunningServer, requests: int) -> dict[str, Any]:
    """RSS after a warm-up, half-way through ``requests`` and at the end.

    wrk runs for a duration, not a count (h2load counts, but cannot read the empty reason
    phrase Hypercorn 0.18 sends), so each half is served in wrk runs sized by the rate last
    seen until it reaches its count; the requests actually served are reported.
    """
    start = rss_bytes(handle.pid)
    warm = _wrk(context, handle, WARMUP_SECONDS)
    time.sleep(SETTLE_SECONDS)
    after_warmup = rss_bytes(handle.pid)
    first = _serve(context, handle, requests // 2, warm["rate"])
    time.sleep(SETTLE_SECONDS)
    middle = rss_bytes(handle.pid)
    second = _serve(context, handle, requests - requests // 2, first["rate"])
    time.sleep(SETTLE_SECONDS)
    end = rss_bytes(handle.pid)
    return {
        "requests": int(first["requests"] + second["requests"]),
        "target_requests": requests,
        "errors": int(
            warm["non_2xx"] + warm["socket_errors"] + first["errors"] + second["errors"]
        ),
        "rate": (first["rate"] + second["rate"]) / 2,
        "rss_start_mib": start / MIB,
        "rss_warm_mib": after_warmup / MIB,
        "rss_middle_mib": middle / MIB,
        "rss_end_mib": end / MIB,
        "growth_mib": (end - after_warmup) / MIB,
        "second_half_growth_mib": (end - middle) / MIB,
    }
