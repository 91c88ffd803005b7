"""Every server option, its default and its one-line description, in one place.

:class:`Config` is the single source: the command line (:mod:`hypercorn.cli`), TOML files,
Python files and modules all feed it, and the option reference in ``docs/`` is generated from
it (``python -m hypercorn.config``). Unlike the Hypercorn of old, an unknown key or a value of
the wrong type is an error that names the key, so a typo never silently does nothing.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import os
import runpy
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["Config", "ConfigError", "OptionInfo", "load_config", "options"]


class ConfigError(ValueError):
    """A configuration source named an unknown option or gave one a value of the wrong type."""


def _option(
    default: Any,
    doc: str,
    *,
    section: str,
    flags: tuple[str, ...] = (),
    metavar: str | None = None,
    cli: bool = True,
    bounds: tuple[float | None, float | None] = (0, None),
) -> Any:
    metadata = {
        "doc": doc,
        "section": section,
        "flags": flags,
        "metavar": metavar,
        "cli": cli,
        "bounds": bounds,
    }
    if isinstance(default, list):
        return field(default_factory=lambda: list(default), metadata=metadata)
    return field(default=default, metadata=metadata)


_ACCESS_LOG_FORMAT = '%(h)s "%(r)s" %(s)s %(b)s %(D)s'

Worker = Literal["auto", "asyncio", "uvloop"]
Parser = Literal["auto", "httptools", "h11"]
LogLevel = Literal["critical", "error", "warning", "info", "debug"]
LifespanMode = Literal["auto", "on", "off"]
VerifyMode = Literal["none", "optional", "required"]
AppInterface = Literal["auto", "asgi3", "asgi2", "wsgi"]
ProxyHeadersMode = Literal["auto", "modern", "legacy"]
ProxyProtocolMode = Literal["off", "v1", "v2", "auto"]

# RFC 9113 §6.5.2: SETTINGS_MAX_FRAME_SIZE lies between 2^14 and 2^24 - 1, and
# SETTINGS_INITIAL_WINDOW_SIZE may not exceed 2^31 - 1.
_FRAME_SIZE_BOUNDS = (2**14, 2**24 - 1)
_WINDOW_BOUNDS = (0, 2**31 - 1)


@dataclass(slots=True)
class Config:
    """Server configuration. Build one in code, or load one with :func:`load_config`."""

    # --- serving -------------------------------------------------------------------------
    bind: list[str] = _option(
        ["127.0.0.1:8000"],
        "Addresses to listen on: HOST:PORT, [IPv6]:PORT, unix:PATH or fd://N. Repeatable.",
        section="Serving",
        flags=("-b", "--bind"),
        metavar="ADDRESS",
    )
    workers: int = _option(
        1,
        "Number of worker processes; more than one runs them under a supervisor process"
        " that binds the sockets once, restarts a worker that dies, and rolls on SIGHUP.",
        section="Serving",
        flags=("-w", "--workers"),
    )
    worker_class: Worker = _option(
        "auto",
        "Event loop: asyncio, uvloop, or auto (uvloop when it is installed).",
        section="Serving",
        flags=("-k", "--worker-class"),
    )
    http: Parser = _option(
        "auto",
        "HTTP/1.1 parser: httptools (llhttp, fast), h11 (pure Python), or auto (httptools"
        " when installed).",
        section="Serving",
    )
    backlog: int = _option(
        2048, "Length of the queue of connections waiting to be accepted.", section="Serving"
    )
    root_path: str = _option(
        "",
        "The path prefix the app is mounted under (ASGI root_path); prepended to the path.",
        section="Serving",
    )
    pid_path: str | None = _option(
        None,
        "Write the server's process id (the supervisor's, with workers) to this file while"
        " it runs.",
        section="Serving",
        flags=("--pid",),
        metavar="PATH",
    )
    debug: bool = _option(False, "Enable asyncio debug mode and debug logging.", section="Serving")
    app_interface: AppInterface = _option(
        "auto",
        "How the app is called: asgi3, asgi2, wsgi, or auto (guessed from its signature).",
        section="Serving",
        flags=("--interface",),
    )
    unix_socket_mode: str | None = _option(
        None,
        "Permission bits of unix: socket files, in octal (e.g. 660); unset leaves them to the"
        " umask.",
        section="Serving",
        metavar="OCTAL",
    )
    unix_socket_owner: str | None = _option(
        None,
        "User (name or numeric id) to own unix: socket files; changing it needs root.",
        section="Serving",
        metavar="USER",
    )
    unix_socket_group: str | None = _option(
        None,
        "Group (name or numeric id) of unix: socket files, e.g. the web server's.",
        section="Serving",
        metavar="GROUP",
    )

    # --- processes -----------------------------------------------------------------------
    reuse_port: bool = _option(
        False,
        "Give each worker its own SO_REUSEPORT socket for TCP binds, so the kernel spreads"
        " connections across workers, instead of sharing the supervisor's sockets.",
        section="Processes",
    )
    max_requests: int = _option(
        0,
        "Requests a worker serves before it is replaced by a fresh one (0: never); the"
        " replacement starts first, so none are lost. Runs a supervisor even with one worker.",
        section="Processes",
    )
    max_requests_jitter: int = _option(
        0,
        "Up to this many extra requests, chosen at random per worker, so that workers do not"
        " all retire at once.",
        section="Processes",
    )
    reload: bool = _option(
        False,
        "Restart the workers when a watched file in the working directory changes (for"
        " development; needs the watchfiles package).",
        section="Processes",
    )
    reload_include: list[str] = _option(
        ["*.py"],
        "Glob patterns of file names (or paths relative to the working directory) whose"
        " changes trigger a reload. Repeatable; replaces the default.",
        section="Processes",
        metavar="GLOB",
    )
    reload_exclude: list[str] = _option(
        [".*", "*.py[cod]", "__pycache__", "*~"],
        "Glob patterns of files and directories whose changes never trigger a reload"
        " (matched against every part of the path). Repeatable; replaces the default.",
        section="Processes",
        metavar="GLOB",
    )
    gc_freeze: bool = _option(
        True,
        "Once the app has started, move every object then alive (modules, the app, lifespan"
        " state) out of the garbage collector's sight, so a full collection scans only what"
        " requests create instead of stalling them all (p99). Applies when the hypercorn"
        " command runs the process; serve() leaves the interpreter alone.",
        section="Processes",
    )
    gc_threshold: int = _option(
        10_000,
        "The garbage collector's young-generation threshold once the app has started."
        " Python's 700 is crossed on nearly every loop turn with many requests in flight;"
        " 0 keeps the interpreter's setting, as does an app that sets its own. Applies when"
        " the hypercorn command runs the process.",
        section="Processes",
        metavar="OBJECTS",
    )

    # --- TLS -----------------------------------------------------------------------------
    certfile: str | None = _option(
        None, "PEM certificate chain; setting it serves TLS on every bind.", section="TLS"
    )
    keyfile: str | None = _option(
        None,
        "PEM private key for certfile (when the chain file does not hold it).",
        section="TLS",
    )
    keyfile_password: str | None = _option(
        None, "Password of an encrypted keyfile.", section="TLS", metavar="PASSWORD"
    )
    ca_certs: str | None = _option(
        None, "PEM bundle of CAs that client certificates are checked against.", section="TLS"
    )
    verify_mode: VerifyMode | None = _option(
        None,
        "Client certificates: none, optional (checked when sent) or required; unset means"
        " optional when ca_certs is set, else none.",
        section="TLS",
    )
    ciphers: str = _option(
        "ECDHE+AESGCM:ECDHE+CHACHA20",
        "OpenSSL cipher list for TLS 1.2 (TLS 1.3 suites are always the library's).",
        section="TLS",
    )
    insecure_bind: list[str] = _option(
        [],
        "Addresses served in the clear even when certfile is set (e.g. for an HTTP->HTTPS"
        " redirect). Repeatable.",
        section="TLS",
        metavar="ADDRESS",
    )
    https_redirect: bool = _option(
        False,
        "Answer requests that arrive in the clear (insecure_bind) with a 308 redirect to the"
        " same URL over HTTPS, instead of serving them.",
        section="TLS",
    )

    # --- proxies -------------------------------------------------------------------------
    proxy_headers: bool = _option(
        False,
        "Take the client address, scheme and host from the Forwarded or X-Forwarded-* headers"
        " of requests whose peer is in forwarded_allow_ips (the right-most untrusted hop wins).",
        section="Proxies",
    )
    proxy_headers_mode: ProxyHeadersMode = _option(
        "auto",
        "Which headers proxy_headers reads: modern (RFC 7239 Forwarded), legacy"
        " (X-Forwarded-For/-Proto/-Host), or auto (either; when both arrive they must agree).",
        section="Proxies",
    )
    forwarded_allow_ips: list[str] = _option(
        ["127.0.0.1", "::1"],
        "IP addresses and CIDR networks of the trusted proxies, for proxy_headers and"
        " proxy_protocol; '*' trusts every peer, letting any client fake its address."
        " Unix-socket peers are always trusted. Repeatable or comma-separated.",
        section="Proxies",
        metavar="ADDRESS",
    )
    proxy_protocol: ProxyProtocolMode = _option(
        "off",
        "Read a PROXY protocol header (v1, v2, or auto for either) at the start of every"
        " connection, before TLS; peers not in forwarded_allow_ips are disconnected.",
        section="Proxies",
    )

    # --- lifecycle -----------------------------------------------------------------------
    lifespan: LifespanMode = _option(
        "auto",
        "ASGI lifespan: auto (use it if the app supports it), on (require it), or off.",
        section="Lifecycle",
    )
    startup_timeout: float = _option(
        60.0, "Seconds the app's lifespan startup may take.", section="Lifecycle"
    )
    shutdown_timeout: float = _option(
        60.0, "Seconds the app's lifespan shutdown may take.", section="Lifecycle"
    )
    graceful_timeout: float = _option(
        10.0,
        "Seconds in-flight requests get to finish after SIGTERM/SIGINT before they are cut.",
        section="Lifecycle",
    )

    # --- HTTP ----------------------------------------------------------------------------
    keep_alive_timeout: float = _option(
        5.0,
        "Seconds an idle keep-alive connection is kept open.",
        section="HTTP",
        flags=("--keep-alive",),
        metavar="SECONDS",
    )
    request_head_timeout: float = _option(
        10.0,
        "Seconds a client has to send a complete request head, from its first byte (or from"
        " connecting); a client trickling headers is answered 408 and closed.",
        section="HTTP",
    )
    request_body_timeout: float = _option(
        30.0,
        "Seconds the server waits for the next piece of a request body it is reading.",
        section="HTTP",
    )
    request_body_min_rate: float = _option(
        240.0,
        "Bytes per second a request body must average while the server reads it (0 turns"
        " the check off); Kestrel's default.",
        section="HTTP",
    )
    request_body_min_rate_grace: float = _option(
        5.0,
        "Seconds of body reading before request_body_min_rate is enforced.",
        section="HTTP",
    )
    request_body_buffer: int = _option(
        65536,
        "Bytes of request body buffered for the app before the server stops reading.",
        section="HTTP",
    )
    max_request_line_size: int = _option(
        8192,
        "Longest request line accepted, in bytes (longer gets 414); nginx's default buffer.",
        section="HTTP",
    )
    max_header_size: int = _option(
        32768,
        "Largest header section accepted, names plus values in bytes (larger gets 431).",
        section="HTTP",
    )
    max_header_count: int = _option(
        100,
        "Most header fields accepted in one request (more gets 431); Apache's default.",
        section="HTTP",
    )
    server_header: str = _option(
        "hypercorn",
        "Value of the Server response header; empty to send none.",
        section="HTTP",
    )
    date_header: bool = _option(
        True, "Send a Date header on every response (RFC 9110 §6.6.1).", section="HTTP"
    )
    response_headers: list[str] = _option(
        [],
        "Extra 'Name: value' headers added to every response. Repeatable.",
        section="HTTP",
        flags=("--header",),
        metavar="'NAME: VALUE'",
    )

    # --- HTTP/2 --------------------------------------------------------------------------
    http2: bool = _option(
        True,
        "Serve HTTP/2: ALPN h2 over TLS, and prior-knowledge h2c or an h2c Upgrade in the clear.",
        section="HTTP/2",
    )
    h2_max_concurrent_streams: int = _option(
        100,
        "Requests one HTTP/2 connection may have in progress (SETTINGS_MAX_CONCURRENT_STREAMS);"
        " a stream over it is refused (REFUSED_STREAM) and may be retried.",
        section="HTTP/2",
        bounds=(1, 2**31 - 1),
    )
    h2_max_header_list_size: int = _option(
        65536,
        "Largest decoded request header list, in bytes (SETTINGS_MAX_HEADER_LIST_SIZE);"
        " more is a connection error, which also stops HPACK bombs.",
        section="HTTP/2",
        bounds=(1024, 2**31 - 1),
    )
    h2_max_inbound_frame_size: int = _option(
        16384,
        "Largest frame payload a client may send (SETTINGS_MAX_FRAME_SIZE, 16384-16777215).",
        section="HTTP/2",
        bounds=_FRAME_SIZE_BOUNDS,
    )
    h2_initial_window_size: int = _option(
        65535,
        "Bytes of request body a client may send on a stream ahead of the app reading it"
        " (SETTINGS_INITIAL_WINDOW_SIZE).",
        section="HTTP/2",
        bounds=_WINDOW_BOUNDS,
    )
    h2_ping_interval: float = _option(
        20.0,
        "Seconds of silence from a client with requests in progress before the server sends"
        " a PING (0 turns pings off).",
        section="HTTP/2",
    )
    h2_ping_timeout: float = _option(
        20.0,
        "Seconds a client has to answer a PING before the connection is closed.",
        section="HTTP/2",
    )

    # --- WebSocket -----------------------------------------------------------------------
    websocket_max_message_size: int = _option(
        16 * 1024 * 1024,
        "Largest WebSocket message accepted, in bytes (after decompression); a larger one"
        " closes the WebSocket with 1009.",
        section="WebSocket",
        bounds=(1, None),
    )
    websocket_ping_interval: float = _option(
        20.0,
        "Seconds of silence from a WebSocket client before the server sends a Ping (0 turns"
        " pings off).",
        section="WebSocket",
    )
    websocket_ping_timeout: float = _option(
        20.0,
        "Seconds a WebSocket client has to answer a Ping, or a Close, before the connection"
        " is dropped.",
        section="WebSocket",
    )
    websocket_compression: bool = _option(
        True,
        "Accept permessage-deflate (RFC 7692) when a client offers it.",
        section="WebSocket",
    )
    websocket_compression_window_bits: int = _option(
        15,
        "The server's LZ77 window for permessage-deflate, 9-15 (smaller saves memory per"
        " WebSocket, compresses less).",
        section="WebSocket",
        bounds=(9, 15),
    )

    # --- WSGI ----------------------------------------------------------------------------
    wsgi_threads: int = _option(
        10,
        "Threads per worker process running a WSGI app's requests; more wait their turn"
        " (the GIL leaves little to gain from more unless the app mostly waits on I/O).",
        section="WSGI",
        bounds=(1, None),
    )
    wsgi_max_body_size: int = _option(
        16 * 1024 * 1024,
        "Largest request body a WSGI app is given, in bytes; it is read whole before the app"
        " runs, and a larger one is answered 413.",
        section="WSGI",
    )

    # --- observability -------------------------------------------------------------------
    metrics_bind: list[str] = _option(
        [],
        "Addresses to serve Prometheus metrics on (GET /metrics), apart from the app's"
        " binds. Repeatable; off when empty.",
        section="Observability",
        metavar="ADDRESS",
    )
    statsd_host: str | None = _option(
        None,
        "HOST:PORT of a statsd (or DogStatsD) server to push metrics to over UDP, once a second.",
        section="Observability",
        metavar="HOST:PORT",
    )
    statsd_prefix: str = _option(
        "hypercorn", "Prefix of every statsd metric name.", section="Observability"
    )
    dogstatsd_tags: list[str] = _option(
        [],
        "DogStatsD tags (key:value) added to every statsd metric. Repeatable.",
        section="Observability",
        metavar="TAG",
    )

    # --- logging -------------------------------------------------------------------------
    log_level: LogLevel = _option("info", "Level of the error log.", section="Logging")
    error_logfile: str | None = _option(
        "-",
        "Where the error log goes: a path, or '-' for stderr.",
        section="Logging",
        metavar="PATH",
    )
    access_logfile: str | None = _option(
        None,
        "Where the access log goes: a path, or '-' for stdout. Off when unset.",
        section="Logging",
        metavar="PATH",
    )
    access_log_format: str = _option(
        _ACCESS_LOG_FORMAT,
        "Access log line, in Gunicorn-style atoms (see the logging docs), or 'json' for one"
        " JSON object per line.",
        section="Logging",
        metavar="FORMAT",
    )
    log_config: str | None = _option(
        None,
        "A logging dictConfig (a .json or .toml file) applied after the options above, for"
        " full control of handlers and formats.",
        section="Logging",
        metavar="PATH",
    )

    # Names the Hypercorn of old used, which frameworks still set: Quart's ``run_task`` sets
    # ``config.accesslog`` and ``config.errorlog`` to its app's logger. A logger object means
    # "log": to stdout (access) and stderr (errors), as the command line's "-" does.
    @property
    def accesslog(self) -> str | None:
        return self.access_logfile

    @accesslog.setter
    def accesslog(self, value: Any) -> None:
        self.access_logfile = value if value is None or isinstance(value, str) else "-"

    @property
    def errorlog(self) -> str | None:
        return self.error_logfile

    @errorlog.setter
    def errorlog(self, value: Any) -> None:
        self.error_logfile = value if value is None or isinstance(value, str) else "-"

    def __post_init__(self) -> None:
        for name, info in _OPTIONS.items():
            setattr(self, name, _coerce(name, getattr(self, name), info))
        _check_networks("forwarded_allow_ips", self.forwarded_allow_ips)

    def replace(self, **changes: Any) -> Config:
        """A copy with ``changes`` applied and validated."""
        _check_keys(changes, "keyword arguments")
        return dataclasses.replace(self, **changes)

    @classmethod
    def from_mapping(cls, mapping: Mapping[str, Any], source: str = "mapping") -> Config:
        """Build from a mapping of option names to values, naming ``source`` in errors."""
        _check_keys(mapping, source)
        try:
            return cls(**mapping)
        except ConfigError as exc:
            raise ConfigError(f"{source}: {exc}") from None

    @classmethod
    def from_toml(cls, path: str | os.PathLike[str]) -> Config:
        """Load a TOML file whose top-level keys are option names."""
        try:
            with open(path, "rb") as file:
                data = tomllib.load(file)
        except OSError as exc:
            raise ConfigError(
                f"cannot read config file {os.fspath(path)}: {exc.strerror}"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"{os.fspath(path)} is not valid TOML: {exc}") from None
        return cls.from_mapping(data, os.fspath(path))

    @classmethod
    def from_pyfile(cls, path: str | os.PathLike[str]) -> Config:
        """Run a Python file and read its module-level option assignments."""
        if not os.path.isfile(path):
            raise ConfigError(f"config file {os.fspath(path)} does not exist")
        namespace = runpy.run_path(os.fspath(path))
        return cls.from_mapping(_public_values(namespace), os.fspath(path))

    @classmethod
    def from_module(cls, name: str) -> Config:
        """Import module ``name`` and read its module-level option assignments."""
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name or (exc.name and name.startswith(exc.name + ".")):
                raise ConfigError(f"config module {name!r} not found") from None
            raise
        return cls.from_mapping(_public_values(vars(module)), f"module {name}")


@dataclass(frozen=True, slots=True)
class OptionInfo:
    """One option's metadata, as the CLI and the generated reference see it."""

    name: str
    type: Any
    default: Any
    doc: str
    section: str
    flags: tuple[str, ...]
    metavar: str | None
    cli: bool
    #: Inclusive (minimum, maximum) of a numeric option; None is unbounded.
    bounds: tuple[float | None, float | None] = (0, None)

    @property
    def choices(self) -> tuple[str, ...] | None:
        base = _strip_optional(self.type)
        if get_origin(base) is Literal:
            return tuple(get_args(base))
        return None

    @property
    def type_name(self) -> str:
        base = _strip_optional(self.type)
        optional = base is not self.type
        if get_origin(base) is Literal:
            name = " | ".join(repr(choice) for choice in get_args(base))
        elif get_origin(base) is list:
            name = "list of str"
        else:
            name = base.__name__
        return f"{name} | None" if optional else name


def _collect_options() -> dict[str, OptionInfo]:
    hints = get_type_hints(Config)
    found = {}
    for item in dataclasses.fields(Config):
        if item.default is not dataclasses.MISSING:
            default = item.default
        else:
            default = item.default_factory()  # type: ignore[operator]
        meta = item.metadata
        flags = meta["flags"] or ("--" + item.name.replace("_", "-"),)
        found[item.name] = OptionInfo(
            item.name,
            hints[item.name],
            default,
            meta["doc"],
            meta["section"],
            flags,
            meta["metavar"],
            meta["cli"],
            meta["bounds"],
        )
    return found


def options() -> dict[str, OptionInfo]:
    """Every option in definition order."""
    return dict(_OPTIONS)


def _strip_optional(annotation: Any) -> Any:
    if get_origin(annotation) in (Union, types.UnionType):
        args = [arg for arg in get_args(annotation) if arg is not type(None)]
        if len(args) == 1:
            return args[0]
    return annotation


def _describe(value: Any) -> str:
    return f"{type(value).__name__} {value!r}"


def _coerce(name: str, value: Any, info: OptionInfo) -> Any:
    base = _strip_optional(info.type)
    if value is None and base is not info.type:
        return None
    origin = get_origin(base)
    if origin is Literal:
        if value not in get_args(base):
            choices = ", ".join(repr(choice) for choice in get_args(base))
            raise ConfigError(f"{name}: expected one of {choices}, got {value!r}")
        return value
    if origin is list:
        if isinstance(value, str):
            return [value]  # `bind = "0.0.0.0:80"` means the obvious thing
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise ConfigError(f"{name}: expected a list of strings, got {_describe(value)}")
        return list(value)
    if base is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{name}: expected true or false, got {_describe(value)}")
        return value
    if base is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{name}: expected an integer, got {_describe(value)}")
        return _check_bounds(name, value, info)
    if base is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{name}: expected a number, got {_describe(value)}")
        return float(_check_bounds(name, value, info))
    if base is str:
        if not isinstance(value, str):
            raise ConfigError(f"{name}: expected a string, got {_describe(value)}")
        return value
    raise TypeError(f"option {name} has an unsupported type {info.type!r}")  # pragma: no cover


_Number = TypeVar("_Number", int, float)


def _check_bounds(name: str, value: _Number, info: OptionInfo) -> _Number:
    low, high = info.bounds
    if low == 0 and value < 0:
        raise ConfigError(f"{name}: must not be negative, got {value}")
    if low is not None and value < low:
        limit = (
            f"between {low:.15g} and {high:.15g}" if high is not None else f"at least {low:.15g}"
        )
        raise ConfigError(f"{name}: must be {limit}, got {value}")
    if high is not None and value > high:
        raise ConfigError(f"{name}: must be at most {high:.15g}, got {value}")
    return value


def _check_networks(name: str, entries: list[str]) -> None:
    from .middleware.proxy_fix import TrustedHosts

    try:
        TrustedHosts(entries)
    except ValueError as exc:
        raise ConfigError(f"{name}: {exc}") from None


def _check_keys(mapping: Iterable[str], source: str) -> None:
    for key in mapping:
        if key not in _OPTIONS:
            close = difflib.get_close_matches(key, list(_OPTIONS), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{source}: unknown option {key!r}{hint}")


def _public_values(namespace: Mapping[str, Any]) -> dict[str, Any]:
    # A Python config file may import modules and define helpers; only plain values are
    # options, and every plain public name must be one.
    return {
        key: value
        for key, value in namespace.items()
        if not key.startswith("_")
        and not isinstance(value, types.ModuleType)
        and not callable(value)
    }


def load_config(spec: str) -> Config:
    """Load ``path.toml``, ``file:path.py`` or ``python:module``."""
    if spec.startswith("python:"):
        return Config.from_module(spec[len("python:") :])
    if spec.startswith("file:"):
        return Config.from_pyfile(spec[len("file:") :])
    if spec.endswith(".py"):
        return Config.from_pyfile(spec)
    return Config.from_toml(spec)


_OPTIONS = _collect_options()


def reference_markdown() -> str:
    """The option reference page, generated from the definitions above."""
    lines = [
        "# Configuration reference",
        "",
        "<!-- Generated by `python -m hypercorn.config`; edit hypercorn/config.py instead. -->",
        "",
        "Every option can be set on the command line, in a TOML file (`-c hypercorn.toml`),",
        "in a Python file (`-c file:conf.py`) or module (`-c python:mod`), or in code",
        "(`Config(keep_alive_timeout=10)`). Flags win over the file; an unknown option or a",
        "value of the wrong type stops the server with an error naming the option.",
        "",
    ]
    sections: dict[str, list[OptionInfo]] = {}
    for info in _OPTIONS.values():
        sections.setdefault(info.section, []).append(info)
    for section, infos in sections.items():
        lines += [
            f"## {section}",
            "",
            "| option | flag | type | default | description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for info in infos:
            flags = ", ".join(f"`{flag}`" for flag in info.flags) if info.cli else ""
            cells = [f"`{info.name}`", flags, info.type_name, f"`{info.default!r}`", info.doc]
            lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
        lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.stdout.write(reference_markdown())
