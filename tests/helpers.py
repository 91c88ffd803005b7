"""Shared test machinery: a live server in a thread, raw-socket clients, a response reader."""

from __future__ import annotations

import contextlib
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

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
