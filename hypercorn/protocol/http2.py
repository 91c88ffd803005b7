"""An HTTP/2 server connection (RFC 9113), sans-IO, on the ``h2`` state machine.

Bytes come in through :meth:`H2Connection.data_received`; ``h2`` turns them into events;
each request becomes an :class:`H2Stream` (the shared :class:`~.http_stream.HTTPStream` plus
its HTTP/2 bookkeeping) whose app runs concurrently with the others through
:meth:`ConnectionIO.start_app`. Output from every stream is framed by ``h2`` and written in
one ``transport.write`` per event-loop turn.

Flow control, both ways:

* Request bodies: received DATA is acknowledged (the window handed back) as the app's buffer
  has room; when a stream's app stops reading, its window closes and the client must stop.
  The connection-level window is sized so that paused streams cannot starve the others.
* Responses: an app's body goes out as far as the client's windows allow; the rest waits
  on the stream, and the app's ``send`` waits with it, so a client that never opens its
  window costs one pending message per stream, not unbounded memory. Streams waiting for
  window (or for a full socket buffer) are served in the order of the RFC 7540 priority
  tree the client describes (``priority``), one frame at a time.

Abuse is bounded by counting rather than by capping requests per connection: streams count
against ``SETTINGS_MAX_CONCURRENT_STREAMS`` until their app returns, not merely until the
client resets them (so rapid reset, CVE-2023-44487, and server-provoked resets,
CVE-2025-8671, cannot run more apps than the limit), resets that outpace completed
responses end the connection with ENHANCE_YOUR_CALM, and so do control frames (PING,
SETTINGS, PRIORITY, empty DATA, idle WINDOW_UPDATE) arriving faster than a steady budget.
"""

from __future__ import annotations

import contextlib
import re
import time
from typing import Any, cast
from urllib.parse import quote

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.frame_buffer
import h2.settings
import hpack
import hpack.hpack
import hpack.table
from h2.errors import ErrorCodes
from hyperframe.frame import GoAwayFrame
from priority.priority import (
    DeadlockError,
    DuplicateStreamError,
    MissingStreamError,
    PriorityError,
    PriorityTree,
)

from .context import ServerContext
from .http_stream import HTTPStream, ResponseInfo, connection_extensions, http_scope
from .interface import ConnectionInfo, ConnectionIO, Waiter, peer_name
from .ws_stream import WSStream, websocket_scope

__all__ = ["H2Connection", "H2Stream", "H2WebSocket"]

INF = float("inf")

# Outbound headers are built here from validated parts, so h2 need not check or normalise
# them again (a measurable share of its per-response cost).
_H2_CONFIG = h2.config.H2Configuration(
    client_side=False,
    header_encoding=None,
    validate_outbound_headers=False,
    normalize_outbound_headers=False,
    # Inbound fields are checked by _read_request, in one pass instead of h2's several.
    validate_inbound_headers=False,
    normalize_inbound_headers=True,
)

_STATUS = {status: str(status).encode("ascii") for status in range(100, 600)}


class _Unlogged:
    """Stands in for hpack's module loggers.

    hpack calls ``log.debug`` for every header it encodes or decodes — about twenty calls
    per request, 6-7% of this server's HTTP/2 time per request (measured with the sans-IO
    benchmark) — and at DEBUG level those lines would put every header, cookies included,
    into the log. Nothing of the server's own logging is affected.
    """

    __slots__ = ()

    def debug(self, *args: Any, **kwargs: Any) -> None:
        pass


hpack.hpack.log = _Unlogged()  # type: ignore[assignment]
hpack.table.log = _Unlogged()  # type: ignore[assignment]

# RFC 9113 §8.2.2: connection-specific fields must not appear in HTTP/2.
_CONNECTION_SPECIFIC = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

#: Control frames (PING, SETTINGS, PRIORITY, empty DATA, WINDOW_UPDATE with nothing waiting,
#: refused streams) a client may send in a burst, and per second after it. No browser or
#: HTTP/2 client library comes near either; a flood does (CVE-2019-9512/9515/9518).
FLOOD_BURST = 1000
FLOOD_RATE = 100.0

#: WINDOW_UPDATE frames banked by DATA frames sent (two each: stream and connection), at most.
MAX_WINDOW_CREDIT = 10000

#: Bytes of a WebSocket's output waiting for the client's window beyond which the server
#: stops opening that stream's receive window (so Pings cannot queue Pongs without bound).
WS_PENDING_LIMIT = 65536

#: Client resets (and streams the server had to reset) beyond completed responses that end
#: the connection, at the least; the limit is twice the concurrent-stream setting.
MIN_RESET_ALLOWANCE = 100

#: Nodes in the priority tree, counting placeholders clients create with PRIORITY frames;
#: priority signals beyond this are ignored (the streams still run, in default order).
MAX_PRIORITY_NODES = 1000


class _CompressionError(h2.exceptions.ProtocolError):
    """A header block that does not decode: RFC 9113 §4.3 makes it COMPRESSION_ERROR."""

    error_code = ErrorCodes.COMPRESSION_ERROR


class _Decoder(hpack.Decoder):
    """HPACK decoding whose failures carry the error code RFC 9113 §4.3 names.

    h2 reports every HPACK failure as PROTOCOL_ERROR; raising an h2 error of its own here,
    which h2 does not re-wrap, puts COMPRESSION_ERROR in the GOAWAY instead. An oversized
    header list is left to h2, which answers it with ENHANCE_YOUR_CALM.
    """

    def decode(self, data: bytes, raw: bool = False) -> Any:
        try:
            return super().decode(data, raw)
        except hpack.OversizedHeaderListError:
            raise
        except (hpack.HPACKError, IndexError, TypeError, UnicodeDecodeError) as exc:
            raise _CompressionError(f"cannot decode the header block: {exc}") from exc


class _FrameBuffer(h2.frame_buffer.FrameBuffer):
    """h2's frame reader, with two checks h2 leaves out."""

    connection: h2.connection.H2Connection

    def __next__(self) -> Any:
        data = self._data
        if len(data) >= 9:
            kind = data[3]
            if kind == 0x4 and data[4] & 0x1 and data[:3] != b"\0\0\0":
                # RFC 9113 §6.5: SETTINGS with ACK and a payload is FRAME_SIZE_ERROR (h2
                # would call it a PROTOCOL_ERROR).
                raise h2.exceptions.FrameTooLargeError("SETTINGS ACK with a payload")
            if kind == 0x1 and data[4] & 0x8 and len(data) >= 10:
                # RFC 9113 §6.2: padding that leaves no room for the priority fields and the
                # field block is a connection error (hyperframe forgets the priority fields).
                length = int.from_bytes(data[:3], "big")
                if 1 + (5 if data[4] & 0x20 else 0) + data[9] > length:
                    raise h2.exceptions.ProtocolError("HEADERS padding exceeds the payload")
            if kind == 0x3:
                # RFC 9113 §6.4: RST_STREAM on an idle stream is a connection error; h2
                # ignores it once any stream has been opened.
                stream_id = int.from_bytes(data[5:9], "big") & 0x7FFFFFFF
                conn = self.connection
                if stream_id % 2:
                    idle = stream_id > conn.highest_inbound_stream_id
                else:
                    idle = stream_id > conn.highest_outbound_stream_id
                if idle and stream_id:
                    raise h2.exceptions.ProtocolError("RST_STREAM on an idle stream")
        return super().__next__()


class _LocalSettings(h2.settings.Settings):
    """The server's settings, with h2's own concurrent-stream check disabled.

    h2 treats a stream beyond ``SETTINGS_MAX_CONCURRENT_STREAMS`` as a connection error;
    RFC 9113 §5.1.2 allows a stream error, which is kinder to a client that raced the
    setting, and :class:`H2Connection` counts streams until their app returns, which h2
    cannot. The advertised value still comes from the mapping, which this does not touch.
    """

    @property
    def max_concurrent_streams(self) -> int:
        return 2**31 - 1

    @max_concurrent_streams.setter
    def max_concurrent_streams(self, value: int) -> None:
        self[h2.settings.SettingCodes.MAX_CONCURRENT_STREAMS] = value


# What the connection tracks about each stream, request or WebSocket alike.
_STREAM_STATE = (
    "app_done",
    "body_paused",
    "end_pending",
    "ended",
    "no_body",
    "pending",
    "stream_id",
    "trailers",
    "unacked",
    "writable",
)


def _init_stream_state(stream: H2Stream | H2WebSocket, stream_id: int) -> None:
    stream.stream_id = stream_id
    #: Output not yet framed (waiting for window or for the socket).
    stream.pending = b""
    #: The stream ends once ``pending`` (and ``trailers``) are sent.
    stream.end_pending = False
    stream.trailers = None
    #: END_STREAM sent, or the stream reset: nothing more goes out.
    stream.ended = False
    stream.app_done = False
    #: HEAD, 204 and 304 responses carry no content (RFC 9110 §6.4.1).
    stream.no_body = False
    #: The app's buffer is full: received DATA is not acknowledged yet.
    stream.body_paused = False
    stream.unacked = 0
    stream.writable = None


class H2Stream(HTTPStream):
    """One request/response on an HTTP/2 connection."""

    __slots__ = _STREAM_STATE

    stream_id: int
    pending: bytes
    end_pending: bool
    trailers: list[tuple[bytes, bytes]] | None
    ended: bool
    app_done: bool
    no_body: bool
    body_paused: bool
    unacked: int
    writable: Waiter | None

    def __init__(
        self,
        owner: H2Connection,
        stream_id: int,
        scope: dict[str, Any],
        *,
        body_complete: bool,
        expect_continue: bool,
        started_at: float,
    ) -> None:
        super().__init__(
            owner,
            scope,
            body_complete=body_complete,
            expect_continue=expect_continue,
            started_at=started_at,
        )
        _init_stream_state(self, stream_id)


class H2WebSocket(WSStream):
    """A WebSocket on an HTTP/2 stream (RFC 8441 extended CONNECT)."""

    __slots__ = _STREAM_STATE

    stream_id: int
    pending: bytes
    end_pending: bool
    trailers: list[tuple[bytes, bytes]] | None
    ended: bool
    app_done: bool
    no_body: bool
    body_paused: bool
    unacked: int
    writable: Waiter | None

    def __init__(self, owner: H2Connection, stream_id: int, scope: dict[str, Any]) -> None:
        super().__init__(owner, scope)
        _init_stream_state(self, stream_id)


_AnyStream = H2Stream | H2WebSocket


class H2Connection:
    """One HTTP/2 connection, from preface to close."""

    __slots__ = (
        "_calm",
        "_closed",
        "_extensions",
        "_flood",
        "_flood_at",
        "_flush_scheduled",
        "_going_away",
        "_h2",
        "_idle_since",
        "_info",
        "_last_received",
        "_max_streams",
        "_ping_sent_at",
        "_preface_seen",
        "_priorities_off",
        "_ready",
        "_reset_allowance",
        "_reset_debt",
        "_stalled",
        "_streams",
        "_tree",
        "_window_credit",
        "_write",
        "_ws_closing",
        "_zombies",
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
        *,
        h2c_settings: bytes | None = None,
    ) -> None:
        self.io = io
        self.ctx = ctx
        self._info = info
        self._write = io.write
        config = ctx.config
        self._extensions = connection_extensions(info, push=True)
        self._max_streams = config.h2_max_concurrent_streams
        self._reset_allowance = max(MIN_RESET_ALLOWANCE, 2 * self._max_streams)
        self._streams: dict[int, _AnyStream] = {}
        #: Streams in ``_streams`` that are closed but whose apps have not returned.
        self._zombies = 0
        #: WebSockets waiting for the client's Close, with the time they stop waiting.
        self._ws_closing: dict[int, float] = {}
        #: Streams with output waiting and window to send it, by stream id.
        self._ready: dict[int, _AnyStream] = {}
        #: Streams with output waiting for a WINDOW_UPDATE.
        self._stalled: dict[int, _AnyStream] = {}
        #: The client's priority tree, built when it first signals a priority; until then
        #: (and if it overfills the tree) waiting streams take turns, a frame each.
        self._tree: PriorityTree | None = None
        self._priorities_off = False
        self._closed = False
        self._going_away = False
        self._calm = False
        self._flush_scheduled = False
        self._preface_seen = False
        self._flood = 0.0
        self._flood_at = ctx.now
        self._reset_debt = 0
        #: WINDOW_UPDATE frames the DATA sent so far may fairly be answered with.
        self._window_credit = 0
        self._last_received = ctx.now
        self._ping_sent_at: float | None = None
        self._idle_since = ctx.now
        self.write_paused = False
        #: A client must complete its preface as promptly as an HTTP/1.1 request head.
        self.deadline = ctx.now + ctx.request_head_timeout

        conn = self._h2 = h2.connection.H2Connection(config=_H2_CONFIG)
        codes = h2.settings.SettingCodes
        conn.local_settings = _LocalSettings(
            client=False,
            initial_values={
                codes.MAX_CONCURRENT_STREAMS: self._max_streams,
                codes.MAX_HEADER_LIST_SIZE: config.h2_max_header_list_size,
                codes.MAX_FRAME_SIZE: config.h2_max_inbound_frame_size,
                codes.INITIAL_WINDOW_SIZE: config.h2_initial_window_size,
                # RFC 8441 §3: WebSockets over HTTP/2 by extended CONNECT.
                codes.ENABLE_CONNECT_PROTOCOL: 1,
            },
        )
        conn.max_inbound_frame_size = config.h2_max_inbound_frame_size
        conn.decoder = _Decoder()
        conn.decoder.max_header_list_size = config.h2_max_header_list_size
        conn.incoming_buffer = buffer = _FrameBuffer(server=True)
        buffer.connection = conn
        if h2c_settings is None:
            conn.initiate_connection()
        else:
            conn.initiate_upgrade_connection(h2c_settings)
        # RFC 9113 §6.9.2: the connection window starts at 65,535 whatever the settings say.
        # Widen it to a full stream window for every concurrent stream, so that streams whose
        # apps are not reading (and whose windows are therefore closed) cannot use up the
        # connection's window and stall the rest.
        wanted = min(2**31 - 1, config.h2_initial_window_size * self._max_streams)
        if wanted > 65535:
            conn.increment_flow_control_window(wanted - 65535)
        self._flush()

    # --- input ---------------------------------------------------------------------------

    def data_received(self, data: bytes) -> None:
        if self._closed:
            return
        self._last_received = self.ctx.now
        try:
            events = self._h2.receive_data(data)
        except h2.exceptions.ProtocolError as exc:
            # h2 has queued the GOAWAY with the right error code (RFC 9113 §5.4.1).
            self.ctx.logger.info("HTTP/2 connection error from %s: %s", peer_name(self._info), exc)
            self._flush()
            self._close()
            return
        if not self._preface_seen and events and type(events[0]) is not _SETTINGS_EVENT:
            # RFC 9113 §3.4: the preface is the magic octets and then a SETTINGS frame.
            self._connection_error(ErrorCodes.PROTOCOL_ERROR, "preface without SETTINGS")
            return
        handlers = _HANDLERS
        for event in events:
            handler = handlers.get(type(event))
            if handler is not None:
                handler(self, event)
            if self._closed:
                return
        self._flush()

    def serve_upgraded_request(self, scope: dict[str, Any], body: bytes) -> None:
        """Run the request an h2c Upgrade arrived with, as stream 1 (RFC 7540 §3.2)."""
        scope["http_version"] = "2"
        scope["extensions"] = self._extensions.copy()
        stream = self._new_stream(1, scope, body_complete=True, expect_continue=False)
        if body:
            stream.feed_body(body)
        self._start(stream)
        self._flush()

    def _on_request(self, event: h2.events.RequestReceived) -> None:
        stream_id = event.stream_id
        if self._going_away or self._full():
            # RFC 9113 §5.1.2: a stream error the client may retry.
            self._reset(stream_id, ErrorCodes.REFUSED_STREAM)
            self._count_control()
            return
        if event.stream_ended is not None and _declares_content(event.headers):
            # RFC 9113 §8.1.1: a Content-Length the (absent) DATA frames cannot match.
            self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
            return
        try:
            method, path, protocol, headers, expect_continue = _read_request(event.headers)
        except _Malformed as exc:
            self._malformed(stream_id, str(exc))
            return
        raw_path, _, query = path.partition(b"?")
        if method == "CONNECT":
            if protocol.lower() == b"websocket":
                self._start_websocket(stream_id, raw_path, query, headers)
            else:
                # An ASGI app cannot be a tunnel (RFC 9113 §8.5), nor speak another protocol.
                self._answer(stream_id, 501)
            return
        scope = http_scope(
            self.ctx,
            self._info,
            "2",
            method,
            raw_path,
            query,
            headers,
            self._extensions,
        )
        stream = self._new_stream(
            stream_id,
            scope,
            body_complete=event.stream_ended is not None,
            expect_continue=expect_continue,
        )
        signal = event.priority_updated
        if signal is not None and (signal.depends_on or signal.weight != 16 or signal.exclusive):
            self._prioritise(signal)
        self._start(stream)

    def _pushed(self) -> int:
        """Server-initiated (pushed) streams still in progress."""
        return sum(1 for stream_id in self._streams if not stream_id % 2)

    def _full(self) -> bool:
        """Whether a new stream would exceed ``SETTINGS_MAX_CONCURRENT_STREAMS``.

        Open streams count as RFC 9113 §5.1.2 says. Streams that are closed but whose apps
        are still running (a client reset them, say) count too, up to the same number
        again: otherwise resetting streams (CVE-2023-44487) would start apps without bound.
        """
        total = len(self._streams)
        return total - self._zombies >= self._max_streams or total >= 2 * self._max_streams

    def _start_websocket(
        self, stream_id: int, raw_path: bytes, query: bytes, headers: list[tuple[bytes, bytes]]
    ) -> None:
        """RFC 8441 §4: a CONNECT with :protocol websocket opens a WebSocket on the stream."""
        versions = [value for name, value in headers if name == b"sec-websocket-version"]
        if versions != [b"13"]:
            # RFC 6455 §4.2.2, as RFC 8441 §5 keeps it: name the version served.
            fields = [(b":status", b"426"), (b"sec-websocket-version", b"13")]
            with contextlib.suppress(h2.exceptions.ProtocolError):
                self._h2.send_headers(stream_id, fields, end_stream=True)
            return
        scope = websocket_scope(self.ctx, self._info, "2", raw_path, query, headers)
        stream = H2WebSocket(self, stream_id, scope)
        self._register(stream)
        self._start(stream)

    def _new_stream(
        self, stream_id: int, scope: dict[str, Any], *, body_complete: bool, expect_continue: bool
    ) -> H2Stream:
        stream = H2Stream(
            self,
            stream_id,
            scope,
            body_complete=body_complete,
            expect_continue=expect_continue,
            started_at=time.perf_counter() if self.ctx.timing else 0.0,
        )
        self._register(stream)
        return stream

    def _register(self, stream: _AnyStream) -> None:
        self._streams[stream.stream_id] = stream
        metrics = self.ctx.metrics
        if metrics is not None:
            metrics.stream_opened()
        if self._tree is not None:
            self._plant(stream.stream_id)

    def _plant(self, stream_id: int) -> None:
        """Put a new stream into the priority tree, blocked until it has output."""
        tree = self._tree
        assert tree is not None
        try:
            tree.insert_stream(stream_id)
        except DuplicateStreamError:
            pass  # a PRIORITY frame placed it in the tree before it opened
        except PriorityError:
            # Placeholders filled the tree: take turns from now on rather than leave a
            # stream out of the tree (where it would never be scheduled).
            self._tree = None
            self._priorities_off = True
            return
        if stream_id not in self._ready:
            tree.block(stream_id)

    def _start(self, stream: _AnyStream) -> None:
        self.io.start_app(stream.run(self.ctx.app))
        interval = self.ctx.config.h2_ping_interval
        if interval:
            # With a request in progress, silence longer than this brings a PING.
            self.deadline = min(self.deadline, self._last_received + interval)

    def _on_data(self, event: h2.events.DataReceived) -> None:
        stream = self._streams.get(event.stream_id)
        size = event.flow_controlled_length
        data = event.data
        if not data and event.stream_ended is None:
            self._count_control()  # an empty DATA frame does nothing but cost
        if stream is None or stream.ended:
            self._h2.acknowledge_received_data(size, event.stream_id)
            return
        if data:
            if isinstance(stream, H2Stream):
                stream.feed_body(data)
            else:
                stream.feed(data)  # WebSocket frames (RFC 8441 §5)
        if stream.body_paused or (
            type(stream) is H2WebSocket and len(stream.pending) > WS_PENDING_LIMIT
        ):
            # The app is not reading, or (a WebSocket) the client is not taking our output:
            # its Pings would only queue Pongs. Keep the window shut until that changes.
            stream.unacked += size
        elif size:
            self._h2.acknowledge_received_data(size, event.stream_id)

    def _on_trailers(self, event: h2.events.TrailersReceived) -> None:
        # ASGI has no request trailers, but they must still be well formed (RFC 9113 §8.1):
        # no pseudo-headers, and the field rules of §8.2.1.
        for name, value in event.headers:
            if (
                not name
                or _BAD_NAME.search(name) is not None
                or (value and _BAD_VALUE.search(value) is not None)
            ):
                self._malformed(event.stream_id, f"invalid trailer field {name!r}")
                return

    def _malformed(self, stream_id: int, reason: str) -> None:
        """RFC 9113 §8.1.1: a stream error PROTOCOL_ERROR."""
        self.ctx.logger.debug(
            "Malformed HTTP/2 request from %s: %s", peer_name(self._info), reason
        )
        self._reset(stream_id, ErrorCodes.PROTOCOL_ERROR)
        stream = self._streams.get(stream_id)
        if stream is not None:
            self._stream_lost(stream)

    def _on_stream_ended(self, event: h2.events.StreamEnded) -> None:
        stream = self._streams.get(event.stream_id)
        if isinstance(stream, H2Stream):
            stream.end_body()
        elif stream is not None:
            # A WebSocket's client ended its side: no Close frame can follow any more.
            stream.client_disconnected()
            if not stream.ended:
                self._queue(stream, b"", True)
                self._schedule_flush()

    def _on_reset(self, event: h2.events.StreamReset) -> None:
        stream_id = event.stream_id
        stream = self._streams.get(stream_id)
        if stream is None:
            self._count_control()
            return
        # RST_STREAM from the client reaches the app as http.disconnect.
        self._stream_lost(stream)

    def _on_window_update(self, event: h2.events.WindowUpdated) -> None:
        stalled = self._stalled
        if not stalled or (event.stream_id and event.stream_id not in stalled):
            # Nothing waits for it. Clients hand back window as they consume DATA (a stream
            # and a connection update per frame, at most); beyond that it is a flood.
            if self._window_credit:
                self._window_credit -= 1
            else:
                self._count_control()
            return
        if event.stream_id == 0:
            self._ready.update(stalled)
            for stream_id in stalled:
                self._unblock(stream_id)
            stalled.clear()
        else:
            stream = stalled.pop(event.stream_id)
            self._ready[stream.stream_id] = stream
            self._unblock(stream.stream_id)
        # The data goes out when the whole read is processed (data_received flushes), so
        # that window updates arriving together are all seen before priorities are applied.

    def _on_settings(self, event: h2.events.RemoteSettingsChanged) -> None:
        if not self._preface_seen:
            self._preface_seen = True  # the preface ends with the client's SETTINGS
            self._idle_since = self.ctx.now
            self.deadline = self.ctx.now + self.ctx.keep_alive_timeout
        else:
            self._count_control()
        if h2.settings.SettingCodes.INITIAL_WINDOW_SIZE in event.changed_settings:
            # Every stream's window moved (RFC 9113 §6.9.2): retry the stalled ones.
            self._ready.update(self._stalled)
            for stream_id in self._stalled:
                self._unblock(stream_id)
            self._stalled.clear()

    def _on_priority(self, event: h2.events.PriorityUpdated) -> None:
        self._count_control()
        self._prioritise(event)

    def _prioritise(self, event: h2.events.PriorityUpdated) -> None:
        tree = self._tree
        if tree is None:
            if self._priorities_off:
                return
            tree = self._tree = PriorityTree(maximum_streams=MAX_PRIORITY_NODES)
            for known in self._streams:
                self._plant(known)
            if self._tree is None:
                return
        stream_id = cast(int, event.stream_id)
        depends_on = event.depends_on or 0
        weight = event.weight or 16
        exclusive = bool(event.exclusive)
        try:
            try:
                tree.reprioritize(stream_id, depends_on, weight, exclusive)
            except MissingStreamError:
                # A PRIORITY frame for an idle stream creates a placeholder (RFC 7540 §5.3.4).
                tree.insert_stream(stream_id, depends_on, weight, exclusive)
                tree.block(stream_id)
        except PriorityError:
            # A full tree, or a loop: keep scheduling by the tree as it stands.
            pass

    def _on_ping(self, event: h2.events.PingReceived) -> None:
        self._count_control()  # h2 has queued the PING ACK

    def _on_ping_ack(self, event: h2.events.PingAckReceived) -> None:
        self._ping_sent_at = None

    def _on_goaway(self, event: h2.events.ConnectionTerminated) -> None:
        # The client is leaving; h2 will frame nothing more, so the streams end here.
        for stream in list(self._streams.values()):
            self._stream_lost(stream)
        self._flush()
        self._close()

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
        h2_stream = cast(H2Stream, stream)
        if h2_stream.ended or self._closed:
            return
        ctx = self.ctx
        fields = [(b":status", _STATUS[status])]
        overridden = info.overridden
        if overridden is None:
            fields += ctx.default_header_list
        else:
            fields += [field for field in ctx.default_header_list if field[0] not in overridden]
        connection_specific = _CONNECTION_SPECIFIC
        for name, value in headers:
            lowered = name.lower()
            if lowered not in connection_specific:
                fields.append((lowered, value))
        if status in {204, 304} or stream.scope["method"] == "HEAD":
            h2_stream.no_body = True
            body = b""
        end = not body and not more_body
        if not self._send_headers(h2_stream, fields, end):
            return
        if not end:
            self._queue(h2_stream, body, not more_body)
        self._schedule_flush()

    def send_body(self, stream: HTTPStream, body: bytes, more_body: bool) -> None:
        h2_stream = cast(H2Stream, stream)
        if h2_stream.ended or self._closed:
            return
        if h2_stream.no_body:
            body = b""
        self._queue(h2_stream, body, not more_body)
        self._schedule_flush()

    def send_trailers(self, stream: HTTPStream, headers: list[tuple[bytes, bytes]]) -> None:
        h2_stream = cast(H2Stream, stream)
        if h2_stream.ended or self._closed:
            return
        fields = [(name.lower(), value) for name, value in headers]
        fields = [field for field in fields if field[0] not in _CONNECTION_SPECIFIC]
        h2_stream.trailers = fields
        self._queue(h2_stream, b"", True)
        self._schedule_flush()

    def send_continue(self, stream: HTTPStream) -> None:
        h2_stream = cast(H2Stream, stream)
        if not h2_stream.ended and not self._closed:
            self._send_headers(h2_stream, [(b":status", b"100")], False)
            self._schedule_flush()

    def send_early_hint(self, stream: HTTPStream, links: list[bytes]) -> None:
        h2_stream = cast(H2Stream, stream)
        if h2_stream.ended or self._closed or stream.response_started:
            return
        fields = [(b":status", b"103")] + [(b"link", link) for link in links]
        self._send_headers(h2_stream, fields, False)
        self._schedule_flush()

    def push(self, stream: HTTPStream, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        parent = cast(H2Stream, stream)
        conn = self._h2
        if (
            parent.ended
            or self._closed
            or self._going_away
            or not conn.remote_settings.enable_push
            or self._full()
            # RFC 9113 §5.1.2, §8.4: the pushed response would open a stream the client's
            # own SETTINGS_MAX_CONCURRENT_STREAMS has no room for.
            or self._pushed() >= conn.remote_settings.max_concurrent_streams
        ):
            return
        authority = next((v for k, v in parent.scope["headers"] if k == b"host"), b"")
        raw_target = quote(path, safe="/:@!$&'()*+,;=-._~%?").encode("ascii")
        fields = [(name.lower(), value) for name, value in headers]
        fields = [field for field in fields if field[0] not in _CONNECTION_SPECIFIC]
        request = [
            (b":method", b"GET"),
            (b":scheme", b"https" if self._info.tls is not None else b"http"),
            (b":authority", authority),
            (b":path", raw_target),
            *fields,
        ]
        promised = conn.get_next_available_stream_id()
        try:
            conn.push_stream(parent.stream_id, promised, request)
        except h2.exceptions.ProtocolError:
            return  # the client's stream limit, or the parent closed meanwhile
        raw_path, _, query = raw_target.partition(b"?")
        if authority:
            fields.insert(0, (b"host", authority))
        scope = http_scope(
            self.ctx, self._info, "2", "GET", raw_path, query, fields, self._extensions
        )
        pushed = self._new_stream(promised, scope, body_complete=True, expect_continue=False)
        self._start(pushed)
        self._schedule_flush()

    def request_body_wanted(self, stream: HTTPStream) -> None:
        pass  # flow control paces the body; PINGs find a client that has gone

    def pause_request_body(self, stream: HTTPStream) -> None:
        cast(H2Stream, stream).body_paused = True

    def resume_request_body(self, stream: HTTPStream) -> None:
        self._resume(cast(H2Stream, stream))

    def _resume(self, stream: _AnyStream) -> None:
        """The app has room again: hand back the window its unread data took."""
        stream.body_paused = False
        if stream.unacked and not self._closed:
            size, stream.unacked = stream.unacked, 0
            self._h2.acknowledge_received_data(size, stream.stream_id)
            self._schedule_flush()

    def abort_response(self, stream: HTTPStream) -> None:
        h2_stream = cast(H2Stream, stream)
        if not h2_stream.ended and not self._closed:
            self._reset(h2_stream.stream_id, ErrorCodes.INTERNAL_ERROR)
            self._finished_sending(h2_stream)
            self._schedule_flush()

    def wait_writable(self, stream: HTTPStream | WSStream) -> Waiter:
        h2_stream = cast(_AnyStream, stream)
        waiter = h2_stream.writable
        if waiter is None:
            waiter = h2_stream.writable = self.io.create_waiter()
        if self._closed or h2_stream.ended or not (stream.send_blocked or self.write_paused):
            self._wake(h2_stream)
        return waiter

    def app_finished(self, stream: HTTPStream | WSStream) -> None:
        h2_stream = cast(_AnyStream, stream)
        h2_stream.app_done = True
        if h2_stream.ended:
            self._zombies -= 1
            self._remove(h2_stream)

    def create_waiter(self) -> Waiter:
        return self.io.create_waiter()

    def call_soon(self, callback: Any) -> None:
        self.io.call_soon(callback)

    # --- WebSockets (the WSOwner interface) ----------------------------------------------

    def ws_accept(self, stream: WSStream, headers: list[tuple[bytes, bytes]]) -> None:
        ws = cast(H2WebSocket, stream)
        if not ws.ended and not self._closed:
            fields = [(b":status", b"200"), *self.ctx.default_header_list]
            fields += [(name.lower(), value) for name, value in headers]
            self._send_headers(ws, fields, False)
            self._schedule_flush()
            if self._going_away:
                ws.going_away()  # accepted while the server shuts down: Close 1001 at once

    def ws_deny(self, stream: WSStream, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        ws = cast(H2WebSocket, stream)
        if not ws.ended and not self._closed:
            fields = [(b":status", _STATUS[status]), *self.ctx.default_header_list]
            for name, value in headers:
                lowered = name.lower()
                if lowered not in _CONNECTION_SPECIFIC:
                    fields.append((lowered, value))
            self._send_headers(ws, fields, False)
            self._schedule_flush()

    def ws_deny_body(self, stream: WSStream, body: bytes, more_body: bool) -> None:
        ws = cast(H2WebSocket, stream)
        if not ws.ended and not self._closed:
            self._queue(ws, body, not more_body)
            self._schedule_flush()

    def ws_write(self, stream: WSStream, data: bytes) -> None:
        ws = cast(H2WebSocket, stream)
        if not ws.ended and not self._closed and data:
            self._queue(ws, data, False)
            self._schedule_flush()

    def ws_end(self, stream: WSStream) -> None:
        ws = cast(H2WebSocket, stream)
        if not ws.ended and not self._closed:
            self._queue(ws, b"", True)
            self._schedule_flush()

    def ws_closing(self, stream: WSStream) -> None:
        # The client has websocket_ping_timeout to answer the server's Close.
        limit = self.ctx.now + self.ctx.config.websocket_ping_timeout
        self._ws_closing[cast(H2WebSocket, stream).stream_id] = limit
        self.deadline = min(self.deadline, limit)

    def pause_input(self, stream: WSStream) -> None:
        cast(H2WebSocket, stream).body_paused = True

    def resume_input(self, stream: WSStream) -> None:
        self._resume(cast(H2WebSocket, stream))

    # --- framing and scheduling ----------------------------------------------------------

    def _send_headers(
        self, stream: _AnyStream, fields: list[tuple[bytes, bytes]], end: bool
    ) -> bool:
        try:
            self._h2.send_headers(stream.stream_id, fields, end_stream=end)
        except h2.exceptions.ProtocolError:
            # h2 closed the stream itself (the client broke a stream rule): the app has lost
            # its client, and that counts against the connection like a reset.
            self._stream_lost(stream)
            return False
        if end:
            self._finished_sending(stream)
        return True

    def _queue(self, stream: _AnyStream, body: bytes, end: bool) -> None:
        if body:
            stream.pending = stream.pending + body if stream.pending else body
        elif not end:
            return
        if end:
            stream.end_pending = True
        stream_id = stream.stream_id
        if stream_id in self._stalled:
            return
        if stream_id not in self._ready:
            self._ready[stream_id] = stream
            self._unblock(stream_id)
        if self.write_paused:
            stream.send_blocked = bool(stream.pending)
            return
        # Nothing else waits: frame it now (priorities matter only when streams queue).
        if len(self._ready) == 1:
            self._send_ready()
        else:
            stream.send_blocked = True

    def _send_ready(self) -> None:
        """Frame waiting output while there is window, stream by stream in priority order."""
        ready = self._ready
        while ready and not self.write_paused:
            tree = self._tree
            if len(ready) == 1 or tree is None:
                stream_id = next(iter(ready))
            else:
                try:
                    stream_id = next(tree)
                except DeadlockError:  # pragma: no cover - every ready stream is unblocked
                    stream_id = next(iter(ready))
                if stream_id not in ready:  # pragma: no cover - a placeholder node
                    self._block(stream_id)
                    continue
            stream = ready[stream_id]
            if self._send_frame(stream, once=len(ready) > 1):
                if tree is None:
                    ready[stream_id] = ready.pop(stream_id)  # to the back of the queue
                continue
            if ready.pop(stream_id, None) is not None:
                self._block(stream_id)

    def _send_frame(self, stream: _AnyStream, *, once: bool) -> bool:
        """Send some of ``stream``'s output. Returns whether it can send more right now."""
        conn = self._h2
        stream_id = stream.stream_id
        while stream.pending:
            try:
                window = conn.local_flow_control_window(stream_id)
            except h2.exceptions.ProtocolError:  # reset meanwhile
                self._stream_lost(stream)
                return False
            if window <= 0:
                self._stalled[stream_id] = stream
                stream.send_blocked = True
                return False
            data = stream.pending
            size = min(window, conn.max_outbound_frame_size, len(data))
            stream.pending = data[size:] if size < len(data) else b""
            last = not stream.pending and stream.end_pending and stream.trailers is None
            try:
                conn.send_data(stream_id, data[:size] if size < len(data) else data, last)
            except h2.exceptions.ProtocolError:
                self._stream_lost(stream)
                return False
            if self._window_credit < MAX_WINDOW_CREDIT:
                self._window_credit += 2
            if last:
                self._finished_sending(stream)
                return False
            if once and stream.pending:
                return True
        stream.send_blocked = False
        self._wake(stream)
        if stream.unacked and not stream.body_paused:
            self._resume(stream)  # output drained: hand back the window held for it
        if stream.end_pending and not stream.ended:
            if stream.trailers is not None:
                self._send_headers(stream, stream.trailers, True)
            else:
                try:
                    conn.end_stream(stream_id)
                except h2.exceptions.ProtocolError:
                    self._stream_lost(stream)
                    return False
                self._finished_sending(stream)
        return False

    def _block(self, stream_id: int) -> None:
        if self._tree is not None:
            with contextlib.suppress(PriorityError):
                self._tree.block(stream_id)

    def _unblock(self, stream_id: int) -> None:
        if self._tree is not None:
            with contextlib.suppress(PriorityError):
                self._tree.unblock(stream_id)

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled and not self._closed:
            self._flush_scheduled = True
            self.io.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self._closed:
            return
        if self._ready and not self.write_paused:
            self._send_ready()
        data = self._h2.data_to_send()
        if data:
            self._write(data)

    def _reset(self, stream_id: int, code: ErrorCodes) -> None:
        with contextlib.suppress(h2.exceptions.ProtocolError):  # already closed
            self._h2.reset_stream(stream_id, code)

    def _answer(self, stream_id: int, status: int) -> None:
        """Answer a request the app never sees, with an empty response."""
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.send_headers(stream_id, [(b":status", _STATUS[status])], end_stream=True)

    # --- stream lifecycle ----------------------------------------------------------------

    def _finished_sending(self, stream: _AnyStream) -> None:
        """END_STREAM (or RST_STREAM) is out: nothing more is sent on ``stream``."""
        stream.ended = True
        stream.pending = b""
        stream.send_blocked = False
        stream_id = stream.stream_id
        if self._ready.pop(stream_id, None) is not None:
            self._block(stream_id)
        self._stalled.pop(stream_id, None)
        self._wake(stream)
        if stream.response_complete and not stream.disconnected:
            if self._reset_debt:
                self._reset_debt -= 1
            if not stream.body_complete:
                # RFC 9113 §8.1: the response is complete before the request; tell the client
                # to stop sending the rest. Nothing more will arrive for a receive() either.
                self._reset(stream_id, ErrorCodes.NO_ERROR)
                if isinstance(stream, H2Stream):
                    stream.client_done_sending()
        if stream.app_done:
            self._remove(stream)
        else:
            self._zombies += 1  # closed, but its app is still running

    def _stream_lost(self, stream: _AnyStream) -> None:
        """The client reset ``stream`` (or made h2 close it) before its response ended."""
        if not stream.ended and not stream.response_complete:
            self._reset_debt += 1
            if self._reset_debt > self._reset_allowance and not self._calm:
                self._calm_down(
                    f"{self._reset_debt} streams reset beyond completed responses (rapid reset)"
                )
        stream.client_disconnected()
        self._finished_sending(stream)

    def _remove(self, stream: _AnyStream) -> None:
        stream_id = stream.stream_id
        if self._streams.pop(stream_id, None) is None:
            return
        metrics = self.ctx.metrics
        if metrics is not None:
            metrics.stream_closed()
        if self._tree is not None:
            with contextlib.suppress(PriorityError):
                self._tree.remove_stream(stream_id)
        if not self._streams:
            if self._going_away:
                self._schedule_flush()
                self.io.call_soon(self._close)
                return
            self._idle_since = self.ctx.now
            self.deadline = min(self.deadline, self._idle_since + self.ctx.keep_alive_timeout)

    def _wake(self, stream: _AnyStream) -> None:
        waiter = stream.writable
        if waiter is not None:
            stream.writable = None
            waiter.wake()

    # --- abuse ---------------------------------------------------------------------------

    def _count_control(self) -> None:
        """One more frame that makes the server work without serving a request."""
        now = self.ctx.now
        score = self._flood - (now - self._flood_at) * FLOOD_RATE
        self._flood = (score if score > 0 else 0.0) + 1.0
        self._flood_at = now
        if self._flood > FLOOD_BURST and not self._calm:
            self._calm_down("control frames arriving faster than the server serves requests")

    def _connection_error(self, code: ErrorCodes, reason: str) -> None:
        """A protocol violation h2 does not catch itself: GOAWAY with ``code``, then close."""
        self.ctx.logger.info("HTTP/2 connection error from %s: %s", peer_name(self._info), reason)
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.close_connection(code)
        self._flush()
        for stream in list(self._streams.values()):
            stream.client_disconnected()
            self._wake(stream)
        self._close()

    def _calm_down(self, reason: str) -> None:
        """GOAWAY ENHANCE_YOUR_CALM (RFC 9113 §5.4.1, §10.5), logged once, then close."""
        self._calm = True
        self.ctx.logger.warning(
            "Closing HTTP/2 connection from %s: %s", peer_name(self._info), reason
        )
        with contextlib.suppress(h2.exceptions.ProtocolError):
            self._h2.close_connection(ErrorCodes.ENHANCE_YOUR_CALM)
        self._flush()
        for stream in list(self._streams.values()):
            stream.client_disconnected()
            self._wake(stream)
        self._close()

    # --- flow control from the transport -------------------------------------------------

    def pause_writing(self) -> None:
        # Stop reading too: a client that does not read cannot make the server queue
        # answers to its PINGs and SETTINGS (CVE-2019-9512, -9515).
        self.write_paused = True
        self.io.pause_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        if self._closed:
            return
        self.io.resume_reading()
        self._send_ready()
        self._flush()
        for stream in list(self._streams.values()):
            if not stream.send_blocked:
                self._wake(stream)

    # --- the end -------------------------------------------------------------------------

    def eof_received(self) -> bool:
        # A client that half-closes an HTTP/2 connection sends no more frames, not even
        # the acknowledgements the responses need; end it.
        for stream in list(self._streams.values()):
            stream.client_disconnected()
            self._wake(stream)
        return False

    def connection_lost(self) -> None:
        self._closed = True
        self.deadline = INF
        streams = list(self._streams.values())
        self._streams.clear()  # the apps may run on, but the streams are gone
        metrics = self.ctx.metrics
        for stream in streams:
            stream.client_disconnected()
            self._wake(stream)
            if metrics is not None:
                metrics.stream_closed()
        self._ready.clear()
        self._stalled.clear()

    def _close(self) -> None:
        if not self._closed:
            self._closed = True
            self.deadline = INF
            self.io.close()

    def _expire_closing(self, now: float) -> None:
        """End WebSockets whose clients did not answer the server's Close in time."""
        for stream_id, limit in list(self._ws_closing.items()):
            stream = self._streams.get(stream_id)
            if stream is None or not isinstance(stream, H2WebSocket) or not stream.closing:
                del self._ws_closing[stream_id]
            elif now >= limit:
                del self._ws_closing[stream_id]
                stream.closing_timed_out()
        self._flush()

    def shutdown(self) -> None:
        """Graceful shutdown: GOAWAY naming the last stream, then finish the open ones.

        The GOAWAY is framed here rather than by h2, which would refuse to send anything
        after it, including the rest of the responses RFC 9113 §6.8 lets the server finish.
        """
        if self._closed or self._going_away:
            return
        self._going_away = True
        self._flush()
        goaway = GoAwayFrame(0)
        goaway.last_stream_id = self._h2.highest_inbound_stream_id
        goaway.error_code = ErrorCodes.NO_ERROR
        self._write(goaway.serialize())
        for stream in list(self._streams.values()):
            if isinstance(stream, H2WebSocket):
                stream.going_away()  # Close 1001 (RFC 6455 §7.4.1)
        self._flush()
        if not self._streams:
            self._close()

    def on_deadline(self, now: float) -> None:
        if self._ws_closing and not self._closed:
            self._expire_closing(now)
        self._on_deadline(now)
        if self._ws_closing and not self._closed:
            self.deadline = min(self.deadline, *self._ws_closing.values())

    def _on_deadline(self, now: float) -> None:
        if self._closed:
            self.deadline = INF
            return
        ctx = self.ctx
        if not self._preface_seen:
            if now >= self.deadline:
                ctx.logger.info(
                    "Closing connection from %s: HTTP/2 preface not received in time",
                    peer_name(self._info),
                )
                self._close()
            return
        ping_sent = self._ping_sent_at
        if ping_sent is not None:
            limit = ping_sent + ctx.config.h2_ping_timeout
            if now >= limit:
                ctx.logger.info(
                    "Closing HTTP/2 connection from %s: no answer to PING",
                    peer_name(self._info),
                )
                for stream in list(self._streams.values()):
                    stream.client_disconnected()
                    self._wake(stream)
                self._close()
            else:
                self.deadline = limit
            return
        if not self._streams:
            limit = self._idle_since + ctx.keep_alive_timeout
            if now >= limit:
                with contextlib.suppress(h2.exceptions.ProtocolError):
                    self._h2.close_connection(ErrorCodes.NO_ERROR)
                self._flush()
                self._close()
            else:
                self.deadline = limit
            return
        interval = ctx.config.h2_ping_interval
        if not interval:
            self.deadline = INF
            return
        due = max(self._last_received, self._idle_since) + interval
        if now >= due:
            self._ping_sent_at = now
            self._h2.ping(b"hypercrn")
            self._flush()
            self.deadline = now + ctx.config.h2_ping_timeout
        else:
            self.deadline = due


class _Malformed(Exception):
    """A request header block RFC 9113 §8.1.1 calls malformed; the message says why."""


# RFC 9113 §8.2.1: no field name holds 0x00-0x20, an upper-case letter, 0x7f-0xff or a colon
# (pseudo-header names aside); no value holds NUL, CR or LF, or starts or ends with SP/HTAB.
_BAD_NAME = re.compile(rb"[\x00-\x20A-Z\x7f-\xff:]")
_BAD_VALUE = re.compile(rb"[\x00\n\r]|\A[ \t]|[ \t]\Z")
_TOKEN = re.compile(rb"[-!#$%&'*+.^_`|~0-9A-Za-z]+")
_REQUEST_PSEUDO = frozenset({b":method", b":scheme", b":authority", b":path", b":protocol"})
_METHOD_NAMES: dict[bytes, str] = {}


def _read_request(
    fields: Any,
) -> tuple[str, bytes, bytes, list[tuple[bytes, bytes]], bool]:
    """Check a request header block (RFC 9113 §8.2, §8.3) in one pass and take it apart.

    Returns the method, :path, :protocol, the regular fields (with ``host`` first when it
    came as :authority) and whether ``Expect: 100-continue`` was sent. Raises
    :class:`_Malformed`. This replaces h2's own inbound validation, which runs a chain of
    generators over every field and cost about a fifth of the time h2 spends per request.
    """
    pseudo: dict[bytes, bytes] = {}
    headers: list[tuple[bytes, bytes]] = []
    host: bytes | None = None
    expect_continue = False
    bad_value = _BAD_VALUE.search
    for name, value in fields:
        if value and bad_value(value) is not None:
            raise _Malformed(f"invalid value in {name!r}")
        if name[:1] == b":":
            if headers:
                raise _Malformed(f"pseudo-header {name!r} after a regular field")
            if name not in _REQUEST_PSEUDO or name in pseudo:
                raise _Malformed(f"unexpected or repeated pseudo-header {name!r}")
            pseudo[name] = value
            continue
        if not name or _BAD_NAME.search(name) is not None:
            raise _Malformed(f"invalid field name {name!r}")
        if name in _CONNECTION_SPECIFIC:
            raise _Malformed(f"connection-specific field {name!r}")
        if name == b"te":
            if value.lower() != b"trailers":
                raise _Malformed("TE other than trailers")
        elif name == b"host":
            if host is not None:
                raise _Malformed("more than one Host")
            host = value
        elif name == b"expect" and value.lower() == b"100-continue":
            expect_continue = True
        headers.append((name, value))
    method = pseudo.get(b":method")
    if method is None:
        raise _Malformed("no :method")
    method_name = _METHOD_NAMES.get(method)
    if method_name is None:
        if _TOKEN.fullmatch(method) is None:
            raise _Malformed("invalid :method")
        method_name = method.decode("ascii")
        if len(_METHOD_NAMES) < 64:
            _METHOD_NAMES[method] = method_name
    protocol = pseudo.get(b":protocol", b"")
    path = pseudo.get(b":path")
    if method == b"CONNECT" and not protocol:
        # RFC 9113 §8.5: a plain CONNECT has only :method and :authority.
        if b":scheme" in pseudo or path is not None:
            raise _Malformed("CONNECT with :scheme or :path")
        if b":authority" not in pseudo:
            raise _Malformed("CONNECT without :authority")
    else:
        if protocol and method != b"CONNECT":
            raise _Malformed(":protocol outside CONNECT")
        if b":scheme" not in pseudo or not path:
            raise _Malformed("no :scheme or no (or an empty) :path")
    authority = pseudo.get(b":authority")
    if authority is not None:
        if host is None:
            # RFC 9113 §8.3.1: :authority stands for Host; ASGI apps read Host.
            headers.insert(0, (b"host", authority))
        elif host != authority:
            raise _Malformed(":authority and Host disagree")
    elif host is None:
        raise _Malformed("neither :authority nor Host")
    return method_name, path or b"", protocol, headers, expect_continue


def _declares_content(headers: Any) -> bool:
    """Whether request headers carry a non-zero Content-Length."""
    return any(name == b"content-length" and value.strip(b"0") for name, value in headers)


_SETTINGS_EVENT = h2.events.RemoteSettingsChanged

_HANDLERS: dict[type, Any] = {
    h2.events.RequestReceived: H2Connection._on_request,
    h2.events.DataReceived: H2Connection._on_data,
    h2.events.StreamEnded: H2Connection._on_stream_ended,
    h2.events.TrailersReceived: H2Connection._on_trailers,
    h2.events.StreamReset: H2Connection._on_reset,
    h2.events.WindowUpdated: H2Connection._on_window_update,
    h2.events.RemoteSettingsChanged: H2Connection._on_settings,
    h2.events.PriorityUpdated: H2Connection._on_priority,
    h2.events.PingReceived: H2Connection._on_ping,
    h2.events.PingAckReceived: H2Connection._on_ping_ack,
    h2.events.ConnectionTerminated: H2Connection._on_goaway,
}
