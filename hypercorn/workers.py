"""Gunicorn worker classes that serve the app with this server.

``gunicorn -k hypercorn.workers.HypercornWorker module:app`` keeps Gunicorn as the process
manager (it binds the sockets, forks and watches the workers, restarts them, reloads on
SIGHUP) and has each worker run this server's :class:`~hypercorn.asyncio.server.Server` on
the sockets it inherited: HTTP/1.1, HTTP/2 (h2c, and ALPN over TLS) and WebSockets, for ASGI
3, ASGI 2 and WSGI apps alike. :class:`HypercornUVLoopWorker` does the same on uvloop.

Gunicorn is not a dependency of this package: importing this module imports it, and nothing
else in the package imports this module.

Settings. A Gunicorn setting given a value other than its default is mapped onto the
matching option of this server (:func:`config_from_gunicorn` lists them) and wins; every
other option comes from the file or module named by the ``HYPERCORN_CONFIG`` environment
variable (as ``-c`` takes it: ``conf.toml``, ``file:conf.py``, ``python:module``) or from
this server's defaults. Signals follow Gunicorn's worker contract: SIGTERM stops
gracefully within ``graceful_timeout``, SIGINT and SIGQUIT stop at once, SIGUSR1 reopens the
log files, SIGABRT (a missed heartbeat) aborts.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from gunicorn.workers.base import Worker

from .app_wrappers import wrap_app
from .asyncio.lifespan import LifespanFailure
from .asyncio.server import Server
from .config import Config, ConfigError, load_config
from .logs import AccessLogger, error_logger
from .run import close_loop, loop_factory
from .sockets import BindError

__all__ = ["HypercornUVLoopWorker", "HypercornWorker", "config_from_gunicorn"]

# Gunicorn's own ceilings: 0 means "the most it allows" for these two.
_MAX_REQUEST_LINE = 8190
_MAX_HEADER_FIELDS = 32768
_VERIFY_MODES = {0: "none", 1: "optional", 2: "required"}  # ssl.CERT_NONE/OPTIONAL/REQUIRED

# Gunicorn settings (newer releases have some of them) that mean the same as an option here.
_SAME_MEANING = {
    "asgi_lifespan": "lifespan",
    "websocket_max_message_size": "websocket_max_message_size",
    "http2_max_concurrent_streams": "h2_max_concurrent_streams",
    "http2_initial_window_size": "h2_initial_window_size",
    "http2_max_frame_size": "h2_max_inbound_frame_size",
    "http2_max_header_list_size": "h2_max_header_list_size",
    "keyfile": "keyfile",
    "certfile": "certfile",
    "ca_certs": "ca_certs",
    "ciphers": "ciphers",
    "root_path": "root_path",
}


def _set_by_user(cfg: Any, name: str) -> bool:
    setting = cfg.settings.get(name)
    return setting is not None and setting.get() != setting.default


def config_from_gunicorn(cfg: Any, base: Config | None = None) -> Config:
    """``base`` (default: this server's defaults) with Gunicorn's settings applied.

    Mapped when set: ``keepalive`` -> ``keep_alive_timeout``; ``limit_request_line`` ->
    ``max_request_line_size``; ``limit_request_fields`` -> ``max_header_count``; ``threads``
    -> ``wsgi_threads``; ``certfile``, ``keyfile``, ``ca_certs``, ``ciphers`` and
    ``cert_reqs`` -> the TLS options; and, on Gunicorn releases that have them,
    ``asgi_lifespan``, ``root_path``, ``websocket_max_message_size`` and the ``http2_*``
    limits. Always: ``workers`` (for ``wsgi.multiprocess``), ``graceful_timeout`` at most
    Gunicorn's (its arbiter kills a worker that takes longer), and ``SCRIPT_NAME`` from the
    environment as ``root_path`` when no root path is set otherwise.
    """
    config = base or Config()
    changes: dict[str, Any] = {"workers": int(cfg.workers)}
    if _set_by_user(cfg, "keepalive"):
        changes["keep_alive_timeout"] = float(cfg.keepalive)
    if _set_by_user(cfg, "graceful_timeout"):
        changes["graceful_timeout"] = float(cfg.graceful_timeout)
    else:
        changes["graceful_timeout"] = min(config.graceful_timeout, float(cfg.graceful_timeout))
    if _set_by_user(cfg, "limit_request_line"):
        line = int(cfg.limit_request_line)
        changes["max_request_line_size"] = min(line, _MAX_REQUEST_LINE) or _MAX_REQUEST_LINE
    if _set_by_user(cfg, "limit_request_fields"):
        fields = int(cfg.limit_request_fields)
        changes["max_header_count"] = min(fields, _MAX_HEADER_FIELDS) or _MAX_HEADER_FIELDS
    if _set_by_user(cfg, "threads") and cfg.threads > 1:
        changes["wsgi_threads"] = int(cfg.threads)
    for name, option in _SAME_MEANING.items():
        if _set_by_user(cfg, name):
            changes[option] = getattr(cfg, name)
    if _set_by_user(cfg, "cert_reqs"):
        changes["verify_mode"] = _VERIFY_MODES.get(int(cfg.cert_reqs), "required")
    script_name = os.environ.get("SCRIPT_NAME", "")
    if script_name and "root_path" not in changes and not config.root_path:
        changes["root_path"] = script_name.rstrip("/")
    return config.replace(**changes)


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Any]]
Send = Callable[[Any], Awaitable[None]]


class _RequestCounter:
    """Counts requests for Gunicorn's ``max_requests`` and stops the worker at the limit."""

    def __init__(self, app: Callable[[Scope, Receive, Send], Awaitable[None]], worker: Any):
        self.app = app
        self.worker = worker

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "lifespan":
            worker = self.worker
            worker.nr += 1
            if worker.nr >= worker.max_requests and worker.alive:
                worker.log.info("Autorestarting worker after current request.")
                worker.stop(quick=False)
        await self.app(scope, receive, send)


class HypercornWorker(Worker):  # type: ignore[misc]  # gunicorn has no type hints
    """A Gunicorn worker running this server, on the event loop ``worker_class`` picks
    (``auto``: uvloop when it is installed, else asyncio)."""

    #: The event loop, as the ``worker_class`` option names it; None follows the config.
    loop_kind: str | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.config: Config | None = None
        self.loop: asyncio.AbstractEventLoop | None = None
        self.server: Server | None = None
        self._stopping: asyncio.Event | None = None
        self._quick = False

    @classmethod
    def check_config(cls, cfg: Any, log: Any) -> None:
        if _set_by_user(cfg, "worker_connections"):
            log.warning(
                "%s does not limit connections: worker_connections is ignored", cls.__name__
            )

    # --- process setup, called by Gunicorn in the forked worker --------------------------

    def init_process(self) -> None:
        from gunicorn.arbiter import Arbiter

        # Gunicorn's raw_env (-e) may name HYPERCORN_CONFIG or SCRIPT_NAME; the base class
        # applies it too, but only after this.
        os.environ.update(self.cfg.env or {})
        # The loop first: init_signals (called by the base class) installs loop handlers.
        try:
            spec = os.environ.get("HYPERCORN_CONFIG")
            self.config = config_from_gunicorn(self.cfg, load_config(spec) if spec else None)
            self.loop = loop_factory(self.loop_kind or self.config.worker_class)()
        except ConfigError as exc:
            self.log.error("%s", exc)
            sys.exit(Arbiter.WORKER_BOOT_ERROR)
        asyncio.set_event_loop(self.loop)
        self._stopping = asyncio.Event()
        super().init_process()  # also loads the app and calls run()

    def init_signals(self) -> None:
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_DFL)
        loop = self.loop
        assert loop is not None
        loop.add_signal_handler(signal.SIGTERM, self.stop, False)
        loop.add_signal_handler(signal.SIGQUIT, self._quit)
        loop.add_signal_handler(signal.SIGINT, self._quit)
        loop.add_signal_handler(signal.SIGUSR1, self.log.reopen_files)
        loop.add_signal_handler(signal.SIGWINCH, lambda: None)  # a terminal resize
        # SIGABRT keeps a plain handler: Gunicorn sends it to a worker that has missed its
        # heartbeat, whose event loop is likely stuck and would never run a loop handler.
        signal.signal(signal.SIGABRT, self.handle_abort)

    def _quit(self) -> None:
        self.cfg.worker_int(self)
        self.stop(quick=True)

    def stop(self, quick: bool) -> None:
        """Begin stopping: gracefully, or (``quick``) cutting every connection now."""
        self.alive = False
        if quick:
            self._quick = True
            if self.server is not None:
                self.server.force_shutdown()
        if self._stopping is not None:
            self._stopping.set()

    # --- serving -------------------------------------------------------------------------

    def run(self) -> None:
        loop = self.loop
        assert loop is not None
        try:
            code = loop.run_until_complete(self._serve())
        finally:
            close_loop(loop)
        if code:
            sys.exit(code)

    def _access_log(self) -> AccessLogger | None:
        cfg = self.cfg
        # Gunicorn's own test for whether access lines go anywhere.
        enabled = (
            cfg.accesslog
            or cfg.logconfig
            or getattr(cfg, "logconfig_dict", None)
            or getattr(cfg, "logconfig_json", None)
            or (cfg.syslog and not cfg.disable_redirect_access_to_syslog)
        )
        if not enabled:
            return None
        return AccessLogger(cfg.access_log_format, self.log.access_log)

    def _adopt_error_log(self) -> None:
        """Send this server's error log through Gunicorn's, so one file (and SIGUSR1) has both."""
        gunicorn_log = self.log.error_log
        for handler in list(error_logger.handlers):
            error_logger.removeHandler(handler)
        for handler in gunicorn_log.handlers:
            error_logger.addHandler(handler)
        error_logger.setLevel(gunicorn_log.level)
        error_logger.propagate = False

    async def _serve(self) -> int:
        from gunicorn.arbiter import Arbiter

        self._adopt_error_log()
        config = self.config
        assert config is not None
        app = wrap_app(self.wsgi, config)
        if self.max_requests < sys.maxsize:
            app = _RequestCounter(app, self)
        server = Server(
            app,
            config,
            sockets=[listener.sock for listener in self.sockets],
            access_log=self._access_log(),
        )
        self.server = server
        heartbeat = asyncio.get_running_loop().create_task(self._heartbeat())
        try:
            try:
                await server.startup()
            except (BindError, LifespanFailure) as exc:
                self.log.error("%s", exc)
                return int(Arbiter.WORKER_BOOT_ERROR)
            if self._quick:
                server.force_shutdown()
            assert self._stopping is not None
            await self._stopping.wait()
            try:
                await server.shutdown()
            except LifespanFailure as exc:
                self.log.error("%s", exc)
            return 0
        finally:
            heartbeat.cancel()

    async def _heartbeat(self) -> None:
        """Tell the arbiter this worker is alive, and stop if the arbiter has gone."""
        # The arbiter kills a worker silent for `timeout` seconds; notify well within it.
        interval = min(1.0, self.timeout / 2) if self.timeout > 0 else 1.0
        while True:
            self.notify()
            if self.alive and os.getppid() != self.ppid:
                self.log.info("Parent changed, shutting down: %s", self)
                self.alive = False
            # Also set from other threads: Gunicorn's reloader (--reload) clears it.
            if not self.alive and self._stopping is not None and not self._stopping.is_set():
                self.stop(quick=False)
            await asyncio.sleep(interval)


class HypercornUVLoopWorker(HypercornWorker):
    """:class:`HypercornWorker` on uvloop (``pip install 'hypercorn[uvloop]'``)."""

    loop_kind = "uvloop"
