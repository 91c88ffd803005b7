"""Machinery for tests of real supervisor processes: the app, the process, a load loop.

Every process is started in a session of its own, so that its process group holds the
supervisor and all its workers, and the whole group is killed (SIGKILL, by group id) when
the test ends, whatever state it is in. Everything listens on loopback only.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from ..helpers import CollectedProcess, Reader, Response, wait_for
from .test_cli import RUNNING, hypercorn_env

__all__ = [
    "Load",
    "Supervise",
    "SupervisedProcess",
    "children",
    "fetch",
    "hypercorn_env",
    "supervise",
    "wait_for",
    "work_dir",
]

# The app every test serves: "PID VERSION" for any path; /sleep/S sleeps first; /block holds
# the worker's event loop for a moment (so that the next connections go to other workers);
# lifespan shutdown appends the pid to the file "shutdowns".
WORKER_APP = """
import asyncio
import os
import pathlib
import sys
import time

VERSION = "v1"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                with open("shutdowns", "a") as file:
                    file.write(f"{os.getpid()}\\n")
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path.startswith("/sleep/"):
        print(f"app: sleeping in {os.getpid()}", file=sys.stderr, flush=True)
        await asyncio.sleep(float(path[len("/sleep/"):]))
    elif path == "/block":
        time.sleep(0.02)
    body = f"{os.getpid()} {VERSION}".encode()
    headers = [(b"content-type", b"text/plain")]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})
"""

LIFESPAN_FAIL_APP = """
async def app(scope, receive, send):
    assert scope["type"] == "lifespan"
    await receive()
    await send({"type": "lifespan.startup.failed", "message": "database unreachable"})
"""

SERVING = re.compile(r"Serving with (\d+) worker\(s\)")


class SupervisedProcess(CollectedProcess):
    """A ``python -m hypercorn`` (or any command) in its own session, output collected."""

    def __init__(
        self,
        command: Sequence[str],
        cwd: Path,
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
    ) -> None:
        environment = hypercorn_env()
        environment.update(env or {})
        # Its own process group: the workers are in it too.
        super().__init__(command, cwd=cwd, env=environment, pass_fds=pass_fds, new_session=True)

    def count(self, pattern: str) -> int:
        regex = re.compile(pattern)
        return sum(1 for line in self.lines() if regex.search(line))

    @property
    def port(self) -> int:
        """The port of the first ``Running on`` line (a worker's)."""
        found = self.wait_for_line(RUNNING)
        port = re.search(r":(\d+)$", found.group(1))
        assert port is not None, found.group(1)
        return int(port.group(1))

    def workers(self) -> set[int]:
        return children(self.pid)

    def wait(self, timeout: float = 15.0) -> int:
        return super().wait(timeout)

    def kill_group(self) -> None:
        """SIGKILL the supervisor and every worker (its process group)."""
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, signal.SIGKILL)
        self._reap()


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``, from /proc."""
    found = set()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as file:
                stat = file.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces and parentheses.
        fields = stat[stat.rindex(")") + 2 :].split()
        if fields[0] != "Z" and int(fields[1]) == pid:
            found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as file:
            stat = file.read()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] != "Z"


def fetch(port: int, path: str = "/", host: str = "127.0.0.1") -> Response:
    with socket.create_connection((host, port), timeout=5) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: test\r\n\r\n".encode())
        return Reader(sock).response()


def served_by(response: Response) -> int:
    return int(response.body.split()[0])


def pids_serving(port: int, expected: set[int], timeout: float = 10.0) -> set[int]:
    """Request ``/block`` until every pid of ``expected`` has answered (or time is up)."""
    seen: set[int] = set()
    lock = threading.Lock()
    deadline = time.monotonic() + timeout

    def client() -> None:
        while time.monotonic() < deadline:
            with lock:
                if expected <= seen:
                    return
            response = fetch(port, "/block")
            assert response.status == 200
            with lock:
                seen.add(served_by(response))

    threads = [threading.Thread(target=client) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return seen


@dataclass
class Load:
    """A bounded request loop in threads: keep-alive clients and new-connection clients.

    A keep-alive client does what HTTP clients do (RFC 9112 §9.3.1): when the server closes
    a reused idle connection before sending any of the response (a graceful stop closes
    idle keep-alive connections, and a request can cross that close on the wire), the
    idempotent request is retried once on a new connection. Anything else that is not a 200
    — a refused or reset new connection, a cut response, a retry that fails — is a failure.
    """

    port: int
    keep_alive_clients: int = 2
    new_connection_clients: int = 2
    path: str = "/"
    max_seconds: float = 20.0
    max_requests_per_client: int = 5000
    statuses: list[int] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    pids: set[int] = field(default_factory=set)
    retries: int = 0

    def __post_init__(self) -> None:
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._keep_alive_client, daemon=True)
            for _ in range(self.keep_alive_clients)
        ] + [
            threading.Thread(target=self._new_connection_client, daemon=True)
            for _ in range(self.new_connection_clients)
        ]

    def __enter__(self) -> Load:
        self._deadline = time.monotonic() + self.max_seconds
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(15)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.statuses)

    def _running(self, done: int) -> bool:
        return (
            not self._stop.is_set()
            and time.monotonic() < self._deadline
            and done < self.max_requests_per_client
        )

    def _record(self, response: Response) -> None:
        with self._lock:
            self.statuses.append(response.status)
            if response.status == 200:
                self.pids.add(served_by(response))
            else:
                self.failures.append(f"status {response.status}")

    def _fail(self, what: str) -> None:
        with self._lock:
            self.failures.append(what)

    def _request(self) -> bytes:
        return f"GET {self.path} HTTP/1.1\r\nHost: test\r\n\r\n".encode()

    def _new_connection_client(self) -> None:
        done = 0
        while self._running(done):
            done += 1
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                    sock.sendall(self._request())
                    self._record(Reader(sock).response())
            except OSError as exc:
                self._fail(f"new connection: {exc!r}")

    def _keep_alive_client(self) -> None:
        done = 0
        sock: socket.socket | None = None
        reader: Reader | None = None
        used = 0  # requests answered on the current connection
        try:
            while self._running(done):
                done += 1
                if sock is None:
                    try:
                        sock = socket.create_connection(("127.0.0.1", self.port), timeout=10)
                    except OSError as exc:
                        self._fail(f"keep-alive connect: {exc!r}")
                        continue
                    reader = Reader(sock)
                    used = 0
                assert reader is not None
                try:
                    sock.sendall(self._request())
                    response = reader.response()
                except OSError as exc:
                    nothing_back = not reader.buffer
                    sock.close()
                    sock = reader = None
                    if used and nothing_back:
                        with self._lock:
                            self.retries += 1
                        self._retry()
                    else:
                        self._fail(f"keep-alive request: {exc!r}")
                    continue
                used += 1
                self._record(response)
                if response.header(b"connection") == b"close":
                    sock.close()
                    sock = reader = None
        finally:
            if sock is not None:
                sock.close()

    def _retry(self) -> None:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=10) as sock:
                sock.sendall(self._request())
                self._record(Reader(sock).response())
        except OSError as exc:
            self._fail(f"retried request: {exc!r}")

    def wait_for_requests(self, count: int, timeout: float = 10.0) -> None:
        start = self.count
        assert wait_for(lambda: self.count >= start + count, timeout=timeout), self.failures


class Supervise:
    """Starts hypercorn processes in ``cwd``; all of them are killed when the test ends."""

    def __init__(self, cwd: Path) -> None:
        self.cwd = cwd
        self.started: list[SupervisedProcess] = []

    def __call__(
        self,
        *args: str,
        wait: str | None = r"Serving with \d+ worker\(s\)",
        env: Mapping[str, str] | None = None,
        pass_fds: Sequence[int] = (),
        command: Sequence[str] | None = None,
    ) -> SupervisedProcess:
        """``python -m hypercorn ARGS`` (binding 127.0.0.1:0 unless ARGS bind), waiting for
        ``wait`` in its log unless it is None."""
        if not any(arg in ("-b", "--bind") or arg.startswith("--bind=") for arg in args):
            args = (*args, "--bind", "127.0.0.1:0")
        argv = [*(command or [sys.executable, "-m", "hypercorn"]), *args]
        process = SupervisedProcess(argv, self.cwd, env, pass_fds)
        self.started.append(process)
        if wait is not None:
            process.wait_for_line(wait, timeout=15)
        return process

    def close(self) -> None:
        for process in self.started:
            process.kill_group()


@pytest.fixture
def work_dir(tmp_path: Path) -> Path:
    """The working directory of every process: ``app.py`` and ``lifespan_fail.py``."""
    (tmp_path / "app.py").write_text(WORKER_APP)
    (tmp_path / "lifespan_fail.py").write_text(LIFESPAN_FAIL_APP)
    return tmp_path


@pytest.fixture
def supervise(work_dir: Path) -> Iterator[Supervise]:
    starter = Supervise(work_dir)
    yield starter
    starter.close()
