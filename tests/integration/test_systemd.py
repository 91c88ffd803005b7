"""systemd integration as real processes: socket activation and sd_notify.

Socket activation is played as systemd plays it: the test binds a listening socket, and a
tiny launcher (a ``python -c`` that moves it to descriptor 3, sets ``LISTEN_FDS=1`` and
``LISTEN_PID`` to its own pid, then execs ``python -m hypercorn``, keeping that pid) starts
the server. Notifications arrive on a datagram socket the test binds and names in
``NOTIFY_SOCKET``. When systemd's own ``systemd-socket-activate`` is installed, it is used too.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from hypercorn.cli import parse

from . import supervised
from .supervised import Supervise, fetch, served_by

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="reads worker pids from /proc"
)

work_dir = supervised.work_dir
supervise = supervised.supervise

FAST = ("--graceful-timeout", "1", "--shutdown-timeout", "1")

# argv: FD [FD...] -- hypercorn arguments. The passed sockets become 3, 4, ... as systemd
# passes them; LISTEN_PID is the launcher's pid, which exec keeps for hypercorn.
LAUNCHER = """
import os, sys
split = sys.argv.index("--")
fds = [int(fd) for fd in sys.argv[1:split]]
moved = [os.dup(fd) for fd in fds]
for index, fd in enumerate(moved):
    os.dup2(fd, 3 + index)
    os.set_inheritable(3 + index, True)  # dup2 onto itself keeps dup's close-on-exec
os.environ["LISTEN_FDS"] = str(len(fds))
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.executable, [sys.executable, "-m", "hypercorn", *sys.argv[split + 1:]])
"""


def launcher(*fds: int) -> list[str]:
    return [sys.executable, "-c", LAUNCHER, *map(str, fds), "--"]


def listening_socket() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    return sock


@pytest.fixture
def notify_socket(tmp_path: Path) -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's, and its NOTIFY_SOCKET value."""
    path = tmp_path / "notify.sock"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(str(path))
        sock.settimeout(15)
        yield sock, str(path)


def receive(sock: socket.socket) -> str:
    return sock.recv(4096).decode()


# --- socket activation -------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_socket_activation_serves_the_passed_socket(supervise: Supervise, workers: str) -> None:
    with listening_socket() as listener:
        port = listener.getsockname()[1]
        process = supervise(
            "app",
            "-w",
            workers,
            "--bind",
            "127.0.0.1:1",  # ignored: the passed socket is served instead
            *FAST,
            command=launcher(listener.fileno()),
            pass_fds=[listener.fileno()],
            wait=r"Running on",
        )
        process.wait_for_line("socket\\(s\\) passed by systemd")
        assert fetch(port).status == 200
        if workers == "2":
            process.wait_for_line(r"Serving with 2 worker\(s\)")
            assert supervised.pids_serving(port, process.workers()) == process.workers()
        assert f"http://127.0.0.1:{port}" in "\n".join(process.lines())
        assert "127.0.0.1:1 " not in "\n".join(process.lines())
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 0
        # The socket is still systemd's (here, the test's): it stays open and listening.
        listener.settimeout(0.1)
        with pytest.raises(TimeoutError):
            listener.accept()


def test_socket_activation_with_several_sockets(supervise: Supervise) -> None:
    with listening_socket() as first, listening_socket() as second:
        process = supervise(
            "app",
            "-w",
            "2",
            *FAST,
            command=launcher(first.fileno(), second.fileno()),
            pass_fds=[first.fileno(), second.fileno()],
        )
        for listener in (first, second):
            assert fetch(listener.getsockname()[1]).status == 200
        assert process.count("Running on") == 4  # two sockets, two workers
        process.send_signal(signal.SIGTERM)
        assert process.wait() == 0


def test_listen_fds_for_another_process_is_ignored(supervise: Supervise) -> None:
    # Inherited from a parent that was the one activated: not ours, so bind is used.
    process = supervise(
        "app", env={"LISTEN_FDS": "1", "LISTEN_PID": "1"}, wait=r"Running on http://127"
    )
    assert fetch(process.port).status == 200
    assert "passed by systemd" not in "\n".join(process.lines())


@pytest.mark.skipif(
    shutil.which("systemd-socket-activate") is None, reason="systemd-socket-activate missing"
)
def test_under_systemd_socket_activate(supervise: Supervise) -> None:
    with listening_socket() as probe:
        port = probe.getsockname()[1]  # a free port for the tool to listen on
    tool = shutil.which("systemd-socket-activate")
    assert tool is not None
    env = supervised.hypercorn_env()
    process = supervise(
        "app",
        "-w",
        "2",
        *FAST,
        command=[
            tool,
            "--listen",
            f"127.0.0.1:{port}",
            "--fdname=web",
            "--setenv",
            f"PYTHONPATH={env['PYTHONPATH']}",
            sys.executable,
            "-m",
            "hypercorn",
        ],
        wait=r"Now listening on|Listening on",
    )
    # The tool starts the server on the first connection, which then waits in the backlog.
    response = fetch(port)
    assert response.status == 200
    assert served_by(response) in process.workers()
    process.send_signal(signal.SIGTERM)
    assert process.wait() == 0


# --- sd_notify ---------------------------------------------------------------------------


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ready_once_serving_and_stopping_at_shutdown(
    supervise: Supervise, notify_socket: tuple[socket.socket, str], workers: str
) -> None:
    sock, address = notify_socket
    process = supervise("app", "-w", workers, *FAST, env={"NOTIFY_SOCKET": address}, wait=None)
    assert receive(sock) == "READY=1"
    # Ready means ready: every worker is serving.
    port = process.port
    assert fetch(port).status == 200
    if workers == "2":
        assert len(process.workers()) == 2
        assert process.count(r"serving \(pid") == 2
    process.send_signal(signal.SIGTERM)
    assert receive(sock) == "STOPPING=1"
    assert process.wait() == 0


def test_abstract_notify_socket(supervise: Supervise) -> None:
    name = f"hypercorn-test-{uuid.uuid4().hex}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind("\0" + name)
        sock.settimeout(15)
        process = supervise("app", "-w", "2", *FAST, env={"NOTIFY_SOCKET": "@" + name})
        assert receive(sock) == "READY=1"
        process.send_signal(signal.SIGTERM)
        assert receive(sock) == "STOPPING=1"
        assert process.wait() == 0


def test_reloading_then_ready_around_a_rolling_restart(
    supervise: Supervise, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, address = notify_socket
    process = supervise("app", "-w", "2", *FAST, env={"NOTIFY_SOCKET": address}, wait=None)
    assert receive(sock) == "READY=1"
    before = supervised.children(process.pid)
    process.send_signal(signal.SIGHUP)
    reloading = receive(sock)
    assert re.fullmatch(r"RELOADING=1\nMONOTONIC_USEC=\d+", reloading), reloading
    assert receive(sock) == "READY=1"
    # Ready again means replaced: the old workers are stopping, the new ones serve.
    assert supervised.wait_for(lambda: len(process.workers() - before) == 2, timeout=5)
    assert supervised.wait_for(lambda: not process.workers() & before, timeout=10)
    process.send_signal(signal.SIGTERM)
    assert receive(sock) == "STOPPING=1"
    assert process.wait() == 0


def test_workers_never_see_the_systemd_variables(
    supervise: Supervise, work_dir: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, address = notify_socket
    (work_dir / "env_app.py").write_text(
        "import json, os\n\n\n"
        "async def app(scope, receive, send):\n"
        "    if scope['type'] != 'http':\n"
        "        return\n"
        "    names = [n for n in os.environ if n.startswith(('LISTEN_', 'NOTIFY_'))]\n"
        "    await send({'type': 'http.response.start', 'status': 200, 'headers': []})\n"
        "    await send({'type': 'http.response.body', 'body': json.dumps(names).encode()})\n"
    )
    with listening_socket() as listener:
        supervise(
            "env_app",
            "-w",
            "2",
            *FAST,
            command=launcher(listener.fileno()),
            pass_fds=[listener.fileno()],
            env={"NOTIFY_SOCKET": address},
            wait=None,
        )
        assert receive(sock) == "READY=1"
        assert fetch(listener.getsockname()[1]).body == b"[]"
    assert os.environ.get("NOTIFY_SOCKET") != address  # the test's own is untouched


# --- the documented units ----------------------------------------------------------------

HOWTO = Path(__file__).resolve().parents[2] / "docs" / "howto"


def documented_commands() -> list[tuple[str, list[str]]]:
    """Every hypercorn command line in the systemd and container how-tos."""
    found = []
    for page in ("systemd.md", "docker-kubernetes.md"):
        for line in (HOWTO / page).read_text().splitlines():
            if line.startswith("ExecStart="):
                found.append((page, shlex.split(line[len("ExecStart=") :])))
            elif line.startswith("CMD ["):
                found.append((page, json.loads(line[len("CMD ") :])))
    return found


def test_the_how_tos_have_command_lines() -> None:
    pages = [page for page, _ in documented_commands()]
    assert pages.count("systemd.md") == 2
    assert pages.count("docker-kubernetes.md") == 1


@pytest.mark.parametrize(("page", "argv"), documented_commands())
def test_documented_command_lines_are_valid(page: str, argv: list[str]) -> None:
    assert argv[0].endswith("hypercorn"), argv
    config, application = parse(argv[1:])
    assert application == "app:app"
    assert config.workers > 1  # every example runs a supervisor
