"""Running the CRUD configurations: start, probe, measure in interleaved rounds, stop.

Per database regime, every configuration is started once (pinned to the server core, with
the regime's delay in its environment) and checked with one full create-read-update-delete
cycle. Then each load runs in rounds A B C ... A B C ...: a warm-up, the table reset to the
seeded rows, and the measured run, while the server, PostgreSQL and wrk CPU is read from
``/proc``. A server that dies is restarted for the next round and the crash is recorded.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.loads import parse_wrk
from harness.procs import (
    Cores,
    LoggedServer,
    Processes,
    StartFailed,
    cpu_seconds,
    free_port,
    pinned,
    server_env,
)
from harness.runner import say

from . import configs
from .postgres import Postgres

CRUD = Path(__file__).resolve().parent
APPS = CRUD / "apps"
LUA = CRUD / "lua" / "crud.lua"

START_TIMEOUT = 30.0
OVERRUN_SECONDS = 60.0
PROBE_TIMEOUT = 10.0


@dataclass(frozen=True)
class Regime:
    name: str
    title: str
    delay: float  # seconds PostgreSQL sleeps inside every query


@dataclass(frozen=True)
class Load:
    name: str  # the Lua script's CRUD_MIX
    title: str


LOADS = (
    Load("read", "read: GET /items/<random id>"),
    Load("write", "write: 40% PUT, 30% POST, 30% DELETE"),
    Load("mixed", "mixed: 90% read, 10% write"),
)


def regimes(delay_ms: float) -> tuple[Regime, ...]:
    return (
        Regime("fast", "Fast database (sub-millisecond queries)", 0.0),
        Regime("slow", f"Slow database (+{delay_ms:g} ms in every query)", delay_ms / 1000.0),
    )


@dataclass(frozen=True)
class Context:
    processes: Processes
    postgres: Postgres
    cache: Path
    run_dir: Path
    cores: Cores
    connections: int
    rows: int
    rounds: int
    warmup: float
    duration: float


class Server(LoggedServer):
    """One configuration's server process in one regime."""

    def __init__(self, context: Context, config: configs.Config, regime: Regime) -> None:
        super().__init__(
            context.processes, context.run_dir / "logs" / f"{regime.name}-{config.name}.log"
        )
        self.context = context
        self.config = config
        self.regime = regime

    @property
    def pool_size(self) -> int:
        return self.config.pool_size(self.context.connections)

    def start(self) -> None:
        context = self.context
        self.port = free_port()
        launch = configs.Launch(
            bin=self.config.venv.bin(context.cache),
            port=self.port,
            connections=context.connections,
        )
        argv = pinned(context.cores.server, self.config.command(launch))
        env = server_env(
            CRUD_DSN=context.postgres.dsn,
            CRUD_POOL_SIZE=str(self.pool_size),
            CRUD_DB_DELAY=f"{self.regime.delay:g}",
        )
        self.spawn(argv, cwd=APPS, env=env, timeout=START_TIMEOUT)
        try:
            probe_crud(self.port, self.regime.delay, self.context.rows)
        except ProbeFailed as exc:
            self.stop()
            raise StartFailed(self.failure(str(exc))) from None

    def wait_function(self) -> str | None:
        """The psycopg wait function the Flask app reported it uses, from the log."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return None
        found = re.findall(r"psycopg waits with (\w+)", text)
        return found[-1] if found else None


# --- the probe ----------------------------------------------------------------------------


class ProbeFailed(RuntimeError):
    pass


def _call(port: int, method: str, path: str, body: Any = None) -> tuple[int, Any, float]:
    """One request; (status, JSON body or None, seconds)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    data = json.dumps(body).encode() if body is not None else None
    started = time.monotonic()
    try:
        connection.request(method, path, body=data, headers=headers)
        response = connection.getresponse()
        raw = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    elapsed = time.monotonic() - started
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = raw[:80]
    return response.status, parsed, elapsed


def _expect(got: tuple[int, Any, float], status: int, what: str) -> Any:
    if got[0] != status:
        raise ProbeFailed(f"{what}: status {got[0]} (wanted {status}), body {got[1]!r}")
    return got[1]


def probe_crud(port: int, delay: float, rows: int) -> None:
    """Create, read, update, delete and read again; every status and body must be right.

    Retried until ``START_TIMEOUT``: a Gunicorn master listens before its worker is up.
    """
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        try:
            first = _call(port, "GET", "/items/1")
            break
        except ProbeFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
    seeded = _expect(first, 200, "GET /items/1")
    if not isinstance(seeded, dict) or seeded.get("id") != 1:
        raise ProbeFailed(f"GET /items/1 answered {seeded!r}")
    item = {"name": "probe", "description": "made by the probe", "price_cents": 1, "quantity": 2}
    created = _expect(_call(port, "POST", "/items", item), 201, "POST /items")
    if not isinstance(created, dict) or not isinstance(created.get("id"), int):
        raise ProbeFailed(f"POST /items answered {created!r}")
    if created["id"] <= rows or {k: created.get(k) for k in item} != item:
        raise ProbeFailed(f"POST /items answered {created!r}")
    path = f"/items/{created['id']}"
    changed = dict(item, quantity=3)
    updated = _expect(_call(port, "PUT", path, changed), 200, f"PUT {path}")
    if updated != {**changed, "id": created["id"]}:
        raise ProbeFailed(f"PUT {path} answered {updated!r}")
    _expect(_call(port, "DELETE", path), 204, f"DELETE {path}")
    _expect(_call(port, "GET", path), 404, f"GET {path} after DELETE")
    _expect(_call(port, "POST", "/items", {"name": 1}), 400, "POST /items with a bad body")
    if delay > 0:
        took = min(_call(port, "GET", "/items/2")[2] for _ in range(3))
        if took < delay * 0.9:
            raise ProbeFailed(f"GET took {took * 1000:.1f} ms, less than the database delay")


# --- measuring ----------------------------------------------------------------------------


def wrk_env(extra: dict[str, str]) -> dict[str, str]:
    return {**os.environ, **extra}


def wrk_argv(context: Context, port: int, seconds: float) -> list[str]:
    argv = [
        "wrk", "-t1", f"-c{context.connections}", f"-d{max(1, round(seconds))}s",
        "--latency", "--timeout", "10s", "-s", str(LUA), f"http://127.0.0.1:{port}",
    ]  # fmt: skip
    return pinned(context.cores.load, argv)


def _percentile(text: str, label: str) -> float | None:
    found = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", text, re.MULTILINE)
    if found is None:
        return None
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[found.group(2)]
    return float(found.group(1)) * scale


class MeasureFailed(RuntimeError):
    pass


# A server is settled when, over two windows in a row, it used less than this share of a core
# and PostgreSQL ran none of the benchmark's statements.
SETTLE_WINDOW = 0.1
SETTLE_CPU = 0.15  # /proc counts CPU in ticks of 10 ms: at most one in a window
SETTLE_TIMEOUT = 15.0


def settle(context: Context, server: Server) -> None:
    """Wait (bounded) until the server has finished what the warm-up left in flight.

    When wrk stops, requests are still running: a sync worker has up to the client count of
    them queued in its listen backlog, and in the slow regime each takes the delay. They
    must not run during the table reset or the measured run.
    """
    deadline = time.monotonic() + SETTLE_TIMEOUT
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        before = cpu_seconds(server.pid)
        time.sleep(SETTLE_WINDOW)
        busy = (cpu_seconds(server.pid) - before) / SETTLE_WINDOW
        idle = busy < SETTLE_CPU and context.postgres.active_queries() == 0
        quiet = quiet + 1 if idle else 0


def measure(context: Context, server: Server, load: Load) -> dict[str, Any]:
    """Warm up, reset the table, then one measured wrk run; the numbers of that run."""
    env = wrk_env({"CRUD_MIX": load.name, "CRUD_ROWS": str(context.rows)})
    processes = context.processes
    if context.warmup > 0:
        warm = processes.run(
            wrk_argv(context, server.port, context.warmup),
            timeout=context.warmup + OVERRUN_SECONDS,
            env=env,
        )
        if warm.returncode != 0:
            raise MeasureFailed(f"wrk warm-up exited {warm.returncode}: {warm.stderr[-200:]}")
    settle(context, server)
    context.postgres.reset(context.rows)
    server_before = cpu_seconds(server.pid)
    postgres_before = cpu_seconds(context.postgres.pid)
    finished = processes.run(
        wrk_argv(context, server.port, context.duration),
        timeout=context.duration + OVERRUN_SECONDS,
        env=env,
    )
    wall = finished.wall_seconds
    server_seconds = cpu_seconds(server.pid) - server_before
    server_cpu = 100.0 * server_seconds / wall
    postgres_cpu = 100.0 * (cpu_seconds(context.postgres.pid) - postgres_before) / wall
    settle(context, server)  # before the next configuration's warm-up
    if finished.timed_out or finished.returncode != 0:
        tail = (finished.stderr or finished.stdout).strip().splitlines()[-3:]
        raise MeasureFailed(f"wrk exited {finished.returncode}: {' | '.join(tail)}")
    parsed = parse_wrk(finished.stdout)
    p99 = parsed["p99_ms"]
    return {
        "rate": parsed["rate"],
        "p50_ms": _percentile(finished.stdout, "50"),
        "p90_ms": _percentile(finished.stdout, "90"),
        "p99_ms": None if math.isnan(p99) else p99,  # NaN when wrk printed none
        "errors": int(parsed["non_2xx"] + parsed["socket_errors"]),
        "requests": int(parsed["requests"]),
        "non_2xx": int(parsed["non_2xx"]),
        "socket_errors": int(parsed["socket_errors"]),
        "server_cpu_percent": server_cpu,
        # What one request costs the server, whatever share of the core it was given: on a
        # shared machine this moves less than the rate does.
        "server_cpu_us_per_request": (
            1e6 * server_seconds / parsed["requests"] if parsed["requests"] else None
        ),
        "postgres_cpu_percent": postgres_cpu,
        "wrk_cpu_percent": finished.cpu_percent,
    }


# --- one regime ---------------------------------------------------------------------------


@dataclass
class Outcome:
    """One configuration in one regime."""

    status: str = "ok"  # ok, unavailable (did not start or failed the probe), failed
    reason: str = ""
    rounds: dict[str, list[dict[str, Any] | None]] = field(default_factory=dict)
    crashes: int = 0
    notes: list[str] = field(default_factory=list)
    log_problems: dict[str, Any] = field(default_factory=dict)


def run_regime(
    context: Context, regime: Regime, chosen: list[configs.Config], loads: list[Load]
) -> dict[str, Outcome]:
    outcomes = {config.name: Outcome() for config in chosen}
    running: dict[str, Server] = {}
    try:
        for config in chosen:
            server = Server(context, config, regime)
            try:
                server.start()
            except StartFailed as exc:
                outcomes[config.name].status = "unavailable"
                outcomes[config.name].reason = str(exc)
                outcomes[config.name].log_problems = server.log_problems()
                say(f"  [{regime.name}] {config.name}: did not start: {exc}")
                continue
            running[config.name] = server
            waits = server.wait_function()
            if waits is not None:
                outcomes[config.name].notes.append(f"psycopg waits with `{waits}`")
        for load in loads:
            for round_number in range(1, context.rounds + 1):
                for name, server in running.items():
                    result = _round(context, server, load, outcomes[name])
                    outcomes[name].rounds.setdefault(load.name, []).append(result)
                    say(
                        f"  [{regime.name}/{load.name}] round {round_number} {name}: "
                        f"{describe(result)}"
                    )
    finally:
        for name, server in running.items():
            server.stop()
            outcomes[name].log_problems = server.log_problems()
    for outcome in outcomes.values():
        results = [r for rounds in outcome.rounds.values() for r in rounds]
        if outcome.status == "ok" and results and not any(results):
            outcome.status = "failed"
            outcome.reason = outcome.reason or "every round failed"
    return outcomes


def _round(
    context: Context, server: Server, load: Load, outcome: Outcome
) -> dict[str, Any] | None:
    if not server.running():
        outcome.crashes += 1
        try:
            server.stop()
            server.start()
        except StartFailed as exc:
            outcome.notes.append(f"crashed and did not restart: {exc}")
            return None
    try:
        return measure(context, server, load)
    except MeasureFailed as exc:
        outcome.notes.append(f"{load.name}: {exc}")
        return None
    finally:
        if not server.running():
            outcome.crashes += 1
            outcome.notes.append(f"{load.name}: server exited; log: {server.log_tail(3)}")


def describe(result: dict[str, Any] | None) -> str:
    if result is None:
        return "failed"
    p99 = result["p99_ms"]
    return (
        f"{result['rate']:,.0f} req/s  p99 {'n/a' if p99 is None else f'{p99:.1f} ms'}  "
        f"errors {result['errors']}  cpu server {result['server_cpu_percent']:.0f}% "
        f"postgres {result['postgres_cpu_percent']:.0f}% wrk {result['wrk_cpu_percent']:.0f}%"
    )
