"""An HTTP/1.1 server connection (RFC 9112), sans-IO.

Bytes come in through :meth:`H1Connection.data_received`; the parser backend turns them into
events; each request head becomes an :class:`~.http_stream.HTTPStream` whose app runs through
:meth:`ConnectionIO.start_app`; responses go out through :meth:`ConnectionIO.write`, one write
per ASGI message where possible. Requests are answered strictly in order: a pipelined request
waits (with reading paused) until the one before it is answered.

Timeouts are deadlines, not timers: the connection keeps :attr:`H1Connection.deadline`, the
I/O layer scans every connection once per tick and calls :meth:`H1Connection.on_deadline`
for those past it. Arming a timeout therefore costs one attribute store on the hot path, and
a wake-up that turns out early just sets the next deadline.
"""

from __future__ import annotations

import base64
import binascii
import re
import time
from collections import deque
from typing import Any

from .context import LINGER_SECONDS, STATUS_LINES, ServerContext
from .events import END_OF_MESSAGE, ParseFailure, RequestHead
from .h1_parse import create_parser
from .http_stream import (
    APP_CLOSE,
    HTTPStream,
    ResponseInfo,
    connection_extensions,
    http_scope,
)
from .interface import ConnectionInfo, ConnectionIO, Waiter, peer_name
from .ws_h1 import handshake_problem

__all__ = ["MAX_PIPELINE", "H1Connection"]

INF = float("inf")

#: Requests parsed ahead of the one being answered. A read can hold many small pipelined
#: requests; past this many the connection answers those it has and then closes, which
#: RFC 9112 §9.3.2 lets clients recover from by retrying, instead of holding each one.
MAX_PIPELINE = 32


_STATUS_LINES = STATUS_LINES

_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_EARLY_HINTS = b"HTTP/1.1 103 Early Hints\r\n"
_SWITCH_TO_H2C = b"HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: h2c\r\n\r\n"

#: What a client speaking HTTP/2 with prior knowledge sends first (RFC 9113 §3.4). No
#: HTTP/1.1 method is "PRI", so its first four bytes decide.
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
_H2_SNIFF = H2_PREFACE[:4]

# Response framing.
_NO_BODY, _LENGTH, _CHUNKED, _UNTIL_CLOSE = range(4)

# Reasons reading is paused.
_PAUSE_PIPELINE = 1
_PAUSE_BODY = 2

_ABSOLUTE_RE = re.compile(rb"[A-Za-z][A-Za-z0-9+.-]*://([^/?#]*)([^?#]*)(?:\?([^#]*))?")


class H1Connection:
    """One HTTP/1.1 connection, from first byte to close."""

    __slots__ = (
        "_accepting",
        "_body_clock",
        "_closed",
        "_drain_waiter",
        "_eof",
        "_extensions",
        "_finishing",
        "_framing",
        "_h2c",
        "_head_started",
        "_idle_until",
        "_info",
        "_input_done",
        "_keep_alive",
        "_last_body_at",
        "_lingering",
        "_parser",
        "_paused",
        "_pipeline",
        "_rate_bytes",
        "_rate_start",
        "_receiving",
        "_response_keep_alive",
        "_sniff",
        "_stream",
        "_write",
        "ctx",
        "deadline",
        "io",
        "write_paused",
    )

    def __init__(self, io: ConnectionIO, ctx: ServerContext, info: ConnectionInfo) -> None:
        self.io = io
        self.ctx = ctx
        self._write = io.write
        self._parser = create_parser(ctx.http_parser, ctx.limits)
        self._info = info
        self._extensions = connection_extensions(info)
        #: The first bytes may still turn out to be an HTTP/2 preface (h2c prior knowledge).
        self._sniff: bytes | None = b"" if ctx.http2 and info.tls is None else None
        #: An ``Upgrade: h2c`` request whose body is being collected before the switch.
        self._h2c: _H2cUpgrade | None = None
        #: The stream whose response is being produced (the head of the line).
        self._stream: HTTPStream | None = None
        #: Whether the connection may persist after the current response.
        self._keep_alive = True
        self._response_keep_alive = True
        self._framing = _NO_BODY
        #: The stream whose request body is still arriving.
        self._receiving: HTTPStream | None = None
        #: Requests (or a parse failure) waiting for their turn, with their keep-alive flag.
        self._pipeline: deque[tuple[HTTPStream | ParseFailure, bool]] = deque()
        #: False once no further request will be started (close requested, failure, EOF).
        self._accepting = True
        #: True once nothing more will be read as HTTP; later input is discarded.
        self._input_done = False
        self._closed = False
        self._finishing = False
        self._lingering = False
        self._eof = False
        self._paused = 0
        self.write_paused = False
        self._drain_waiter: Waiter | None = None
        self._body_clock = False
        self._last_body_at = 0.0
        self._rate_start = 0.0
        self._rate_bytes = 0
        # A fresh connection must send its first request within the head timeout.
        self._head_started: float | None = None
        self._idle_until = ctx.now + ctx.request_head_timeout
        #: When :meth:`on_deadline` next needs calling (coarse monotonic time).
        self.deadline = self._idle_until

    # --- input ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._input_done:
            return  # answered, closing, or lingering: the rest is not read as HTTP
        if self._sniff is not None:
            data = self._sniff_preface(data)
            if not data:
                return
        self._handle(self._parser.feed(data))

    def _handle(self, events: list[Any]) -> None:
        start: HTTPStream | None = None
        for event in events:
            if self._input_done:
                break  # the last request this connection serves is fully read
            kind = type(event)
            if kind is bytes:
                stream = self._receiving
                if stream is not None:
                    stream.feed_body(event)
                    self._last_body_at = self.ctx.now
                    self._rate_bytes += len(event)
                elif self._h2c is not None:
                    self._h2c.body.append(event)
            elif kind is RequestHead:
                if not self._accepting:
                    # RFC 9112 §9.6: nothing after a request that closes the connection is
                    # processed, so a request smuggled in behind it never reaches the app.
                    self._input_done = True
                    break
                stream = self._on_request(event)
                if stream is not None:
                    start = stream
            elif event is END_OF_MESSAGE:
                if self._h2c is not None:
                    self._switch_to_h2c()
                    return
                self._on_end_of_message()
            else:
                self._on_parse_failure(event)
                break
        if start is not None:
            self.io.start_app(start.run(self.ctx.app))
        if self._parser.holding and not self._input_done:
            # An upgrade request this connection did not switch on: what followed it is
            # HTTP/1.1 after all.
            self._handle(self._parser.release())
            return
        if self._parser.head_in_progress:
            if self._head_started is None:
                now = self.ctx.now
                self._head_started = now
                self.deadline = min(self.deadline, now + self.ctx.request_head_timeout)
        else:
            self._head_started = None

    def _sniff_preface(self, data: bytes) -> bytes:
        """Hand the connection to HTTP/2 if it opens with the preface; else return the bytes."""
        seen = self._sniff + data  # type: ignore[operator]
        if len(seen) < len(_H2_SNIFF) and _H2_SNIFF.startswith(seen):
            self._sniff = seen  # too short to tell yet
            return b""
        self._sniff = None
        if not seen.startswith(_H2_SNIFF):
            return seen
        from .http2 import H2Connection

        self._input_done = True
        self._accepting = False
        self.deadline = INF
        connection = H2Connection(self.io, self.ctx, self._info)
        self.io.switch_protocol(connection)
        connection.data_received(seen)
        return b""

    def _on_request(self, head: RequestHead) -> HTTPStream | None:
        if head.upgrade is not None:
            tokens = _tokens(head.upgrade)
            if b"websocket" in tokens:
                self._on_websocket(head)
                return None
            if b"h2c" in tokens and self._wants_h2c(head):
                self._h2c = _H2cUpgrade(head)
                self._accepting = False
                return None
        body_complete = not head.chunked and not head.content_length
        stream = HTTPStream(
            self,
            self._build_scope(head),
            body_complete=body_complete,
            expect_continue=head.expect_continue,
            started_at=time.perf_counter() if self.ctx.timing else 0.0,
        )
        if not head.keep_alive:
            self._accepting = False
        if not body_complete:
            self._receiving = stream
        if self._stream is None:
            self._stream = stream
            self._keep_alive = head.keep_alive
            if not body_complete and not head.expect_continue:
                self._start_body_clock()
            return stream
        self._pipeline.append((stream, head.keep_alive))
        self._pause(_PAUSE_PIPELINE)
        if len(self._pipeline) >= MAX_PIPELINE:
            self._accepting = False
        return None

    def _on_end_of_message(self) -> None:
        stream = self._receiving
        if stream is not None:
            self._receiving = None
            self._body_clock = False
            stream.end_body()
        if not self._accepting:
            self._input_done = True

    def _on_parse_failure(self, failure: ParseFailure) -> None:
        self._accepting = False
        self._input_done = True
        self.ctx.logger.info(
            "Rejected request from %s with %d: %s",
            self._peer(),
            failure.status,
            failure.reason,
        )
        broken = self._receiving
        if broken is not None:
            # The body of a request already handed to an app turned out malformed.
            self._receiving = None
            self._body_clock = False
            if broken is self._stream:
                self._cut_short(broken, failure.status)
                return
            self._pipeline = deque(item for item in self._pipeline if item[0] is not broken)
        if self._stream is None and not self._pipeline:
            self._write_error(failure.status)
            self._finish()
        else:
            self._pipeline.append((failure, False))

    def _peer(self) -> str:
        return peer_name(self._info)

    def _on_websocket(self, head: RequestHead) -> None:
        """Hand the connection to a WebSocket, or refuse the handshake (RFC 6455 §4.2)."""
        problem = handshake_problem(head)
        if problem is None and (self._stream is not None or self._pipeline):
            problem = 400, b"a WebSocket handshake pipelined behind another request"
        if problem is not None:
            status, reason = problem
            self._on_parse_failure(ParseFailure(status, reason.decode("ascii")))
            return
        from .ws_h1 import H1WebSocket

        self._input_done = True
        self._accepting = False
        self.deadline = INF
        raw_path, query, headers = self._split_target(head)
        early = self._parser.take_held() if self._parser.holding else b""
        websocket = H1WebSocket(
            self.io, self.ctx, self._info, head._replace(headers=headers), raw_path, query, early
        )
        self.io.switch_protocol(websocket)

    def _split_target(self, head: RequestHead) -> tuple[bytes, bytes, list[tuple[bytes, bytes]]]:
        """The raw path, query and headers a request target makes (RFC 9112 §3.2)."""
        target = head.target
        headers = head.headers
        if target[:1] == b"/":
            if b"#" in target:
                target = target.partition(b"#")[0]
            raw_path, _, query = target.partition(b"?")
        elif target == b"*":
            raw_path, query = b"*", b""
        else:
            # RFC 9112 §3.2.2: with an absolute-form target the authority in it, not the
            # Host header, names the host.
            match = _ABSOLUTE_RE.match(target)
            assert match is not None  # the parser accepted only http(s)://
            authority, raw_path, query = match[1], match[2] or b"/", match[3] or b""
            headers = [(b"host", authority)] + [h for h in headers if h[0] != b"host"]
        return raw_path, query, headers

    def _build_scope(self, head: RequestHead) -> dict[str, Any]:
        raw_path, query, headers = self._split_target(head)
        return http_scope(
            self.ctx,
            self._info,
            head.http_version,
            head.method,
            raw_path,
            query,
            headers,
            self._extensions,
        )

    # --- h2c Upgrade (RFC 7540 §3.2; deprecated by RFC 9113 §3.1 but still sent by curl) --

    def _wants_h2c(self, head: RequestHead) -> bool:
        """Whether to answer this request by switching the connection to HTTP/2."""
        if not self.ctx.http2 or self._info.tls is not None or head.http_version != "1.1":
            return False
        if b"h2c" not in _tokens(head.upgrade or b""):
            return False
        # The request is answered over HTTP/2 after the 101, so it must be the only one in
        # flight, and its body is held in memory until then: only a small, sized one.
        if self._stream is not None or self._pipeline or head.chunked:
            return False
        if head.content_length > self.ctx.request_body_buffer:
            return False
        settings = [value for name, value in head.headers if name == b"http2-settings"]
        connection_tokens = _tokens(
            b",".join(value for name, value in head.headers if name == b"connection")
        )
        # RFC 7540 §3.2.1: exactly one HTTP2-Settings, named in Connection too.
        if len(settings) != 1 or b"http2-settings" not in connection_tokens:
            return False
        try:
            base64.urlsafe_b64decode(settings[0])
        except (binascii.Error, ValueError):
            return False
        return True

    def _switch_to_h2c(self) -> None:
        from .http2 import H2Connection

        upgrade = self._h2c
        assert upgrade is not None
        self._h2c = None
        self._input_done = True
        self.deadline = INF
        head = upgrade.head
        headers = [
            (name, value)
            for name, value in head.headers
            if name not in (b"connection", b"upgrade", b"http2-settings")
        ]
        settings = next(value for name, value in head.headers if name == b"http2-settings")
        self._write(_SWITCH_TO_H2C)
        connection = H2Connection(self.io, self.ctx, self._info, h2c_settings=settings)
        self.io.switch_protocol(connection)
        scope = self._build_scope(head._replace(headers=headers))
        connection.serve_upgraded_request(scope, b"".join(upgrade.body))
        rest = self._parser.take_held() if self._parser.holding else b""
        if rest:
            connection.data_received(rest)

    def eof_received(self) -> bool:
        """The client will send nothing more. Returns True to keep writing responses."""
        self._eof = True
        if self._lingering or self._closed:
            return False
        self._accepting = False
        self._input_done = True
        broken = self._receiving
        if broken is not None:
            # A request body cut off mid-way can never be completed.
            self._receiving = None
            self._body_clock = False
            if broken is self._stream:
                self._cut_short(broken, 400)
                return True
        stream = self._stream
        if stream is None and not self._pipeline:
            return False
        if stream is not None:
            stream.client_done_sending()
        # A half-closed client may still read its responses; keep writing, close after.
        return True

    def connection_lost(self) -> None:
        self._closed = True
        self._input_done = True
        self._accepting = False
        self.deadline = INF
        for stream in (self._stream, self._receiving):
            if stream is not None:
                stream.client_disconnected()
        for item, _ in self._pipeline:
            if isinstance(item, HTTPStream):
                item.client_disconnected()
        self._pipeline.clear()
        self._wake_writers()

    # --- output (the StreamOwner interface) ----------------------------------------------

    def send_head(
        self,
        stream: HTTPStream,
        status: int,
        headers: list[tuple[bytes, bytes]],
        info: ResponseInfo,
        body: bytes,
        more_body: bool,
    ) -> None:
        if self._closed or stream is not self._stream:
            return  # the client has gone; the stream already knows
        ctx = self.ctx
        overridden = info.overridden
        parts = [
            _STATUS_LINES[status],
            ctx.default_headers if overridden is None else ctx.default_headers_without(overridden),
        ]
        for name, value in headers:
            parts += (name, b": ", value, b"\r\n")
        scope = stream.scope
        http10 = scope["http_version"] == "1.0"
        keep_alive = (
            self._keep_alive
            and (self._accepting or bool(self._pipeline))
            and not ctx.shutting_down
            and not info.flags & APP_CLOSE
        )
        if status in {204, 304} or scope["method"] == "HEAD":
            # RFC 9110 §6.4.1: no body. A HEAD response gets the length a GET would have.
            framing = _NO_BODY
            if info.content_length is None and not more_body and status not in {204, 304}:
                parts.append(b"content-length: %d\r\n" % len(body))
            body = b""
        elif info.content_length is not None:
            framing = _LENGTH
        elif not more_body:
            framing = _LENGTH
            parts.append(b"content-length: %d\r\n" % len(body))
        elif not http10:
            framing = _CHUNKED
            parts.append(b"transfer-encoding: chunked\r\n")
        else:
            framing = _UNTIL_CLOSE  # RFC 9112 §6.3: an HTTP/1.0 client reads until close
            keep_alive = False
        if not keep_alive:
            parts.append(b"connection: close\r\n")
        elif http10:
            parts.append(b"connection: keep-alive\r\n")
        parts.append(b"\r\n")
        if body:
            if framing == _CHUNKED:
                parts += (b"%x\r\n" % len(body), body, b"\r\n")
            else:
                parts.append(body)
        if framing == _CHUNKED and not more_body:
            parts.append(b"0\r\n\r\n")
        self._write(b"".join(parts))
        self._framing = framing
        self._response_keep_alive = keep_alive
        if not more_body:
            self._response_complete(stream)

    def send_body(self, stream: HTTPStream, body: bytes, more_body: bool) -> None:
        if self._closed or stream is not self._stream:
            return
        framing = self._framing
        if framing == _CHUNKED:
            if body:
                tail = b"\r\n" if more_body else b"\r\n0\r\n\r\n"
                self._write(b"".join((b"%x\r\n" % len(body), body, tail)))
            elif not more_body:
                self._write(b"0\r\n\r\n")
        elif body and framing != _NO_BODY:
            self._write(body)
        if not more_body:
            self._response_complete(stream)

    def send_trailers(self, stream: HTTPStream, headers: list[tuple[bytes, bytes]]) -> None:
        if self._closed or stream is not self._stream:
            return
        if self._framing == _CHUNKED:
            # RFC 9112 §7.1.2: trailer fields follow the last chunk, but only for a client
            # that said it accepts them (TE: trailers, RFC 9110 §10.1.4).
            parts = [b"0\r\n"]
            if _accepts_trailers(stream.scope["headers"]):
                for name, value in headers:
                    parts += (name, b": ", value, b"\r\n")
            parts.append(b"\r\n")
            self._write(b"".join(parts))
        self._response_complete(stream)

    def send_continue(self, stream: HTTPStream) -> None:
        if stream is self._stream and not self._closed:
            self._write(_CONTINUE)
            if stream is self._receiving:
                self._start_body_clock()

    def send_early_hint(self, stream: HTTPStream, links: list[bytes]) -> None:
        # RFC 8297 §3: HTTP/1.0 clients may not understand 1xx responses.
        if (
            stream is not self._stream
            or self._closed
            or stream.response_started
            or stream.scope["http_version"] == "1.0"
        ):
            return
        parts = [_EARLY_HINTS]
        for link in links:
            parts += (b"link: ", link, b"\r\n")
        parts.append(b"\r\n")
        self._write(b"".join(parts))

    def push(self, stream: HTTPStream, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        pass  # HTTP/1.1 has no server push

    def app_finished(self, stream: HTTPStream) -> None:
        pass  # the response's completion, not the app's return, moves the connection on

    def request_body_wanted(self, stream: HTTPStream) -> None:
        if stream is self._receiving and not self._body_clock and not self._paused:
            self._start_body_clock()

    def pause_request_body(self, stream: HTTPStream) -> None:
        self._pause(_PAUSE_BODY)

    def resume_request_body(self, stream: HTTPStream) -> None:
        self._resume(_PAUSE_BODY)

    def abort_response(self, stream: HTTPStream) -> None:
        if self._closed:
            return
        if stream is self._stream:
            self._stream = None
        self._accepting = False
        self._input_done = True
        self._pipeline.clear()
        self.io.close()

    def wait_writable(self, stream: HTTPStream) -> Waiter:
        waiter = self._drain_waiter
        if waiter is None:
            waiter = self._drain_waiter = self.io.create_waiter()
        if self._closed or not self.write_paused:
            self._wake_writers()
        return waiter

    def create_waiter(self) -> Waiter:
        return self.io.create_waiter()

    def call_soon(self, callback: Any) -> None:
        self.io.call_soon(callback)

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        self._wake_writers()

    def _wake_writers(self) -> None:
        waiter = self._drain_waiter
        if waiter is not None:
            self._drain_waiter = None
            waiter.wake()

    # --- between responses ---------------------------------------------------------------

    def _response_complete(self, stream: HTTPStream) -> None:
        self._stream = None
        if not self._response_keep_alive:
            self._finish()
            return
        if stream is self._receiving:
            # The app answered without reading the whole body. Reading the rest to find the
            # next request is worth it only when little is left.
            remaining = -1
            content_length = _content_length(stream)
            if content_length >= 0:
                remaining = content_length - stream.bytes_received
            if 0 <= remaining <= self.ctx.request_body_buffer:
                stream.discard_body()
            else:
                self._finish()
                return
        self._next_in_line()

    def _next_in_line(self) -> None:
        if self._pipeline:
            item, keep_alive = self._pipeline.popleft()
            if not self._pipeline:
                self._resume(_PAUSE_PIPELINE)
            if isinstance(item, ParseFailure):
                self._write_error(item.status)
                self._finish()
                return
            self._stream = item
            self._keep_alive = keep_alive
            if item is self._receiving and not item.body_complete:
                self._start_body_clock()
            self.io.start_app(item.run(self.ctx.app))
        elif not self._accepting or self._input_done:
            self._finish()
        else:
            self._resume(_PAUSE_PIPELINE)
            now = self.ctx.now
            self._idle_until = now + self.ctx.keep_alive_timeout
            if self._head_started is None:
                self.deadline = self._idle_until

    def _finish(self) -> None:
        """No more exchanges here: close, lingering if the client may still be sending."""
        if self._finishing or self._closed:
            return
        self._finishing = True
        self._accepting = False
        self._input_done = True
        self._body_clock = False
        self._pipeline.clear()
        if not self._eof and self.io.shutdown_write():
            # Keep reading (and discarding) briefly so unread client data does not turn our
            # close into a reset that destroys the response before the client reads it.
            self._lingering = True
            self._paused = 0
            self.io.resume_reading()
            self.deadline = self.ctx.now + LINGER_SECONDS
        else:
            self.io.close()

    def _cut_short(self, stream: HTTPStream, status: int) -> None:
        """End an exchange the client broke: an error response if still possible, then close."""
        started = stream.response_started
        stream.response_finished_elsewhere()
        if not started and stream is self._stream:
            self._write_error(status)
        self._stream = None
        self._finish()

    def _write_error(self, status: int) -> None:
        phrase = _STATUS_LINES[status][13:-2]
        body = phrase + b"\n"
        self._write(
            b"".join(
                (
                    _STATUS_LINES[status],
                    self.ctx.default_headers,
                    # RFC 6455 §4.2.2: a refused WebSocket version names the one served.
                    b"sec-websocket-version: 13\r\n" if status == 426 else b"",
                    b"content-type: text/plain; charset=utf-8\r\n",
                    b"content-length: %d\r\n" % len(body),
                    b"connection: close\r\n\r\n",
                    body,
                )
            )
        )

    # --- flow control and deadlines ------------------------------------------------------

    def _pause(self, reason: int) -> None:
        if not self._paused:
            self.io.pause_reading()
            self._body_clock = False
        self._paused |= reason

    def _resume(self, reason: int) -> None:
        if self._paused & reason:
            self._paused &= ~reason
            if not self._paused:
                self.io.resume_reading()
                stream = self._receiving
                if stream is not None and stream is self._stream:
                    self._start_body_clock()

    def _start_body_clock(self) -> None:
        now = self.ctx.now
        self._body_clock = True
        self._last_body_at = now
        self._rate_start = now
        self._rate_bytes = 0
        self.deadline = min(
            self.deadline,
            now + min(self.ctx.request_body_timeout, self.ctx.request_body_min_rate_grace or INF),
        )

    def on_deadline(self, now: float) -> None:
        """Called by the I/O layer once :attr:`deadline` has passed."""
        if self._closed:
            self.deadline = INF
            return
        ctx = self.ctx
        if self._lingering:
            self.deadline = INF
            self.io.close()
            return
        if self._head_started is not None:
            limit = self._head_started + ctx.request_head_timeout
            if now >= limit:
                self._head_timed_out()
            else:
                self.deadline = limit
            return
        if self._body_clock and self._receiving is not None:
            if now - self._last_body_at >= ctx.request_body_timeout:
                self._body_timed_out("request body stalled")
                return
            elapsed = now - self._rate_start
            min_rate = ctx.request_body_min_rate
            if not min_rate:
                next_check = INF
            elif elapsed < ctx.request_body_min_rate_grace:
                next_check = self._rate_start + ctx.request_body_min_rate_grace
            elif self._rate_bytes < min_rate * elapsed:
                self._body_timed_out("request body arriving too slowly")
                return
            else:
                next_check = now + 1.0
            self.deadline = min(next_check, self._last_body_at + ctx.request_body_timeout)
            return
        if self._stream is None and not self._pipeline and self._receiving is None:
            if now >= self._idle_until:
                self.deadline = INF
                self._finish_idle()
            else:
                self.deadline = self._idle_until
            return
        self.deadline = INF  # an app is working; nothing to time

    def _head_timed_out(self) -> None:
        self.ctx.logger.info(
            "Closing connection from %s: request head not received in time", self._peer()
        )
        self.deadline = INF
        self._head_started = None
        self._accepting = False
        self._input_done = True
        if self._stream is None and not self._pipeline:
            self._write_error(408)
            self.io.close()
        # else: the responses in flight finish, then the connection closes

    def _body_timed_out(self, reason: str) -> None:
        self.ctx.logger.info("Closing connection from %s: %s", self._peer(), reason)
        self.deadline = INF
        stream = self._receiving
        assert stream is not None
        self._receiving = None
        self._body_clock = False
        self._cut_short(stream, 408)

    def _finish_idle(self) -> None:
        self._accepting = False
        self._input_done = True
        self.io.close()

    def shutdown(self) -> None:
        """Graceful shutdown: finish the exchange in progress, start no other."""
        if self._closed or self._finishing:
            return
        self._accepting = False
        dropped = [item for item, _ in self._pipeline if isinstance(item, HTTPStream)]
        self._pipeline.clear()
        for stream in dropped:
            stream.client_disconnected()
        if self._stream is None and self._receiving is None:
            self._input_done = True
            self.io.close()

    @property
    def idle(self) -> bool:
        return self._stream is None and not self._pipeline and self._receiving is None


class _H2cUpgrade:
    """An ``Upgrade: h2c`` request being read before the connection switches to HTTP/2."""

    __slots__ = ("body", "head")

    def __init__(self, head: RequestHead) -> None:
        self.head = head
        self.body: list[bytes] = []


def _tokens(value: bytes) -> list[bytes]:
    return [token.strip().lower() for token in value.split(b",")]


def _accepts_trailers(headers: list[tuple[bytes, bytes]]) -> bool:
    return any(name == b"te" and b"trailers" in _tokens(value) for name, value in headers)


def _content_length(stream: HTTPStream) -> int:
    for name, value in stream.scope["headers"]:
        if name == b"content-length":
            return int(value)
    return -1
