"""Machinery for the HTTP/2 and TLS integration tests.

:class:`H2Wire` is a frame-level HTTP/2 client on a blocking socket, built on the two
libraries ``h2`` itself uses (``hyperframe`` for frames, ``hpack`` for header blocks) but
without ``h2``'s state machine, so a test can do what a well-behaved client would not: keep
its windows shut, open a stream after GOAWAY, reset a stream at will. It records everything
the server sends, per stream, for assertions.

Also here: throwaway certificates from ``trustme``, running external tools with a bounded
time (killing what they started by process group), and reading a process's RSS.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import hpack
import pytest
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

PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"

# RFC 9113 §7 error codes and §6.5.2 setting identifiers the tests name.
NO_ERROR = 0x0
PROTOCOL_ERROR = 0x1
CANCEL = 0x8
REFUSED_STREAM = 0x7
ENABLE_PUSH = 0x2
MAX_CONCURRENT_STREAMS = 0x3
INITIAL_WINDOW_SIZE = 0x4

Headers = list[tuple[bytes, bytes]]


# --- the frame-level client ---------------------------------------------------------------


@dataclass
class StreamRecord:
    """What the server sent on one stream."""

    stream_id: int
    #: Every header block in order: 1xx responses, the final response, trailers.
    blocks: list[Headers] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    #: END_STREAM received.
    ended: bool = False
    #: The RST_STREAM error code, if the server reset the stream.
    reset: int | None = None
    #: DATA bytes received but not yet handed back in a WINDOW_UPDATE.
    unacked: int = 0

    @staticmethod
    def _status(block: Headers) -> int | None:
        for name, value in block:
            if name == b":status":
                return int(value)
        return None

    @property
    def informational(self) -> list[Headers]:
        """The 1xx header blocks before the final response."""
        found = []
        for block in self.blocks:
            status = self._status(block)
            if status is None or status >= 200:
                break
            found.append(block)
        return found

    @property
    def response(self) -> Headers | None:
        """The final (non-1xx) response header block."""
        for block in self.blocks:
            status = self._status(block)
            if status is not None and status >= 200:
                return block
        return None

    @property
    def status(self) -> int | None:
        block = self.response
        return None if block is None else self._status(block)

    @property
    def trailers(self) -> Headers | None:
        """A header block after the final response (it has no :status)."""
        response = self.response
        if response is None:
            return None
        later = self.blocks[self.blocks.index(response) + 1 :]
        return later[-1] if later else None

    def header(self, name: bytes) -> bytes | None:
        for key, value in self.response or []:
            if key == name:
                return value
        return None


@dataclass
class Push:
    parent: int
    promised: int
    headers: Headers


class H2Wire:
    """A frame-level HTTP/2 client over a connected (plain or TLS) socket.

    SETTINGS and PING are acknowledged as they arrive. With ``auto_window`` the client
    hands received DATA back in WINDOW_UPDATEs once half the default window is used, as
    browsers do; without it the windows stay as the test leaves them. Request bodies are
    sent without regard to the server's windows: the tests send small ones.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        settings: dict[int, int] | None = None,
        auto_window: bool = True,
        preface: bool = True,
    ) -> None:
        self.sock = sock
        self.auto_window = auto_window
        self.encoder = hpack.Encoder()
        self.decoder = hpack.Decoder()
        self.streams: dict[int, StreamRecord] = {}
        self.pushes: list[Push] = []
        #: (last_stream_id, error_code) of every GOAWAY.
        self.goaways: list[tuple[int, int]] = []
        #: The server's settings as announced, by identifier.
        self.server_settings: dict[int, int] = {}
        #: The type of every frame received, in order (for messages on failure).
        self.frame_types: list[str] = []
        self.settings_acked = 0
        self.closed = False
        self.next_stream_id = 1
        self._buffer = bytearray()
        self._block: tuple[Frame, bytearray] | None = None
        self._unacked = 0
        if preface:
            sock.sendall(PREFACE + SettingsFrame(0, settings=settings or {}).serialize())

    # --- sending ------------------------------------------------------------------------

    def send(self, *frames: Frame) -> None:
        self.sock.sendall(b"".join(frame.serialize() for frame in frames))

    def send_raw(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _reply(self, *frames: Frame) -> None:
        """Send an automatic answer (ACK, WINDOW_UPDATE); the server may have gone already."""
        with contextlib.suppress(OSError):
            self.send(*frames)

    def headers_frame(
        self, stream_id: int, headers: Iterable[tuple[bytes, bytes]], *, end_stream: bool
    ) -> HeadersFrame:
        frame = HeadersFrame(stream_id, data=self.encoder.encode(list(headers)))
        frame.flags.add("END_HEADERS")
        if end_stream:
            frame.flags.add("END_STREAM")
        return frame

    def request(
        self,
        path: str,
        *,
        method: str = "GET",
        headers: Sequence[tuple[bytes, bytes]] = (),
        body: bytes | None = None,
        end_stream: bool | None = None,
        scheme: str = "http",
        authority: str = "localhost",
    ) -> int:
        """Open the next client stream; returns its id.

        The stream is half-closed after the body unless ``end_stream`` is False; with no
        body it is half-closed by the HEADERS frame itself.
        """
        stream_id = self.next_stream_id
        self.next_stream_id += 2
        fields = [
            (b":method", method.encode()),
            (b":scheme", scheme.encode()),
            (b":authority", authority.encode()),
            (b":path", path.encode()),
            *headers,
        ]
        end = end_stream is not False
        self.streams[stream_id] = StreamRecord(stream_id)
        frames: list[Frame] = [self.headers_frame(stream_id, fields, end_stream=end and not body)]
        if body:
            for offset in range(0, len(body), 16384):
                piece = body[offset : offset + 16384]
                frame = DataFrame(stream_id, data=piece)
                if end and offset + 16384 >= len(body):
                    frame.flags.add("END_STREAM")
                frames.append(frame)
        self.send(*frames)
        return stream_id

    def reset(self, stream_id: int, code: int = CANCEL) -> None:
        self.send(RstStreamFrame(stream_id, error_code=code))

    def window_update(self, stream_id: int, increment: int) -> None:
        self.send(WindowUpdateFrame(stream_id, window_increment=increment))

    def settings(self, values: dict[int, int]) -> None:
        self.send(SettingsFrame(0, settings=values))

    # --- receiving ----------------------------------------------------------------------

    def stream(self, stream_id: int) -> StreamRecord:
        record = self.streams.get(stream_id)
        if record is None:
            record = self.streams[stream_id] = StreamRecord(stream_id)
        return record

    def receive(self, timeout: float) -> bool:
        """Read what arrives within ``timeout`` and handle its frames; False at EOF."""
        if self.closed:
            return False
        self.sock.settimeout(max(timeout, 0.001))
        try:
            data = self.sock.recv(262144)
        except TimeoutError:
            return True
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            data = b""
        if not data:
            self.closed = True
            return False
        self._buffer += data
        self._parse()
        return True

    def until(self, predicate: Callable[[], object], timeout: float = 10.0) -> None:
        """Handle frames until ``predicate()`` holds; fails on EOF or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"timed out; {self.describe()}")
            if not self.receive(min(remaining, 0.5)) and not predicate():
                raise AssertionError(f"connection closed; {self.describe()}")

    def read_to_close(self, timeout: float = 10.0) -> bool:
        """Handle frames until the server closes the connection; whether it did in time."""
        deadline = time.monotonic() + timeout
        while not self.closed:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.receive(min(remaining, 0.5))
        return True

    def quiet_for(self, seconds: float) -> None:
        """Handle whatever arrives during ``seconds`` (to show that something does not)."""
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0 and self.receive(remaining):
            pass

    def describe(self) -> str:
        streams = {
            sid: (s.status, len(s.data), s.ended, s.reset) for sid, s in self.streams.items()
        }
        return (
            f"frames {self.frame_types[-30:]}, streams (status, bytes, ended, reset) {streams},"
            f" goaways {self.goaways}, closed {self.closed}"
        )

    def _parse(self) -> None:
        buffer = self._buffer
        while len(buffer) >= 9:
            frame, length = Frame.parse_frame_header(memoryview(bytes(buffer[:9])))
            if len(buffer) < 9 + length:
                return
            frame.parse_body(memoryview(bytes(buffer[9 : 9 + length])))
            del buffer[: 9 + length]
            self.frame_types.append(type(frame).__name__)
            self._handle(frame)

    def _handle(self, frame: Frame) -> None:
        if isinstance(frame, SettingsFrame):
            if "ACK" in frame.flags:
                self.settings_acked += 1
            else:
                self.server_settings.update(frame.settings)
                settings_ack = SettingsFrame(0)
                settings_ack.flags.add("ACK")
                self._reply(settings_ack)
        elif isinstance(frame, PingFrame):
            if "ACK" not in frame.flags:
                ack = PingFrame(0, opaque_data=frame.opaque_data)
                ack.flags.add("ACK")
                self._reply(ack)
        elif isinstance(frame, HeadersFrame | PushPromiseFrame):
            self._block = (frame, bytearray(frame.data))
            if "END_HEADERS" in frame.flags:
                self._end_block()
        elif isinstance(frame, ContinuationFrame):
            assert self._block is not None, "CONTINUATION without HEADERS"
            self._block[1].extend(frame.data)
            if "END_HEADERS" in frame.flags:
                self._end_block()
        elif isinstance(frame, DataFrame):
            record = self.stream(frame.stream_id)
            record.data += frame.data
            if "END_STREAM" in frame.flags:
                record.ended = True
            self._acknowledge(record, frame.flow_controlled_length)
        elif isinstance(frame, RstStreamFrame):
            self.stream(frame.stream_id).reset = frame.error_code
        elif isinstance(frame, GoAwayFrame):
            self.goaways.append((frame.last_stream_id, frame.error_code))

    def _end_block(self) -> None:
        assert self._block is not None
        first, data = self._block
        self._block = None
        headers = [(bytes(n), bytes(v)) for n, v in self.decoder.decode(bytes(data), raw=True)]
        if isinstance(first, PushPromiseFrame):
            self.pushes.append(Push(first.stream_id, first.promised_stream_id, headers))
            self.stream(first.promised_stream_id)
            return
        record = self.stream(first.stream_id)
        record.blocks.append(headers)
        if "END_STREAM" in first.flags:
            record.ended = True

    def _acknowledge(self, record: StreamRecord, size: int) -> None:
        if not self.auto_window or not size:
            return
        record.unacked += size
        self._unacked += size
        frames = []
        if record.unacked >= 32768 and not record.ended:
            frames.append(WindowUpdateFrame(record.stream_id, window_increment=record.unacked))
            record.unacked = 0
        if self._unacked >= 32768:
            frames.append(WindowUpdateFrame(0, window_increment=self._unacked))
            self._unacked = 0
        if frames:
            self._reply(*frames)


@contextlib.contextmanager
def h2_connection(
    port: int,
    *,
    tls: ssl.SSLContext | None = None,
    settings: dict[int, int] | None = None,
    auto_window: bool = True,
    handshake: bool = True,
) -> Iterator[H2Wire]:
    """An :class:`H2Wire` on a new connection to 127.0.0.1:``port``, closed afterwards.

    With ``handshake`` the server's SETTINGS (and its ACK of ours) are read first.
    """
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        if tls is not None:
            sock = tls.wrap_socket(sock, server_hostname="localhost")
            assert sock.selected_alpn_protocol() == "h2", sock.selected_alpn_protocol()
        wire = H2Wire(sock, settings=settings, auto_window=auto_window)
        if handshake:
            wire.until(lambda: wire.server_settings and wire.settings_acked)
        yield wire
    finally:
        sock.close()


def h2_client_context(ca_path: str, alpn: Sequence[str] = ("h2",)) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=ca_path)
    context.set_alpn_protocols(list(alpn))
    return context


# --- certificates -------------------------------------------------------------------------


@dataclass(frozen=True)
class TLSFiles:
    """A throwaway CA, a server certificate for 127.0.0.1/localhost and a client one."""

    folder: Path
    ca_path: str
    cert_path: str
    key_path: str
    #: The server's certificate alone, as PEM.
    server_cert_pem: str
    #: A client certificate (CN ``test-client``) and its key in one PEM file.
    client_path: str
    client_cert_pem: str


def make_tls_files(folder: Path) -> TLSFiles:
    trustme = pytest.importorskip("trustme")
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    client = ca.issue_cert("client@example.org", common_name="test-client")
    ca_path = folder / "ca.pem"
    cert_path = folder / "cert.pem"
    key_path = folder / "key.pem"
    client_path = folder / "client.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    cert.cert_chain_pems[0].write_to_path(str(cert_path))
    for extra in cert.cert_chain_pems[1:]:
        extra.write_to_path(str(cert_path), append=True)
    cert.private_key_pem.write_to_path(str(key_path))
    client.private_key_and_cert_chain_pem.write_to_path(str(client_path))
    return TLSFiles(
        folder,
        str(ca_path),
        str(cert_path),
        str(key_path),
        cert.cert_chain_pems[0].bytes().decode(),
        str(client_path),
        client.cert_chain_pems[0].bytes().decode(),
    )


# --- external tools -----------------------------------------------------------------------


def tool(name: str, package: str) -> str:
    """The path of ``name``, or skip the test saying how to install it."""
    found = shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed (apt-get install -y {package})")
    return found


def run_tool(
    command: Sequence[str],
    *,
    timeout: float = 30.0,
    env: dict[str, str] | None = None,
    cwd: Path | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``command`` to completion in its own process group, killed if it overruns.

    The group is killed by its id (the child's pid) afterwards too, so helpers the tool
    spawned (a browser's renderer and GPU processes) do not outlive the test.
    """
    process = subprocess.Popen(
        list(command),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        env=env,
        cwd=cwd,
    )
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        stdout, stderr = process.communicate(timeout=10)
        raise AssertionError(
            f"{command[0]} did not finish in {timeout}s; stderr:\n{stderr[-3000:]}"
        ) from None
    finally:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    return subprocess.CompletedProcess(list(command), process.returncode, stdout, stderr)


def curl(*args: str, timeout: float = 20.0) -> subprocess.CompletedProcess[str]:
    path = tool("curl", "curl")
    if (
        "HTTP2"
        not in subprocess.run([path, "-V"], capture_output=True, text=True, check=False).stdout
    ):
        pytest.skip("this curl has no HTTP/2 support (apt-get install -y curl)")
    return run_tool(
        [path, "--silent", "--show-error", "--max-time", str(int(timeout / 2)), *args],
        timeout=timeout,
    )


@dataclass(frozen=True)
class H2LoadResult:
    total: int
    succeeded: int
    failed: int
    errored: int
    timeout: int
    status_2xx: int
    output: str


_H2LOAD_REQUESTS = re.compile(
    r"requests: (\d+) total, \d+ started, \d+ done, (\d+) succeeded, (\d+) failed,"
    r" (\d+) errored, (\d+) timeout"
)
_H2LOAD_STATUS = re.compile(r"status codes: (\d+) 2xx")


def parse_h2load(output: str) -> H2LoadResult:
    requests = _H2LOAD_REQUESTS.search(output)
    status = _H2LOAD_STATUS.search(output)
    assert requests is not None and status is not None, output
    total, succeeded, failed, errored, timed_out = (int(x) for x in requests.groups())
    return H2LoadResult(total, succeeded, failed, errored, timed_out, int(status.group(1)), output)


# --- memory -------------------------------------------------------------------------------


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc/PID/status (Linux)."""
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        pytest.skip("needs /proc (Linux)")
    found = re.search(r"^VmRSS:\s+(\d+) kB$", text, re.MULTILINE)
    assert found is not None, text
    return int(found.group(1)) * 1024
