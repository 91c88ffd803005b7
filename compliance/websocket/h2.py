"""The HTTP/2 transport: one stream opened with the extended CONNECT of RFC 8441.

Built on hyperframe and hpack rather than on an HTTP/2 state machine, so that every frame the
server sends is visible and checked, and so that the client can keep going where a full client
library would refuse (a test must be able to send what a server has to reject).
"""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import time
from collections.abc import Sequence

from hpack import Decoder as HpackDecoder
from hpack import Encoder as HpackEncoder
from hyperframe.frame import (
    ContinuationFrame,
    DataFrame,
    GoAwayFrame,
    HeadersFrame,
    PingFrame,
    PushPromiseFrame,
    RstStreamFrame,
    SettingsFrame,
    WindowUpdateFrame,
)
from hyperframe.frame import Frame as H2Frame

from .connection import (
    READ_SIZE,
    HandshakeFailed,
    NoResponse,
    WebSocketConnection,
    open_socket,
    send_all,
)
from .deflate import (
    DeflateOffer,
    MessageCompressor,
    MessageDecompressor,
    negotiate,
)
from .frames import FrameDecoder, ProtocolViolation
from .target import Target

__all__ = ["SETTINGS_ENABLE_CONNECT_PROTOCOL", "H2Connection"]

# RFC 9113 §3.4: the client connection preface.
_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
# RFC 8441 §3: the setting a server sends to allow extended CONNECT.
SETTINGS_ENABLE_CONNECT_PROTOCOL = 0x8
# RFC 9113 §7: error codes.
_NO_ERROR = 0x0
_CANCEL = 0x8
# RFC 9113 §6.5.2, §6.9.2: the initial values until SETTINGS say otherwise.
_DEFAULT_WINDOW = 65_535
_DEFAULT_MAX_FRAME = 16_384


class H2Connection(WebSocketConnection):
    """A WebSocket on one HTTP/2 stream opened with extended CONNECT (RFC 8441 §4-5).

    The HTTP/2 side is deliberately small but honest: it waits for the server's SETTINGS before
    using ``:protocol`` (RFC 8441 §3), keeps both flow-control windows in each direction (RFC
    9113 §6.9), returns every byte of DATA it receives with WINDOW_UPDATE at once, answers PING
    and SETTINGS, and maps the stream's END_STREAM / RST_STREAM to the TCP FIN / RST that RFC
    6455 talks about (RFC 8441 §5).
    """

    transport_name = "h2"
    stream_id = 1

    def __init__(self, target: Target, sock: socket.socket) -> None:
        super().__init__(target, None)
        self.sock = sock
        self._buffer = bytearray()
        self._encoder = HpackEncoder()
        self._decoder_hpack = HpackDecoder()
        self._ws_inbound = bytearray()
        self.peer_settings: dict[int, int] = {}
        self._max_frame = _DEFAULT_MAX_FRAME
        self._peer_initial_window = _DEFAULT_WINDOW
        self._send_window_conn = _DEFAULT_WINDOW
        self._send_window_stream = _DEFAULT_WINDOW
        self._recv_window_conn = _DEFAULT_WINDOW
        self._recv_window_stream = _DEFAULT_WINDOW
        self._header_block: bytearray | None = None
        self._header_end_stream = False
        self.response_headers: list[tuple[str, str]] | None = None
        self._remote_closed = ""  # END_STREAM / RST_STREAM / GOAWAY / TCP, once it happens
        self._local_closed = False
        self._tcp_closed = False

    @classmethod
    def open(
        cls,
        target: Target,
        offers: Sequence[DeflateOffer] = (),
        extra_headers: Sequence[tuple[str, str]] = (),
        version: str = "13",
    ) -> H2Connection:
        sock = open_socket(target, "h2")
        connection = cls(target, sock)
        try:
            connection._handshake(offers, extra_headers, version)
        except BaseException:
            sock.close()
            raise
        return connection

    def _handshake(
        self,
        offers: Sequence[DeflateOffer],
        extra_headers: Sequence[tuple[str, str]],
        version: str,
    ) -> None:
        settings = SettingsFrame(0, settings={SettingsFrame.ENABLE_PUSH: 0})
        send_all(self.sock, _PREFACE + settings.serialize(), self.timeout)
        # RFC 9113 §3.4: the server's preface is a SETTINGS frame, and it MUST come first.
        first = self._read_frame(self.timeout)
        if first is None or not isinstance(first, SettingsFrame) or "ACK" in first.flags:
            raise ProtocolViolation(f"RFC 9113 §3.4: the server's first frame was {first!r}")
        self._process(first)
        if self.peer_settings.get(SETTINGS_ENABLE_CONNECT_PROTOCOL) != 1:
            raise HandshakeFailed(
                "RFC 8441 §3: the server's SETTINGS lack SETTINGS_ENABLE_CONNECT_PROTOCOL=1 "
                f"(got {self.peer_settings}); it offers no WebSockets over HTTP/2"
            )
        scheme = "https" if self.target.tls else "http"
        headers = [
            (":method", "CONNECT"),
            (":protocol", "websocket"),
            (":scheme", scheme),
            (":path", self.target.path),
            (":authority", self.target.authority),
            ("sec-websocket-version", version),
        ]
        if offers:
            headers.append(
                ("sec-websocket-extensions", ", ".join(o.header_value() for o in offers))
            )
        headers.extend((name.lower(), value) for name, value in extra_headers)
        block = self._encoder.encode(headers)
        send_all(
            self.sock,
            HeadersFrame(self.stream_id, data=block, flags=["END_HEADERS"]).serialize(),
            self.timeout,
        )
        deadline = time.monotonic() + self.timeout
        while self.response_headers is None:
            if self._remote_closed:
                raise HandshakeFailed(f"the stream ended before a response: {self._remote_closed}")
            frame = self._read_frame(deadline - time.monotonic())
            if frame is None:
                raise NoResponse(f"no response to the extended CONNECT in {self.timeout}s")
            self._process(frame)
        response = self.response_headers
        status = next((value for name, value in response if name == ":status"), "")
        if status != "200":
            raise HandshakeFailed(
                f"extended CONNECT answered :status {status}", int(status or 0), response
            )
        if self._remote_closed:
            raise ProtocolViolation(
                "RFC 8441 §5: the 200 response ended the stream it was to carry the WebSocket on"
            )
        if any(name == "sec-websocket-protocol" for name, _ in response):
            raise ProtocolViolation("RFC 6455 §4.1: a subprotocol was selected, none offered")
        extensions = [value for name, value in response if name == "sec-websocket-extensions"]
        self.deflate = negotiate(offers, extensions)
        if self.deflate is not None:
            self._decoder = FrameDecoder(rsv1_allowed=True)
            self._compressor = MessageCompressor(self.deflate)
            self._decompressor = MessageDecompressor(self.deflate)

    # -- HTTP/2 framing ----------------------------------------------------------------------

    def _read_frame(self, timeout: float) -> H2Frame | None:
        """The next HTTP/2 frame, or None on timeout; marks the TCP closed on EOF."""
        deadline = time.monotonic() + max(timeout, 0.0)
        while True:
            if len(self._buffer) >= 9:
                length = int.from_bytes(self._buffer[:3], "big")
                if len(self._buffer) >= 9 + length:
                    header = memoryview(bytes(self._buffer[:9]))
                    body = memoryview(bytes(self._buffer[9 : 9 + length]))
                    del self._buffer[: 9 + length]
                    frame, _ = H2Frame.parse_frame_header(header)
                    frame.parse_body(body)
                    return frame
            if self._tcp_closed:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0 and not self._readable_now():
                return None
            self.sock.settimeout(max(remaining, 0.0))
            try:
                data = self.sock.recv(READ_SIZE)
            except (BlockingIOError, TimeoutError, ssl.SSLWantReadError):
                return None
            except (ConnectionResetError, ssl.SSLError):
                data = b""
            if not data:
                self._tcp_closed = True
                self._remote_closed = self._remote_closed or "TCP closed"
                return None
            self._buffer += data

    def _readable_now(self) -> bool:
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            return True
        readable, _, _ = select.select([self.sock], [], [], 0)
        return bool(readable)

    def _write_frames(self, *frames: H2Frame) -> None:
        if self._tcp_closed:
            self.write_failed = True
            return
        try:
            send_all(self.sock, b"".join(frame.serialize() for frame in frames), self.timeout)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.write_failed = True

    def _process(self, frame: H2Frame) -> None:
        if isinstance(frame, DataFrame):
            self._on_data(frame)
        elif isinstance(frame, HeadersFrame | ContinuationFrame):
            self._on_headers(frame)
        elif isinstance(frame, SettingsFrame):
            if "ACK" not in frame.flags:
                self._on_settings(frame.settings)
                self._write_frames(SettingsFrame(0, flags=["ACK"]))
        elif isinstance(frame, WindowUpdateFrame):
            if frame.stream_id == 0:
                self._send_window_conn += frame.window_increment
            elif frame.stream_id == self.stream_id:
                self._send_window_stream += frame.window_increment
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                self._write_frames(PingFrame(0, opaque_data=frame.opaque_data, flags=["ACK"]))
        elif isinstance(frame, RstStreamFrame):
            if frame.stream_id == self.stream_id:
                self._remote_closed = f"RST_STREAM error code {frame.error_code}"
        elif isinstance(frame, GoAwayFrame):
            if frame.last_stream_id < self.stream_id or frame.error_code != _NO_ERROR:
                self._remote_closed = self._remote_closed or (
                    f"GOAWAY error code {frame.error_code} {frame.additional_data!r}"
                )
        elif isinstance(frame, PushPromiseFrame):
            raise ProtocolViolation("RFC 9113 §6.6: PUSH_PROMISE after SETTINGS_ENABLE_PUSH=0")

    def _on_settings(self, settings: dict[int, int]) -> None:
        for key, value in settings.items():
            if key == SettingsFrame.INITIAL_WINDOW_SIZE:
                # RFC 9113 §6.9.2: a new initial window shifts every open stream's window.
                self._send_window_stream += value - self._peer_initial_window
                self._peer_initial_window = value
            elif key == SettingsFrame.MAX_FRAME_SIZE:
                self._max_frame = value
            elif key == SettingsFrame.HEADER_TABLE_SIZE:
                self._encoder.header_table_size = value
            self.peer_settings[key] = value

    def _on_headers(self, frame: HeadersFrame | ContinuationFrame) -> None:
        if frame.stream_id != self.stream_id:
            raise ProtocolViolation(f"RFC 9113 §5.1: HEADERS on unopened stream: {frame!r}")
        if isinstance(frame, HeadersFrame):
            self._header_block = bytearray(frame.data)
            self._header_end_stream = "END_STREAM" in frame.flags
        elif self._header_block is None:
            raise ProtocolViolation("RFC 9113 §6.10: CONTINUATION without HEADERS")
        else:
            self._header_block += frame.data
        if "END_HEADERS" not in frame.flags:
            return
        decoded = self._decoder_hpack.decode(bytes(self._header_block), raw=True)
        self._header_block = None
        headers = [
            (bytes(name).decode("latin-1"), bytes(value).decode("latin-1"))
            for name, value in decoded
        ]
        if self.response_headers is None:
            self.response_headers = headers
        elif not self._header_end_stream:
            raise ProtocolViolation("RFC 9113 §8.1: trailers without END_STREAM")
        if self._header_end_stream:
            self._remote_closed = "END_STREAM"

    def _on_data(self, frame: DataFrame) -> None:
        if frame.stream_id != self.stream_id:
            raise ProtocolViolation(f"RFC 9113 §5.1: DATA on a stream never opened: {frame!r}")
        if self._remote_closed == "END_STREAM":
            raise ProtocolViolation("RFC 9113 §5.1: DATA after END_STREAM")
        if self.response_headers is None:
            raise ProtocolViolation("RFC 9113 §8.1: DATA before the response HEADERS")
        # RFC 9113 §6.9.1: padding counts against the window too.
        counted = frame.flow_controlled_length
        if counted > self._recv_window_conn or counted > self._recv_window_stream:
            raise ProtocolViolation(
                f"RFC 9113 §6.9.1: the server sent {counted} bytes of DATA into a window of "
                f"{min(self._recv_window_conn, self._recv_window_stream)}"
            )
        self._ws_inbound += frame.data
        ended = "END_STREAM" in frame.flags
        if ended:
            self._remote_closed = "END_STREAM"
        if counted:
            # Give the whole window back at once: this client consumes data as it arrives.
            updates: list[H2Frame] = [WindowUpdateFrame(0, window_increment=counted)]
            if not ended:
                updates.append(WindowUpdateFrame(self.stream_id, window_increment=counted))
            self._write_frames(*updates)

    # -- the WebSocket byte stream ---------------------------------------------------------

    def _stream_writable(self) -> bool:
        return (
            not self._tcp_closed
            and not self._local_closed
            and not (self._remote_closed.startswith(("RST_STREAM", "GOAWAY")))
        )

    def _send_bytes(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            if not self._stream_writable():
                self.write_failed = True
                return
            allowed = min(
                len(view), self._max_frame, self._send_window_conn, self._send_window_stream
            )
            if allowed <= 0:
                frame = self._read_frame(self.timeout)
                if frame is None:
                    if self._tcp_closed:
                        continue
                    raise NoResponse(
                        f"RFC 9113 §6.9: no WINDOW_UPDATE within {self.timeout}s "
                        f"(connection window {self._send_window_conn}, "
                        f"stream window {self._send_window_stream})"
                    )
                self._process(frame)
                continue
            self._write_frames(DataFrame(self.stream_id, data=bytes(view[:allowed])))
            self._send_window_conn -= allowed
            self._send_window_stream -= allowed
            view = view[allowed:]

    def _receive_bytes(self, timeout: float) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._ws_inbound:
            if self._remote_closed:
                return b""
            frame = self._read_frame(deadline - time.monotonic())
            if frame is None:
                if self._remote_closed:
                    continue
                return None
            self._process(frame)
        data = bytes(self._ws_inbound)
        self._ws_inbound.clear()
        return data

    @property
    def transport_word(self) -> str:
        return "HTTP/2 stream"

    @property
    def how_closed(self) -> str:
        return self._remote_closed

    def _shutdown(self) -> None:
        with contextlib.suppress(OSError):
            if not self._tcp_closed:
                frames: list[H2Frame] = []
                if self._remote_closed == "END_STREAM" and not self._local_closed:
                    # The server ended its side cleanly (RFC 8441 §5): end ours the same way.
                    frames.append(DataFrame(self.stream_id, flags=["END_STREAM"]))
                elif not self._remote_closed:
                    frames.append(RstStreamFrame(self.stream_id, error_code=_CANCEL))
                frames.append(GoAwayFrame(0, last_stream_id=0, error_code=_NO_ERROR))
                self._local_closed = True
                self.sock.settimeout(0.5)
                self.sock.sendall(b"".join(f.serialize() for f in frames))
        self.sock.close()
