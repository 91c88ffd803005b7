"""The one narrow interface between the protocol layer and an event loop.

Everything under :mod:`hypercorn.protocol` talks to the outside world only through
:class:`ConnectionIO`: bytes out, close, reading on and off, start an app, and a waiter to
suspend an ASGI ``receive``/``send`` on. :mod:`hypercorn.asyncio` implements it on
asyncio/uvloop; the tests implement it with plain lists. Nothing here imports an event loop.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Generator
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
