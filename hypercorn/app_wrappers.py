"""Loading ``module:app`` and presenting any supported app as one ASGI 3 callable.

Three interfaces are served: ASGI 3 (``async app(scope, receive, send)``) as it is, ASGI 2
(``app(scope)`` returning ``async instance(receive, send)``) through :class:`ASGI2Wrapper`,
and WSGI (PEP 3333, ``app(environ, start_response)``: Flask, Django's WSGI handler) through
:class:`WSGIWrapper`, which runs the app in a bounded pool of threads so that it never
blocks the event loop. :func:`wrap_app` picks the interface from the app's signature, or
takes it from the ``app_interface`` option when the guess would be wrong.
"""

from __future__ import annotations

import ast
import asyncio
import importlib
import inspect
import io
import os
import queue
import re
import sys
import threading
from collections.abc import Awaitable, Callable, Iterable, MutableMapping
from concurrent.futures import Future
from types import TracebackType
from typing import Any, Literal, TypeVar
from urllib.parse import unquote_to_bytes

from .config import AppInterface, Config
from .logs import error_logger
from .protocol.context import ASGIApp
from .protocol.errors import LocalProtocolError
from .protocol.http_stream import check_response_headers

__all__ = [
    "ASGI2Wrapper",
    "AppLoadError",
    "Interface",
    "UnsupportedScope",
    "WSGIWrapper",
    "build_environ",
    "load_application",
    "wrap_app",
]

#: How an app is called: ``auto`` guesses from its signature.
Interface = AppInterface

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class AppLoadError(Exception):
    """The app cannot be found or is not an app; the message is one line for users."""


class UnsupportedScope(Exception):
    """Raised by a wrapper for a scope its app cannot serve (a WSGI app and ``lifespan``).

    Raising is how the ASGI specification has an app say that it does not speak lifespan;
    the server then serves without lifespan events.
    """


# --- loading ---------------------------------------------------------------------------------


def _parse_target(path: str) -> tuple[str, str, tuple[Any, ...], dict[str, Any], bool]:
    module_name, _, attribute = path.partition(":")
    if not module_name:
        raise AppLoadError(f"{path!r}: expected MODULE:APP, e.g. 'main:app'")
    attribute = attribute or "app"
    if not attribute.endswith(")"):
        return module_name, attribute, (), {}, False
    # A factory call such as create_app() or create_app("prod", debug=True): literal
    # arguments only, evaluated with ast.literal_eval, never eval.
    try:
        call = ast.parse(attribute, mode="eval").body
        if not isinstance(call, ast.Call):
            raise ValueError
        name = ast.unparse(call.func)
        args = tuple(ast.literal_eval(arg) for arg in call.args)
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError):
        raise AppLoadError(
            f"{path!r}: a factory call may only take literal arguments, as create_app('prod')"
        ) from None
    return module_name, name, args, kwargs, True


def load_application(path: str, config: Config | None = None) -> ASGIApp:
    """Import ``module:attribute`` (``module`` alone means ``module:app``) and wrap it.

    ``module:create_app()`` calls a factory. Errors that mean "not found" become a one-line
    :class:`AppLoadError`; an exception raised by the user's own code propagates unchanged,
    because its traceback is what the user needs. See :func:`wrap_app` for ``config``.
    """
    module_name, attribute, args, kwargs, is_factory = _parse_target(path)
    cwd = os.getcwd()
    if cwd not in sys.path:
        sys.path.insert(0, cwd)
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        missing = exc.name or ""
        if missing == module_name or module_name.startswith(missing + "."):
            raise AppLoadError(f"cannot import module {module_name!r}: {exc}") from None
        raise
    app: Any = module
    for part in attribute.split("."):
        try:
            app = getattr(app, part)
        except AttributeError:
            raise AppLoadError(f"module {module_name!r} has no attribute {attribute!r}") from None
    if is_factory:
        if not callable(app):
            raise AppLoadError(f"{module_name}:{attribute} is not callable, so not a factory")
        app = app(*args, **kwargs)
    if not callable(app):
        raise AppLoadError(f"{path!r} is not an application: it is a {type(app).__name__}")
    return wrap_app(app, config)


# --- detection -------------------------------------------------------------------------------


def _positional_counts(function: Any) -> tuple[int, int] | None:
    """(required, total) positional parameters of ``function``, or None if unknowable."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return None
    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    positional = [p for p in signature.parameters.values() if p.kind in kinds]
    required = sum(1 for p in positional if p.default is inspect.Parameter.empty)
    return required, len(positional)


# What a callable taking N positional arguments is: ASGI 2 takes the scope, WSGI the environ
# and start_response, ASGI 3 the scope, receive and send.
_BY_ARITY: dict[int, Interface] = {1: "asgi2", 2: "wsgi", 3: "asgi3"}


def detect_interface(app: Any) -> Interface:
    """Guess how ``app`` is called, from how it is declared.

    An ``async def`` (function or ``__call__``) is ASGI 3. Otherwise the number of
    positional parameters decides, required ones first (so a WSGI app with an optional third
    argument is still WSGI): one is ASGI 2, two WSGI, three ASGI 3. A class is called
    with the scope (ASGI 2) or with environ and start_response (a PEP 3333 class whose
    instances are the response iterable); a class with ``__await__`` is an ASGI 3 app
    instantiated per request. Anything undecidable is taken as ASGI 3, the current version.
    """
    if inspect.isclass(app):
        if hasattr(app, "__await__"):
            return "asgi3"
        counts = _positional_counts(app)  # the signature of __init__, without self
        if counts is not None and (_BY_ARITY.get(counts[0]) or _BY_ARITY.get(counts[1])) == "wsgi":
            return "wsgi"
        return "asgi2"
    call = type(app).__call__ if callable(app) and not inspect.isroutine(app) else None
    if inspect.iscoroutinefunction(app) or inspect.iscoroutinefunction(call):
        return "asgi3"
    counts = _positional_counts(app)
    if counts is None:
        return "asgi3"
    required, total = counts
    return _BY_ARITY.get(required) or _BY_ARITY.get(total) or "asgi3"


def wrap_app(
    app: Any, config: Config | None = None, *, interface: Interface | None = None
) -> ASGIApp:
    """Present ``app`` as an ASGI 3 callable (ASGI 3 apps are returned as they are).

    ``interface`` (else ``config.app_interface``, else ``auto``) says how the app is called;
    ``auto`` asks :func:`detect_interface`. A WSGI app takes its thread pool size, body limit
    and ``wsgi.multiprocess`` from ``config`` (the defaults without one). An app already
    wrapped by hand (``WSGIWrapper(app, ...)``), or marked ``_hypercorn_wrapped = True``, is
    left as it is; one wrapped here without a config is wrapped again when a config arrives,
    so ``load_application`` followed by ``Server(app, config)`` ends up configured.
    """
    chosen: Interface = interface or (config.app_interface if config is not None else "auto")
    if isinstance(app, WSGIWrapper | ASGI2Wrapper):
        if not app.provisional or (config is None and interface is None):
            return app
        if chosen == "auto":  # keep the kind decided (or forced) when it was wrapped
            chosen = "wsgi" if isinstance(app, WSGIWrapper) else "asgi2"
        app = app.app
    elif getattr(app, "_hypercorn_wrapped", False):
        return app  # type: ignore[no-any-return]  # declares itself ASGI 3 (server internals)
    if chosen == "auto":
        chosen = detect_interface(app)
    provisional = config is None
    if chosen == "wsgi":
        wrapper = WSGIWrapper.from_config(app, config) if config is not None else WSGIWrapper(app)
        wrapper.provisional = provisional
        return wrapper
    if chosen == "asgi2":
        adapter = ASGI2Wrapper(app)
        adapter.provisional = provisional
        return adapter
    if config is not None:
        from .middleware.dispatcher import DispatcherMiddleware

        if isinstance(app, DispatcherMiddleware):
            app.configure(config)  # the apps mounted in it get the config as well
    return app  # type: ignore[no-any-return]


# --- ASGI 2 ----------------------------------------------------------------------------------


class ASGI2Wrapper:
    """Runs an ASGI 2 app (``app(scope)`` returns ``async (receive, send)``) as ASGI 3."""

    def __init__(self, app: Callable[[Scope], Any]) -> None:
        self.app = app
        #: Made by :func:`wrap_app` without a config (so it may be replaced by one with it).
        self.provisional = False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        scope["asgi"] = {**scope.get("asgi", {}), "version": "2.0"}
        instance = self.app(scope)
        await instance(receive, send)


_ASGI2Adapter = ASGI2Wrapper  # the name this class had before WSGI support


# --- WSGI: the thread pool -------------------------------------------------------------------

_T = TypeVar("_T")

# Seconds a pool thread waits for work before it exits; the pool grows back on demand.
_IDLE_SECONDS = 60.0


class _ThreadPool:
    """Up to ``size`` daemon threads, started as they are needed, running blocking calls.

    Not :class:`concurrent.futures.ThreadPoolExecutor`: the interpreter joins its threads at
    exit, so one WSGI request stuck in the app would keep the process alive after
    ``graceful_timeout`` has ended everything else. Daemon threads end with the process.
    Threads start on the first request, not before, so a wrapper built before gunicorn forks
    (``--preload``) has none to lose in the fork. Work beyond ``size`` calls waits in FIFO
    order; it holds no thread while it waits.
    """

    def __init__(self, size: int, name: str) -> None:
        if size < 1:
            raise ValueError(f"a thread pool needs at least one thread, not {size}")
        self.size = size
        self._name = name
        self._jobs: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]]
        self._jobs = queue.SimpleQueue()
        # One token per idle thread: a submitter that takes one knows a thread will run its
        # job, and starts a new thread only when there is none (ThreadPoolExecutor's scheme).
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._threads = 0
        self._started = 0

    @property
    def threads(self) -> int:
        """Threads alive now (idle ones included)."""
        return self._threads

    def submit(self, function: Callable[..., _T], *args: Any) -> Future[_T]:
        future: Future[_T] = Future()
        self._jobs.put((future, function, args))
        if self._idle.acquire(blocking=False):
            return future
        with self._lock:
            if self._threads < self.size:
                self._threads += 1
                self._started += 1
                name = f"{self._name}-{self._started}"
                threading.Thread(target=self._work, name=name, daemon=True).start()
        return future

    def _work(self) -> None:
        while True:
            try:
                future, function, args = self._jobs.get(timeout=_IDLE_SECONDS)
            except queue.Empty:
                # Leave only by taking this thread's own idle token; if a submitter has
                # taken it, a job is on its way to the queue for us.
                if self._idle.acquire(blocking=False):
                    with self._lock:
                        self._threads -= 1
                    return
                continue
            if future.set_running_or_notify_cancel():
                try:
                    future.set_result(function(*args))
                except Exception as exc:
                    future.set_exception(exc)
                except BaseException as exc:
                    # SystemExit or KeyboardInterrupt raised by an app in a thread must not
                    # reach the event loop, where it would stop the whole server.
                    error = RuntimeError(f"the app raised {exc!r}")
                    error.__cause__ = exc
                    future.set_exception(error)
            del future, function, args
            self._idle.release()


# --- WSGI: the environ -----------------------------------------------------------------------

# Header name -> environ key, for the names seen so far. Bounded so that a client sending
# invented header names cannot grow it without limit.
_ENVIRON_KEYS: dict[bytes, str | None] = {
    b"content-type": "CONTENT_TYPE",
    b"content-length": "CONTENT_LENGTH",
}
_ENVIRON_KEY_CACHE_SIZE = 4096


def _environ_key(name: bytes) -> str | None:
    key = _ENVIRON_KEYS.get(name)
    if key is None and name not in _ENVIRON_KEYS:
        text = name.decode("latin-1").lower()
        if text in ("content-type", "content-length"):
            key = text.upper().replace("-", "_")
        elif "_" in text:
            # X-Forwarded-For and X_Forwarded_For would both become HTTP_X_FORWARDED_FOR: a
            # client could then forge a header a proxy in front believes it has set. nginx
            # and Gunicorn drop such names too.
            key = None
        else:
            key = "HTTP_" + text.upper().replace("-", "_")
        if len(_ENVIRON_KEYS) < _ENVIRON_KEY_CACHE_SIZE:
            _ENVIRON_KEYS[name] = key
    return key


def _path_info(scope: Scope) -> str:
    """PATH_INFO per PEP 3333: the path below root_path, percent-decoded, as Latin-1 text.

    Decoded from ``raw_path`` where there is one, so that bytes which are not UTF-8 reach
    the app as they were sent (the ``path`` string has them replaced).
    """
    root_path: str = scope.get("root_path", "")
    raw_path = scope.get("raw_path")
    if raw_path is not None:
        path = unquote_to_bytes(raw_path)
        root = root_path.encode("utf-8")
        if root and path.startswith(root):
            path = path[len(root) :]
        return path.decode("latin-1")
    text: str = scope["path"]
    if root_path and text.startswith(root_path):
        text = text[len(root_path) :]
    return text.encode("utf-8").decode("latin-1")


def _server_address(scope: Scope) -> tuple[str, str]:
    server = scope.get("server")
    if server and server[1] is not None:
        return str(server[0]), str(server[1])
    # A Unix socket: name the server as the client did.
    default_port = "443" if scope.get("scheme") == "https" else "80"
    for name, value in scope.get("headers", ()):
        if name == b"host":
            host = value.decode("latin-1")
            if host.startswith("["):  # an IPv6 literal, [::1]:8000
                end = host.find("]") + 1
                return host[:end], host[end + 1 :] or default_port
            host, _, port = host.partition(":")
            return host, port or default_port
    return "localhost", default_port


class _ErrorStream:
    """``wsgi.errors``: whatever the app writes goes to the error log, a record per line."""

    __slots__ = ("_logger", "_pending")

    def __init__(self) -> None:
        self._logger = error_logger
        self._pending = ""

    def write(self, text: str) -> int:
        lines = (self._pending + text).split("\n")
        self._pending = lines.pop()
        for line in lines:
            if line:
                self._logger.error("%s", line)
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        if self._pending:
            self._logger.error("%s", self._pending)
            self._pending = ""


def build_environ(
    scope: Scope, body: bytes = b"", *, multiprocess: bool = False
) -> dict[str, Any]:
    """The PEP 3333 environ of the ``http`` ``scope`` whose request body is ``body``.

    Repeated headers are joined with commas (cookies with ``; ``, RFC 9113 §8.2.3); header
    names holding an underscore are dropped. ``CONTENT_LENGTH`` is the length of ``body``
    when the client sent none (a chunked or HTTP/2 body is read whole before the app runs).
    """
    server_name, server_port = _server_address(scope)
    client = scope.get("client")
    query: bytes = scope.get("query_string", b"")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": scope.get("root_path", "").encode("utf-8").decode("latin-1"),
        "PATH_INFO": _path_info(scope),
        "QUERY_STRING": query.decode("latin-1"),
        "SERVER_NAME": server_name,
        "SERVER_PORT": server_port,
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "REMOTE_ADDR": str(client[0]) if client else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": _ErrorStream(),
        "wsgi.multithread": True,
        "wsgi.multiprocess": multiprocess,
        "wsgi.run_once": False,
        # The body is complete: an app may read wsgi.input to its end without a length
        # (Werkzeug's extension, also set by Gunicorn).
        "wsgi.input_terminated": True,
    }
    if client and client[1] is not None:
        environ["REMOTE_PORT"] = str(client[1])
    raw_path = scope.get("raw_path")
    if raw_path is not None:
        uri = raw_path + b"?" + query if query else raw_path
        environ["RAW_URI"] = environ["REQUEST_URI"] = uri.decode("latin-1")
    for name, value in scope.get("headers", ()):
        key = _ENVIRON_KEYS.get(name) or _environ_key(name)
        if key is None:
            continue
        text = value.decode("latin-1")
        if key in environ:
            separator = "; " if key == "HTTP_COOKIE" else ","
            environ[key] = environ[key] + separator + text
        else:
            environ[key] = text
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


# --- WSGI: the response ----------------------------------------------------------------------

_STATUS_RE = re.compile(r"([0-9]{3})(?: .*)?", re.DOTALL)

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class _Cancelled(Exception):
    """The request's task was cancelled (forced shutdown): stop producing the response."""


class _Response:
    """One WSGI call's ``start_response`` and ``write``, and the body iterable it returns,
    turned into ASGI messages that the pool thread hands to the event loop.

    Each hand-over waits until ``send`` has returned, which is where the server applies
    backpressure, so an app streaming to a slow client waits instead of filling memory.
    The head waits for the first non-empty piece of body (PEP 3333), and travels with it.
    """

    __slots__ = (
        "_complete",
        "_head_sent",
        "_headers",
        "_held",
        "_hold_final",
        "_loop",
        "_remaining",
        "_send",
        "_status",
        "_warned",
        "cancelled",
    )

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Send) -> None:
        self._loop = loop
        self._send = send
        self._status = 0
        self._headers: list[tuple[bytes, bytes]] | None = None
        self._head_sent = False
        #: Body bytes still owed to the app's Content-Length, or -1 without one.
        self._remaining = -1
        self._complete = False
        self._warned = False
        self._hold_final = False
        self._held: list[Message] | None = None
        self.cancelled = False

    def start_response(
        self,
        status: str,
        headers: list[tuple[str, str]],
        exc_info: ExcInfo | None = None,
    ) -> Callable[[bytes], None]:
        if exc_info is not None:
            try:
                if self._head_sent:
                    # PEP 3333: too late to change the response; the error goes on up.
                    raise exc_info[1].with_traceback(exc_info[2])  # type: ignore[union-attr]
            finally:
                exc_info = None  # no traceback -> frame -> traceback cycle
        elif self._headers is not None:
            raise RuntimeError("start_response() called again without exc_info")
        self._status, self._headers, self._remaining = _check_start(status, headers)
        return self.write

    def write(self, data: bytes) -> None:
        """PEP 3333's ``write()`` callable: send ``data`` now (waiting on backpressure)."""
        self.send_body(data, False)

    def send_body(self, data: Any, final: bool) -> None:
        if self._headers is None:
            raise RuntimeError("the app sent body before calling start_response()")
        if type(data) is not bytes:
            if not isinstance(data, bytearray | memoryview):
                raise TypeError(f"a WSGI body is bytes, not {type(data).__name__}")
            data = bytes(data)
        if self._complete:
            if data:
                self._warn_excess()
            return
        remaining = self._remaining
        if remaining >= 0:
            if len(data) >= remaining:
                if len(data) > remaining:
                    self._warn_excess()
                    data = data[:remaining]
                final = True
            self._remaining = remaining - len(data)
        if not data and not final:
            return  # an empty piece must not start the response (PEP 3333)
        body = {"type": "http.response.body", "body": data, "more_body": not final}
        if self._head_sent:
            messages: list[Message] = [body]
        else:
            headers = self._headers
            start = {"type": "http.response.start", "status": self._status, "headers": headers}
            messages = [start, body]
            self._head_sent = True
        if final:
            self._complete = True
            if self._hold_final:
                self._held = messages  # run() returns them for the event loop to send
                return
        self._deliver(messages)

    def finish(self) -> None:
        if not self._complete:
            if self._headers is None:
                raise RuntimeError("the app returned without calling start_response()")
            self.send_body(b"", True)

    def _warn_excess(self) -> None:
        if not self._warned:
            self._warned = True
            error_logger.error("WSGI app sent more body than its Content-Length; excess dropped")

    def _deliver(self, messages: list[Message]) -> None:
        if self.cancelled:
            raise _Cancelled("the request was cancelled")
        asyncio.run_coroutine_threadsafe(self._send_all(messages), self._loop).result()

    async def _send_all(self, messages: list[Message]) -> None:
        for message in messages:
            await self._send(message)

    def run(self, app: Callable[..., Any], environ: dict[str, Any]) -> list[Message] | None:
        """Call the app and send its response, in a pool thread.

        Returns the messages that complete the response when they are better sent by the
        event loop: a list or tuple body is complete once the app returns, and handing it
        back with the result saves a round trip between the threads.
        """
        iterable = app(environ, self.start_response)
        try:
            if type(iterable) is list or type(iterable) is tuple:
                # The whole body is already in memory: one message, with the head.
                self._hold_final = True
                try:
                    body = b"".join(iterable)
                except TypeError:
                    kinds = {type(piece).__name__ for piece in iterable}
                    raise TypeError(f"a WSGI body is bytes, not {', '.join(kinds)}") from None
                self.send_body(body, True)
            else:
                for piece in iterable:
                    self.send_body(piece, False)
                self.finish()
        finally:
            close = getattr(iterable, "close", None)
            if close is not None:
                close()
        return self._held


def _check_start(status: Any, headers: Any) -> tuple[int, list[tuple[bytes, bytes]], int]:
    """Validate start_response's arguments, as the server validates an ASGI response start.

    PEP 3333 asks for the check here, while the app is still running, rather than when the
    head is sent. Returns (status code, encoded headers, Content-Length or -1).
    """
    if type(status) is not str:
        raise TypeError(f"status must be a str such as '200 OK', not {type(status).__name__}")
    match = _STATUS_RE.fullmatch(status)
    code = int(match.group(1)) if match else 0
    if not 200 <= code <= 599:
        raise ValueError(f"invalid status {status!r}: expected '200 OK' to '599 ...'")
    if not isinstance(headers, list):
        raise TypeError(f"headers must be a list of (name, value) tuples, not {headers!r:.80}")
    try:
        encoded = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]
    except (AttributeError, TypeError, ValueError):
        raise TypeError(
            f"headers must be (str, str) pairs of Latin-1 text, not {headers!r:.120}"
        ) from None
    try:
        _, info = check_response_headers(encoded)
    except LocalProtocolError as exc:
        raise ValueError(str(exc)) from None
    length = info.content_length
    return code, encoded, length if length is not None else -1


# --- WSGI: the wrapper -----------------------------------------------------------------------

#: ``wsgi_max_body_size``'s default: 16 MiB, as ``websocket_max_message_size``.
DEFAULT_MAX_BODY_SIZE = 16 * 1024 * 1024
#: ``wsgi_threads``' default.
DEFAULT_THREADS = 10

_TOO_LARGE_BODY = b"Request body too large\n"


class WSGIWrapper:
    """Serves a WSGI (PEP 3333) app as an ASGI 3 app.

    The request body is read whole first, up to ``max_body_size`` bytes (a larger one is
    answered ``413`` before the app runs: by its Content-Length at once, else as soon as it
    passes the limit). The app then runs in a pool of at most ``threads`` threads, and its
    response is streamed out piece by piece as it produces it. ``multiprocess`` is
    ``wsgi.multiprocess`` (true when several worker processes serve the app).

    A ``websocket`` scope is refused (the handshake gets 403); ``lifespan`` raises
    :class:`UnsupportedScope`, which tells the server the app has no lifespan.
    """

    def __init__(
        self,
        app: Callable[..., Any],
        *,
        max_body_size: int = DEFAULT_MAX_BODY_SIZE,
        threads: int = DEFAULT_THREADS,
        multiprocess: bool = False,
    ) -> None:
        if max_body_size < 0:
            raise ValueError(f"max_body_size must not be negative, got {max_body_size}")
        self.app = app
        self.max_body_size = max_body_size
        self.multiprocess = multiprocess
        self.pool = _ThreadPool(threads, "hypercorn-wsgi")
        #: Made by :func:`wrap_app` without a config (so it may be replaced by one with it).
        self.provisional = False

    @classmethod
    def from_config(cls, app: Callable[..., Any], config: Config) -> WSGIWrapper:
        return cls(
            app,
            max_body_size=config.wsgi_max_body_size,
            threads=config.wsgi_threads,
            multiprocess=config.workers > 1,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "websocket":
            await send({"type": "websocket.close", "code": 1000})
        else:
            raise UnsupportedScope(f"a WSGI app has no ASGI {kind}")

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await self._read_body(scope, receive)
        if body is None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 413,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "http.response.body", "body": _TOO_LARGE_BODY})
            return
        if body is False:
            return  # the client went away
        environ = build_environ(scope, body, multiprocess=self.multiprocess)
        response = _Response(asyncio.get_running_loop(), send)
        try:
            held = await asyncio.wrap_future(self.pool.submit(response.run, self.app, environ))
        except asyncio.CancelledError:
            response.cancelled = True  # the thread stops at its next piece of body
            raise
        if held is not None:
            for message in held:
                await send(message)

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | Literal[False] | None:
        """The whole request body; None if it is over the limit; False if the client left."""
        limit = self.max_body_size
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                if value.isdigit() and int(value) > limit:
                    return None
                break
        chunks = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return False
            chunk = message.get("body", b"")
            if chunk:
                size += len(chunk)
                if size > limit:
                    return None
                chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
