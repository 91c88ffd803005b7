"""Running servers and scenarios: start, probe, interleave rounds, stop.

Every server of a load scenario is started once (pinned to the server core), probed for what
the scenario needs, then measured in rounds A B C A B C ... with the same warm-up and
duration each time. A server that crashes is restarted for the next round and the crash is
recorded. Every server is stopped when its scenario ends, also on Ctrl-C or an exception.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import loads, probes
from .envs import BENCHMARKS, TlsFiles
from .procs import Cores, LoggedServer, Processes, StartFailed, free_port, pinned, server_env
from .scenarios import LoadScenario
from .servers import Launch, Server

# Seconds a server gets to start listening and answer its first request (Granian and
# Gunicorn start a supervisor, then a worker).
START_TIMEOUT = 30.0


# Lines in a server's log that say something went wrong under load.
@dataclass(frozen=True)
class Context:
    """What every scenario run needs."""

    processes: Processes
    cache: Path
    run_dir: Path  # server logs and scratch files of this run
    cores: Cores
    tls: TlsFiles
    node_modules: Path
    rounds: int
    warmup: float
    duration: float
    quick: bool


class RunningServer(LoggedServer):
    """One server process, pinned to the server core, with its log file."""

    def __init__(self, context: Context, server: Server, *, tls: bool, log_name: str) -> None:
        super().__init__(context.processes, context.run_dir / "logs" / f"{log_name}.log")
        self.context = context
        self.server = server
        self.tls = tls
        self.restarts = 0

    def start(self) -> None:
        context = self.context
        self.port = free_port()
        scratch = context.run_dir / "scratch"
        launch = Launch(
            bin=self.server.env.path(context.cache) / "bin",
            port=self.port,
            tls=context.tls if self.tls else None,
            scratch=scratch,
        )
        argv = pinned(context.cores.server, self.server.command(launch))
        self.spawn(argv, cwd=BENCHMARKS, env=server_env(), timeout=START_TIMEOUT)
        if self.server.http2_only:
            return  # listening is all that can be checked over HTTP/1.1
        try:
            probes.wait_until_serving(self.port, START_TIMEOUT, tls=self.tls)
        except probes.ProbeFailed as exc:
            self.stop()
            raise StartFailed(self.failure(str(exc))) from None

    def restart(self) -> None:
        self.stop()
        self.restarts += 1
        self.start()


# --- load scenarios -------------------------------------------------------------------------


@dataclass
class ServerOutcome:
    """One server's results in one scenario."""

    status: str = "ok"  # ok, skipped (probe failed), unavailable (did not start), failed
    reason: str = ""
    rounds: list[dict[str, Any] | None] = field(default_factory=list)
    crashes: int = 0
    log_problems: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def run_load_scenario(
    context: Context, scenario: LoadScenario, servers: list[Server]
) -> dict[str, ServerOutcome]:
    outcomes = {server.name: ServerOutcome() for server in servers}
    running: dict[str, RunningServer] = {}
    try:
        for server in servers:
            handle = _start_and_probe(context, scenario, server, outcomes[server.name])
            if handle is not None:
                running[server.name] = handle
        for round_number in range(1, context.rounds + 1):
            for name, handle in running.items():
                result = _measure_round(context, scenario, handle, outcomes[name])
                outcomes[name].rounds.append(result)
                say(f"  [{scenario.name}] round {round_number} {name}: {_describe(result)}")
    finally:
        for name, handle in running.items():
            handle.stop()
            outcomes[name].log_problems = handle.log_problems()
    for outcome in outcomes.values():
        if outcome.status == "ok" and not any(outcome.rounds):
            outcome.status = "failed"
            outcome.reason = outcome.reason or "every round failed"
    return outcomes


def _start_and_probe(
    context: Context, scenario: LoadScenario, server: Server, outcome: ServerOutcome
) -> RunningServer | None:
    if server.http2_only and scenario.needs not in ("h2c", "h2-tls"):
        outcome.status, outcome.reason = "skipped", "speaks HTTP/2 only"
        return None
    handle = RunningServer(
        context, server, tls=scenario.tls, log_name=f"{scenario.name}-{server.name}"
    )
    try:
        handle.start()
    except StartFailed as exc:
        outcome.status, outcome.reason = "unavailable", str(exc)
        say(f"  [{scenario.name}] {server.name}: did not start: {exc}")
        return None
    try:
        probes.check_capability(context.processes, scenario.needs, handle.port, context.cores.load)
        if scenario.tool == "wrk":
            probes.check_http_scenario(handle.port, scenario)
    except probes.ProbeFailed as exc:
        handle.stop()
        outcome.status = "skipped"
        outcome.reason = f"probe for {scenario.needs}: {exc}"
        say(f"  [{scenario.name}] {server.name}: skipped ({outcome.reason})")
        return None
    return handle


def _measure_round(
    context: Context, scenario: LoadScenario, handle: RunningServer, outcome: ServerOutcome
) -> dict[str, Any] | None:
    if not handle.running():
        outcome.crashes += 1
        try:
            handle.restart()
        except StartFailed as exc:
            outcome.reason = f"crashed and did not restart: {exc}"
            return None
    target = loads.Target(
        port=handle.port,
        server_pid=handle.pid,
        core=context.cores.load,
        scratch=context.run_dir / "scratch",
        node_modules=context.node_modules,
    )
    try:
        measurement = loads.measure(
            context.processes, scenario, target, context.warmup, context.duration
        )
    except loads.LoadError as exc:
        outcome.reason = str(exc)
        return None
    finally:
        if not handle.running():
            outcome.crashes += 1
            outcome.reason = f"server exited during the run; log: {handle.log_tail(3)}"
    return {
        "rate": measurement.rate,
        "p99_ms": measurement.p99_ms,
        "errors": measurement.errors,
        "client_cpu_percent": measurement.client_cpu_percent,
        "server_cpu_percent": measurement.server_cpu_percent,
        "details": measurement.details,
    }


def _describe(result: dict[str, Any] | None) -> str:
    if result is None:
        return "failed"
    p99 = result["p99_ms"]
    p99_text = f"{p99:.2f} ms" if p99 is not None else "n/a"
    server = result["server_cpu_percent"]
    server_text = f"{server:.0f}%" if server is not None else "n/a"
    return (
        f"{result['rate']:,.0f}/s  p99 {p99_text}  errors {result['errors']}  "
        f"cpu client {result['client_cpu_percent']:.0f}% server {server_text}"
    )
