"""The one narrow interface between the protocol layer and an event loop.

Everything under :mod:`hypercorn.protocol` talks to the outside world only through
:class:`ConnectionIO`: bytes out, close, reading on and off, start an app, and a waiter to
suspend an ASGI ``receive``/``send`` on. :mod:`hypercorn.asyncio` implements it on
asyncio/uvloop; the tests implement it with plain lists. Nothing here imports an event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
from dataclasses import dataclass
from typing import Any, Protocol


class Waiter(Protocol):
    """Something an ASGI callable can ``await`` until the connection calls :meth:`wake`."""

    def wake(self) -> None:
        """Let every awaiting coroutine continue. Calling it again does nothing."""
        ...

    def __await__(self) -> Generator[Any, None, None]: ...


class ConnectionIO(Protocol):
    """What a protocol connection may ask of its transport and event loop."""

    def write(self, data: bytes) -> None:
        """Queue ``data`` for sending. Never blocks; backpressure arrives as pause_writing."""
        ...

    def close(self) -> None:
        """Send what is queued, then close. Calling it again does nothing."""
        ...

    def abort(self) -> None:
        """Close at once, discarding whatever is queued."""
        ...

    def shutdown_write(self) -> bool:
        """Half-close: send what is queued, then FIN, and keep reading.

        Returns False when the transport cannot half-close (TLS), so the caller closes
        instead.
        """
        ...

    def pause_reading(self) -> None:
        """Stop delivering received data until :meth:`resume_reading`."""
        ...

    def resume_reading(self) -> None: ...

    def start_app(self, coroutine: Coroutine[Any, Any, None]) -> None:
        """Run an ASGI app invocation concurrently with this connection."""
        ...

    def call_soon(self, callback: Callable[[], None]) -> None:
        """Run ``callback`` on the next turn of the event loop."""
        ...

    def create_waiter(self) -> Waiter: ...

    def switch_protocol(self, protocol: ServerProtocol) -> None:
        """Hand every later event of this connection to ``protocol`` (h2c, WebSocket)."""
        ...


class ServerProtocol(Protocol):
    """What the I/O layer calls on a connection's protocol (HTTP/1.1, HTTP/2, ...)."""

    #: When :meth:`on_deadline` next needs calling, on the coarse clock ``ctx.now``.
    deadline: float

    def data_received(self, data: bytes) -> None: ...

    def eof_received(self) -> bool:
        """The peer half-closed. Returns True to keep the connection open for writing."""
        ...

    def connection_lost(self) -> None: ...

    def pause_writing(self) -> None: ...

    def resume_writing(self) -> None: ...

    def on_deadline(self, now: float) -> None: ...

    def shutdown(self) -> None:
        """Graceful shutdown: finish what is in progress, start nothing new."""
        ...


@dataclass(frozen=True, slots=True)
class ConnectionInfo:
    """What the I/O layer knows about a connection, as the ASGI scope reports it."""

    #: The peer's (host, port), or None (Unix socket).
    client: tuple[str, int] | None
    #: The local (host, port), or (path, None) for a Unix socket.
    server: tuple[str, int | None] | None
    #: The ASGI ``tls`` extension for a TLS connection, None in the clear.
    tls: dict[str, Any] | None = None
    #: The protocol chosen by ALPN ("h2", "http/1.1"), if any.
    alpn: str | None = None

    @property
    def secure(self) -> bool:
        return self.tls is not None


def peer_name(info: ConnectionInfo) -> str:
    """The client's address for log lines."""
    client = info.client
    return f"{client[0]}:{client[1]}" if client else "unix socket"
