"""Quick checks that a server is up, answers correctly, and supports what a scenario needs.

A scenario is run against a server only if the probe for its capability passes, so a server
without HTTP/2 or WebSockets is reported as skipped (with the reason) instead of failing.
"""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import struct
import time

from .procs import Processes
from .scenarios import Capability, LoadScenario

HELLO = b"Hello, world!"
SIXTY_FOUR_KIB = b"x" * 65536
PROBE_TIMEOUT = 10.0


class ProbeFailed(RuntimeError):
    """The server did not answer as the scenario needs; the message says how."""


def http_request(
    port: int, method: str, path: str, body: bytes | None = None, *, tls: bool = False
) -> bytes:
    """One HTTP/1.1 request; the body of a 200 response, else ProbeFailed."""
    connection: http.client.HTTPConnection
    if tls:
        # The harness's own self-signed certificate: nothing to verify it against.
        context = ssl._create_unverified_context()
        connection = http.client.HTTPSConnection(
            "127.0.0.1", port, timeout=PROBE_TIMEOUT, context=context
        )
    else:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=PROBE_TIMEOUT)
    try:
        connection.request(method, path, body=body)
        response = connection.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException) as exc:
        raise ProbeFailed(f"{method} {path}: {type(exc).__name__}: {exc}") from None
    finally:
        connection.close()
    if response.status != 200:
        raise ProbeFailed(f"{method} {path}: status {response.status}")
    return data


def wait_until_serving(port: int, timeout: float, *, tls: bool = False) -> None:
    """Retry ``GET /`` until it answers ``Hello, world!`` (a supervisor may still be booting
    its worker after the port already accepts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            body = http_request(port, "GET", "/", tls=tls)
        except ProbeFailed:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)
            continue
        if body != HELLO:
            raise ProbeFailed(f"GET / answered {body[:40]!r}, not {HELLO!r}")
        return


def check_http_scenario(port: int, scenario: LoadScenario) -> None:
    """The scenario's own request answers the right body (the load tools do not look)."""
    if scenario.method == "POST":
        sent = os.urandom(scenario.body_bytes)
        if http_request(port, "POST", scenario.path, sent) != sent:
            raise ProbeFailed(f"POST {scenario.path} did not echo the body")
        return
    expected = {"/": HELLO, "/64k": SIXTY_FOUR_KIB}.get(scenario.path)
    body = http_request(port, "GET", scenario.path)
    if expected is not None and body != expected:
        raise ProbeFailed(f"GET {scenario.path} answered {len(body)} bytes, not the expected")


def check_h2(processes: Processes, port: int, core: int, *, tls: bool) -> None:
    """One request with h2load: h2c prior knowledge, or TLS with ALPN offering h2 only."""
    from .loads import h2load_argv, parse_h2load

    argv = h2load_argv(port, core, tls=tls, connections=1, requests=1)
    finished = processes.run(argv, timeout=PROBE_TIMEOUT)
    try:
        parsed = parse_h2load(finished.stdout)
    except RuntimeError:
        parsed = {}
    if parsed.get("succeeded") == 1.0 and parsed.get("status_2xx") == 1.0:
        return
    output = finished.stdout + finished.stderr
    if "No protocol negotiated" in output:
        raise ProbeFailed("TLS with ALPN did not negotiate h2")
    if tls:
        raise ProbeFailed("an HTTP/2 request over TLS got no 2xx response")
    raise ProbeFailed("an h2c prior-knowledge request got no 2xx response")


def check_websocket(port: int, path: str = "/ws") -> None:
    """Open a WebSocket with a raw handshake and have one binary message echoed."""
    key = base64.b64encode(os.urandom(16)).decode()
    handshake = (
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    ).encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=PROBE_TIMEOUT) as sock:
            sock.sendall(handshake)
            head = _read_until(sock, b"\r\n\r\n")
            status = head.split(b"\r\n", 1)[0].decode(errors="replace")
            if b" 101 " not in head.split(b"\r\n", 1)[0] + b" ":
                raise ProbeFailed(f"WebSocket handshake answered {status!r}")
            payload = b"probe-0123456789"
            sock.sendall(_masked_binary_frame(payload))
            echoed = _read_frame(sock)
            if echoed != payload:
                raise ProbeFailed(f"WebSocket echo returned {echoed[:40]!r}")
    except OSError as exc:
        raise ProbeFailed(f"WebSocket: {type(exc).__name__}: {exc}") from None


def _read_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise ProbeFailed(f"connection closed after {data[:80]!r}")
        data += chunk
        if len(data) > 65536:
            raise ProbeFailed("no end of response head in 64 KiB")
    return data


def _masked_binary_frame(payload: bytes) -> bytes:
    mask = os.urandom(4)
    masked = bytes(byte ^ mask[i % 4] for i, byte in enumerate(payload))
    return bytes([0x82, 0x80 | len(payload)]) + mask + masked  # FIN + binary; < 126 bytes


def _read_exact(sock: socket.socket, size: int) -> bytes:
    data = b""
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise ProbeFailed("connection closed inside a WebSocket frame")
        data += chunk
    return data


def _read_frame(sock: socket.socket) -> bytes:
    first, second = _read_exact(sock, 2)
    length = second & 0x7F
    if length == 126:
        (length,) = struct.unpack("!H", _read_exact(sock, 2))
    elif length == 127:
        (length,) = struct.unpack("!Q", _read_exact(sock, 8))
    if first & 0x0F == 0x8:
        raise ProbeFailed("the server closed the WebSocket instead of echoing")
    return _read_exact(sock, length)


def check_capability(processes: Processes, capability: Capability, port: int, core: int) -> None:
    """Raise ProbeFailed unless the server on ``port`` can do ``capability``."""
    if capability == "http1":
        check_http_scenario(port, LoadScenario("probe", "GET /", "wrk"))
    elif capability == "h2c":
        check_h2(processes, port, core, tls=False)
    elif capability == "h2-tls":
        check_h2(processes, port, core, tls=True)
    else:
        check_websocket(port)
