"""What every connection of one server shares.

Built once per server from the :class:`~hypercorn.config.Config`, so that per-request code
reads precomputed values (encoded default headers, limits, timeouts) instead of re-deriving
them. The I/O layer advances :attr:`ServerContext.now` and the Date header once per tick.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, MutableMapping
from email.utils import formatdate
from http import HTTPStatus
from typing import Any

from ..config import Config
from ..logs import AccessLogger, error_logger
from ..metrics import Metrics
from .h1_parse import ParserLimits

__all__ = ["ASGIApp", "ServerContext"]

ASGIApp = Callable[
    [MutableMapping[str, Any], Callable[[], Awaitable[Any]], Callable[[Any], Awaitable[None]]],
    Awaitable[None],
]


def _status_line(status: int) -> bytes:
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = ""
    return f"HTTP/1.1 {status} {phrase}\r\n".encode("ascii")


#: Precomputed once: every HTTP/1.1 status line a response can start with.
STATUS_LINES = {status: _status_line(status) for status in range(100, 600)}


def status_line(status: int) -> bytes:
    return STATUS_LINES[status]


# How long a connection keeps reading (and discarding) after it has answered and half-closed,
# so that a client still sending a body it will never need reads the response instead of a
# reset (the "lingering close" of RFC 9112 §9.6; Apache and nginx do the same).
LINGER_SECONDS = 2.0


class ServerContext:
    """Per-server state shared by all connections."""

    __slots__ = (
        "_date_second",
        "_static_header_list",
        "_static_headers",
        "access_log",
        "app",
        "config",
        "default_header_list",
        "default_header_names",
        "default_headers",
        "http2",
        "http_parser",
        "keep_alive_timeout",
        "lifespan_state",
        "limits",
        "logger",
        "metrics",
        "now",
        "request_body_buffer",
        "request_body_min_rate",
        "request_body_min_rate_grace",
        "request_body_timeout",
        "request_head_timeout",
        "root_path",
        "shutting_down",
        "timing",
    )

    def __init__(
        self,
        config: Config,
        app: ASGIApp,
        *,
        http_parser: str,
        access_log: AccessLogger | None = None,
        metrics: Metrics | None = None,
        logger: logging.Logger = error_logger,
    ) -> None:
        self.config = config
        self.app = app
        self.http_parser = http_parser
        self.access_log = access_log
        self.metrics = metrics
        #: Whether responses are timed (for the access log or the metrics).
        self.timing = access_log is not None or metrics is not None
        self.logger = logger
        self.lifespan_state: dict[str, Any] | None = None
        self.limits = ParserLimits(
            max_request_line_size=config.max_request_line_size,
            max_header_size=config.max_header_size,
            max_header_count=config.max_header_count,
        )
        self.keep_alive_timeout = config.keep_alive_timeout
        self.request_head_timeout = config.request_head_timeout
        self.request_body_timeout = config.request_body_timeout
        self.request_body_min_rate = config.request_body_min_rate
        self.request_body_min_rate_grace = config.request_body_min_rate_grace
        self.request_body_buffer = max(1, config.request_body_buffer)
        self.root_path = config.root_path
        self.http2 = config.http2
        #: Coarse monotonic clock, advanced by the I/O layer at every tick. Deadlines are
        #: measured against it, so setting one costs an attribute read, not a clock call.
        self.now = 0.0
        self.shutting_down = False

        static: list[tuple[bytes, bytes]] = []
        if config.server_header:
            static.append((b"server", _header_value(config.server_header)))
        for line in config.response_headers:
            name, sep, value = line.partition(":")
            if not sep or not name.strip():
                raise ValueError(f"response_headers: {line!r} is not 'Name: value'")
            static.append((name.strip().lower().encode("ascii"), _header_value(value.strip())))
        names = {name for name, _ in static}
        if config.date_header:
            names.add(b"date")
        self._static_header_list = static
        self._static_headers = b"".join(name + b": " + value + b"\r\n" for name, value in static)
        #: Names of the headers this server adds itself; an app that sets one of them
        #: replaces the server's value rather than doubling it.
        self.default_header_names = frozenset(names)
        self._date_second = -1
        #: Encoded default response headers (Date, Server, configured extras), each line
        #: ending in CRLF, rebuilt once a second.
        self.default_headers = self._static_headers
        #: The same headers as (name, value) pairs, for HTTP/2.
        self.default_header_list = list(static)
        self.update_date(0.0)

    def update_date(self, wall_time: float) -> None:
        """Rebuild the Date header if the wall-clock second has changed."""
        if not self.config.date_header:
            return
        second = int(wall_time)
        if second != self._date_second:
            self._date_second = second
            date = formatdate(second, usegmt=True).encode("ascii")
            self.default_headers = b"date: " + date + b"\r\n" + self._static_headers
            self.default_header_list = [(b"date", date), *self._static_header_list]

    def default_headers_without(self, names: frozenset[bytes]) -> bytes:
        """The default header block minus ``names`` (when an app supplies its own)."""
        lines = self.default_headers.split(b"\r\n")
        kept = [line for line in lines if line and line.split(b":", 1)[0] not in names]
        return b"".join(line + b"\r\n" for line in kept)


def _header_value(text: str) -> bytes:
    value = text.encode("latin-1")
    if b"\r" in value or b"\n" in value or b"\0" in value:
        raise ValueError(f"header value {text!r} contains CR, LF or NUL")
    return value
