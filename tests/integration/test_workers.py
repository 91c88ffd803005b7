"""``hypercorn -w N``: the supervisor and its worker processes, as real processes.

The app answers ``PID VERSION``, so every response says which worker served it; the worker
pids themselves are read from /proc (the supervisor's children). Every process runs in a
process group of its own, killed when its test ends.
"""

from __future__ import annotations

import os
import signal
import socket
import stat
import sys
import time
from pathlib import Path

import pytest

from ..helpers import Reader, has_ipv6_loopback, wait_for
from . import supervised
from .supervised import (
    Load,
    Supervise,
    alive,
    fetch,
    pids_serving,
    served_by,
)

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads worker pids from /proc"
)

work_dir = supervised.work_dir
supervise = supervised.supervise

# Short enough that every stop in these tests is quick, long enough for the requests they
# leave in flight.
FAST = ("--graceful-timeout", "2", "--shutdown-timeout", "2")


def wait_for_workers(process: supervised.SupervisedProcess, count: int) -> set[int]:
    assert wait_for(lambda: len(process.workers()) == count, timeout=10), process.workers()
    return process.workers()


# --- starting and stopping ---------------------------------------------------------------


def test_workers_share_the_socket_and_all_serve(supervise: Supervise, work_dir: Path) -> None:
    process = supervise("app", "-w", "2", *FAST)
    workers = wait_for_workers(process, 2)
    assert process.pid not in workers
    assert pids_serving(process.port, workers) == workers
    assert process.count(r"Running on http://127\.0\.0\.1:\d+ ") == 2
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    # Each worker ran its lifespan shutdown; none is left behind.
    assert sorted(map(int, (work_dir / "shutdowns").read_text().split())) == sorted(workers)
    assert not any(alive(pid) for pid in workers)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_stops_every_worker_gracefully(supervise: Supervise, signum: int) -> None:
    process = supervise("app", "-w", "2", *FAST)
    port = process.port
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    with sock:
        sock.sendall(b"GET /sleep/0.5 HTTP/1.1\r\nHost: test\r\n\r\n")
        process.wait_for_line("app: sleeping")
        started = time.monotonic()
        # As a terminal's Ctrl+C does: to the whole process group. The workers leave SIGINT
        # to the supervisor, which stops them once, gracefully.
        os.killpg(process.pid, signum)
        reader = Reader(sock)
        assert reader.response().status == 200
        assert reader.at_eof(timeout=5)  # and then the connection is closed
    assert process.wait() == 0
    assert time.monotonic() - started < 5
    assert process.count("again") == 0


@pytest.mark.slow
def test_graceful_timeout_is_honoured_by_workers(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", "--graceful-timeout", "1", "--shutdown-timeout", "2")
    sock = socket.create_connection(("127.0.0.1", process.port), timeout=10)
    with sock:
        sock.sendall(b"GET /sleep/30 HTTP/1.1\r\nHost: test\r\n\r\n")
        process.wait_for_line("app: sleeping")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 0
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 4.0, elapsed
        assert Reader(sock).read_to_close() == b""  # cut, never answered
    process.wait_for_line(r"\[WARNING\] Graceful timeout")


def test_second_signal_stops_workers_at_once(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", "--graceful-timeout", "20")
    sock = socket.create_connection(("127.0.0.1", process.port), timeout=10)
    with sock:
        sock.sendall(b"GET /sleep/30 HTTP/1.1\r\nHost: test\r\n\r\n")
        process.wait_for_line("app: sleeping")
        process.send_signal(signal.SIGTERM)
        process.wait_for_line("Received SIGTERM: stopping")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 1
        assert time.monotonic() - started < 5
    process.wait_for_line("Received SIGTERM again")


def test_workers_stop_by_themselves_when_the_supervisor_is_killed(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", *FAST)
    workers = wait_for_workers(process, 2)
    os.kill(process.pid, signal.SIGKILL)
    # Their control channel closes: each stops gracefully, leaving no orphan behind.
    assert wait_for(lambda: not any(alive(pid) for pid in workers), timeout=10)
    gone = "The supervisor has gone: shutting down gracefully"
    assert wait_for(lambda: process.count(gone) == 2, timeout=5), process.lines()


def test_pid_file_holds_the_supervisor(supervise: Supervise, work_dir: Path) -> None:
    pid_path = work_dir / "hypercorn.pid"
    process = supervise("app", "-w", "2", "--pid", str(pid_path), *FAST)
    wait_for_workers(process, 2)
    assert pid_path.read_text().strip() == str(process.pid)
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    assert not pid_path.exists()


def test_zero_workers_is_one_line(supervise: Supervise) -> None:
    process = supervise("app", "-w", "0", wait=None)
    assert process.wait() == 1
    assert [line for line in process.lines() if line.strip()] == [
        line for line in process.lines() if "workers: must be at least 1" in line
    ]


# --- start-up failures -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("application", "reason"),
    [
        ("lifespan_fail", "startup failed: database unreachable"),
        ("no_such_module:app", "cannot import module 'no_such_module'"),
    ],
)
def test_failing_start_stops_with_one_clear_line(
    supervise: Supervise, application: str, reason: str
) -> None:
    process = supervise(application, "-w", "2", *FAST, wait=None)
    assert process.wait() == 1
    errors = [line for line in process.lines() if "[ERROR]" in line]
    assert len(errors) == 1, process.lines()
    assert "failed to start" in errors[0]
    assert reason in errors[0]
    assert "Traceback" not in "\n".join(process.lines())
    assert not process.workers()


def test_port_in_use_is_one_line_before_any_worker(supervise: Supervise) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        process = supervise("app", "-w", "2", "--bind", f"127.0.0.1:{port}", wait=None)
        assert process.wait() == 1
    lines = [line for line in process.lines() if line.strip()]
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{port}" in lines[0]


# --- keeping the workers running ---------------------------------------------------------


def test_a_killed_worker_is_replaced(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", *FAST)
    port = process.port
    before = wait_for_workers(process, 2)
    victim = min(before)
    with Load(port, keep_alive_clients=1, new_connection_clients=1) as load:
        load.wait_for_requests(20)
        os.kill(victim, signal.SIGKILL)
        process.wait_for_line(rf"\(pid {victim}\) was killed by SIGKILL; starting another")
        assert wait_for(
            lambda: len(process.workers()) == 2 and victim not in process.workers(), timeout=10
        )
        after = process.workers()
        load.wait_for_requests(20)
    # The survivor served throughout. SIGKILL gives a worker no chance to finish what it
    # was doing: at most the one request each client had in flight with it is lost.
    assert len(load.failures) <= 2, load.failures
    assert len(after & before) == 1
    with Load(port, keep_alive_clients=2, new_connection_clients=2) as load:
        load.wait_for_requests(50)
    assert load.failures == []
    assert set(load.statuses) == {200}
    assert pids_serving(port, after) == after


@pytest.mark.slow
def test_sighup_rolls_the_workers_under_load_losing_nothing(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", *FAST)
    port = process.port
    before = wait_for_workers(process, 2)
    with Load(port, keep_alive_clients=3, new_connection_clients=3) as load:
        load.wait_for_requests(100)
        mark = len(process.lines())
        process.send_signal(signal.SIGHUP)
        process.wait_for_line("All workers replaced", timeout=20, after=mark)
        load.wait_for_requests(100)
    after = wait_for_workers(process, 2)
    assert not after & before
    assert load.failures == []
    assert set(load.statuses) == {200}
    assert load.count > 200
    # One at a time: each replacement served before its predecessor was told to stop.
    log = process.lines()[mark:]
    serving = [i for i, line in enumerate(log) if " serving (pid " in line]
    stopping = [i for i, line in enumerate(log) if "Told to stop by the supervisor" in line]
    assert len(serving) == 2
    assert len(stopping) == 2
    assert serving[0] < stopping[0] and serving[1] < stopping[1]
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0


def test_max_requests_recycles_the_worker_without_losing_requests(
    supervise: Supervise,
) -> None:
    # One worker: max_requests alone runs a supervisor, which starts the replacement first.
    process = supervise("app", "--max-requests", "30", "--max-requests-jitter", "5", *FAST)
    port = process.port
    (first,) = wait_for_workers(process, 1)
    with Load(port, keep_alive_clients=2, new_connection_clients=2) as load:
        process.wait_for_line(rf"\(pid {first}\) reached max_requests: replacing it")
        assert wait_for(lambda: first not in process.workers(), timeout=10)
        load.wait_for_requests(20)
    assert load.failures == []
    assert set(load.statuses) == {200}
    assert first in load.pids
    assert len(load.pids) >= 2
    (second,) = wait_for_workers(process, 1)
    assert second != first


def test_sigttin_and_sigttou_change_the_number_of_workers(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", *FAST)
    port = process.port
    two = wait_for_workers(process, 2)
    process.send_signal(signal.SIGTTIN)
    process.wait_for_line(r"SIGTTIN: 3 worker\(s\) wanted")
    three = wait_for_workers(process, 3)
    assert two < three
    assert pids_serving(port, three) == three
    # One at a time: signals of one kind that arrive together are delivered once.
    process.send_signal(signal.SIGTTOU)
    process.wait_for_line(r"SIGTTOU: 2 worker\(s\) wanted")
    process.send_signal(signal.SIGTTOU)
    process.wait_for_line(r"SIGTTOU: 1 worker\(s\) wanted")
    (one,) = wait_for_workers(process, 1)
    # The oldest go first.
    assert one == max(three)
    assert {served_by(fetch(port)) for _ in range(5)} == {one}
    process.send_signal(signal.SIGTTOU)
    process.wait_for_line("SIGTTOU: keeping the last worker")
    assert process.workers() == {one}


# --- binds -------------------------------------------------------------------------------


def test_reuse_port_gives_each_worker_its_own_socket(supervise: Supervise) -> None:
    process = supervise("app", "-w", "2", "--reuse-port", *FAST)
    port = process.port
    workers = wait_for_workers(process, 2)
    # Port 0 was resolved once, by the supervisor: every worker is on the same port.
    assert process.count(rf"Running on http://127\.0\.0\.1:{port} ") == 2
    assert pids_serving(port, workers) == workers
    victim = min(workers)
    os.kill(victim, signal.SIGKILL)
    assert wait_for(
        lambda: len(process.workers()) == 2 and victim not in process.workers(), timeout=10
    )
    replaced = process.workers()
    assert pids_serving(port, replaced) == replaced
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0


def test_several_binds_under_workers(supervise: Supervise, tmp_path: Path) -> None:
    path = tmp_path / "h.sock"
    binds = ["-b", "127.0.0.1:0", "-b", f"unix:{path}"]
    if has_ipv6_loopback():
        binds += ["-b", "[::1]:0"]
    process = supervise("app", "-w", "2", *binds, "--unix-socket-mode", "660", *FAST)
    workers = wait_for_workers(process, 2)
    running = [line for line in process.lines() if "Running on" in line]
    ports = {
        line.split("Running on ")[1].split(" ")[0].rsplit(":", 1)[1]
        for line in running
        if "http://" in line
    }
    assert stat.S_IMODE(path.stat().st_mode) == 0o660
    with socket.socket(socket.AF_UNIX) as sock:
        sock.settimeout(5)
        sock.connect(str(path))
        sock.sendall(b"GET / HTTP/1.1\r\nHost: test\r\n\r\n")
        assert served_by(Reader(sock).response()) in workers
    assert served_by(fetch(process.port)) in workers
    if has_ipv6_loopback():
        v6 = next(line for line in running if "[::1]" in line)
        v6_port = int(v6.split("]:")[1].split(" ")[0])
        assert served_by(fetch(v6_port, host="::1")) in workers
        assert len(ports) == 2
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
    assert not path.exists()  # the supervisor bound it, the supervisor removes it


def _scrape_total(port: int) -> float:
    body = fetch(port, "/metrics").body.decode()
    return sum(
        float(line.rsplit(" ", 1)[1])
        for line in body.splitlines()
        if line.startswith("hypercorn_responses_total{")
    )


def test_metrics_add_up_every_worker_and_survive_a_rolling_restart(
    supervise: Supervise,
) -> None:
    ports = []
    for _ in range(2):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            ports.append(probe.getsockname()[1])
    port, metrics_port = ports
    metrics = ("--metrics-bind", f"127.0.0.1:{metrics_port}")
    process = supervise("app", "-w", "2", "-b", f"127.0.0.1:{port}", *metrics, *FAST)
    workers = wait_for_workers(process, 2)
    served = pids_serving(port, workers)  # every worker has answered something
    assert served == workers
    for _ in range(40):
        assert fetch(port).status == 200
    # Whichever worker answers the scrape reports the sum of both.
    first = [_scrape_total(metrics_port) for _ in range(6)]
    assert min(first) >= 40 + len(workers)
    mark = len(process.lines())
    process.send_signal(signal.SIGHUP)
    process.wait_for_line("All workers replaced", timeout=20, after=mark)
    # The departed workers' counts are kept: totals never go backwards.
    assert _scrape_total(metrics_port) >= min(first)
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0
