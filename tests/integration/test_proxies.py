"""Behind a proxy, against a live server on both event loops: the PROXY protocol (v1, v2,
before TLS, trust, errors, deadlines) and ``proxy_headers`` applied by the server.

The PROXY header and what follows it are sent in one write, as load balancers do, so the
server must split them itself; over TLS the ClientHello is in that same write, and the
handshake only succeeds if not one byte of it was taken for the header.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import logging
import socket
import ssl
import struct
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import pytest

from hypercorn.config import Config
from hypercorn.protocol.proxy_protocol import V2_SIGNATURE

from ..apps import RoutingApp
from ..helpers import LOOPS, LiveServer, Reader, Response, wait_for
from .h2_helpers import TLSFiles, curl, make_tls_files

GET_SCOPE = b"GET /scope HTTP/1.1\r\nHost: example.com\r\n\r\n"


def v2_header(source: tuple[str, int], destination: tuple[str, int], command: int = 1) -> bytes:
    source_ip = ipaddress.ip_address(source[0])
    family = 0x11 if source_ip.version == 4 else 0x21
    block = (
        source_ip.packed
        + ipaddress.ip_address(destination[0]).packed
        + struct.pack("!HH", source[1], destination[1])
    )
    return V2_SIGNATURE + bytes([0x20 | command, family]) + struct.pack("!H", len(block)) + block


def v2_unix(source: str, destination: str) -> bytes:
    block = source.encode().ljust(108, b"\x00") + destination.encode().ljust(108, b"\x00")
    return V2_SIGNATURE + b"\x21\x31" + struct.pack("!H", len(block)) + block


class MemoryTLS:
    """A TLS client on a blocking socket whose first write is ``prefix`` + the ClientHello.

    Its Finished message goes out in one write with the first request, as curl and browsers
    send it: the server then decrypts the request as the handshake completes.
    """

    def __init__(self, sock: socket.socket, context: ssl.SSLContext, prefix: bytes) -> None:
        self.sock = sock
        self.incoming = ssl.MemoryBIO()
        self.outgoing = ssl.MemoryBIO()
        self.tls = context.wrap_bio(self.incoming, self.outgoing, server_hostname="127.0.0.1")
        with contextlib.suppress(ssl.SSLWantReadError):
            self.tls.do_handshake()
        sock.sendall(prefix + self.outgoing.read())
        self._run(self.tls.do_handshake, flush=False)

    def _run(self, operation: Callable[[], Any], flush: bool = True) -> Any:
        while True:
            try:
                result = operation()
            except ssl.SSLWantReadError:
                self._flush()
                data = self.sock.recv(65536)
                if data:
                    self.incoming.write(data)
                else:
                    self.incoming.write_eof()
                continue
            if flush:
                self._flush()
            return result

    def _flush(self) -> None:
        data = self.outgoing.read()
        if data:
            self.sock.sendall(data)

    def sendall(self, data: bytes) -> None:
        self._run(lambda: self.tls.write(data))

    def recv(self, size: int) -> bytes:
        try:
            return cast(bytes, self._run(lambda: self.tls.read(size)))
        except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
            return b""


def scope_of(response: Response) -> dict[str, Any]:
    assert response.status == 200, response
    return cast(dict[str, Any], json.loads(response.body))


def forgotten(live: LiveServer) -> bool:
    """Whether the server holds no connection any more (none left for shutdown to wait on)."""
    assert live.server is not None
    server = live.server
    return wait_for(lambda: live.call(lambda: len(server._connections)) == 0)


def closed_without_answer(sock: socket.socket, timeout: float = 5.0) -> bool:
    sock.settimeout(timeout)
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    return cast(str, request.param)


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def serve(loop: str) -> Iterator[Callable[..., LiveServer]]:
    started: list[LiveServer] = []

    def start(**options: Any) -> LiveServer:
        options.setdefault("bind", ["127.0.0.1:0"])
        server = LiveServer(RoutingApp(), Config(**options), loop=loop)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


def client_context(tls_files: TLSFiles, alpn: list[str] | None = None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=tls_files.ca_path)
    context.set_alpn_protocols(alpn or ["http/1.1"])
    return context


# --- the header sets client and server --------------------------------------------------


@pytest.mark.parametrize(
    ("header", "client", "server"),
    [
        (
            b"PROXY TCP4 203.0.113.7 198.51.100.1 4711 443\r\n",
            ["203.0.113.7", 4711],
            ["198.51.100.1", 443],
        ),
        (
            b"PROXY TCP6 2001:db8::7 2001:db8::1 4711 443\r\n",
            ["2001:db8::7", 4711],
            ["2001:db8::1", 443],
        ),
        (
            v2_header(("203.0.113.7", 4711), ("198.51.100.1", 443)),
            ["203.0.113.7", 4711],
            ["198.51.100.1", 443],
        ),
        (
            v2_header(("2001:db8::7", 4711), ("2001:db8::1", 443)),
            ["2001:db8::7", 4711],
            ["2001:db8::1", 443],
        ),
        (v2_unix("/run/client.sock", "/run/lb.sock"), None, ["/run/lb.sock", None]),
        # The real connection's addresses: UNKNOWN, and LOCAL (a health check).
        (b"PROXY UNKNOWN\r\n", "real", "real"),
        (v2_header(("203.0.113.7", 4711), ("198.51.100.1", 443), command=0), "real", "real"),
    ],
    ids=["v1-tcp4", "v1-tcp6", "v2-tcp4", "v2-tcp6", "v2-unix", "v1-unknown", "v2-local"],
)
def test_header_gives_the_scope_its_addresses(
    serve: Callable[..., LiveServer], header: bytes, client: Any, server: Any
) -> None:
    live = serve(proxy_protocol="auto")
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(header + GET_SCOPE)  # one write: the server splits them
        reader = Reader(sock)
        scope = scope_of(reader.response())
        local, peer = sock.getsockname(), sock.getpeername()
        # Every request of the connection has them, not only the first.
        sock.sendall(GET_SCOPE)
        assert scope_of(reader.response())["client"] == scope["client"]
    assert scope["client"] == ([local[0], local[1]] if client == "real" else client)
    assert scope["server"] == ([peer[0], peer[1]] if server == "real" else server)
    assert scope["scheme"] == "http"


def test_header_trickled_in_pieces(serve: Callable[..., LiveServer]) -> None:
    live = serve(proxy_protocol="v1")
    data = b"PROXY TCP4 203.0.113.7 198.51.100.1 4711 443\r\n" + GET_SCOPE
    with contextlib.closing(live.connect()) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for start in range(0, 60, 7):
            sock.sendall(data[start : start + 7])
            time.sleep(0.002)
        sock.sendall(data[63:])
        assert scope_of(Reader(sock).response())["client"] == ["203.0.113.7", 4711]


@pytest.mark.parametrize(
    "header",
    [
        b"PROXY TCP4 203.0.113.7 198.51.100.1 4711 443\r\n",
        v2_header(("203.0.113.7", 4711), ("198.51.100.1", 443)),
    ],
    ids=["v1", "v2"],
)
def test_header_before_tls(
    serve: Callable[..., LiveServer], tls_files: TLSFiles, header: bytes
) -> None:
    live = serve(proxy_protocol="auto", certfile=tls_files.cert_path, keyfile=tls_files.key_path)
    with contextlib.closing(live.connect()) as sock:
        tls = MemoryTLS(sock, client_context(tls_files), header)  # header + ClientHello
        tls.sendall(GET_SCOPE)
        scope = scope_of(Reader(cast(socket.socket, tls)).response())
    assert scope["client"] == ["203.0.113.7", 4711]
    assert scope["server"] == ["198.51.100.1", 443]
    assert scope["scheme"] == "https"


@pytest.mark.parametrize("tls", [False, True], ids=["h2c-prior-knowledge", "h2-alpn"])
def test_http2_after_the_header_with_curl(
    serve: Callable[..., LiveServer], tls_files: TLSFiles, tls: bool
) -> None:
    # curl's --haproxy-protocol sends a v1 header with its own addresses, then the HTTP/2
    # preface, or TLS with ALPN h2.
    if tls:
        live = serve(proxy_protocol="v1", certfile=tls_files.cert_path, keyfile=tls_files.key_path)
        args = ["--http2", "--cacert", tls_files.ca_path, f"https://127.0.0.1:{live.port}/scope"]
    else:
        live = serve(proxy_protocol="v1")
        args = ["--http2-prior-knowledge", f"http://127.0.0.1:{live.port}/scope"]
    result = curl("--haproxy-protocol", "--write-out", "\n%{http_version}", *args)
    assert result.returncode == 0, result.stderr
    body, _, version = result.stdout.rpartition("\n")
    scope = json.loads(body)
    assert (version, scope["http_version"]) == ("2", "2")
    assert scope["scheme"] == ("https" if tls else "http")
    assert scope["client"][0] == "127.0.0.1"


def test_unix_socket_bind(serve: Callable[..., LiveServer], tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    serve(bind=[f"unix:{path}"], proxy_protocol="v2")
    with contextlib.closing(socket.socket(socket.AF_UNIX)) as sock:
        sock.settimeout(5)
        sock.connect(path)  # a Unix-socket peer is trusted: only a local proxy can connect
        sock.sendall(v2_header(("203.0.113.7", 4711), ("198.51.100.1", 443)) + GET_SCOPE)
        scope = scope_of(Reader(sock).response())
    assert scope["client"] == ["203.0.113.7", 4711]


# --- who may send it, and what happens otherwise -----------------------------------------


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_untrusted_peer_is_disconnected(
    serve: Callable[..., LiveServer],
    tls_files: TLSFiles,
    error_log: pytest.LogCaptureFixture,
    tls: bool,
) -> None:
    options: dict[str, Any] = {"proxy_protocol": "auto", "forwarded_allow_ips": ["10.0.0.1"]}
    if tls:
        options.update(certfile=tls_files.cert_path, keyfile=tls_files.key_path)
    live = serve(**options)
    for _ in range(2):
        with contextlib.closing(live.connect()) as sock:
            sock.sendall(b"PROXY TCP4 203.0.113.7 198.51.100.1 4711 443\r\n" + GET_SCOPE)
            assert closed_without_answer(sock)
    assert forgotten(live)
    warnings = [r.getMessage() for r in error_log.records if r.levelno == logging.WARNING]
    # Logged, but not once per connection: a scan cannot flood the log.
    assert len(warnings) == 1
    assert "127.0.0.1" in warnings[0] and "forwarded_allow_ips" in warnings[0]


@pytest.mark.parametrize(
    ("versions", "data", "logged"),
    [
        ("auto", GET_SCOPE, "no PROXY protocol signature"),
        ("auto", b"PROXY TCP4 203.0.113.7 198.51.100.1 4711 443\n", "bare LF"),
        ("auto", b"PROXY TCP4 203.0.113.07 198.51.100.1 4711 443\r\n", "bad TCP4 address"),
        ("auto", V2_SIGNATURE + b"\x21\x11\x00\x04abcd", "12 needed"),
        ("v2", b"PROXY UNKNOWN\r\n", "only v2"),
        ("v1", v2_header(("203.0.113.7", 4711), ("198.51.100.1", 443)), "only v1"),
    ],
    ids=["http-request", "bare-lf", "leading-zero", "short-block", "v1-to-v2", "v2-to-v1"],
)
def test_invalid_header_closes_with_one_log_line(
    serve: Callable[..., LiveServer],
    error_log: pytest.LogCaptureFixture,
    versions: str,
    data: bytes,
    logged: str,
) -> None:
    live = serve(proxy_protocol=versions)
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(data)
        assert closed_without_answer(sock)  # no 400: this is not HTTP yet
    assert forgotten(live)
    warnings = [r.getMessage() for r in error_log.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "Invalid PROXY protocol header from 127.0.0.1:" in warnings[0]
    assert logged in warnings[0]


@pytest.mark.parametrize("sent", [b"", b"PROXY TCP4 203.0.113.7"], ids=["nothing", "partial"])
@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_no_header_within_request_head_timeout(
    serve: Callable[..., LiveServer],
    tls_files: TLSFiles,
    error_log: pytest.LogCaptureFixture,
    sent: bytes,
    tls: bool,
) -> None:
    options: dict[str, Any] = {"proxy_protocol": "auto", "request_head_timeout": 0.3}
    if tls:
        options.update(certfile=tls_files.cert_path, keyfile=tls_files.key_path)
    live = serve(**options)
    started = time.monotonic()
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(sent)
        assert closed_without_answer(sock)
    assert 0.25 < time.monotonic() - started < 3
    assert forgotten(live)
    warnings = [r.getMessage() for r in error_log.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "No PROXY protocol header from 127.0.0.1:" in warnings[0]
    assert "within 0.3s" in warnings[0]


@pytest.mark.parametrize(
    "after", [b"", b"GET / HTTP/1.1\r\n\r\n"], ids=["no-handshake", "not-tls"]
)
def test_tls_handshake_after_the_header_fails_or_times_out(
    serve: Callable[..., LiveServer], tls_files: TLSFiles, after: bytes
) -> None:
    live = serve(
        proxy_protocol="v1",
        request_head_timeout=0.3,
        certfile=tls_files.cert_path,
        keyfile=tls_files.key_path,
    )
    started = time.monotonic()
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(b"PROXY UNKNOWN\r\n" + after)
        assert closed_without_answer(sock)
    elapsed = time.monotonic() - started
    assert (0.25 < elapsed < 3) if not after else elapsed < 0.25
    assert forgotten(live)


def test_health_check_close_is_not_an_error(
    serve: Callable[..., LiveServer], error_log: pytest.LogCaptureFixture
) -> None:
    live = serve(proxy_protocol="auto")
    live.connect().close()  # a TCP check: connect, close
    with contextlib.closing(live.connect()) as sock:  # a LOCAL check
        sock.sendall(v2_header(("127.0.0.1", 1), ("127.0.0.1", 2), command=0))
        sock.shutdown(socket.SHUT_WR)
        assert closed_without_answer(sock)
    with contextlib.closing(live.connect()) as sock:  # gone in mid-header: worth a line
        sock.sendall(b"PROXY TCP4 1.2")
        sock.shutdown(socket.SHUT_WR)
        assert closed_without_answer(sock)
    assert forgotten(live)
    time.sleep(0.1)
    warnings = [r.getMessage() for r in error_log.records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1
    assert "before its PROXY protocol header was complete" in warnings[0]


@pytest.mark.parametrize("tls", [False, True], ids=["plain", "tls"])
def test_shutdown_does_not_wait_for_a_header(loop: str, tls_files: TLSFiles, tls: bool) -> None:
    options: dict[str, Any] = {"proxy_protocol": "auto", "graceful_timeout": 5.0}
    if tls:
        options.update(certfile=tls_files.cert_path, keyfile=tls_files.key_path)
    live = LiveServer(RoutingApp(), Config(bind=["127.0.0.1:0"], **options), loop=loop).start()
    with contextlib.closing(live.connect()) as waiting:
        waiting.sendall(b"PROXY TCP4")
        time.sleep(0.05)
        started = time.monotonic()
        live.stop()
        assert time.monotonic() - started < 2
        assert closed_without_answer(waiting)


# --- proxy_headers through the server ------------------------------------------------------


def test_proxy_headers_in_the_server(serve: Callable[..., LiveServer]) -> None:
    live = serve(proxy_headers=True)
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(
            b"GET /scope HTTP/1.1\r\nHost: internal\r\nX-Forwarded-For: 6.6.6.6, 203.0.113.7\r\n"
            b"X-Forwarded-Proto: https\r\nX-Forwarded-Host: example.com\r\n\r\n"
        )
        scope = scope_of(Reader(sock).response())
    assert scope["client"] == ["203.0.113.7", 0]
    assert scope["scheme"] == "https"
    assert ["host", "example.com"] in scope["headers"]
    assert scope["server"] == ["example.com", 443]


def test_proxy_headers_off_by_default(serve: Callable[..., LiveServer]) -> None:
    live = serve()
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(
            b"GET /scope HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n"
            b"Forwarded: for=203.0.113.7;proto=https\r\n\r\n"
        )
        scope = scope_of(Reader(sock).response())
    assert scope["client"][0] == "127.0.0.1"
    assert scope["scheme"] == "http"


def test_proxy_headers_come_before_the_https_redirect(
    serve: Callable[..., LiveServer], tls_files: TLSFiles
) -> None:
    # A TLS-terminating proxy reaching an insecure_bind says https: no redirect loop.
    live = serve(
        certfile=tls_files.cert_path,
        keyfile=tls_files.key_path,
        insecure_bind=["127.0.0.1:0"],
        https_redirect=True,
        proxy_headers=True,
    )
    assert live.server is not None
    port = live.server.addresses[1][1]
    for proto, status in [(b"https", 200), (b"http", 308)]:
        with contextlib.closing(socket.create_connection(("127.0.0.1", port), 5)) as sock:
            sock.sendall(
                b"GET /scope HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-Proto: "
                + proto
                + b"\r\n\r\n"
            )
            assert Reader(sock).response().status == status


@pytest.mark.parametrize(
    ("source", "client"),
    [("10.0.0.9", ["203.0.113.7", 0]), ("203.0.113.9", ["203.0.113.9", 4711])],
    ids=["proxy-behind-proxy", "client-headers-ignored"],
)
def test_proxy_headers_after_the_proxy_protocol(
    serve: Callable[..., LiveServer], source: str, client: list[Any]
) -> None:
    # The PROXY header's source is the peer the headers must come from.
    live = serve(
        proxy_protocol="v1",
        proxy_headers=True,
        forwarded_allow_ips=["127.0.0.1", "10.0.0.0/8"],
    )
    with contextlib.closing(live.connect()) as sock:
        sock.sendall(
            f"PROXY TCP4 {source} 198.51.100.1 4711 443\r\n".encode()
            + b"GET /scope HTTP/1.1\r\nHost: a\r\nX-Forwarded-For: 203.0.113.7\r\n\r\n"
        )
        assert scope_of(Reader(sock).response())["client"] == client


def test_metrics_bind_takes_no_proxy_header(serve: Callable[..., LiveServer]) -> None:
    # Scrapers reach the metrics bind directly, not through the load balancer.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        metrics_port = probe.getsockname()[1]
    serve(proxy_protocol="v2", metrics_bind=[f"127.0.0.1:{metrics_port}"])
    with contextlib.closing(socket.create_connection(("127.0.0.1", metrics_port), 5)) as sock:
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: a\r\n\r\n")
        assert Reader(sock).response().status == 200
