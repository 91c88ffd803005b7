"""Where the server under test listens, and how to reach its echo endpoint."""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass, replace
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "DEFAULT_MAX_MESSAGE_SIZE",
    "DEFAULT_TIMEOUT",
    "SCHEMES",
    "Target",
    "targets_from_env",
]

# The default of the server's `websocket_max_message_size` (and of Uvicorn's `ws_max_size` and
# Hypercorn 0.18's option of the same name): 16 MiB.
DEFAULT_MAX_MESSAGE_SIZE = 16 * 1024 * 1024

# How long to wait for an answer that a conforming server sends at once. Only a failing case
# ever waits this long, so it can be short.
DEFAULT_TIMEOUT = 2.0

Transport = Literal["h1", "h2"]

# URL scheme -> (transport, TLS). ws/wss: RFC 6455 §3 (HTTP/1.1 Upgrade); h2c/h2: RFC 8441
# extended CONNECT over cleartext HTTP/2 with prior knowledge, or over TLS with ALPN "h2".
SCHEMES: dict[str, tuple[Transport, bool]] = {
    "ws": ("h1", False),
    "wss": ("h1", True),
    "h2c": ("h2", False),
    "h2": ("h2", True),
}


@dataclass(frozen=True, slots=True)
class Target:
    """One server endpoint to run the suite against."""

    scheme: str
    host: str
    port: int
    path: str = "/ws"
    # PEM bundle to verify the server's certificate with; None skips verification, which is
    # what a conformance run against a throwaway local certificate wants.
    ca_file: str | None = None
    max_message_size: int = DEFAULT_MAX_MESSAGE_SIZE
    timeout: float = DEFAULT_TIMEOUT
    # Accept a dropped connection where a Close frame with a code is expected when failing the
    # connection: RFC 6455 §7.1.7 makes that Close frame a SHOULD, and Autobahn does not
    # require it either. Off by default: this server sends the Close frame.
    accept_drop: bool = False

    @classmethod
    def from_url(cls, url: str, **options: object) -> Target:
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES:
            raise ValueError(f"{url!r}: the scheme must be one of {sorted(SCHEMES)}")
        if parts.hostname is None:
            raise ValueError(f"{url!r} names no host")
        tls = SCHEMES[parts.scheme][1]
        port = parts.port or (443 if tls else 80)
        path = parts.path or "/ws"
        if parts.query:
            path += "?" + parts.query
        target = cls(parts.scheme, parts.hostname, port, path)
        return replace(target, **options)  # type: ignore[arg-type]

    @property
    def transport(self) -> Transport:
        return SCHEMES[self.scheme][0]

    @property
    def tls(self) -> bool:
        return SCHEMES[self.scheme][1]

    @property
    def authority(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.scheme}://{self.authority}{self.path}"

    def ssl_context(self, alpn: str) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.ca_file)
        if self.ca_file is None:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        context.set_alpn_protocols([alpn])
        return context


def targets_from_env(environ: dict[str, str] | None = None) -> dict[str, Target]:
    """Targets keyed by scheme, from the environment (every variable is optional).

    - ``WS_TARGET``: ``ws://HOST:PORT/PATH`` and/or ``wss://...`` (comma-separated).
    - ``WS_H2_TARGET``: ``h2c://HOST:PORT/PATH`` and/or ``h2://...`` (comma-separated).
    - ``WS_TLS_CA``: PEM file to verify TLS servers against (default: no verification).
    - ``WS_MAX_MESSAGE_SIZE``: the server's max message size in bytes (default 16 MiB).
    - ``WS_TIMEOUT``: seconds to wait for an expected frame (default 2).
    - ``WS_ACCEPT_DROP=1``: a server failing the connection may drop it without a Close frame.
    """
    env = os.environ if environ is None else environ
    options: dict[str, object] = {}
    if env.get("WS_TLS_CA"):
        options["ca_file"] = env["WS_TLS_CA"]
    if env.get("WS_MAX_MESSAGE_SIZE"):
        options["max_message_size"] = int(env["WS_MAX_MESSAGE_SIZE"])
    if env.get("WS_TIMEOUT"):
        options["timeout"] = float(env["WS_TIMEOUT"])
    if env.get("WS_ACCEPT_DROP", "") not in ("", "0"):
        options["accept_drop"] = True
    targets: dict[str, Target] = {}
    for variable, transport in (("WS_TARGET", "h1"), ("WS_H2_TARGET", "h2")):
        for url in filter(None, (part.strip() for part in env.get(variable, "").split(","))):
            target = Target.from_url(url, **options)
            if target.transport != transport:
                raise ValueError(f"{variable}={url!r}: a {transport} target is expected here")
            targets[target.scheme] = target
    return targets
