"""Shared test machinery: a live server in a thread, raw-socket clients, a response reader."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from hypercorn.asyncio.server import Server
from hypercorn.config import Config
from hypercorn.logs import AccessLogger
from hypercorn.run import loop_factory

LOOPS = ["asyncio", "uvloop"]
PARSERS = ["httptools", "h11"]


class LiveServer:
    """A real listening server on 127.0.0.1:0, run on its own event loop in a thread."""

    def __init__(
        self,
        app: Any,
        config: Config | None = None,
        *,
        loop: str = "asyncio",
        access_log: AccessLogger | None = None,
    ) -> None:
        config = config or Config()
        if config.bind == ["127.0.0.1:8000"]:  # the default: use a free port instead
            config = config.replace(bind=["127.0.0.1:0"])
        self.config = config
        self.app = app
        self._loop_kind = loop
        self._access_log = access_log
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: Server | None = None
        self._stop: asyncio.Event | None = None

    def _run(self) -> None:
        loop = loop_factory(self._loop_kind)()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()
            self._stopped.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.server = Server(self.app, self.config, access_log=self._access_log)
        await self.server.startup()
        self._ready.set()
        await self._stop.wait()
        await self.server.shutdown()

    def start(self) -> LiveServer:
        self._thread.start()
        self._ready.wait(10)
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        if self.loop is not None and self._stop is not None and not self._stopped.is_set():
            self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(30)
        if self._error is not None and not isinstance(self._error, asyncio.CancelledError):
            raise self._error

    def __enter__(self) -> LiveServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        assert self.server is not None
        address = self.server.addresses[0]
        return int(address[1])

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def connect(self, timeout: float = 5.0) -> socket.socket:
        return socket.create_connection(("127.0.0.1", self.port), timeout=timeout)

    def call(self, function: Any, *args: Any) -> Any:
        """Run ``function(*args)`` on the server's loop and return its result."""
        assert self.loop is not None
        result: list[Any] = []
        done = threading.Event()

        def run() -> None:
            result.append(function(*args))
            done.set()

        self.loop.call_soon_threadsafe(run)
        done.wait(5)
        return result[0]


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
