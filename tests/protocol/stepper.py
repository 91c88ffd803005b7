"""A ConnectionIO with no event loop: apps are coroutines stepped by hand.

Protocol-layer tests feed bytes into a connection, call :meth:`StepIO.run` to let every app
go as far as it can, and compare what was written. Time is ``ctx.now``, set by the test, so
timeouts are tested exactly and instantly.
"""

from __future__ import annotations

import inspect
from collections import deque
from collections.abc import Callable, Coroutine, Generator
from typing import Any

from hypercorn.config import Config
from hypercorn.protocol.context import ASGIApp, ServerContext
from hypercorn.protocol.http11 import H1Connection
from hypercorn.protocol.interface import ConnectionInfo, ServerProtocol


class StepWaiter:
    def __init__(self, io: StepIO) -> None:
        self._io = io
        self.woken = False
        self.waiting: list[Coroutine[Any, Any, Any]] = []

    def wake(self) -> None:
        if self.woken:
            return
        self.woken = True
        self._io.ready.extend(self.waiting)
        self.waiting.clear()

    def __await__(self) -> Generator[Any, None, None]:
        if not self.woken:
            yield self


class StepIO:
    """Records output and connection state; runs apps when told to."""

    def __init__(self) -> None:
        self.output = bytearray()
        self.closed = False
        self.aborted = False
        self.write_closed = False
        self.reading = True
        self.ready: deque[Coroutine[Any, Any, Any] | Callable[[], None]] = deque()
        self.finished_apps = 0
        self.protocol: ServerProtocol | None = None

    # ConnectionIO
    def write(self, data: bytes) -> None:
        assert not self.closed, "write after close"
        self.output += data

    def close(self) -> None:
        self.closed = True

    def abort(self) -> None:
        self.aborted = self.closed = True

    def shutdown_write(self) -> bool:
        self.write_closed = True
        return True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def start_app(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self.ready.append(coroutine)

    def call_soon(self, callback: Callable[[], None]) -> None:
        self.ready.append(callback)

    def create_waiter(self) -> StepWaiter:
        return StepWaiter(self)

    def switch_protocol(self, protocol: ServerProtocol) -> None:
        self.protocol = protocol

    # test controls
    def run(self) -> None:
        """Step every runnable app until each finishes or waits."""
        while self.ready:
            item = self.ready.popleft()
            if not inspect.iscoroutine(item):
                item()  # type: ignore[operator]
                continue
            try:
                yielded = item.send(None)
            except StopIteration:
                self.finished_apps += 1
                continue
            assert isinstance(yielded, StepWaiter), f"app awaited {yielded!r}, not a waiter"
            if yielded.woken:
                self.ready.append(item)
            else:
                yielded.waiting.append(item)

    def take(self) -> bytes:
        data = bytes(self.output)
        self.output.clear()
        return data


EPOCH_DATE = b"date: Thu, 01 Jan 1970 00:00:00 GMT\r\n"


def connection(
    app: ASGIApp, parser: str = "httptools", **options: Any
) -> tuple[H1Connection, StepIO]:
    """An H1Connection on a StepIO, with the Date header frozen at the epoch."""
    io = StepIO()
    ctx = ServerContext(Config(**options), app, http_parser=parser)
    conn = H1Connection(io, ctx, ConnectionInfo(("127.0.0.1", 5000), ("127.0.0.1", 8000)))
    io.protocol = conn
    return conn, io
