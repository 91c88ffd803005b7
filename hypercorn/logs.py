"""Error and access logging.

The error log is the ``hypercorn.error`` logger; the access log is ``hypercorn.access``, off
unless ``access_logfile`` is set, and costs nothing per request when off. Access lines use
Gunicorn's atoms (``%(h)s %(r)s %(s)s ...``); every text atom is escaped so a client cannot
write control characters, quotes or fake log lines into the log through its request.
"""

from __future__ import annotations

import json
import logging
import logging.config
import os
import re
import sys
import time
from collections.abc import Iterable, Mapping
from http import HTTPStatus
from typing import Any, TextIO

from .config import Config, ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on 3.10 only
    import tomli as tomllib

__all__ = ["AccessLogger", "configure_logging", "error_logger", "escape_log_text"]

error_logger = logging.getLogger("hypercorn.error")
_access_logger = logging.getLogger("hypercorn.access")

# C0 controls, DEL and the C1 controls (0x80-0x9f: NEL breaks lines, CSI drives terminals;
# header bytes decode as Latin-1, so a client can send them) become \xNN; the quote and
# backslash are escaped so a quoted atom cannot be closed early. Mapping on str keeps this
# one C-level translate call per atom.
_ESCAPES = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0xA0))}
_ESCAPES[ord('"')] = '\\"'
_ESCAPES[ord("\\")] = "\\\\"


def escape_log_text(text: str) -> str:
    return text.translate(_ESCAPES)


def _decode(raw: bytes) -> str:
    return escape_log_text(raw.decode("latin-1"))


_HEADER_ATOM = re.compile(r"\{([^}]+)\}([ioe])")


class _Atoms(Mapping[str, Any]):
    """The atoms of one access-log line, computed only when the format asks for them."""

    __slots__ = ("_duration", "_response_headers", "_scope", "_sent", "_status")

    def __init__(
        self,
        scope: Mapping[str, Any],
        status: int,
        response_headers: Iterable[tuple[bytes, bytes]],
        sent: int,
        duration: float,
    ) -> None:
        self._scope = scope
        self._status = status
        self._response_headers = response_headers
        self._sent = sent
        self._duration = duration

    def _request_header(self, name: str) -> str:
        wanted = name.lower().encode("latin-1")
        values = [value for key, value in self._scope.get("headers", ()) if key == wanted]
        return _decode(b",".join(values)) if values else "-"

    def __getitem__(self, key: str) -> Any:
        scope = self._scope
        match key:
            case "h":
                client = scope.get("client")
                return escape_log_text(str(client[0])) if client else "-"
            case "l" | "u":
                return "-"
            case "t":
                return time.strftime("[%d/%b/%Y:%H:%M:%S %z]")
            case "r":
                return f"{self['m']} {self['U']}{self['Q']} {self['H']}"
            case "R":
                return f"{self['U']}{self['Q']}"
            case "m":
                return escape_log_text(scope.get("method", "-"))
            case "U":
                return _decode(scope.get("raw_path") or scope.get("path", "").encode())
            case "q":
                return _decode(scope.get("query_string", b""))
            case "Q":
                query = scope.get("query_string", b"")
                return "?" + _decode(query) if query else ""
            case "H":
                return f"HTTP/{scope.get('http_version', '1.1')}"
            case "S":
                return escape_log_text(scope.get("scheme", "http"))
            case "s":
                return self._status
            case "st":
                try:
                    return f"{self._status} {HTTPStatus(self._status).phrase}"
                except ValueError:
                    return str(self._status)
            case "B":
                return self._sent
            case "b":
                return self._sent or "-"
            case "f":
                return self._request_header("referer")
            case "a":
                return self._request_header("user-agent")
            case "T":
                return int(self._duration)
            case "M":
                return int(self._duration * 1_000)
            case "D":
                return int(self._duration * 1_000_000)
            case "L":
                return f"{self._duration:.6f}"
            case "p":
                return f"<{os.getpid()}>"
        match_ = _HEADER_ATOM.fullmatch(key)
        if match_ is None:
            raise KeyError(key)
        name, kind = match_.groups()
        if kind == "i":
            return self._request_header(name)
        if kind == "o":
            wanted = name.lower().encode("latin-1")
            values = [v for k, v in self._response_headers if k.lower() == wanted]
            return _decode(b",".join(values)) if values else "-"
        return escape_log_text(os.environ.get(name, "-"))

    def __iter__(self) -> Any:  # pragma: no cover - %-formatting only indexes
        return iter(())

    def __len__(self) -> int:  # pragma: no cover
        return 0


def _json_line(
    scope: Mapping[str, Any],
    status: int,
    response_headers: Iterable[tuple[bytes, bytes]],
    sent: int,
    duration: float,
) -> str:
    """One access-log record as a JSON object; json escapes every control character."""
    headers = scope.get("headers", ())

    def header(name: bytes) -> str | None:
        values = [value for key, value in headers if key == name]
        return b",".join(values).decode("latin-1") if values else None

    client = scope.get("client")
    record = {
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "client": str(client[0]) if client else None,
        "method": scope.get("method", "GET" if scope.get("type") == "websocket" else None),
        "path": (scope.get("raw_path") or scope.get("path", "").encode()).decode("latin-1"),
        "query": scope.get("query_string", b"").decode("latin-1"),
        "http_version": scope.get("http_version"),
        "scheme": scope.get("scheme"),
        "host": header(b"host"),
        "status": status,
        "bytes": sent,
        "duration_ms": round(duration * 1000, 3),
        "user_agent": header(b"user-agent"),
        "referer": header(b"referer"),
        "pid": os.getpid(),
    }
    return json.dumps(record, separators=(",", ":"))


class AccessLogger:
    """Writes one line per completed exchange in the configured format (atoms or ``json``)."""

    __slots__ = ("_format", "_logger")

    def __init__(self, log_format: str, logger: logging.Logger = _access_logger) -> None:
        self._format = log_format
        self._logger = logger

    def log(
        self,
        scope: Mapping[str, Any],
        status: int,
        response_headers: Iterable[tuple[bytes, bytes]],
        sent: int,
        duration: float,
    ) -> None:
        if self._format == "json":
            self._logger.info(_json_line(scope, status, response_headers, sent, duration))
            return
        atoms = _Atoms(scope, status, response_headers, sent, duration)
        try:
            line = self._format % atoms
        except (KeyError, TypeError, ValueError) as exc:
            error_logger.error("Access log format %r failed: %s", self._format, exc)
            return
        self._logger.info(line)


def _stream_handler(option: str, target: str, default: TextIO) -> logging.Handler:
    if target == "-":
        return logging.StreamHandler(default)
    try:
        return logging.FileHandler(target)
    except OSError as exc:
        raise ConfigError(f"{option}: cannot open {target}: {exc.strerror or exc}") from None


def configure_logging(config: Config) -> AccessLogger | None:
    """Attach handlers for the error and access logs; return the access logger, if any.

    Raises :class:`ConfigError` naming the option when a log file cannot be opened.
    """
    level = logging.DEBUG if config.debug else getattr(logging, config.log_level.upper())
    error_logger.setLevel(level)
    for handler in list(error_logger.handlers):
        error_logger.removeHandler(handler)
        handler.close()
    if config.error_logfile is not None:
        handler = _stream_handler("error_logfile", config.error_logfile, sys.stderr)
        handler.setFormatter(
            logging.Formatter(
                "[%(asctime)s] [%(process)d] [%(levelname)s] %(message)s",
                "%Y-%m-%d %H:%M:%S %z",
            )
        )
        error_logger.addHandler(handler)
        error_logger.propagate = False

    for handler in list(_access_logger.handlers):
        _access_logger.removeHandler(handler)
        handler.close()
    access = config.access_logfile is not None
    if config.access_logfile is not None:
        handler = _stream_handler("access_logfile", config.access_logfile, sys.stdout)
        handler.setFormatter(logging.Formatter("%(message)s"))
        _access_logger.addHandler(handler)
        _access_logger.setLevel(logging.INFO)
        _access_logger.propagate = False
    if config.log_config is not None:
        # A dictConfig that configures hypercorn.access turns the access log on as well.
        access = _apply_dict_config(config.log_config) or access
    return AccessLogger(config.access_log_format) if access else None


def _apply_dict_config(path: str) -> bool:
    """Apply a logging dictConfig file; return whether it configures ``hypercorn.access``."""
    try:
        with open(path, "rb") as file:
            if path.endswith(".toml"):
                data = tomllib.load(file)
            elif path.endswith(".json"):
                data = json.load(file)
            else:
                raise ConfigError(f"log_config: {path} is neither .json nor .toml")
    except OSError as exc:
        raise ConfigError(f"log_config: cannot read {path}: {exc.strerror or exc}") from None
    except (ValueError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"log_config: {path} does not parse: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"log_config: {path} must hold a mapping")
    data.setdefault("version", 1)
    # Loggers the file does not name (ours included) keep working unless it says otherwise.
    data.setdefault("disable_existing_loggers", False)
    try:
        logging.config.dictConfig(data)
    except (ValueError, TypeError, AttributeError, ImportError) as exc:
        raise ConfigError(f"log_config: {path} is not a valid dictConfig: {exc}") from None
    return "hypercorn.access" in data.get("loggers", {})
