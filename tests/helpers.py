"""Shared test machinery: a live server in a thread, raw-socket clients, a response reader,
and child processes whose output is collected line by line."""

from __future__ import annotations

import asyncio
import contextlib
import re
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from hypercorn import testing
from hypercorn.config import Config
from hypercorn.logs import AccessLogger

LOOPS = ["asyncio", "uvloop"]
PARSERS = ["httptools", "h11"]


class LiveServer(testing.LiveServer):
    """The package's live server (:mod:`hypercorn.testing`) with raw-socket helpers.

    Tests default to the asyncio loop (suites parametrize the loop themselves), and ``url``
    is always the plain ``http://127.0.0.1:PORT`` that raw-socket tests build on.
    """

    def __init__(
        self,
        app: Any,
        config: Config | None = None,
        *,
        loop: str = "asyncio",
        access_log: AccessLogger | None = None,
    ) -> None:
        super().__init__(app, config, loop=loop, access_log=access_log)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)


@dataclass
class Response:
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    body: bytes
    version: bytes = b"HTTP/1.1"
    chunked: bool = False
    trailers: list[tuple[bytes, bytes]] = field(default_factory=list)

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.headers:
            if key.lower() == name:
                return value
        return None

    def header_names(self) -> list[bytes]:
        return [key.lower() for key, _ in self.headers]


class Reader:
    """Reads HTTP/1.1 responses off a socket, strictly, for assertions on the wire format."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        if not data:
            return False
        self.buffer += data
        return True

    def read_until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            if not self._fill():
                raise ConnectionError(f"closed before {marker!r}; got {bytes(self.buffer)!r}")
        index = self.buffer.index(marker) + len(marker)
        data = bytes(self.buffer[:index])
        del self.buffer[:index]
        return data

    def read_exactly(self, count: int) -> bytes:
        while len(self.buffer) < count:
            if not self._fill():
                raise ConnectionError(f"closed with {len(self.buffer)} of {count} bytes")
        data = bytes(self.buffer[:count])
        del self.buffer[:count]
        return data

    def read_to_close(self) -> bytes:
        while self._fill():
            pass
        data = bytes(self.buffer)
        self.buffer.clear()
        return data

    def at_eof(self, timeout: float = 2.0) -> bool:
        """Whether the server closes the connection (within ``timeout``) with nothing more."""
        self.sock.settimeout(timeout)
        try:
            return not self.buffer and not self._fill()
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def response(self, head_request: bool = False) -> Response:
        head = self.read_until(b"\r\n\r\n")
        lines = head[:-4].split(b"\r\n")
        version, status, reason = ([*lines[0].split(b" ", 2), b""])[:3]
        headers = []
        for line in lines[1:]:
            name, _, value = line.partition(b":")
            headers.append((name, value.strip()))
        response = Response(int(status), reason, headers, b"", version)
        code = int(status)
        if head_request or code in (204, 304) or 100 <= code < 200:
            return response
        length = response.header(b"content-length")
        if response.header(b"transfer-encoding") == b"chunked":
            response.chunked = True
            chunks = []
            while True:
                size_line = self.read_until(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while True:
                        line = self.read_until(b"\r\n")
                        if line == b"\r\n":
                            break
                        name, _, value = line[:-2].partition(b":")
                        response.trailers.append((name, value.strip()))
                    break
                chunks.append(self.read_exactly(size))
                assert self.read_exactly(2) == b"\r\n"
            response.body = b"".join(chunks)
        elif length is not None:
            response.body = self.read_exactly(int(length))
        else:
            response.body = self.read_to_close()
        return response


def request(
    server: LiveServer, data: bytes, *, timeout: float = 5.0, head_request: bool = False
) -> Response:
    """Send raw bytes on a fresh connection and read one response."""
    with contextlib.closing(server.connect(timeout)) as sock:
        sock.sendall(data)
        return Reader(sock).response(head_request)


def wait_for(predicate: Any, timeout: float = 5.0, interval: float = 0.01) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


@contextlib.contextmanager
def live_server(
    app: Any, config: Config | None = None, loop: str = "asyncio"
) -> Iterator[LiveServer]:
    with LiveServer(app, config, loop=loop) as server:
        yield server


class CollectedProcess:
    """A child process whose stdout and stderr are read line by line in threads.

    ``new_session`` starts it in a process group of its own (a supervisor and its workers).
    """

    def __init__(
        self,
        command: Sequence[str],
        *,
        cwd: Path,
        env: Mapping[str, str],
        pass_fds: Sequence[int] = (),
        new_session: bool = False,
    ) -> None:
        self.command = list(command)
        self.process = subprocess.Popen(
            self.command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            pass_fds=pass_fds,
            start_new_session=new_session,
        )
        self.pid = self.process.pid
        self._lines: dict[str, list[str]] = {"stdout": [], "stderr": []}
        self._changed = threading.Condition()
        self._pumps = [
            threading.Thread(target=self._pump, args=(name, stream), daemon=True)
            for name, stream in (("stdout", self.process.stdout), ("stderr", self.process.stderr))
        ]
        for pump in self._pumps:
            pump.start()

    def _pump(self, name: str, stream: IO[str] | None) -> None:
        assert stream is not None
        for line in iter(stream.readline, ""):
            with self._changed:
                self._lines[name].append(line.rstrip("\n"))
                self._changed.notify_all()

    def lines(self, stream: str = "stderr") -> list[str]:
        with self._changed:
            return list(self._lines[stream])

    def wait_for_line(
        self,
        pattern: str | re.Pattern[str],
        timeout: float = 10.0,
        after: int = 0,
        stream: str = "stderr",
    ) -> re.Match[str]:
        """The first line of ``stream`` from index ``after`` on matching ``pattern``."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self._lines[stream][after:]:
                    found = regex.search(line)
                    if found is not None:
                        return found
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not any(pump.is_alive() for pump in self._pumps):
                    raise AssertionError(
                        f"no {stream} line matching {regex.pattern!r} from"
                        f" {' '.join(self.command)}; stderr so far:\n"
                        + "\n".join(self._lines["stderr"])
                    )
                self._changed.wait(min(remaining, 0.1))

    def send_signal(self, signum: int) -> None:
        self.process.send_signal(signum)

    def wait(self, timeout: float = 10.0) -> int:
        """Wait for the process to exit and all its output to be read; the exit code."""
        code = self.process.wait(timeout)
        for pump in self._pumps:
            pump.join(5)
        return code

    def _reap(self) -> None:
        """After a kill: wait for the process, read the rest of its output, close the pipes."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(10)
        for pump in self._pumps:
            pump.join(5)
        for stream in (self.process.stdout, self.process.stderr):
            if stream is not None:
                stream.close()


def call_app(app: Any, scope: dict[str, Any]) -> list[MutableMapping[str, Any]]:
    """Run an ASGI app (or middleware) on ``scope`` with an empty request; what it sent."""
    sent: list[MutableMapping[str, Any]] = []

    async def receive() -> MutableMapping[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: MutableMapping[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    return sent


def has_ipv6_loopback() -> bool:
    """Whether this machine can listen on ``::1`` (containers often cannot)."""
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True
