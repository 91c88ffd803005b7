"""The WebSocket side of the client: frames out, strictly checked frames and events in.

:class:`WebSocketConnection` is what every test drives. It knows nothing of how its bytes
travel; a subclass supplies three primitives (write some bytes, read some bytes, shut down):
:class:`~.h1.H1Connection` over a TCP or TLS socket after an HTTP/1.1 Upgrade,
:class:`~.h2.H2Connection` over one HTTP/2 stream opened with extended CONNECT. So each test
is written once and runs over both.

All I/O is blocking with deadlines. A conforming server answers at once, so a wait only runs to
its timeout when the server is wrong, and the suite stays fast and deterministic.
"""

from __future__ import annotations

import abc
import contextlib
import socket
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from .deflate import DeflateParams, MessageCompressor, MessageDecompressor
from .frames import Frame, FrameDecoder, LengthEncoding, Opcode, ProtocolViolation, encode_frame
from .target import Target

__all__ = [
    "READ_SIZE",
    "Close",
    "Event",
    "HandshakeFailed",
    "Message",
    "NoResponse",
    "Ping",
    "Pong",
    "TransportClosed",
    "WebSocketConnection",
    "close_payload",
    "open_socket",
    "send_all",
]

# Big enough that one read usually drains what a server wrote, small enough to stay cheap.
READ_SIZE = 256 * 1024

# RFC 6455 §7.4.1 codes and the IANA registry (§11.7): what a server may put in a Close frame.
# 1012-1014 were registered after RFC 6455 and are accepted from a server.
_SENDABLE_CLOSE_CODES = frozenset({1000, 1001, 1002, 1003, *range(1007, 1015)})


class TransportClosed(Exception):
    """The server closed the transport (TCP FIN/RST, or its HTTP/2 stream) with nothing left."""


class NoResponse(AssertionError):
    """The server sent nothing within the timeout when it had to."""


class HandshakeFailed(Exception):
    """The opening handshake did not produce a WebSocket (status other than 101 / 200)."""

    def __init__(
        self,
        message: str,
        status: int | None = None,
        headers: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(message)
        self.status = status
        self.headers = list(headers)


@dataclass(frozen=True, slots=True)
class Message:
    """A complete data message, reassembled from its fragments and inflated if compressed."""

    opcode: Opcode
    data: bytes
    frames: int = 1
    compressed: bool = False


@dataclass(frozen=True, slots=True)
class Ping:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Pong:
    payload: bytes


@dataclass(frozen=True, slots=True)
class Close:
    code: int | None
    reason: str


Event = Message | Ping | Pong | Close


def close_payload(code: int | None, reason: bytes = b"") -> bytes:
    """RFC 6455 §5.5.1: a 2-byte code in network order, then the reason."""
    if code is None:
        return reason
    return struct.pack("!H", code) + reason


def _describe(data: bytes) -> str:
    return repr(data) if len(data) <= 64 else f"{len(data)} bytes, {data[:32]!r}..."


def _differs(expected: bytes, got: bytes) -> str:
    if len(expected) != len(got):
        return f"expected {len(expected)} bytes, got {len(got)} ({_describe(got)})"
    index = next(i for i, (a, b) in enumerate(zip(expected, got, strict=True)) if a != b)
    return f"bytes differ first at offset {index} of {len(expected)}"


class WebSocketConnection(abc.ABC):
    """One open WebSocket. Subclasses move bytes; everything about frames lives here."""

    transport_name = "?"

    def __init__(self, target: Target, deflate: DeflateParams | None) -> None:
        self.target = target
        self.timeout = target.timeout
        self.deflate = deflate
        self._decoder = FrameDecoder(rsv1_allowed=deflate is not None)
        self._compressor = MessageCompressor(deflate) if deflate else None
        self._decompressor = MessageDecompressor(deflate) if deflate else None
        self._pending: deque[Frame] = deque()
        self._fragments: list[Frame] = []
        self._eof = False
        self.close_received: Close | None = None
        self.close_sent = False
        # Set when a write failed because the server had already gone away.
        self.write_failed = False

    # -- what a transport provides ---------------------------------------------------------

    @abc.abstractmethod
    def _send_bytes(self, data: bytes) -> None:
        """Write ``data`` as one transport write (one TCP send, one HTTP/2 DATA run)."""

    @abc.abstractmethod
    def _receive_bytes(self, timeout: float) -> bytes | None:
        """Bytes of the WebSocket stream; b"" once the server closed it; None on timeout."""

    @abc.abstractmethod
    def _shutdown(self) -> None:
        """Release the transport, however it stands."""

    @property
    @abc.abstractmethod
    def how_closed(self) -> str:
        """How the server ended the transport, for messages ("" while open)."""

    # -- sending --------------------------------------------------------------------------

    def send_raw(
        self,
        data: bytes,
        *,
        chunk_size: int | None = None,
        pause: float = 0.0,
        stop_on_close: bool = False,
    ) -> None:
        """Write bytes as they are, in writes of ``chunk_size`` bytes (all at once if None).

        ``pause`` sleeps between writes so that they reach the server separately.
        ``stop_on_close`` reads between writes and stops as soon as the server's Close frame
        has arrived (a server that refuses an oversized message stops reading, and writing on
        regardless would only end in a reset that can lose that Close frame).
        """
        if self.write_failed:
            return
        size = chunk_size or len(data) or 1
        for start in range(0, max(len(data), 1), size):
            if start and pause:
                time.sleep(pause)
            if stop_on_close and start:
                self._poll()
                if self._eof or any(f.opcode == Opcode.CLOSE for f in self._pending):
                    return
            self._send_bytes(data[start : start + size])
            if self.write_failed:
                return

    def send_frame(
        self,
        opcode: int,
        payload: bytes = b"",
        *,
        fin: bool = True,
        rsv1: bool = False,
        rsv2: bool = False,
        rsv3: bool = False,
        masked: bool = True,
        length_encoding: LengthEncoding | None = None,
        chunk_size: int | None = None,
        pause: float = 0.0,
        stop_on_close: bool = False,
    ) -> None:
        """Send one frame built exactly as asked (see :func:`frames.encode_frame`)."""
        if opcode == Opcode.CLOSE:
            self.close_sent = True
        data = encode_frame(
            opcode,
            payload,
            fin=fin,
            rsv1=rsv1,
            rsv2=rsv2,
            rsv3=rsv3,
            masked=masked,
            length_encoding=length_encoding,
        )
        self.send_raw(data, chunk_size=chunk_size, pause=pause, stop_on_close=stop_on_close)

    def send_frames(
        self, frames: Iterable[Frame], *, chunk_size: int | None = None, pause: float = 0.0
    ) -> None:
        """Send several frames as one byte string (then split into ``chunk_size`` writes)."""
        frames = list(frames)
        if any(frame.opcode == Opcode.CLOSE for frame in frames):
            self.close_sent = True
        data = b"".join(
            encode_frame(f.opcode, f.payload, fin=f.fin, rsv1=f.rsv1, rsv2=f.rsv2, rsv3=f.rsv3)
            for f in frames
        )
        self.send_raw(data, chunk_size=chunk_size, pause=pause)

    def send_message(
        self,
        opcode: Opcode,
        data: bytes,
        *,
        fragment_size: int | None = None,
        compress: bool | None = None,
        chunk_size: int | None = None,
    ) -> None:
        """Send a data message, compressed when permessage-deflate was agreed (or as told),
        split into frames of ``fragment_size`` payload bytes (RFC 6455 §5.4)."""
        if compress is None:
            compress = self._compressor is not None
        if compress:
            assert self._compressor is not None, "permessage-deflate was not negotiated"
            data = self._compressor.compress(data)
        size = fragment_size or len(data) or 1
        pieces = [data[start : start + size] for start in range(0, len(data), size)] or [b""]
        frames = [
            Frame(
                opcode if index == 0 else Opcode.CONTINUATION,
                piece,
                fin=index == len(pieces) - 1,
                # RFC 7692 §6: only the first frame of a compressed message carries RSV1.
                rsv1=compress and index == 0,
            )
            for index, piece in enumerate(pieces)
        ]
        self.send_frames(frames, chunk_size=chunk_size)

    def send_ping(self, payload: bytes = b"") -> None:
        self.send_frame(Opcode.PING, payload)

    def send_close(self, code: int | None = 1000, reason: bytes = b"") -> None:
        self.send_frame(Opcode.CLOSE, close_payload(code, reason))

    # -- receiving ------------------------------------------------------------------------

    def _poll(self) -> None:
        """Take in whatever the server already sent, without waiting."""
        while not self._eof:
            data = self._receive_bytes(0.0)
            if data is None:
                return
            if not data:
                self._eof = True
                return
            self._decoder.feed(data)
            self._decode_pending()

    def _decode_pending(self) -> None:
        while (frame := self._decoder.next_frame()) is not None:
            self._pending.append(frame)

    def recv_frame(self, timeout: float | None = None) -> Frame:
        """The next frame, strictly decoded. Raises TransportClosed or NoResponse.

        ``timeout`` bounds the wait for *progress*: a large frame may take longer in total as
        long as its bytes keep arriving.
        """
        wait = self.timeout if timeout is None else timeout
        while not self._pending:
            if self._eof:
                left = self._decoder.buffered
                raise TransportClosed(
                    f"the server closed the transport ({self.how_closed})"
                    + (f" in the middle of a frame ({left} bytes left over)" if left else "")
                )
            data = self._receive_bytes(wait)
            if data is None:
                raise NoResponse(f"no frame from the server within {wait}s")
            if not data:
                self._eof = True
                continue
            self._decoder.feed(data)
            self._decode_pending()
        frame = self._pending.popleft()
        if self.close_received is not None and not frame.is_control:
            raise ProtocolViolation(
                f"RFC 6455 §5.5.1: the server sent a data frame after its Close frame: {frame!r}"
            )
        return frame

    def recv_event(self, timeout: float | None = None) -> Event:
        """The next control frame or complete data message."""
        while True:
            frame = self.recv_frame(timeout)
            if frame.opcode == Opcode.PING:
                return Ping(frame.payload)
            if frame.opcode == Opcode.PONG:
                return Pong(frame.payload)
            if frame.opcode == Opcode.CLOSE:
                self.close_received = _parse_close(frame.payload)
                return self.close_received
            self._fragments.append(frame)
            if frame.fin:
                return self._assemble()

    def _assemble(self) -> Message:
        frames, self._fragments = self._fragments, []
        first = frames[0]
        data = b"".join(f.payload for f in frames)
        if first.rsv1:
            assert self._decompressor is not None  # the decoder refuses RSV1 otherwise
            data = self._decompressor.decompress(data)
        opcode = Opcode(first.opcode)
        if opcode == Opcode.TEXT:
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise ProtocolViolation(
                    f"RFC 6455 §5.6: the server sent a text message that is not UTF-8: {error}"
                ) from None
        return Message(opcode, data, len(frames), first.rsv1)

    def next_event(self, timeout: float | None = None) -> Event:
        """Like recv_event, but answers the server's own pings (keep-alives) and skips them."""
        while True:
            event = self.recv_event(timeout)
            if isinstance(event, Ping) and not self.close_sent:
                self.send_frame(Opcode.PONG, event.payload)
                continue
            return event

    # -- expectations ---------------------------------------------------------------------

    @property
    def transport_word(self) -> str:
        """What RFC 6455's "TCP connection" is on this transport, for messages."""
        return "TCP connection"

    @contextlib.contextmanager
    def _expecting(self, what: str) -> Iterator[None]:
        """Turn an ended transport or a silent server into a failure that says what was due."""
        try:
            yield
        except TransportClosed as closed:
            raise AssertionError(f"expected {what}, but {closed}") from None
        except NoResponse as silence:
            raise NoResponse(
                f"expected {what}, but {silence} and the {self.transport_word} stayed open"
            ) from None

    def expect_message(self, opcode: Opcode, data: bytes) -> Message:
        """The next event is this message (RFC 6455 §5.6: echoed with the same type)."""
        what = f"a {opcode.name} message of {len(data)} bytes"
        with self._expecting(what):
            event = self.next_event()
        if not isinstance(event, Message):
            raise AssertionError(f"expected {what}, got {event!r}")
        if event.opcode != opcode:
            raise AssertionError(f"expected {what}, got a {event.opcode.name} message")
        if event.data != data:
            raise AssertionError(f"echo mismatch: {_differs(data, event.data)}")
        return event

    def expect_echo(self, opcode: Opcode, data: bytes) -> Message:
        return self.expect_message(opcode, data)

    def expect_pong(self, payload: bytes) -> None:
        """The next event is a Pong with this payload (RFC 6455 §5.5.3)."""
        what = f"Pong({_describe(payload)})"
        with self._expecting(what):
            event = self.next_event()
        if event != Pong(payload):
            raise AssertionError(f"expected {what}, got {event!r}")

    def expect_close(self, *codes: int | None, timeout: float | None = None) -> Close:
        """The next event is the server's Close with one of ``codes``; it is not answered."""
        what = f"a Close frame with code {_codes(codes)}"
        with self._expecting(what):
            event = self.next_event(timeout)
        if not isinstance(event, Close):
            raise AssertionError(f"expected {what}, got {event!r}")
        if event.code not in codes:
            raise AssertionError(
                f"expected close code {_codes(codes)}, got {event.code} ({event.reason!r})"
            )
        return event

    def expect_fail(
        self,
        *codes: int,
        may_precede: Sequence[Event] = (),
        allow_drop: bool = False,
        wait_closed: bool = False,
        timeout: float | None = None,
    ) -> Close | None:
        """The server fails the connection (RFC 6455 §7.1.7): its next frame is a Close with one
        of ``codes`` (§7.4.1), which this side answers; nothing follows it (§7.1.7: it MUST NOT
        go on processing data, so a later ping goes unanswered).

        ``may_precede`` lists events that may come first, in that order, each one optional: the
        echo of a valid message sent just before the bad frame. Echoing it is application
        behaviour RFC 6455 does not require once the connection is failing (Autobahn calls its
        absence "non-strict"); anything else before the Close is a failure.

        ``allow_drop`` (or the target's ``accept_drop``) also accepts the transport closed
        without a Close frame: RFC 6455 §7.1.7 makes that frame a SHOULD, and §5.1 a MAY for an
        unmasked frame. ``wait_closed`` also waits for the server to close the transport
        (§5.5.1), which section 7 checks on its own so that one slow close does not make every
        case wait.
        """
        what = f"the server to fail the connection with Close {_codes(codes)}"
        optional = list(may_precede)
        try:
            with self._expecting(what):
                try:
                    event = self.next_event(timeout)
                    while optional and any(_same(event, expected) for expected in optional):
                        # In order: whatever was skipped before the match can no longer come.
                        while not _same(event, optional.pop(0)):
                            pass
                        event = self.next_event(timeout)
                except TransportClosed:
                    if allow_drop or self.target.accept_drop:
                        return None
                    raise
        except AssertionError as error:
            if isinstance(error, NoResponse):
                raise
            raise AssertionError(f"{error} without sending one") from None
        if not isinstance(event, Close):
            raise AssertionError(
                f"expected Close {_codes(codes)} and nothing before it, got {event!r}"
            )
        if event.code not in codes:
            raise AssertionError(
                f"expected close code {_codes(codes)}, got {event.code} ({event.reason!r})"
            )
        self._answer_close(event)
        self._expect_nothing_more(wait_closed)
        return event

    def _answer_close(self, close: Close) -> None:
        # RFC 6455 §5.5.1: answer a Close with a Close, typically echoing the code.
        if not self.close_sent:
            self.send_close(close.code if close.code not in (None, 1005) else None)

    def _expect_nothing_more(self, wait_closed: bool) -> None:
        if wait_closed:
            self.expect_transport_closed()
            return
        # Without waiting: whatever already arrived after the Close is a violation.
        self._poll()
        if self._pending:
            raise AssertionError(
                f"the server sent {self._pending[0]!r} after its Close frame (RFC 6455 §5.5.1)"
            )

    def expect_transport_closed(self, timeout: float | None = None) -> None:
        """The server closes the transport next, with no further frame (RFC 6455 §5.5.1:
        after sending and receiving a Close, an endpoint MUST close the TCP connection; RFC
        8441 §5: on HTTP/2 that is END_STREAM, or RST_STREAM for an abrupt close)."""
        wait = self.timeout if timeout is None else timeout
        try:
            frame = self.recv_frame(wait)
        except TransportClosed:
            return
        except NoResponse:
            raise AssertionError(
                "RFC 6455 §5.5.1: the closing handshake is over but the server did not close "
                f"the {self.transport_word} within {wait}s"
            ) from None
        raise AssertionError(f"the server sent {frame!r} after the closing handshake")

    def close_handshake(
        self, code: int = 1000, reason: bytes = b"", *, wait_closed: bool = False
    ) -> Close:
        """Finish a case cleanly: Close from this side, the server's Close back with the same
        code or 1000 (RFC 6455 §5.5.1, §7.1.2), and nothing after it; ``wait_closed`` also
        waits for the server to close the transport."""
        self.send_close(code, reason)
        event = self.expect_close(code, 1000)
        self._expect_nothing_more(wait_closed)
        return event

    def close(self) -> None:
        """Tear down whatever is left (used after every test)."""
        self._shutdown()


def _same(event: Event, expected: Event) -> bool:
    if isinstance(event, Message) and isinstance(expected, Message):
        return event.opcode == expected.opcode and event.data == expected.data
    return event == expected


def _codes(codes: Sequence[int | None]) -> str:
    return " or ".join("none" if code is None else str(code) for code in codes)


def _parse_close(payload: bytes) -> Close:
    """A server Close frame, held to RFC 6455 §5.5.1 and §7.4."""
    if not payload:
        return Close(None, "")
    if len(payload) == 1:
        raise ProtocolViolation("RFC 6455 §5.5.1: a Close body must start with a 2-byte code")
    (code,) = struct.unpack("!H", payload[:2])
    if code not in _SENDABLE_CLOSE_CODES and not 3000 <= code <= 4999:
        raise ProtocolViolation(f"RFC 6455 §7.4: the server sent close code {code}")
    try:
        reason = payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolViolation(
            f"RFC 6455 §5.5.1: the close reason is not UTF-8: {payload[2:]!r}"
        ) from None
    return Close(code, reason)


def open_socket(target: Target, alpn: str) -> socket.socket:
    sock = socket.create_connection((target.host, target.port), timeout=target.timeout)
    # Every test write should leave at once, as its own segment where it is split on purpose.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    if not target.tls:
        return sock
    context = target.ssl_context(alpn)
    try:
        wrapped = context.wrap_socket(sock, server_hostname=target.host)
    except BaseException:
        sock.close()
        raise
    selected = wrapped.selected_alpn_protocol()
    # An HTTP/1.1 server may ignore ALPN altogether; HTTP/2 over TLS needs it (RFC 9113 §3.2).
    if selected != alpn and not (selected is None and alpn == "http/1.1"):
        wrapped.close()
        raise HandshakeFailed(f"ALPN selected {selected!r}, not {alpn!r}")
    return wrapped


def send_all(sock: socket.socket, data: bytes, timeout: float) -> None:
    """Write everything; ``timeout`` bounds each wait for progress, not the whole write (a
    16 MiB message may take longer than that to reach a slow server)."""
    sock.settimeout(timeout)
    view = memoryview(data)
    while view:
        sent = sock.send(view[:READ_SIZE])
        view = view[sent:]
