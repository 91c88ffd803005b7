"""The HTTP/1.1 transport: a TCP or TLS socket after the Upgrade of RFC 6455 §4."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import ssl
from collections.abc import Sequence

from .connection import (
    READ_SIZE,
    HandshakeFailed,
    WebSocketConnection,
    open_socket,
    send_all,
)
from .deflate import DeflateOffer, DeflateParams, negotiate
from .frames import ProtocolViolation
from .target import Target

__all__ = ["H1Connection", "accept_key"]

# RFC 6455 §1.3: the GUID the server appends to Sec-WebSocket-Key before hashing.
_ACCEPT_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
# A response head larger than this is not a WebSocket handshake.
_MAX_HEAD = 64 * 1024


def accept_key(key: str) -> str:
    """RFC 6455 §4.2.2: base64(SHA-1(key + GUID))."""
    return base64.b64encode(hashlib.sha1(key.encode() + _ACCEPT_GUID).digest()).decode()


class H1Connection(WebSocketConnection):
    """A WebSocket on a TCP or TLS connection, after an HTTP/1.1 Upgrade (RFC 6455 §4)."""

    transport_name = "http/1.1"

    def __init__(
        self,
        target: Target,
        sock: socket.socket,
        deflate: DeflateParams | None,
        leftover: bytes,
        response_headers: list[tuple[str, str]],
    ) -> None:
        super().__init__(target, deflate)
        self.sock = sock
        self.response_headers = response_headers
        self._closed_how = ""
        if leftover:
            self._decoder.feed(leftover)
            self._decode_pending()

    @classmethod
    def open(
        cls,
        target: Target,
        offers: Sequence[DeflateOffer] = (),
        extra_headers: Sequence[tuple[str, str]] = (),
        version: str = "13",
    ) -> H1Connection:
        sock = open_socket(target, "http/1.1")
        try:
            return cls._handshake(target, sock, offers, extra_headers, version)
        except BaseException:
            sock.close()
            raise

    @classmethod
    def _handshake(
        cls,
        target: Target,
        sock: socket.socket,
        offers: Sequence[DeflateOffer],
        extra_headers: Sequence[tuple[str, str]],
        version: str,
    ) -> H1Connection:
        key = base64.b64encode(os.urandom(16)).decode()
        lines = [
            f"GET {target.path} HTTP/1.1",
            f"Host: {target.authority}",
            "Upgrade: websocket",
            "Connection: Upgrade",
            f"Sec-WebSocket-Key: {key}",
            f"Sec-WebSocket-Version: {version}",
        ]
        if offers:
            lines.append(
                "Sec-WebSocket-Extensions: " + ", ".join(o.header_value() for o in offers)
            )
        lines.extend(f"{name}: {value}" for name, value in extra_headers)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        buffer = b""
        while b"\r\n\r\n" not in buffer:
            data = sock.recv(READ_SIZE)
            if not data:
                raise HandshakeFailed(f"connection closed during the handshake: {buffer!r}")
            buffer += data
            if len(buffer) > _MAX_HEAD:
                raise HandshakeFailed("no end to the handshake response head")
        head, _, leftover = buffer.partition(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ProtocolViolation(f"RFC 9112 §4: bad status line {status_line!r}")
        status = int(parts[1])
        headers = []
        for line in header_lines:
            name, _, value = line.partition(":")
            headers.append((name.strip().lower(), value.strip()))
        if status != 101:
            raise HandshakeFailed(f"handshake answered {status_line!r}", status, headers)

        def values(name: str) -> list[str]:
            return [value for key, value in headers if key == name]

        # RFC 6455 §4.1, the client's checks of the server's handshake, points 2-6.
        if [v.lower() for v in values("upgrade")] != ["websocket"]:
            raise ProtocolViolation(f"RFC 6455 §4.1: Upgrade is {values('upgrade')}")
        tokens = {t.strip().lower() for v in values("connection") for t in v.split(",")}
        if "upgrade" not in tokens:
            raise ProtocolViolation(f"RFC 6455 §4.1: Connection is {values('connection')}")
        if values("sec-websocket-accept") != [accept_key(key)]:
            raise ProtocolViolation(
                f"RFC 6455 §4.1: Sec-WebSocket-Accept {values('sec-websocket-accept')} "
                f"is not {accept_key(key)!r}"
            )
        if values("sec-websocket-protocol"):
            raise ProtocolViolation(
                "RFC 6455 §4.1: the server selected a subprotocol that was not offered"
            )
        deflate = negotiate(offers, values("sec-websocket-extensions"))
        return cls(target, sock, deflate, leftover, headers)

    def _send_bytes(self, data: bytes) -> None:
        try:
            send_all(self.sock, data, self.timeout)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, TimeoutError):
            self.write_failed = True

    def _receive_bytes(self, timeout: float) -> bytes | None:
        if self._closed_how:
            return b""
        if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
            timeout = max(timeout, 0.001)
        self.sock.settimeout(timeout if timeout > 0 else 0.0)
        try:
            data = self.sock.recv(READ_SIZE)
        except (BlockingIOError, TimeoutError, ssl.SSLWantReadError):
            return None
        except ConnectionResetError:
            self._closed_how = "TCP reset"
            return b""
        except ssl.SSLError as error:
            self._closed_how = f"TLS error {error}"
            return b""
        if not data:
            self._closed_how = "TCP FIN"
        return data

    @property
    def how_closed(self) -> str:
        return self._closed_how

    def _shutdown(self) -> None:
        self.sock.close()
