"""Reading the PROXY protocol header before a connection's HTTP (and TLS) starts.

With ``proxy_protocol`` set, every listener accepts in the clear, even a TLS one, because
the header comes before the TLS handshake. Each connection then starts in a
:class:`ProxyHeaderPhase`, which stands in for the HTTP protocol (so the server's deadlines
and shutdown reach it like any other connection) until the header is read:

- a peer outside ``forwarded_allow_ips`` is disconnected at once: only a trusted proxy may
  name the client, and a listener that expects the header must not guess whether one is
  there (proxy-protocol.txt §2: "the protocol explicitly prevents port sharing between
  public and private access");
- an invalid header, or none within ``request_head_timeout`` of connecting, closes the
  connection with one log line;
- after the header, :meth:`ConnectionProtocol.start` builds the connection's addresses from
  it and starts HTTP, and the bytes that followed the header go to the HTTP protocol. On a
  TLS listener ``loop.start_tls`` runs the handshake first (asyncio and uvloop both have
  it). The handshake must find the client's first bytes still unread, so there the header
  is read exactly: the transport reads into a buffer of :attr:`ProxyHeaderParser.read_size`
  bytes, never past the header's end.
"""

from __future__ import annotations

import asyncio
import math
import ssl
from typing import TYPE_CHECKING, Any

from ..config import Config
from ..middleware.proxy_fix import TrustedHosts
from ..protocol.proxy_protocol import ProxyHeader, ProxyHeaderParser, ProxyProtocolError

if TYPE_CHECKING:
    from .connection import ConnectionProtocol
    from .server import Server

__all__ = ["ProxyHeaderPhase", "ProxyProtocolListener"]

_VERSIONS = {"v1": (1,), "v2": (2,), "auto": (1, 2)}
# Refused untrusted peers are logged at warning level at most this often (the rest at debug),
# so a port scan cannot flood the log but a misconfigured forwarded_allow_ips still shows.
_UNTRUSTED_WARNING_INTERVAL = 60.0

Addresses = tuple[tuple[str, int] | None, tuple[str, int | None]]


class ProxyProtocolListener:
    """What the connections of one listener need to read the header."""

    __slots__ = ("_warned_at", "server", "ssl_context", "trusted", "versions")

    def __init__(
        self,
        server: Server,
        versions: tuple[int, ...],
        trusted: TrustedHosts,
        ssl_context: ssl.SSLContext | None,
    ) -> None:
        self.server = server
        self.versions = versions
        self.trusted = trusted
        #: TLS to start after the header (None: the listener is in the clear).
        self.ssl_context = ssl_context
        self._warned_at = -math.inf

    @classmethod
    def for_config(
        cls, server: Server, config: Config, ssl_context: ssl.SSLContext | None
    ) -> ProxyProtocolListener | None:
        """The listener's settings, or None when ``proxy_protocol`` is off."""
        if config.proxy_protocol == "off":
            return None
        versions = _VERSIONS[config.proxy_protocol]
        return cls(server, versions, TrustedHosts(config.forwarded_allow_ips), ssl_context)

    def header_phase(
        self, connection: ConnectionProtocol, transport: asyncio.Transport
    ) -> ProxyHeaderPhase:
        return ProxyHeaderPhase(self, connection, transport)

    def refused(self, peer: str) -> None:
        logger = self.server.ctx.logger
        now = self.server.ctx.now
        if now - self._warned_at >= _UNTRUSTED_WARNING_INTERVAL:
            self._warned_at = now
            logger.warning(
                "PROXY protocol: closed a connection from %s, which is not in"
                " forwarded_allow_ips (more within %ds are logged at debug level)",
                peer,
                _UNTRUSTED_WARNING_INTERVAL,
            )
        else:
            logger.debug("PROXY protocol: closed a connection from untrusted %s", peer)


class _ExactReader(asyncio.BufferedProtocol):
    """Receives the header on a TLS listener, never reading a byte past it."""

    __slots__ = ("_buffer", "_phase")

    def __init__(self, phase: ProxyHeaderPhase) -> None:
        self._phase = phase
        self._buffer = bytearray()

    def get_buffer(self, sizehint: int) -> bytearray:
        self._buffer = bytearray(self._phase.parser.read_size)
        return self._buffer

    def buffer_updated(self, nbytes: int) -> None:
        self._phase.connection.data_received(bytes(self._buffer[:nbytes]))

    def eof_received(self) -> bool:
        return self._phase.connection.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        self._phase.connection.connection_lost(exc)


# The phases of a connection's start.
_HEADER, _HANDSHAKE, _STARTED, _CLOSED = range(4)


class ProxyHeaderPhase:
    """The connection's :class:`~hypercorn.protocol.interface.ServerProtocol` until the
    PROXY header (and, on a TLS listener, the handshake after it) is done."""

    __slots__ = (
        "_early",
        "_listener",
        "_peer",
        "_state",
        "_transport",
        "connection",
        "deadline",
        "parser",
    )

    def __init__(
        self,
        listener: ProxyProtocolListener,
        connection: ConnectionProtocol,
        transport: asyncio.Transport,
    ) -> None:
        self._listener = listener
        self.connection = connection
        self._transport = transport
        self.parser = ProxyHeaderParser(listener.versions)
        ctx = listener.server.ctx
        timeout = ctx.request_head_timeout
        self.deadline = ctx.now + timeout if timeout > 0 else math.inf
        peername: Any = transport.get_extra_info("peername")
        # A Unix socket's peer has no address (an empty name): it is trusted (TrustedHosts).
        host = str(peername[0]) if isinstance(peername, tuple) and peername else None
        self._peer = f"{host}:{peername[1]}" if host is not None else "unix socket"
        self._state = _HEADER
        #: Data decrypted as the handshake completed, before start_tls returned.
        self._early: list[bytes] = []
        if host not in listener.trusted:
            listener.refused(self._peer)
            self._close()
        elif listener.ssl_context is not None:
            transport.set_protocol(_ExactReader(self))

    # --- ServerProtocol ------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._state != _HEADER:
            if self._state == _HANDSHAKE:
                # The TLS protocol passes on what arrived with the end of the handshake
                # before start_tls returns the transport: keep it for the HTTP protocol.
                self._early.append(data)
            return
        parser = self.parser
        try:
            header = parser.receive_data(data)
        except ProxyProtocolError as exc:
            self._fail("Invalid PROXY protocol header from %s (%s); closing the connection", exc)
            return
        if header is None:
            return
        if self._listener.ssl_context is None:
            self._start(self._transport, header, parser.trailing)
            return
        self._state = _HANDSHAKE
        self._transport.pause_reading()
        self._listener.server.start_task(self._start_tls(header))

    def eof_received(self) -> bool:
        if self._state == _HEADER:
            logger = self._listener.server.ctx.logger
            if self.parser.pending:
                logger.warning(
                    "%s closed the connection before its PROXY protocol header was complete",
                    self._peer,
                )
            else:
                # A load balancer's TCP health check: connect, then close.
                logger.debug("%s closed the connection before a PROXY protocol header", self._peer)
        return False

    def connection_lost(self) -> None:
        self._state = _CLOSED
        self.deadline = math.inf

    def pause_writing(self) -> None:
        pass

    def resume_writing(self) -> None:
        pass

    def on_deadline(self, now: float) -> None:
        if self._state == _HEADER:
            self._fail("No PROXY protocol header from %s within %ss; closing the connection")
        elif self._state == _HANDSHAKE:
            self._listener.server.ctx.logger.debug(
                "TLS handshake after the PROXY header from %s timed out", self._peer
            )
            self._close()

    def shutdown(self) -> None:
        # Nothing is in progress before the first request: just close.
        self._close()

    # --- the start of HTTP ---------------------------------------------------------------

    def _start(self, transport: asyncio.Transport, header: ProxyHeader, trailing: bytes) -> None:
        self._state = _STARTED
        self.deadline = math.inf
        connection = self.connection
        connection.start(transport, _addresses(header))
        if self._listener.server.ctx.shutting_down:
            connection.protocol.shutdown()
        if trailing:
            connection.data_received(trailing)

    async def _start_tls(self, header: ProxyHeader) -> None:
        listener = self._listener
        assert listener.ssl_context is not None
        transport = self._transport
        try:
            tls_transport = await listener.server.loop.start_tls(
                transport, self.connection, listener.ssl_context, server_side=True
            )
        except BaseException as exc:
            # start_tls has closed the transport.
            self._forget()
            if not isinstance(exc, Exception):
                raise
            listener.server.ctx.logger.debug(
                "TLS handshake after the PROXY header from %s failed: %r", self._peer, exc
            )
            return
        if tls_transport is None or self._state != _HANDSHAKE:
            # Closed during the handshake (timed out, shut down): start_tls may return
            # normally then, with no transport.
            if tls_transport is not None:
                tls_transport.abort()
            self._forget()
            return
        self._start(tls_transport, header, b"".join(self._early))
        self._early.clear()

    def _forget(self) -> None:
        # A connection closed during the handshake: not every loop then reports
        # connection_lost to the app protocol (asyncio does not before 3.11, nor when the
        # transport is aborted mid-handshake), so tell the server here. It forgets a
        # connection only once, however often it is told.
        self.connection_lost()
        self._listener.server.connection_closed(self.connection)

    def _fail(self, message: str, exc: ProxyProtocolError | None = None) -> None:
        ctx = self._listener.server.ctx
        if exc is not None:
            ctx.logger.warning(message, self._peer, exc.reason)
        else:
            ctx.logger.warning(message, self._peer, f"{ctx.request_head_timeout:g}")
        self._close()

    def _close(self) -> None:
        self._state = _CLOSED
        self.deadline = math.inf
        self._transport.abort()


def _addresses(header: ProxyHeader) -> Addresses | None:
    """The (client, server) a header names, or None to keep the connection's own."""
    source, destination = header.source, header.destination
    if isinstance(source, tuple) and isinstance(destination, tuple):
        return source, destination
    if header.family == "UNIX":
        # ASGI gives a Unix socket's client as None and its server as (path, None).
        return None, (str(destination or ""), None)
    return None
