"""Stopping a real ``python -m hypercorn`` process: signals, graceful shutdown, lifespan.

The processes and apps come from :mod:`tests.integration.test_cli`; ``app.py`` there answers
``/sleep/SECONDS`` after printing ``app: sleeping`` to stderr, and writes the file
``lifespan-shutdown`` when its lifespan shutdown runs.
"""

from __future__ import annotations

import signal
import socket
import time
from pathlib import Path

import pytest

from ..helpers import Reader, wait_for
from . import test_cli
from .test_cli import LOCAL, RUNNING, Spawn, exchange, get, run_to_exit, stderr_lines

app_dir = test_cli.app_dir
spawn = test_cli.spawn

LIFESPAN_APPS = {
    "lifespan_fail.py": """
async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
""",
    "lifespan_raise.py": """
async def app(scope, receive, send):
    if scope["type"] != "http":
        raise ValueError("this app only speaks http")
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"served"})
""",
    "lifespan_hang.py": """
import asyncio


async def app(scope, receive, send):
    await asyncio.sleep(3600)
""",
}


@pytest.fixture
def lifespan_apps(app_dir: Path) -> Path:
    for name, source in LIFESPAN_APPS.items():
        (app_dir / name).write_text(source)
    return app_dir


def refused(port: int) -> bool:
    """Whether a new connection to ``port`` is refused."""
    try:
        sock = socket.create_connection(("127.0.0.1", port), timeout=1)
    except ConnectionRefusedError:
        return True
    sock.close()
    return False


def start_slow_request(port: int, seconds: float) -> tuple[socket.socket, Reader]:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(b"GET /sleep/%g HTTP/1.1\r\nHost: test\r\n\r\n" % seconds)
    return sock, Reader(sock)


# --- graceful shutdown -------------------------------------------------------------------


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_signal_with_an_idle_keep_alive_connection_exits_promptly(
    spawn: Spawn, app_dir: Path, signum: signal.Signals
) -> None:
    process = spawn("app")
    with socket.create_connection(("127.0.0.1", process.port), timeout=5) as idle:
        assert exchange(idle).status == 200
        started = time.monotonic()
        process.send_signal(signum)
        assert process.wait(5) == 0
        # Well inside the 5 s keep-alive timeout: the idle connection did not hold it up.
        assert time.monotonic() - started < 2.0
        assert Reader(idle).at_eof(timeout=1)
    assert (app_dir / "lifespan-shutdown").read_text() == "app"
    assert any(f"Received {signum.name}" in line for line in process.lines())


def test_sigterm_lets_the_request_in_flight_finish(spawn: Spawn, app_dir: Path) -> None:
    process = spawn("app")
    sock, reader = start_slow_request(process.port, 1)
    with sock:
        process.wait_for_line("app: sleeping")
        process.send_signal(signal.SIGTERM)
        process.wait_for_line("Received SIGTERM")
        # The app is still sleeping, yet the listener is already gone.
        assert wait_for(lambda: refused(process.port), timeout=0.5)
        response = reader.response()
    # Closed as a client does on `Connection: close`; the server then has nothing to wait for.
    answered = time.monotonic()
    assert response.status == 200
    assert response.body == b"app"
    assert response.header(b"connection") == b"close"
    assert process.wait(5) == 0
    assert time.monotonic() - answered < 1.0
    assert (app_dir / "lifespan-shutdown").exists()


@pytest.mark.slow
def test_graceful_timeout_cuts_a_request_that_runs_too_long(spawn: Spawn, app_dir: Path) -> None:
    process = spawn("app", "--graceful-timeout", "1")
    sock, reader = start_slow_request(process.port, 30)
    with sock:
        process.wait_for_line("app: sleeping")
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        assert process.wait(10) == 0
        elapsed = time.monotonic() - started
        assert 0.9 <= elapsed < 4.0, elapsed
        assert reader.read_to_close() == b""  # cut, never answered
    process.wait_for_line(r"\[WARNING\] Graceful timeout")
    assert (app_dir / "lifespan-shutdown").exists()


@pytest.mark.parametrize("second", [signal.SIGTERM, signal.SIGINT])
def test_a_second_signal_exits_at_once(spawn: Spawn, second: signal.Signals) -> None:
    process = spawn("app", "--graceful-timeout", "20")
    sock, _ = start_slow_request(process.port, 30)
    with sock:
        process.wait_for_line("app: sleeping")
        process.send_signal(signal.SIGTERM)
        process.wait_for_line("Received SIGTERM")
        started = time.monotonic()
        process.send_signal(second)
        code = process.wait(10)
        assert time.monotonic() - started < 3.0
    assert code != 0
    process.wait_for_line(f"Received {second.name} again")


# --- lifespan ----------------------------------------------------------------------------


def test_lifespan_startup_failure_exits_with_its_message(lifespan_apps: Path) -> None:
    result = run_to_exit("lifespan_fail", *LOCAL, cwd=lifespan_apps)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "[ERROR]" in lines[0]
    assert "database unreachable" in lines[0]
    assert not RUNNING.search(result.stderr)


def test_app_without_lifespan_is_served_with_one_info_line(
    spawn: Spawn, lifespan_apps: Path
) -> None:
    process = spawn("lifespan_raise")
    response = get(process.port)
    assert response.status == 200
    assert response.body == b"served"
    assert process.terminate() == 0
    mentions = [line for line in process.lines() if "lifespan" in line.lower()]
    assert len(mentions) == 1, process.lines()
    assert "[INFO]" in mentions[0]
    assert "Traceback" not in "\n".join(process.lines())


def test_lifespan_on_requires_the_app_to_support_it(lifespan_apps: Path) -> None:
    result = run_to_exit("lifespan_raise", "--lifespan", "on", *LOCAL, cwd=lifespan_apps)
    assert result.returncode == 1
    assert "this app only speaks http" in result.stderr
    assert not RUNNING.search(result.stderr)


def test_lifespan_off_never_calls_the_app_for_it(spawn: Spawn, lifespan_apps: Path) -> None:
    process = spawn("lifespan_raise", "--lifespan", "off")
    assert get(process.port).body == b"served"
    assert process.terminate() == 0
    assert not any("lifespan" in line.lower() for line in process.lines())


def test_lifespan_startup_timeout(lifespan_apps: Path) -> None:
    result = run_to_exit("lifespan_hang", "--startup-timeout", "0.3", *LOCAL, cwd=lifespan_apps)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "lifespan startup did not complete within 0.3s" in lines[0]


# --- startup errors ----------------------------------------------------------------------


def test_port_in_use_is_one_line(app_dir: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        result = run_to_exit("app", "--bind", f"127.0.0.1:{port}", cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "[ERROR]" in lines[0]
    assert f"127.0.0.1:{port}" in lines[0]
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("which", ["missing", "garbage"])
def test_bad_certfile_is_one_line(app_dir: Path, which: str) -> None:
    certfile = app_dir / f"{which}.pem"
    if which == "garbage":
        certfile.write_text("not a certificate\n")
    result = run_to_exit("app", "--certfile", str(certfile), *LOCAL, cwd=app_dir)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert str(certfile) in lines[0]
