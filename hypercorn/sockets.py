"""Listening sockets: parsing ``--bind`` values, creating sockets, and the TLS context.

Sockets are created here rather than by the event loop so that the options are set on
purpose (and a supervisor can later bind once for many workers).
"""

from __future__ import annotations

import grp
import os
import pwd
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
    "unix_socket_mode",
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


def create_socket(
    bind: Bind, backlog: int, config: Config | None = None, *, listen: bool = True
) -> socket.socket:
    """Create, bind and listen on the socket ``bind`` names. Raises :class:`BindError`.

    ``config`` supplies ``reuse_port`` and the ``unix_socket_*`` permissions. With
    ``listen=False`` a TCP socket is only bound: a supervisor holds such a SO_REUSEPORT socket
    to keep the port (a port 0 resolved) while each worker listens on its own.
    """
    reuse_port = config is not None and config.reuse_port
    try:
        if bind.kind == "fd":
            sock = socket.socket(fileno=bind.fd)
        elif bind.kind == "unix":
            sock = _unix_socket(bind.path, config)
        else:
            sock = _tcp_socket(bind.host, bind.port, reuse_port)
        if bind.kind != "fd" and listen:
            sock.listen(backlog)
        sock.setblocking(False)
    except OSError as exc:
        raise BindError(f"cannot bind {bind.text}: {exc.strerror or exc}") from None
    return sock


def _tcp_socket(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise OSError(exc.errno, f"cannot resolve {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    sock = socket.socket(family, kind, proto)
    try:
        # Restarting must not wait for the previous process's connections in TIME_WAIT.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            # Every worker listens on its own socket and the kernel spreads connections
            # across them (Linux, FreeBSD 12+), instead of all workers waking on one.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            # [::]:P means IPv6 only, so that 0.0.0.0:P can be bound beside it on every OS.
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    return sock


def _unix_socket(path: str, config: Config | None = None) -> socket.socket:
    mode = owner = group = None
    if config is not None:
        # Checked before anything at the path is touched.
        if config.unix_socket_mode is not None:
            mode = unix_socket_mode(config.unix_socket_mode)
        owner = _user_id(config.unix_socket_owner)
        group = _group_id(config.unix_socket_group)
    # A socket file left by a previous run would make bind fail; anything else at that path
    # is not ours to delete.
    try:
        if stat.S_ISSOCK(os.stat(path).st_mode):
            os.unlink(path)
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        if mode is None:
            sock.bind(path)
        else:
            # The file is created with no permissions at all and then opened up to `mode`,
            # so it is never, even briefly, connectable by more users than `mode` allows.
            # (The umask is process-wide: binds happen once, at start-up.)
            umask = os.umask(0o777)
            try:
                sock.bind(path)
            finally:
                os.umask(umask)
    except OSError:
        sock.close()
        raise
    try:
        if mode is not None:
            os.chmod(path, mode)
        if owner is not None or group is not None:
            os.chown(path, -1 if owner is None else owner, -1 if group is None else group)
    except OSError as exc:
        sock.close()
        os.unlink(path)
        raise OSError(exc.errno, f"cannot set its owner or mode: {exc.strerror}") from None
    return sock


def unix_socket_mode(text: str) -> int:
    """``unix_socket_mode`` as permission bits: octal digits such as ``660`` or ``0o660``."""
    digits = text.removeprefix("0o")
    try:
        mode = int(digits, 8)
    except ValueError:
        mode = -1
    if not digits or not 0 <= mode <= 0o777:
        raise BindError(f"unix_socket_mode: {text!r} is not an octal mode such as 660")
    return mode


def _user_id(name: str | None) -> int | None:
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    try:
        return pwd.getpwnam(name).pw_uid
    except KeyError:
        raise BindError(f"unix_socket_owner: no user named {name!r}") from None


def _group_id(name: str | None) -> int | None:
    if name is None:
        return None
    if name.isdigit():
        return int(name)
    try:
        return grp.getgrnam(name).gr_gid
    except KeyError:
        raise BindError(f"unix_socket_group: no group named {name!r}") from None


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
