"""A small blocking HTTP/2 client that sends raw frames and checks what the server sends back.

The client does only what a test asks, frame by frame, with two exceptions an RFC requires of
any client: it acknowledges the server's SETTINGS (RFC 9113 §6.5.3) and answers the server's
PINGs (§6.7). Everything the server sends is parsed with ``hyperframe``, header blocks are
decoded with ``hpack``, and each frame is checked against the rules a server must follow
whatever the test (frame size, flow-control windows, no frames after END_STREAM, no pushes
when push is disabled, contiguous header blocks). A break of those raises ``ServerViolation``.

Tests then state what they expect with ``expect_*`` methods, which read frames until the
expected one arrives, the connection closes, or ``timeout`` seconds pass. Frames that an
expectation does not consume stay queued for the next one, in order.
"""

from __future__ import annotations

import socket
import ssl
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol
from urllib.parse import urlsplit

import hpack
import hpack.exceptions
from hyperframe.exceptions import HyperframeError
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    Frame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)

from . import hpack_raw
from .frames import (
    DEFAULT_MAX_FRAME_SIZE,
    DEFAULT_WINDOW_SIZE,
    PREFACE,
    ErrorCode,
    Flag,
    FrameType,
    Setting,
    error_name,
    frame,
    goaway_payload,
    padded,
    priority_fields,
    rst_stream_payload,
    settings_payload,
    window_update_payload,
)

HeaderList = Sequence[tuple[str | bytes, str | bytes]]

# RFC 9113 §6.5.2: the value of each setting until the peer says otherwise.
SETTING_DEFAULTS = {
    Setting.HEADER_TABLE_SIZE: 4096,
    Setting.ENABLE_PUSH: 1,
    Setting.INITIAL_WINDOW_SIZE: DEFAULT_WINDOW_SIZE,
    Setting.MAX_FRAME_SIZE: DEFAULT_MAX_FRAME_SIZE,
    Setting.ENABLE_CONNECT_PROTOCOL: 0,
}

# RFC 9113 §8.2.2: fields that mark a message as malformed in HTTP/2.
CONNECTION_SPECIFIC_FIELDS = frozenset(
    {b"connection", b"keep-alive", b"proxy-connection", b"transfer-encoding", b"upgrade"}
)

# RFC 9113 §6: the flags each frame type defines; anything else must be sent as zero (§4.1).
DEFINED_FLAGS: dict[int, int] = {
    FrameType.DATA: Flag.END_STREAM | Flag.PADDED,
    FrameType.HEADERS: Flag.END_STREAM | Flag.END_HEADERS | Flag.PADDED | Flag.PRIORITY,
    FrameType.PRIORITY: Flag.NONE,
    FrameType.RST_STREAM: Flag.NONE,
    FrameType.SETTINGS: Flag.ACK,
    FrameType.PUSH_PROMISE: Flag.END_HEADERS | Flag.PADDED,
    FrameType.PING: Flag.ACK,
    FrameType.GOAWAY: Flag.NONE,
    FrameType.WINDOW_UPDATE: Flag.NONE,
    FrameType.CONTINUATION: Flag.END_HEADERS,
}

DEFAULT_TIMEOUT = 2.0
# What the client announces unless a test says otherwise: push off, so a PUSH_PROMISE is a
# violation (RFC 9113 §6.5.2); everything else at the RFC defaults.
DEFAULT_SETTINGS: tuple[tuple[int, int], ...] = ((Setting.ENABLE_PUSH, 0),)


class ServerViolation(AssertionError):
    """The server sent something no server may send, whatever the test was doing."""


class ExpectationFailed(AssertionError):
    """The server did not do what the test expected (wrong frame, wrong code, or a timeout)."""


@dataclass(frozen=True)
class Target:
    """Where the server under test listens, and how to talk to it."""

    host: str
    port: int
    tls: bool = False
    # A CA bundle to verify the server's certificate against; None turns verification off.
    ca_file: str | None = None
    # The name for SNI and certificate checks; the host when None.
    server_name: str | None = None

    @classmethod
    def parse(cls, spec: str, *, ca_file: str | None = None) -> Target:
        """``h2c://HOST:PORT`` (cleartext, prior knowledge) or ``h2://HOST:PORT`` (TLS, ALPN h2).

        ``http://`` and ``https://`` are accepted as synonyms.
        """
        parts = urlsplit(spec)
        schemes = {"h2c": False, "http": False, "h2": True, "https": True}
        if parts.scheme not in schemes or parts.hostname is None or parts.port is None:
            raise ValueError(f"expected h2c://HOST:PORT or h2://HOST:PORT, got {spec!r}")
        return cls(parts.hostname, parts.port, schemes[parts.scheme], ca_file=ca_file)

    @property
    def scheme(self) -> str:
        """The :scheme of requests to this target."""
        return "https" if self.tls else "http"

    @property
    def authority(self) -> str:
        """The :authority of requests to this target."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    def __str__(self) -> str:
        return f"{'h2' if self.tls else 'h2c'}://{self.authority}"


@dataclass(frozen=True)
class HeaderBlock:
    """A complete, decoded field block: HEADERS (or PUSH_PROMISE) plus its CONTINUATIONs."""

    stream_id: int
    headers: tuple[tuple[bytes, bytes], ...]
    end_stream: bool
    promised_stream_id: int | None = None

    def get(self, name: bytes) -> bytes | None:
        """The first value of field ``name``, or None."""
        return next((value for key, value in self.headers if key == name), None)

    @property
    def status(self) -> int | None:
        """The :status of a response block, as an int."""
        value = self.get(b":status")
        return int(value) if value is not None and value.isdigit() else None


class _Closed:
    """The connection-closed event: the server closed (or reset) the TCP connection."""

    def __repr__(self) -> str:
        return "connection closed"


CLOSED = _Closed()
Event = Frame | HeaderBlock | _Closed


@dataclass
class Response:
    """A complete response on one stream."""

    stream_id: int
    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    trailers: tuple[tuple[bytes, bytes], ...] | None = None
    informational: list[HeaderBlock] = field(default_factory=list)
    data_frames: list[DataFrame] = field(default_factory=list)

    def get(self, name: bytes) -> bytes | None:
        """The first value of response field ``name``, or None."""
        return next((value for key, value in self.headers if key == name), None)


@dataclass(frozen=True)
class Priority:
    """Priority fields of HEADERS and PRIORITY (RFC 9113 §5.3.1, §6.3); weight is 1..256."""

    depends_on: int = 0
    weight: int = 16
    exclusive: bool = False

    def encode(self) -> bytes:
        return priority_fields(self.depends_on, self.weight, exclusive=self.exclusive)


def describe(event: Event) -> str:
    """One line naming an event, for failure messages."""
    if isinstance(event, _Closed):
        return "connection closed"
    if isinstance(event, HeaderBlock):
        kind = "PUSH_PROMISE" if event.promised_stream_id is not None else "HEADERS"
        fields = ", ".join(f"{k.decode(errors='replace')}: {v!r}" for k, v in event.headers[:6])
        more = ", ..." if len(event.headers) > 6 else ""
        end = ", END_STREAM" if event.end_stream else ""
        return f"{kind}(stream={event.stream_id}{end}; {fields}{more})"
    if isinstance(event, DataFrame):
        end = ", END_STREAM" if "END_STREAM" in event.flags else ""
        return f"DATA(stream={event.stream_id}, {event.flow_controlled_length} octets{end})"
    if isinstance(event, RstStreamFrame):
        return f"RST_STREAM(stream={event.stream_id}, {error_name(event.error_code)})"
    if isinstance(event, GoAwayFrame):
        debug = f", debug={event.additional_data!r}" if event.additional_data else ""
        code = error_name(event.error_code)
        return f"GOAWAY(last_stream_id={event.last_stream_id}, {code}{debug})"
    if isinstance(event, SettingsFrame):
        if "ACK" in event.flags:
            return "SETTINGS(ACK)"
        values = ", ".join(f"{_setting_name(k)}={v}" for k, v in event.settings.items())
        return f"SETTINGS({values})"
    if isinstance(event, PingFrame):
        ack = "ACK, " if "ACK" in event.flags else ""
        return f"PING({ack}{event.opaque_data!r})"
    if isinstance(event, WindowUpdateFrame):
        return f"WINDOW_UPDATE(stream={event.stream_id}, +{event.window_increment})"
    return repr(event)


def _setting_name(identifier: int) -> str:
    try:
        return Setting(identifier).name
    except ValueError:
        return f"0x{identifier:x}"


def _to_bytes(value: str | bytes) -> bytes:
    return value.encode("latin-1") if isinstance(value, str) else value


def _normalise(headers: HeaderList) -> list[tuple[bytes, bytes]]:
    return [(_to_bytes(name), _to_bytes(value)) for name, value in headers]


class H2Client:
    """One HTTP/2 connection to the server under test. Not thread-safe; one test, one client."""

    def __init__(
        self, sock: socket.socket, target: Target, *, timeout: float = DEFAULT_TIMEOUT
    ) -> None:
        self.sock = sock
        self.target = target
        self.timeout = timeout
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        # Set when a hand-built block may have changed the server's HPACK table behind the
        # back of self.encoder (hpack_raw incremental indexing or size updates).
        self.encoder_out_of_sync = False
        self.closed = False
        self.history: list[Event] = []
        self.server_settings: dict[int, int] = {}
        self.goaway: GoAwayFrame | None = None
        # Answer what the RFC obliges every client to answer (§6.5.3 SETTINGS ACK, §6.7 PING).
        self.auto_ack = True
        # Give back receive window after each DATA frame; off by default so that tests decide.
        self.auto_window_update = False
        # h2spec's leniency: a GOAWAY with the wrong error code still passes an error
        # expectation if the connection then closes. Off by default: RFC 9113 names the code.
        self.lenient_codes = False
        self._buffer = bytearray()
        self._inbox: deque[Event] = deque()
        self._send_failed = False
        self._highest_stream_id = 0
        self._ping_counter = 0
        # Our settings: applied once the server acknowledged them, queued until then.
        self.local_settings: dict[int, int] = {}
        self._pending_local: deque[list[tuple[int, int]]] = deque()
        # A field block the server has started but not finished (RFC 9113 §6.10).
        self._open_block: tuple[int, bool, int | None, list[bytes]] | None = None
        self._server_ended: set[int] = set()
        # Receive windows, as granted by us (RFC 9113 §6.9): what the server may send.
        self._granted_conn = 0
        self._consumed_conn = 0
        self._granted: defaultdict[int, int] = defaultdict(int)
        self._consumed: defaultdict[int, int] = defaultdict(int)
        # Send windows, as granted by the server: what we may send without breaking §6.9.
        self.send_conn_window = DEFAULT_WINDOW_SIZE
        self._send_stream_windows: dict[int, int] = {}

    # -- connecting --------------------------------------------------------------------------

    @classmethod
    def open(cls, target: Target, *, timeout: float = DEFAULT_TIMEOUT) -> H2Client:
        """A TCP (h2c) or TLS (ALPN h2) connection to ``target``; nothing sent yet."""
        sock = socket.create_connection((target.host, target.port), timeout=max(timeout, 5.0))
        # Tests depend on each frame reaching the server when it is sent, not coalesced.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if target.tls:
            try:
                sock = tls_context(target).wrap_socket(
                    sock, server_hostname=target.server_name or target.host
                )
            except BaseException:
                sock.close()
                raise
            if sock.selected_alpn_protocol() != "h2":
                protocol = sock.selected_alpn_protocol()
                sock.close()
                raise ExpectationFailed(f"the server did not negotiate ALPN h2 (got {protocol})")
        return cls(sock, target, timeout=timeout)

    def handshake(
        self,
        settings: Sequence[tuple[int, int]] = DEFAULT_SETTINGS,
        *,
        wait_for_ack: bool = True,
    ) -> None:
        """Send the preface and SETTINGS; read the server's SETTINGS (RFC 9113 §3.4) and, unless
        told not to, wait for the server to acknowledge ours."""
        self.send(PREFACE)
        self.send_settings(*settings)
        first = self.wait_for(lambda _: True, "the server's connection preface (SETTINGS)")
        if not isinstance(first, SettingsFrame) or "ACK" in first.flags:
            raise ServerViolation(
                "RFC 9113 §3.4: the server connection preface must be a SETTINGS frame first,"
                f" got {describe(first)}"
            )
        if wait_for_ack:
            self.expect_settings_ack()

    def close(self) -> None:
        """Close the socket (no GOAWAY: tests that want one send it)."""
        self.sock.close()

    # -- sending -----------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """Raw bytes. A server that already closed makes writes fail; that is not an error
        here, since the test then looks for the close or the GOAWAY that preceded it."""
        if self._send_failed:
            return
        try:
            self.sock.sendall(data)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self._send_failed = True

    def send_frame(
        self,
        frame_type: int,
        payload: bytes = b"",
        *,
        flags: int = 0,
        stream_id: int = 0,
        reserved: bool = False,
        length: int | None = None,
    ) -> None:
        """Any frame, built by hand (see ``frames.frame``)."""
        self.send(
            frame(
                frame_type,
                payload,
                flags=flags,
                stream_id=stream_id,
                reserved=reserved,
                length=length,
            )
        )

    def next_stream_id(self) -> int:
        """The next unused client stream identifier (odd, increasing; RFC 9113 §5.1.1)."""
        return self._highest_stream_id + 2 if self._highest_stream_id else 1

    def request_headers(
        self, method: str = "GET", path: str = "/", extra: HeaderList = ()
    ) -> list[tuple[bytes, bytes]]:
        """The four request pseudo-headers (RFC 9113 §8.3.1), then ``extra``."""
        headers = [
            (b":method", method.encode()),
            (b":scheme", self.target.scheme.encode()),
            (b":path", path.encode()),
            (b":authority", self.target.authority.encode()),
        ]
        return headers + _normalise(extra)

    def encode(self, headers: HeaderList) -> bytes:
        """A field block from the client's HPACK encoder (which tracks the dynamic table)."""
        if self.encoder_out_of_sync:
            raise RuntimeError(
                "a hand-built block changed the server's HPACK table; the encoder cannot be used"
            )
        return self.encoder.encode(_normalise(headers), huffman=True)

    def send_headers(
        self,
        stream_id: int,
        headers: HeaderList,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        raw: bool = False,
        pad_length: int | None = None,
        priority: Priority | None = None,
        extra_flags: int = 0,
        reserved: bool = False,
    ) -> bytes:
        """A HEADERS frame (split into CONTINUATIONs when larger than the server's frame size).

        ``raw`` encodes every field as a literal without indexing, bytes exactly as given, so
        that invalid fields reach the server; otherwise the hpack encoder is used. Returns the
        field block.
        """
        block = hpack_raw.literal_block(_normalise(headers)) if raw else self.encode(headers)
        self.send_header_block(
            stream_id,
            block,
            end_stream=end_stream,
            end_headers=end_headers,
            pad_length=pad_length,
            priority=priority,
            extra_flags=extra_flags,
            reserved=reserved,
        )
        return block

    def send_header_block(
        self,
        stream_id: int,
        block: bytes,
        *,
        end_stream: bool = True,
        end_headers: bool = True,
        pad_length: int | None = None,
        priority: Priority | None = None,
        extra_flags: int = 0,
        reserved: bool = False,
        changes_table: bool = False,
    ) -> None:
        """HEADERS carrying an already encoded ``block``; ``changes_table`` marks a hand-built
        block that alters the server's dynamic table (the encoder is then out of sync)."""
        if changes_table:
            self.encoder_out_of_sync = True
        if stream_id % 2 == 1:
            self._highest_stream_id = max(self._highest_stream_id, stream_id)
        limit = self.server_setting(Setting.MAX_FRAME_SIZE)
        overhead = (5 if priority else 0) + (1 + pad_length if pad_length is not None else 0)
        first, rest = block[: limit - overhead], block[limit - overhead :]
        flags = extra_flags | (Flag.END_STREAM if end_stream else 0)
        if end_headers and not rest:
            flags |= Flag.END_HEADERS
        payload = first
        if priority is not None:
            flags |= Flag.PRIORITY
            payload = priority.encode() + payload
        if pad_length is not None:
            flags |= Flag.PADDED
            payload = padded(payload, pad_length)
        self.send_frame(
            FrameType.HEADERS, payload, flags=flags, stream_id=stream_id, reserved=reserved
        )
        while rest:
            chunk, rest = rest[:limit], rest[limit:]
            last = end_headers and not rest
            self.send_continuation(stream_id, chunk, end_headers=last)

    def send_continuation(self, stream_id: int, block: bytes, *, end_headers: bool = True) -> None:
        """A CONTINUATION frame (RFC 9113 §6.10)."""
        flags = Flag.END_HEADERS if end_headers else 0
        self.send_frame(FrameType.CONTINUATION, block, flags=flags, stream_id=stream_id)

    def send_data(
        self,
        stream_id: int,
        data: bytes = b"",
        *,
        end_stream: bool = False,
        pad_length: int | None = None,
        extra_flags: int = 0,
    ) -> None:
        """One DATA frame, whatever the windows say (see ``send_body`` for flow control)."""
        flags = extra_flags | (Flag.END_STREAM if end_stream else 0)
        payload = data
        if pad_length is not None:
            flags |= Flag.PADDED
            payload = padded(data, pad_length)
        self.send_conn_window -= len(payload)
        self._send_stream_windows[stream_id] = self.send_window(stream_id) - len(payload)
        self.send_frame(FrameType.DATA, payload, flags=flags, stream_id=stream_id)

    def send_body(
        self, stream_id: int, data: bytes, *, end_stream: bool = True, timeout: float = 10.0
    ) -> None:
        """``data`` in DATA frames that respect the server's frame size and windows (§6.9),
        waiting for WINDOW_UPDATEs as needed."""
        deadline = time.monotonic() + timeout
        view = memoryview(data)
        while True:
            size = min(
                len(view),
                self.send_conn_window,
                self.send_window(stream_id),
                self.server_setting(Setting.MAX_FRAME_SIZE),
            )
            if size <= 0 and view:
                if not self._pump(deadline):
                    raise ExpectationFailed(
                        f"the server did not open its flow-control window for stream {stream_id}"
                        f" within {timeout}s ({len(view)} octets left to send)" + self._trace()
                    )
                if self.closed:
                    raise ExpectationFailed(
                        "connection closed while sending a body" + self._trace()
                    )
                continue
            chunk, view = view[:size], view[size:]
            self.send_data(stream_id, bytes(chunk), end_stream=end_stream and not view)
            if not view:
                return

    def send_settings(self, *settings: tuple[int, int], ack: bool = False) -> None:
        """A SETTINGS frame with ``settings`` in order (duplicates allowed), or an empty ACK."""
        if ack:
            self.send_frame(FrameType.SETTINGS, flags=Flag.ACK)
            return
        self._pending_local.append(list(settings))
        self.send_frame(FrameType.SETTINGS, settings_payload(settings))

    def send_ping(self, payload: bytes = b"\x00" * 8, *, ack: bool = False) -> None:
        """A PING (RFC 9113 §6.7)."""
        self.send_frame(FrameType.PING, payload, flags=Flag.ACK if ack else 0)

    def send_priority(self, stream_id: int, priority: Priority) -> None:
        """A PRIORITY frame (RFC 9113 §6.3)."""
        self.send_frame(FrameType.PRIORITY, priority.encode(), stream_id=stream_id)

    def send_rst_stream(self, stream_id: int, code: int = ErrorCode.CANCEL) -> None:
        """A RST_STREAM frame (RFC 9113 §6.4)."""
        self.send_frame(FrameType.RST_STREAM, rst_stream_payload(code), stream_id=stream_id)

    def send_window_update(self, stream_id: int, increment: int) -> None:
        """A WINDOW_UPDATE (RFC 9113 §6.9); also widens what the server may send us."""
        if stream_id == 0:
            self._granted_conn += increment
        else:
            self._granted[stream_id] += increment
        self.send_frame(
            FrameType.WINDOW_UPDATE, window_update_payload(increment), stream_id=stream_id
        )

    def send_goaway(
        self, last_stream_id: int = 0, code: int = ErrorCode.NO_ERROR, debug: bytes = b""
    ) -> None:
        """A GOAWAY frame (RFC 9113 §6.8)."""
        self.send_frame(FrameType.GOAWAY, goaway_payload(last_stream_id, code, debug))

    def request(
        self,
        method: str = "GET",
        path: str = "/",
        *,
        body: bytes | None = None,
        extra: HeaderList = (),
        stream_id: int | None = None,
    ) -> int:
        """Send a whole request on a new stream; returns the stream identifier."""
        stream_id = stream_id or self.next_stream_id()
        headers = self.request_headers(method, path, extra)
        if body is None:
            self.send_headers(stream_id, headers, end_stream=True)
        else:
            self.send_headers(stream_id, headers, end_stream=False)
            self.send_body(stream_id, body, end_stream=True)
        return stream_id

    def open_stream(self, method: str = "POST", path: str = "/", extra: HeaderList = ()) -> int:
        """HEADERS without END_STREAM on a new stream, which is then "open" (RFC 9113 §5.1)."""
        stream_id = self.next_stream_id()
        self.send_headers(stream_id, self.request_headers(method, path, extra), end_stream=False)
        return stream_id

    def get(self, path: str = "/") -> Response:
        """GET ``path`` on a new stream and return the whole response."""
        return self.expect_response(self.request("GET", path))

    # -- windows and settings ----------------------------------------------------------------

    def server_setting(self, setting: Setting) -> int:
        """The server's value of ``setting`` (its RFC 9113 §6.5.2 default if not sent)."""
        return self.server_settings.get(setting, SETTING_DEFAULTS.get(setting, 0))

    def local_setting(self, setting: Setting) -> int:
        """Our acknowledged value of ``setting``."""
        return self.local_settings.get(setting, SETTING_DEFAULTS.get(setting, 0))

    def send_window(self, stream_id: int) -> int:
        """How much DATA the server currently lets us send on ``stream_id``."""
        return self._send_stream_windows.get(
            stream_id, self.server_setting(Setting.INITIAL_WINDOW_SIZE)
        )

    def _local_candidates(self, setting: Setting) -> list[int]:
        """Our value of ``setting`` and any value still waiting for the server's ACK: until the
        ACK, the server may be working with either (RFC 9113 §6.5.3)."""
        values = [self.local_setting(setting)]
        for pending in self._pending_local:
            values += [value for key, value in pending if key == setting]
        return values

    # -- receiving ---------------------------------------------------------------------------

    def _recv(self, deadline: float) -> bool:
        """Read more bytes into the buffer; False on timeout. Sets ``closed`` on EOF/reset."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        self.sock.settimeout(remaining)
        try:
            data = self.sock.recv(65_536)
        except TimeoutError:
            return False
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError, ssl.SSLZeroReturnError):
            data = b""
        except ssl.SSLError as exc:
            if "APPLICATION_DATA_AFTER_CLOSE_NOTIFY" in str(exc):
                data = b""
            else:
                raise
        except OSError:
            data = b""
        if not data:
            self.closed = True
            self.history.append(CLOSED)
            return True
        self._buffer += data
        return True

    def _pump(self, deadline: float) -> bool:
        """Read and process one frame; False on timeout, True after EOF (``closed`` set)."""
        while len(self._buffer) < 9:
            if not self._recv(deadline):
                return False
            if self.closed:
                return True
        try:
            parsed, length = Frame.parse_frame_header(memoryview(bytes(self._buffer[:9])))
        except HyperframeError as exc:
            raise ServerViolation(f"unparseable frame header from the server: {exc}") from exc
        self._check_header_bits(self._buffer[3], self._buffer[4], self._buffer[5])
        limit = max(self._local_candidates(Setting.MAX_FRAME_SIZE))
        if length > limit:
            raise ServerViolation(
                f"RFC 9113 §4.2: the server sent a {length}-octet frame"
                f" ({type(parsed).__name__}), above our SETTINGS_MAX_FRAME_SIZE of {limit}"
            )
        while len(self._buffer) < 9 + length:
            if not self._recv(deadline):
                return False
            if self.closed:
                return True
        body = bytes(self._buffer[9 : 9 + length])
        del self._buffer[: 9 + length]
        try:
            parsed.parse_body(memoryview(body))
        except HyperframeError as exc:
            raise ServerViolation(
                f"malformed {type(parsed).__name__} from the server: {exc}"
            ) from exc
        self._process(parsed)
        return True

    @staticmethod
    def _check_header_bits(frame_type: int, flags: int, first_stream_octet: int) -> None:
        """RFC 9113 §4.1: undefined flags and the reserved bit must be unset when sending."""
        if first_stream_octet & 0x80:
            raise ServerViolation("RFC 9113 §4.1: the server set the reserved bit of a frame")
        defined = DEFINED_FLAGS.get(frame_type)
        if defined is not None and flags & ~defined:
            raise ServerViolation(
                f"RFC 9113 §4.1: the server set undefined flags 0x{flags & ~defined:02x}"
                f" on a {FrameType(frame_type).name} frame"
            )

    def read_until_closed(self, *, timeout: float | None = None) -> bytes:
        """Every byte the server sends until it closes, without parsing (for tests where the
        server may not speak HTTP/2 at all, such as a bad preface). Fails on timeout."""
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        while not self.closed:
            if not self._recv(deadline):
                raise ExpectationFailed(
                    f"the server did not close the connection within {wait}s"
                    f" (received {bytes(self._buffer[:200])!r})"
                )
        return bytes(self._buffer)

    def _deliver(self, event: Event) -> None:
        self.history.append(event)
        self._inbox.append(event)

    def _process(self, received: Frame) -> None:
        if self._open_block is not None and not (
            isinstance(received, ContinuationFrame) and received.stream_id == self._open_block[0]
        ):
            raise ServerViolation(
                "RFC 9113 §6.10: the server interleaved a frame into its field block:"
                f" {received!r}"
            )
        if isinstance(received, DataFrame | HeadersFrame) and (
            received.stream_id in self._server_ended
        ):
            raise ServerViolation(
                f"RFC 9113 §5.1: the server sent {type(received).__name__} on stream"
                f" {received.stream_id} after ending it with END_STREAM"
            )
        if isinstance(received, DataFrame):
            self._receive_data(received)
        elif isinstance(received, HeadersFrame):
            self._start_block(received.stream_id, "END_STREAM" in received.flags, None, received)
        elif isinstance(received, PushPromiseFrame):
            if self.local_setting(Setting.ENABLE_PUSH) == 0:
                raise ServerViolation(
                    "RFC 9113 §6.5.2/§8.4: PUSH_PROMISE although the client disabled push"
                )
            self._start_block(received.stream_id, False, received.promised_stream_id, received)
        elif isinstance(received, ContinuationFrame):
            if self._open_block is None:
                raise ServerViolation("RFC 9113 §6.10: CONTINUATION without an open field block")
            self._open_block[3].append(bytes(received.data))
            if "END_HEADERS" in received.flags:
                self._finish_block()
        elif isinstance(received, SettingsFrame):
            self._receive_settings(received)
        elif isinstance(received, PingFrame):
            if "ACK" not in received.flags and self.auto_ack:
                self.send_ping(received.opaque_data, ack=True)
            self._deliver(received)
        elif isinstance(received, WindowUpdateFrame):
            if received.stream_id == 0:
                self.send_conn_window += received.window_increment
            else:
                sid = received.stream_id
                self._send_stream_windows[sid] = self.send_window(sid) + received.window_increment
            self._deliver(received)
        else:
            if isinstance(received, GoAwayFrame):
                self.goaway = received
            self._deliver(received)

    def _receive_data(self, data: DataFrame) -> None:
        size = data.flow_controlled_length
        sid = data.stream_id
        conn_window = DEFAULT_WINDOW_SIZE + self._granted_conn - self._consumed_conn
        initial = max(self._local_candidates(Setting.INITIAL_WINDOW_SIZE))
        stream_window = initial + self._granted[sid] - self._consumed[sid]
        if size > conn_window:
            raise ServerViolation(
                f"RFC 9113 §6.9.1: the server sent {size} flow-controlled octets on stream {sid}"
                f" with only {conn_window} left in the connection window"
            )
        if size > stream_window:
            raise ServerViolation(
                f"RFC 9113 §6.9.1: the server sent {size} flow-controlled octets on stream {sid}"
                f" with only {stream_window} left in the stream window"
            )
        self._consumed_conn += size
        self._consumed[sid] += size
        if "END_STREAM" in data.flags:
            self._server_ended.add(sid)
        if self.auto_window_update and size:
            self.send_window_update(0, size)
            if sid not in self._server_ended:
                self.send_window_update(sid, size)
        self._deliver(data)

    def _start_block(
        self, stream_id: int, end_stream: bool, promised: int | None, received: Frame
    ) -> None:
        fragment = bytes(received.data)  # type: ignore[attr-defined]
        self._open_block = (stream_id, end_stream, promised, [fragment])
        if "END_HEADERS" in received.flags:
            self._finish_block()

    def _finish_block(self) -> None:
        assert self._open_block is not None
        stream_id, end_stream, promised, fragments = self._open_block
        self._open_block = None
        try:
            headers = self.decoder.decode(b"".join(fragments), raw=True)
        except hpack.exceptions.HPACKError as exc:
            raise ServerViolation(
                f"RFC 7541: the server's field block on stream {stream_id} does not decode: {exc}"
            ) from exc
        pairs = tuple((bytes(name), bytes(value)) for name, value in headers)
        if end_stream:
            self._server_ended.add(stream_id)
        self._deliver(HeaderBlock(stream_id, pairs, end_stream, promised))

    def _receive_settings(self, settings: SettingsFrame) -> None:
        if "ACK" in settings.flags:
            if self._pending_local:
                for key, value in self._pending_local.popleft():
                    self.local_settings[key] = value
                    if key == Setting.HEADER_TABLE_SIZE:
                        # RFC 7541 §4.2: from now on the server's encoder must fit this size.
                        self.decoder.max_allowed_table_size = value
            self._deliver(settings)
            return
        for key, value in settings.settings.items():
            if key == Setting.INITIAL_WINDOW_SIZE:
                # RFC 9113 §6.9.2: a new initial size shifts every stream's send window.
                delta = value - self.server_setting(Setting.INITIAL_WINDOW_SIZE)
                for sid in self._send_stream_windows:
                    self._send_stream_windows[sid] += delta
            if (
                key == Setting.HEADER_TABLE_SIZE
                and not self.encoder_out_of_sync
                and value != self.encoder.header_table_size
            ):
                self.encoder.header_table_size = value
            self.server_settings[key] = value
        if self.auto_ack:
            self.send_settings(ack=True)
        self._deliver(settings)

    # -- expectations ------------------------------------------------------------------------

    def _trace(self) -> str:
        recent = self.history[-15:]
        if not recent:
            return "\n  (nothing received)"
        skipped = len(self.history) - len(recent)
        lines = [f"  ... {skipped} earlier events"] if skipped else []
        lines += [f"  {describe(event)}" for event in recent]
        return "\n received:\n" + "\n".join(lines)

    def wait_for(
        self, match: Callable[[Event], bool], what: str, *, timeout: float | None = None
    ) -> Event:
        """The oldest queued or newly received event for which ``match`` is true.

        Events that do not match stay queued. Once the connection is closed, the close itself
        is offered to ``match``; if it does not match, or nothing matched in time,
        ``ExpectationFailed`` is raised.
        """
        wait = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + wait
        index = 0
        while True:
            while index < len(self._inbox):
                event = self._inbox[index]
                if match(event):
                    del self._inbox[index]
                    return event
                index += 1
            if self.closed:
                if match(CLOSED):
                    return CLOSED
                raise ExpectationFailed(
                    f"the connection closed while waiting for {what}" + self._trace()
                )
            if not self._pump(deadline):
                raise ExpectationFailed(f"no {what} within {wait}s" + self._trace())

    def expect_connection_error(self, *codes: ErrorCode, timeout: float | None = None) -> None:
        """RFC 9113 §5.4.1: a GOAWAY carrying one of ``codes``, or the connection closing."""
        names = "/".join(code.name for code in codes)
        event = self.wait_for(
            lambda e: isinstance(e, GoAwayFrame) or e is CLOSED,
            f"connection error (GOAWAY {names} or close)",
            timeout=timeout,
        )
        if isinstance(event, GoAwayFrame) and event.error_code not in codes:
            self._wrong_code(event, f"expected GOAWAY with {names}", timeout)

    def expect_stream_error(
        self, stream_id: int, *codes: ErrorCode, timeout: float | None = None
    ) -> None:
        """RFC 9113 §5.4.2: RST_STREAM on ``stream_id`` with one of ``codes``.

        A connection error with one of ``codes`` (GOAWAY, or the connection closing) is
        accepted too, since §5.4.1 lets an endpoint treat any stream error as a connection
        error. Frames that come first on the stream (such as a 400 response, which §8.1.1
        allows before a reset) are skipped.
        """
        names = "/".join(code.name for code in codes)
        event = self.wait_for(
            lambda e: (
                (isinstance(e, RstStreamFrame) and e.stream_id == stream_id)
                or isinstance(e, GoAwayFrame)
                or e is CLOSED
            ),
            f"stream error (RST_STREAM {names} on stream {stream_id}, or GOAWAY/close)",
            timeout=timeout,
        )
        if isinstance(event, GoAwayFrame) and event.error_code not in codes:
            self._wrong_code(event, f"expected {names} for stream {stream_id}", timeout)
        elif isinstance(event, RstStreamFrame) and event.error_code not in codes:
            raise ExpectationFailed(
                f"expected {names} for stream {stream_id}, got {describe(event)}" + self._trace()
            )

    def _wrong_code(self, goaway: GoAwayFrame, expected: str, timeout: float | None) -> None:
        """A GOAWAY with an unexpected code fails, unless ``lenient_codes`` is set and the
        connection then closes (which is all h2spec checks)."""
        if self.lenient_codes:
            self.wait_for(lambda e: e is CLOSED, "the connection closing", timeout=timeout)
            return
        raise ExpectationFailed(f"{expected}, got {describe(goaway)}" + self._trace())

    def expect_malformed(self, stream_id: int) -> None:
        """RFC 9113 §8.1.1: a malformed request is a stream error of type PROTOCOL_ERROR."""
        self.expect_stream_error(stream_id, ErrorCode.PROTOCOL_ERROR)

    def expect_closed(self, *, timeout: float | None = None) -> None:
        """The server closes the TCP connection (frames before the close are ignored)."""
        self.wait_for(lambda e: e is CLOSED, "the connection closing", timeout=timeout)

    def expect_settings_ack(self) -> SettingsFrame:
        """A SETTINGS frame with ACK (RFC 9113 §6.5.3), which must have an empty payload."""
        event = self.wait_for(
            lambda e: isinstance(e, SettingsFrame) and "ACK" in e.flags, "SETTINGS ACK"
        )
        assert isinstance(event, SettingsFrame)
        if event.settings:
            raise ServerViolation("RFC 9113 §6.5: the server's SETTINGS ACK carries settings")
        return event

    def expect_ping_ack(self, payload: bytes) -> None:
        """The next PING ACK (RFC 9113 §6.7), which must echo ``payload``."""
        event = self.wait_for(
            lambda e: isinstance(e, PingFrame) and "ACK" in e.flags, f"PING ACK {payload!r}"
        )
        assert isinstance(event, PingFrame)
        if event.opaque_data != payload:
            raise ExpectationFailed(
                f"expected PING ACK with {payload!r}, got {describe(event)}" + self._trace()
            )

    def expect_alive(self, *, streams: Iterable[int] = ()) -> list[Event]:
        """Nothing went wrong: a PING is answered before any GOAWAY, close, or RST_STREAM on
        ``streams``. Returns the events received before the PING ACK that are still queued."""
        self._ping_counter += 1
        payload = f"alive{self._ping_counter:03d}".encode()[:8].ljust(8, b"\x00")
        self.send_ping(payload)
        watched = set(streams)

        def match(event: Event) -> bool:
            if isinstance(event, PingFrame):
                return "ACK" in event.flags and event.opaque_data == payload
            if isinstance(event, RstStreamFrame):
                return event.stream_id in watched
            return isinstance(event, GoAwayFrame) or event is CLOSED

        event = self.wait_for(match, "PING ACK showing the connection is still healthy")
        if not isinstance(event, PingFrame):
            raise ExpectationFailed(
                f"expected the connection to stay healthy, got {describe(event)}" + self._trace()
            )
        return list(self._inbox)

    def expect_headers(self, stream_id: int) -> HeaderBlock:
        """The next field block on ``stream_id``; a reset, GOAWAY or close fails."""
        event = self.wait_for(
            lambda e: (
                (isinstance(e, HeaderBlock | RstStreamFrame) and e.stream_id == stream_id)
                or isinstance(e, GoAwayFrame)
                or e is CLOSED
            ),
            f"HEADERS on stream {stream_id}",
        )
        if not isinstance(event, HeaderBlock):
            raise ExpectationFailed(
                f"expected HEADERS on stream {stream_id}, got {describe(event)}" + self._trace()
            )
        return event

    def expect_data(self, stream_id: int, *, timeout: float | None = None) -> DataFrame:
        """The next DATA frame on ``stream_id``; a reset, GOAWAY or close fails."""
        event = self.wait_for(
            lambda e: (
                (isinstance(e, DataFrame | RstStreamFrame) and e.stream_id == stream_id)
                or isinstance(e, GoAwayFrame)
                or e is CLOSED
            ),
            f"DATA on stream {stream_id}",
            timeout=timeout,
        )
        if not isinstance(event, DataFrame):
            raise ExpectationFailed(
                f"expected DATA on stream {stream_id}, got {describe(event)}" + self._trace()
            )
        return event

    def expect_response(self, stream_id: int, *, head: bool = False) -> Response:
        """The whole response on ``stream_id``, up to END_STREAM, checked against RFC 9113 §8.

        A reset, a GOAWAY that abandons the stream, or the connection closing fails.
        """
        informational: list[HeaderBlock] = []
        final: HeaderBlock | None = None
        trailers: HeaderBlock | None = None
        data_frames: list[DataFrame] = []

        def match(event: Event) -> bool:
            if isinstance(event, HeaderBlock | DataFrame | RstStreamFrame):
                return event.stream_id == stream_id
            return isinstance(event, GoAwayFrame) or event is CLOSED

        while True:
            event = self.wait_for(match, f"the response on stream {stream_id}")
            if isinstance(event, GoAwayFrame) and (
                event.error_code == ErrorCode.NO_ERROR and event.last_stream_id >= stream_id
            ):
                continue  # a graceful shutdown that still covers this stream
            if not isinstance(event, HeaderBlock | DataFrame):
                raise ExpectationFailed(
                    f"expected a response on stream {stream_id}, got {describe(event)}"
                    + self._trace()
                )
            if isinstance(event, DataFrame):
                if final is None or trailers is not None:
                    raise ServerViolation(
                        f"RFC 9113 §8.1: DATA on stream {stream_id} outside the response content"
                    )
                data_frames.append(event)
                if "END_STREAM" in event.flags:
                    break
                continue
            if final is None:
                _check_response_fields(event)
                status = event.status
                assert status is not None
                if 100 <= status < 200:
                    if event.end_stream:
                        raise ServerViolation(
                            f"RFC 9113 §8.1: informational {status} response with END_STREAM"
                        )
                    informational.append(event)
                    continue
                final = event
            else:
                _check_trailer_fields(event)
                trailers = event
            if event.end_stream:
                break
        assert final is not None
        assert final.status is not None
        body = b"".join(bytes(f.data) for f in data_frames)
        _check_content_length(final, body, head=head)
        return Response(
            stream_id,
            final.status,
            final.headers,
            body,
            trailers.headers if trailers else None,
            informational,
            data_frames,
        )


def _check_field_names(block: HeaderBlock) -> None:
    """RFC 9113 §8.2.1/§8.2.2/§8.3: field validity in anything the server sends."""
    seen_regular = False
    for name, value in block.headers:
        if name.startswith(b":"):
            if seen_regular:
                raise ServerViolation(f"RFC 9113 §8.3: pseudo-header {name!r} after a field")
        else:
            seen_regular = True
            bad = [c for c in name if c <= 0x20 or 0x41 <= c <= 0x5A or c >= 0x7F or c == 0x3A]
            if bad or not name:
                raise ServerViolation(f"RFC 9113 §8.2.1: invalid field name {name!r}")
            if name in CONNECTION_SPECIFIC_FIELDS:
                raise ServerViolation(f"RFC 9113 §8.2.2: connection-specific field {name!r}")
        if any(c in (0x00, 0x0A, 0x0D) for c in value) or value[:1] in (b" ", b"\t"):
            raise ServerViolation(f"RFC 9113 §8.2.1: invalid value for {name!r}: {value!r}")
        if value[-1:] in (b" ", b"\t"):
            raise ServerViolation(f"RFC 9113 §8.2.1: invalid value for {name!r}: {value!r}")


def _check_response_fields(block: HeaderBlock) -> None:
    _check_field_names(block)
    pseudo = [name for name, _ in block.headers if name.startswith(b":")]
    if pseudo != [b":status"]:
        raise ServerViolation(
            f"RFC 9113 §8.3.2: a response needs exactly one :status pseudo-header, got {pseudo}"
        )
    status = block.get(b":status") or b""
    if len(status) != 3 or not status.isdigit():
        raise ServerViolation(f"RFC 9113 §8.3.2: invalid :status {status!r}")
    if status == b"101":
        raise ServerViolation("RFC 9113 §8.6: HTTP/2 has no 101 (Switching Protocols)")


def _check_trailer_fields(block: HeaderBlock) -> None:
    _check_field_names(block)
    if any(name.startswith(b":") for name, _ in block.headers):
        raise ServerViolation("RFC 9113 §8.1: pseudo-header fields in trailers")
    if not block.end_stream:
        raise ServerViolation("RFC 9113 §8.1: trailers without END_STREAM")


def _check_content_length(final: HeaderBlock, body: bytes, *, head: bool) -> None:
    """RFC 9113 §8.1.1: content-length must match the DATA, except where there is no content."""
    status = final.status or 0
    if head or status in (204, 304):
        if head and body:
            raise ServerViolation("RFC 9110 §9.3.2: a response to HEAD carries content")
        return
    value = final.get(b"content-length")
    if value is not None and value.isdigit() and int(value) != len(body):
        raise ServerViolation(
            f"RFC 9113 §8.1.1: content-length {value!r} but {len(body)} octets of DATA"
        )


def tls_context(target: Target) -> ssl.SSLContext:
    """TLS 1.2+ with ALPN h2 (RFC 9113 §3.2, §9.2); verified only when a CA file is given."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.set_alpn_protocols(["h2"])
    if target.ca_file:
        context.load_verify_locations(target.ca_file)
    else:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


class Connector(Protocol):
    """The ``connect`` fixture: a new connection to the target, by default past the handshake."""

    def __call__(
        self, settings: Sequence[tuple[int, int]] = DEFAULT_SETTINGS, *, handshake: bool = True
    ) -> H2Client: ...


@dataclass(frozen=True)
class ServerProfile:
    """What one probing connection learnt about the target, for tests that depend on it."""

    settings: dict[int, int]
    get_body_length: int
    echoes_post: bool


def probe(target: Target, *, timeout: float = DEFAULT_TIMEOUT) -> ServerProfile:
    """Connect once: the server's SETTINGS, the length of GET /'s body, whether POST / echoes."""
    client = H2Client.open(target, timeout=timeout)
    try:
        client.handshake()
        response = client.get()
        if response.status != 200:
            raise ExpectationFailed(f"GET / answered {response.status}; the suite needs 200")
        sample = b"compliance-probe-body"
        echoed = client.expect_response(client.request("POST", body=sample))
        return ServerProfile(
            dict(client.server_settings), len(response.body), echoed.body == sample
        )
    finally:
        client.close()
