"""Listening sockets: parsing ``--bind`` values, creating sockets, and the TLS context.

Sockets are created here rather than by the event loop so that the options are set on
purpose (and a supervisor can later bind once for many workers).
"""

from __future__ import annotations

import os
import socket
import ssl
import stat
from dataclasses import dataclass

from .config import Config

__all__ = [
    "Bind",
    "BindError",
    "create_socket",
    "create_ssl_context",
    "parse_bind",
    "read_server_certificate",
]

DEFAULT_PORT = 8000


class BindError(Exception):
    """A bind address is malformed or cannot be bound; the message is one line for users."""


@dataclass(frozen=True, slots=True)
class Bind:
    """One parsed ``--bind`` value."""

    text: str
    kind: str  # "tcp", "unix" or "fd"
    host: str = ""
    port: int = 0
    path: str = ""
    fd: int = -1


def parse_bind(text: str) -> Bind:
    """Parse ``HOST:PORT``, ``[IPV6]:PORT``, ``HOST``, ``unix:PATH`` or ``fd://N``."""
    if text.startswith("unix:"):
        path = text[len("unix:") :]
        if not path:
            raise BindError(f"bind {text!r}: a unix socket needs a path")
        return Bind(text, "unix", path=path)
    if text.startswith("fd://"):
        try:
            fd = int(text[len("fd://") :])
        except ValueError:
            raise BindError(f"bind {text!r}: fd:// needs a file descriptor number") from None
        return Bind(text, "fd", fd=fd)
    if text.startswith("["):
        host, bracket, rest = text[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise BindError(f"bind {text!r}: expected [IPV6]:PORT")
        port_text = rest[1:]
    elif text.count(":") > 1:
        raise BindError(f"bind {text!r}: put IPv6 addresses in brackets, as [::1]:8000")
    else:
        host, _, port_text = text.partition(":")
    if not port_text:
        port = DEFAULT_PORT
    else:
        try:
            port = int(port_text)
        except ValueError:
            raise BindError(f"bind {text!r}: port {port_text!r} is not a number") from None
        if not 0 <= port <= 65535:
            raise BindError(f"bind {text!r}: port {port} is out of range")
    return Bind(text, "tcp", host=host or "0.0.0.0", port=port)


def create_socket(bind: Bind, backlog: int) -> socket.socket:
    """Create, bind and listen on the socket ``bind`` names. Raises :class:`BindError`."""
    try:
        if bind.kind == "fd":
            sock = socket.socket(fileno=bind.fd)
        elif bind.kind == "unix":
            sock = _unix_socket(bind.path)
        else:
            sock = _tcp_socket(bind.host, bind.port)
        if bind.kind != "fd":
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        raise BindError(f"cannot bind {bind.text}: {exc.strerror or exc}") from None
    return sock


def _tcp_socket(host: str, port: int) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot resolve {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Restarting must not wait for the previous process's connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if family == socket.AF_INET6:
            # [::]:P means IPv6 only, so that 0.0.0.0:P can be bound beside it on every OS.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _unix_socket(path: str) -> socket.socket:
    # A socket file left by a previous run would make bind fail; anything else at that path
    # is not ours to delete.
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(path)
    except OSError:
        sock.close()
        raise
    return sock


def create_ssl_context(config: Config, alpn: list[str]) -> ssl.SSLContext | None:
    """The server's TLS context, or None when no certificate is configured."""
    if config.certfile is None:
        if config.keyfile is not None:
            raise BindError("keyfile is set but certfile is not")
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # RFC 9113 §9.2.2 leaves TLS 1.2 connections only the ECDHE AEAD suites; the default
    # list keeps to those, and TLS 1.3's suites are all acceptable.
    try:
        context.set_ciphers(config.ciphers)
    except ssl.SSLError:
        raise BindError(f"TLS: no usable cipher in ciphers {config.ciphers!r}") from None
    # RFC 9113 §9.2.1: no compression, no renegotiation (OpenSSL's defaults, made certain).
    context.options |= ssl.OP_NO_COMPRESSION
    if hasattr(ssl, "OP_NO_RENEGOTIATION"):
        context.options |= ssl.OP_NO_RENEGOTIATION
    for path in (config.certfile, config.keyfile, config.ca_certs):
        # ssl reports a missing file without its name; say which one.
        if path is not None and not os.access(path, os.R_OK):
            raise BindError(f"TLS: cannot read {path}: no such file or not readable")

    def no_password() -> str:
        # Without this, OpenSSL would prompt on the terminal and wait.
        raise BindError(
            f"TLS: the key in {config.keyfile or config.certfile} is encrypted;"
            " set keyfile_password"
        )

    try:
        context.load_cert_chain(
            config.certfile, config.keyfile, config.keyfile_password or no_password
        )
    except (ssl.SSLError, OSError) as exc:
        hint = " (is keyfile_password right?)" if config.keyfile_password else ""
        raise BindError(
            f"TLS: cannot load certificate {config.certfile}"
            f"{' with key ' + config.keyfile if config.keyfile else ''}: {exc}{hint}"
        ) from None
    verify_mode = config.verify_mode
    if config.ca_certs is not None:
        try:
            context.load_verify_locations(config.ca_certs)
        except (ssl.SSLError, OSError) as exc:
            raise BindError(f"TLS: cannot load CA bundle {config.ca_certs}: {exc}") from None
        verify_mode = verify_mode or "optional"
    elif verify_mode not in (None, "none"):
        raise BindError(f"TLS: verify_mode {verify_mode} needs ca_certs to verify against")
    context.verify_mode = _VERIFY_MODES[verify_mode or "none"]
    context.set_alpn_protocols(alpn)
    return context


_VERIFY_MODES = {
    "none": ssl.CERT_NONE,
    "optional": ssl.CERT_OPTIONAL,
    "required": ssl.CERT_REQUIRED,
}


def read_server_certificate(config: Config) -> str | None:
    """The first PEM certificate of ``certfile``, for the ASGI ``tls`` extension."""
    if config.certfile is None:
        return None
    try:
        with open(config.certfile) as file:
            text = file.read()
    except (OSError, UnicodeDecodeError):
        return None
    begin = text.find("-----BEGIN CERTIFICATE-----")
    end_marker = "-----END CERTIFICATE-----"
    end = text.find(end_marker, begin)
    if begin < 0 or end < 0:
        return None
    return text[begin : end + len(end_marker)] + "\n"
