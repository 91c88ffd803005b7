"""One accepted connection: the asyncio side of the protocol layer's ConnectionIO."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable, Coroutine, Generator
from typing import TYPE_CHECKING, Any, cast

from ..logs import error_logger
from ..protocol import new_connection
from ..protocol.interface import ConnectionInfo, ServerProtocol
from .tls import tls_extension

if TYPE_CHECKING:
    from .proxy_protocol import ProxyProtocolListener
    from .server import Server

__all__ = ["ConnectionProtocol"]


class FutureWaiter:
    """A :class:`~hypercorn.protocol.interface.Waiter` on an asyncio future."""

    __slots__ = ("_future",)

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._future: asyncio.Future[None] = loop.create_future()

    def wake(self) -> None:
        if not self._future.done():
            self._future.set_result(None)

    def __await__(self) -> Generator[Any, None, None]:
        return self._future.__await__()


def _address(value: Any) -> tuple[str, int] | None:
    # IPv6 peer names are 4-tuples; ASGI wants (host, port).
    if isinstance(value, tuple) and len(value) >= 2:
        return (str(value[0]), int(value[1]))
    return None


#: Seconds a closing TLS connection waits for the client's close_notify before the socket is
#: closed anyway (the response has been written; only the TLS goodbye is skipped).
TLS_CLOSE_SECONDS = 1.0


class ConnectionProtocol(asyncio.Protocol):
    """Callbacks from the event loop in, ConnectionIO calls out. Knows nothing of HTTP."""

    __slots__ = ("_loop", "_lost", "_proxy", "_server", "_tls", "protocol", "transport", "write")

    def __init__(self, server: Server, proxy: ProxyProtocolListener | None = None) -> None:
        self._server = server
        self._loop = server.loop
        self._lost = False
        #: Set when the listener reads a PROXY protocol header before anything else.
        self._proxy = proxy

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        transport = cast(asyncio.Transport, transport)
        if self._proxy is None:
            self.start(transport)
        else:
            # The header comes first, before TLS; the phase calls start() after it.
            self.transport = transport
            self.write = transport.write
            self._tls = False
            self.protocol: ServerProtocol = self._proxy.header_phase(self, transport)
        self._server.connection_opened(self)

    def start(
        self,
        transport: asyncio.Transport,
        proxied: tuple[tuple[str, int] | None, tuple[str, int | None]] | None = None,
    ) -> None:
        """Start HTTP on ``transport``; ``proxied`` are (client, server) from a PROXY header."""
        self.transport = transport
        #: ConnectionIO.write is the transport's own method: no extra frame per write.
        self.write = transport.write
        client: tuple[str, int] | None
        server: tuple[str, int | None] | None
        if proxied is not None:
            client, server = proxied
        else:
            sock = transport.get_extra_info("socket")
            family = sock.family if sock is not None else None
            client = _address(transport.get_extra_info("peername"))
            if family == socket.AF_UNIX:
                server = (str(transport.get_extra_info("sockname") or ""), None)
            else:
                server = _address(transport.get_extra_info("sockname"))
        ssl_object = transport.get_extra_info("ssl_object")
        self._tls = ssl_object is not None
        info = ConnectionInfo(
            client,
            server,
            tls=tls_extension(ssl_object, self._server.server_cert) if self._tls else None,
            alpn=ssl_object.selected_alpn_protocol() if self._tls else None,
        )
        self.protocol = new_connection(self, self._server.ctx, info)

    def data_received(self, data: bytes) -> None:
        try:
            self.protocol.data_received(data)
        except Exception:
            # A bug in the protocol layer costs this connection, not the worker.
            error_logger.exception("Internal error handling data; closing the connection")
            self.transport.abort()

    def eof_received(self) -> bool:
        keep_open = self.protocol.eof_received()
        # A TLS transport cannot stay half-open (asyncio warns and closes it anyway).
        return keep_open and not self._tls

    def connection_lost(self, exc: Exception | None) -> None:
        self._lost = True
        self.protocol.connection_lost()
        self._server.connection_closed(self)

    def pause_writing(self) -> None:
        self.protocol.pause_writing()

    def resume_writing(self) -> None:
        self.protocol.resume_writing()

    # --- ConnectionIO --------------------------------------------------------------------

    def close(self) -> None:
        transport = self.transport
        transport.close()
        if self._tls:
            # A TLS close waits for the client's close_notify (asyncio: up to 30 s), which an
            # idle pooled client never sends; it would hold the connection, and a graceful
            # shutdown, that long. What was written goes out first; then the socket closes.
            self._loop.call_later(TLS_CLOSE_SECONDS, self._abort_if_open)

    def _abort_if_open(self) -> None:
        if not self._lost:
            self.transport.abort()

    def abort(self) -> None:
        self.transport.abort()

    def shutdown_write(self) -> bool:
        transport = self.transport
        if transport.is_closing() or not transport.can_write_eof():
            return False
        transport.write_eof()
        return True

    def pause_reading(self) -> None:
        self.transport.pause_reading()

    def resume_reading(self) -> None:
        if not self.transport.is_closing():
            self.transport.resume_reading()

    def start_app(self, coroutine: Coroutine[Any, Any, None]) -> None:
        self._server.start_task(coroutine)

    def call_soon(self, callback: Callable[[], None]) -> None:
        self._loop.call_soon(callback)

    def create_waiter(self) -> FutureWaiter:
        return FutureWaiter(self._loop)

    def switch_protocol(self, protocol: ServerProtocol) -> None:
        self.protocol = protocol
