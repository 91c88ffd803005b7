"""A WebSocket over an HTTP/1.1 connection (RFC 6455 §4), sans-IO.

:class:`H1Connection` hands the connection over to :class:`H1WebSocket` as soon as a valid
handshake request arrives; from then on this class owns the bytes. Before the app accepts,
nothing is answered and what the client sends early is held; the app's accept writes the
``101 Switching Protocols`` response, its denial an ordinary HTTP response followed by close.
"""

from __future__ import annotations

import base64
import binascii
import hashlib

from .context import ServerContext, status_line
from .events import RequestHead
from .interface import ConnectionInfo, ConnectionIO, Waiter, peer_name
from .ws_stream import WSStream, websocket_scope

__all__ = ["H1WebSocket", "handshake_problem"]

INF = float("inf")

# RFC 6455 §1.3: the GUID the Sec-WebSocket-Accept hash is salted with.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"


def handshake_problem(head: RequestHead) -> tuple[int, bytes] | None:
    """Why ``head`` is not a valid WebSocket handshake (RFC 6455 §4.2.1), or None.

    Returns the status to answer with and the reason.
    """
    if head.method != "GET" or head.http_version != "1.1":
        return 400, b"a WebSocket handshake is a GET over HTTP/1.1"
    if head.has_body:
        return 400, b"a WebSocket handshake has no body"
    version = [value for name, value in head.headers if name == b"sec-websocket-version"]
    if version != [b"13"]:
        return 426, b"unsupported Sec-WebSocket-Version"
    keys = [value for name, value in head.headers if name == b"sec-websocket-key"]
    if len(keys) != 1:
        return 400, b"missing Sec-WebSocket-Key"
    try:
        if len(base64.b64decode(keys[0], validate=True)) != 16:
            raise ValueError
    except (binascii.Error, ValueError):
        return 400, b"invalid Sec-WebSocket-Key"
    return None


def _accept_value(key: bytes) -> bytes:
    return base64.b64encode(hashlib.sha1(key + _ACCEPT_GUID).digest())


class H1WebSocket:
    """The rest of an HTTP/1.1 connection that became a WebSocket."""

    __slots__ = (
        "_closed",
        "_closing_since",
        "_early",
        "_going_away",
        "_info",
        "_input_paused",
        "_key",
        "_last_received",
        "_ping_sent_at",
        "_stream",
        "_waiter",
        "_write",
        "ctx",
        "deadline",
        "io",
        "write_paused",
    )

    def __init__(
        self,
        io: ConnectionIO,
        ctx: ServerContext,
        info: ConnectionInfo,
        head: RequestHead,
        raw_path: bytes,
        query: bytes,
        early: bytes,
    ) -> None:
        self.io = io
        self.ctx = ctx
        self._info = info
        self._write = io.write
        self._key = next(value for name, value in head.headers if name == b"sec-websocket-key")
        # Frames a client sent before its handshake was answered (it should not); nothing
        # more is read until the app has decided.
        self._early = early
        io.pause_reading()
        self._input_paused = False  # the app's unread messages filled request_body_buffer
        self._going_away = False
        self._closed = False
        self._waiter: Waiter | None = None
        self.write_paused = False
        self._last_received = ctx.now
        self._ping_sent_at: float | None = None
        self._closing_since: float | None = None
        self.deadline = INF
        scope = websocket_scope(ctx, info, "1.1", raw_path, query, head.headers)
        self._stream = WSStream(self, scope)
        io.start_app(self._stream.run(ctx.app))

    # --- input ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._last_received = self.ctx.now
        self._stream.feed(data)

    def eof_received(self) -> bool:
        self._stream.client_disconnected()
        return False

    def connection_lost(self) -> None:
        self._closed = True
        self.deadline = INF
        self._stream.client_disconnected()
        self._wake()

    def pause_writing(self) -> None:
        # Stop reading while the client is not reading: otherwise its Pings would make the
        # server queue Pongs without bound.
        self.write_paused = True
        self.io.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if not self._input_paused and self._stream.accepted:
            self.io.resume_reading()
        self._wake()

    # --- the WSOwner interface -----------------------------------------------------------

    def ws_accept(self, stream: WSStream, headers: list[tuple[bytes, bytes]]) -> None:
        if self._closed:
            return
        parts = [
            b"HTTP/1.1 101 Switching Protocols\r\n",
            self.ctx.default_headers,
            b"upgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ",
            _accept_value(self._key),
            b"\r\n",
        ]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        parts.append(b"\r\n")
        self._write(b"".join(parts))
        interval = self.ctx.config.websocket_ping_interval
        if interval:
            self.deadline = self.ctx.now + interval
        self.io.resume_reading()
        early, self._early = self._early, b""
        if early:
            stream.feed(early)
        if self._going_away:
            stream.going_away()  # accepted while the server shuts down: Close 1001 at once

    def ws_deny(self, stream: WSStream, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        if self._closed:
            return
        parts = [status_line(status), self.ctx.default_headers]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        # The body is delimited by the close that follows it (RFC 9112 §6.3).
        parts.append(b"connection: close\r\n\r\n")
        self._write(b"".join(parts))

    def ws_deny_body(self, stream: WSStream, body: bytes, more_body: bool) -> None:
        if self._closed:
            return
        if body:
            self._write(body)
        if not more_body:
            self._close()

    def ws_write(self, stream: WSStream, data: bytes) -> None:
        if not self._closed and data:
            self._write(data)

    def ws_end(self, stream: WSStream) -> None:
        # RFC 6455 §7.1.1: after the closing handshake the server closes TCP first.
        self._close()

    def pause_input(self, stream: WSStream) -> None:
        self._input_paused = True
        self.io.pause_reading()

    def resume_input(self, stream: WSStream) -> None:
        self._input_paused = False
        # While the server was not reading, the client's silence proved nothing: the ping
        # clock starts again now.
        now = self._last_received = self.ctx.now
        self._ping_sent_at = None
        interval = self.ctx.config.websocket_ping_interval
        if interval:
            self.deadline = min(self.deadline, now + interval)
        if not self.write_paused:
            self.io.resume_reading()

    def wait_writable(self, stream: WSStream) -> Waiter:
        waiter = self._waiter
        if waiter is None:
            waiter = self._waiter = self.io.create_waiter()
        if self._closed or not self.write_paused:
            self._wake()
        return waiter

    def ws_closing(self, stream: WSStream) -> None:
        self._closing_since = now = self.ctx.now
        self.deadline = min(self.deadline, now + self.ctx.config.websocket_ping_timeout)

    def app_finished(self, stream: WSStream) -> None:
        pass  # the closing handshake, not the app's return, ends the connection

    def create_waiter(self) -> Waiter:
        return self.io.create_waiter()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            waiter.wake()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self.deadline = INF
            self.io.close()

    # --- time ----------------------------------------------------------------------------

    def on_deadline(self, now: float) -> None:
        if self._closed:
            self.deadline = INF
            return
        config = self.ctx.config
        stream = self._stream
        timeout = config.websocket_ping_timeout
        if stream.closing:
            if self._closing_since is None:
                self._closing_since = now
            if now >= self._closing_since + timeout:
                stream.closing_timed_out()  # no Close in answer to ours: drop the connection
                self._close()
            else:
                self.deadline = self._closing_since + timeout
            return
        if not stream.accepted or self._input_paused:
            # Before the handshake, or while the app has not read what it has: the server is
            # not reading, so silence from the client is not the client's fault.
            self.deadline = INF
            return
        ping_sent = self._ping_sent_at
        if ping_sent is not None and self._last_received <= ping_sent:
            if now >= ping_sent + timeout:
                self.ctx.logger.info(
                    "Closing WebSocket from %s: no answer to Ping", peer_name(self._info)
                )
                stream.client_disconnected()
                self._close()
            else:
                self.deadline = ping_sent + timeout
            return
        self._ping_sent_at = None
        interval = config.websocket_ping_interval
        if not interval:
            self.deadline = INF
            return
        due = self._last_received + interval
        if now >= due:
            self._ping_sent_at = now
            stream.ping()
            self.deadline = now + timeout
        else:
            self.deadline = due

    def shutdown(self) -> None:
        """Server shutdown: Close 1001 (going away), then wait for the client's Close."""
        if self._closed:
            return
        self._going_away = True
        stream = self._stream
        if not stream.accepted:
            return  # the app is still deciding; an accept gets Close 1001 straight after
        stream.going_away()
