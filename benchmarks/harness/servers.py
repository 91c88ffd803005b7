"""The servers under test: one small table, one entry per server or variant.

Every server serves ``app:app`` (benchmarks/app.py) from the benchmarks directory, on one
loopback port, one worker process, access log off, uvloop where the server supports it, and
the same keep-alive timeout and listen backlog. Adding a server is an entry in ``SERVERS``
(plus an :class:`Environment` if it needs its own packages).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .envs import Environment, TlsFiles

# Long enough that the 10,000 idle connections of the memory scenario stay open while RSS is
# read, and the same for every server so that no server closes connections the others keep.
KEEP_ALIVE_SECONDS = 600
# Above wrk's 1,000 connections, so no server refuses a burst of connects because its accept
# queue is full (Hypercorn 0.18 and Twisted default to 100 and 50). The kernel caps it at
# net.core.somaxconn.
BACKLOG = 2048
APP = "app:app"


@dataclass(frozen=True)
class Launch:
    """What a server's command line is built from."""

    bin: Path  # the bin directory of the server's environment
    port: int
    tls: TlsFiles | None
    scratch: Path  # a directory for config files the server needs


Command = Callable[[Launch], list[str]]


@dataclass(frozen=True)
class Server:
    name: str  # used on the command line (--servers) and in the results
    label: str  # used in tables and the chart
    env: Environment
    command: Command
    this: bool = False  # a variant of this project rather than a peer
    http2_only: bool = False  # speaks nothing but HTTP/2 (a ceiling, not a server)


# --- environments -------------------------------------------------------------------------

THIS_ENV = Environment(
    "this",
    (),
    report=("hypercorn", "uvloop", "httptools", "h11", "h2", "websockets"),
    editable_extras="standard",
)
UVICORN_ENV = Environment(
    "uvicorn",
    ("uvicorn[standard]",),
    report=("uvicorn", "uvloop", "httptools", "h11", "websockets"),
)
HYPERCORN_018_ENV = Environment(
    "hypercorn-0.18",
    ("hypercorn[uvloop]==0.18.0",),
    report=("hypercorn", "uvloop", "h11", "h2", "wsproto"),
)
GRANIAN_ENV = Environment("granian", ("granian[uvloop]",), report=("granian", "uvloop"))
GUNICORN_ENV = Environment("gunicorn", ("gunicorn", "uvloop"), report=("gunicorn", "uvloop"))
DAPHNE_ENV = Environment("daphne", ("daphne",), report=("daphne", "twisted", "autobahn"))


# --- command lines ------------------------------------------------------------------------


def _this(worker: str, parser: str) -> Command:
    def command(launch: Launch) -> list[str]:
        argv = [
            str(launch.bin / "hypercorn"), APP,
            "--bind", f"127.0.0.1:{launch.port}",
            "--worker-class", worker, "--http", parser,
            "--keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", str(BACKLOG),
            "--log-level", "warning",
        ]  # fmt: skip
        if launch.tls:
            argv += ["--certfile", str(launch.tls.cert), "--keyfile", str(launch.tls.key)]
        return argv

    return command


def _uvicorn(parser: str) -> Command:
    def command(launch: Launch) -> list[str]:
        argv = [
            str(launch.bin / "uvicorn"), APP,
            "--host", "127.0.0.1", "--port", str(launch.port),
            "--loop", "uvloop", "--http", parser,
            "--no-access-log", "--log-level", "warning",
            "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", str(BACKLOG),
        ]  # fmt: skip
        if launch.tls:
            argv += ["--ssl-certfile", str(launch.tls.cert)]
            argv += ["--ssl-keyfile", str(launch.tls.key)]
        return argv

    return command


def _hypercorn_018(launch: Launch) -> list[str]:
    # Without keep_alive_max_requests raised, 0.18 closes every connection (HTTP/2 ones
    # included) after 1,000 requests, and the load tools measure reconnects.
    config = launch.scratch / "hypercorn-0.18.toml"
    config.write_text(
        f"keep_alive_max_requests = 1000000000\nkeep_alive_timeout = {KEEP_ALIVE_SECONDS}\n"
        f"backlog = {BACKLOG}\nloglevel = 'WARNING'\n"
    )
    argv = [
        str(launch.bin / "hypercorn"), APP,
        "--bind", f"127.0.0.1:{launch.port}", "--worker-class", "uvloop",
        "--config", str(config),
    ]  # fmt: skip
    if launch.tls:
        argv += ["--certfile", str(launch.tls.cert), "--keyfile", str(launch.tls.key)]
    return argv


def _granian(launch: Launch) -> list[str]:
    argv = [
        str(launch.bin / "granian"),
        "--interface", "asgi", "--workers", "1", "--http", "auto", "--loop", "uvloop",
        "--host", "127.0.0.1", "--port", str(launch.port),
        "--backlog", str(BACKLOG), "--log-level", "warning", "--no-access-log",
        # Granian has no keep-alive timeout: an idle HTTP/1.1 connection is closed when this
        # (time to receive the next request head) runs out; 60 s is the most it allows.
        "--http1-header-read-timeout", "60000",
    ]  # fmt: skip
    if launch.tls:
        argv += ["--ssl-certificate", str(launch.tls.cert)]
        argv += ["--ssl-keyfile", str(launch.tls.key)]
    return [*argv, APP]


def _gunicorn(launch: Launch) -> list[str]:
    argv = [
        str(launch.bin / "gunicorn"), "--worker-class", "asgi", "--workers", "1",
        "--asgi-loop", "uvloop",
        "--bind", f"127.0.0.1:{launch.port}",
        "--keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", str(BACKLOG),
        "--log-level", "warning",
    ]  # fmt: skip
    if launch.tls:
        argv += ["--certfile", str(launch.tls.cert), "--keyfile", str(launch.tls.key)]
    return [*argv, APP]


def _daphne(launch: Launch) -> list[str]:
    if launch.tls:
        endpoint = (
            f"ssl:port={launch.port}:interface=127.0.0.1:backlog={BACKLOG}"
            f":privateKey={launch.tls.key}:certKey={launch.tls.cert}"
        )
    else:
        endpoint = f"tcp:port={launch.port}:interface=127.0.0.1:backlog={BACKLOG}"
    return [str(launch.bin / "daphne"), "--endpoint", endpoint, "--verbosity", "0", APP]


def _bare_h2(launch: Launch) -> list[str]:
    script = Path(__file__).resolve().parent.parent / "bare_h2.py"
    argv = [str(launch.bin / "python"), str(script), "--port", str(launch.port)]
    if launch.tls:
        argv += ["--certfile", str(launch.tls.cert), "--keyfile", str(launch.tls.key)]
    return argv


# The order here is the order of every round, and of the tables.
SERVERS: tuple[Server, ...] = (
    Server("this", "this (uvloop, httptools)", THIS_ENV, _this("uvloop", "httptools"), True),
    Server("this-h11", "this (uvloop, h11)", THIS_ENV, _this("uvloop", "h11"), True),
    Server(
        "this-asyncio", "this (asyncio, httptools)", THIS_ENV, _this("asyncio", "httptools"), True
    ),
    Server("uvicorn", "Uvicorn (uvloop, httptools)", UVICORN_ENV, _uvicorn("httptools")),
    Server("uvicorn-h11", "Uvicorn (uvloop, h11)", UVICORN_ENV, _uvicorn("h11")),
    Server("hypercorn-0.18", "Hypercorn 0.18 (uvloop)", HYPERCORN_018_ENV, _hypercorn_018),
    Server("granian", "Granian (asgi)", GRANIAN_ENV, _granian),
    Server("gunicorn", "Gunicorn (asgi worker)", GUNICORN_ENV, _gunicorn),
    Server("daphne", "Daphne", DAPHNE_ENV, _daphne),
    # HTTP/2 only: h2 on uvloop with no ASGI, the ceiling for a server built on h2.
    Server("bare-h2", "bare h2 (no ASGI)", THIS_ENV, _bare_h2, http2_only=True),
)

BASELINE = "this"


def by_name(names: list[str]) -> list[Server]:
    """The servers named, in table order; unknown names are an error listing the known."""
    known = {server.name: server for server in SERVERS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown server {', '.join(unknown)}; known: {', '.join(known)}")
    return [server for server in SERVERS if server.name in names]
