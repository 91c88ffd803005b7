"""Running the server as a process: logging, the event loop, signals, the pid file.

One process serves by default. More than one worker, ``reload`` or ``max_requests`` run a
supervisor instead (:mod:`hypercorn.supervisor`), whose workers
(:mod:`hypercorn.worker_process`) serve with the same :class:`StopOnSignals` and
:func:`shutdown_server` as this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import sys
import threading
from collections.abc import Callable, Coroutine
from typing import Any

from .app_wrappers import AppLoadError, load_application
from .asyncio.lifespan import LifespanFailure
from .asyncio.server import Server
from .config import Config, ConfigError
from .logs import AccessLogger, configure_logging, error_logger
from .sockets import BindError
from .systemd import ActivatedSocket, Notifier, take_listen_fds

__all__ = ["StopOnSignals", "run", "shutdown_server", "supervised"]

# After a second signal, the process exits within this many seconds even if an app ignores
# cancellation.
FORCED_EXIT_SECONDS = 2.0


def loop_factory(worker_class: str) -> Callable[[], asyncio.AbstractEventLoop]:
    """The event loop constructor for ``worker_class`` (``auto`` prefers uvloop)."""
    if worker_class in ("auto", "uvloop"):
        try:
            import uvloop
        except ImportError:
            if worker_class == "uvloop":
                raise ConfigError(
                    "worker_class: uvloop is not installed (pip install 'hypercorn[uvloop]')"
                ) from None
        else:
            factory: Callable[[], asyncio.AbstractEventLoop] = uvloop.new_event_loop
            return factory
    return asyncio.new_event_loop


def supervised(config: Config) -> bool:
    """Whether ``config`` runs a supervisor and worker processes rather than one process."""
    return config.workers > 1 or config.reload or config.max_requests > 0


def with_activated_sockets(config: Config, activated: list[ActivatedSocket]) -> Config:
    """``config`` serving the sockets systemd passed instead of its ``bind``."""
    if not activated:
        return config
    tls = config.certfile is not None
    error_logger.info(
        "Serving %d socket(s) passed by systemd (LISTEN_FDS) instead of bind", len(activated)
    )
    return config.replace(
        bind=[item.bind for item in activated if not (tls and item.insecure)],
        insecure_bind=[item.bind for item in activated if tls and item.insecure],
    )


#: The collector's thresholds before any app code ran: an app that changes them keeps its own.
_INTERPRETER_GC_THRESHOLD = gc.get_threshold()


def tune_gc(config: Config) -> None:
    """Garbage collection for a process the server owns, once the app has started.

    Everything alive now (imports, the app, its lifespan state) lives as long as the process,
    so it is frozen out of full collections, which would otherwise scan it all and stall every
    request in flight (measured: p99 6.9 -> 2.8 ms on the hello benchmark). A larger young
    generation stops the per-request objects of 64 requests in flight from triggering a
    collection on every loop turn (measured: 8% more requests per second).
    """
    if config.gc_threshold and gc.get_threshold() == _INTERPRETER_GC_THRESHOLD:
        gc.set_threshold(config.gc_threshold, *_INTERPRETER_GC_THRESHOLD[1:])
    if config.gc_freeze:
        gc.collect()
        gc.freeze()


def run(config: Config, application: str) -> int:
    """Serve ``application`` until SIGTERM/SIGINT. Returns the process exit code."""
    try:
        access_log = configure_logging(config)
    except ConfigError as exc:
        if error_logger.handlers:
            error_logger.error("%s", exc)
        else:  # the error log itself could not be opened
            print(f"hypercorn: error: {exc}", file=sys.stderr)
        return 1
    if config.workers < 1:
        error_logger.error("workers: must be at least 1, got %d", config.workers)
        return 1
    # Read (and removed from the environment) whichever way the server runs, so that no
    # child process takes systemd's sockets or notifications for its own.
    notify = Notifier()
    try:
        activated = take_listen_fds()
    except BindError as exc:
        error_logger.error("%s", exc)
        return 1
    if supervised(config):
        from .supervisor import run_supervisor

        return run_supervisor(config, application, notify, activated)
    config = with_activated_sockets(config, activated)
    try:
        app = load_application(application, config)
        factory = loop_factory(config.worker_class)
    except (AppLoadError, ConfigError) as exc:
        error_logger.error("%s", exc)
        return 1
    pid_path = config.pid_path
    if pid_path is not None:
        try:
            _write_pid_file(pid_path)
        except OSError as exc:
            error_logger.error("pid_path: cannot write %s: %s", pid_path, exc.strerror or exc)
            return 1
    try:
        return run_in_loop(
            factory, _serve_until_signalled(app, config, access_log, notify), config.debug
        )
    finally:
        if pid_path is not None:
            _remove_pid_file(pid_path)


def run_in_loop(
    factory: Callable[[], asyncio.AbstractEventLoop],
    main: Coroutine[Any, Any, int],
    debug: bool = False,
) -> int:
    if sys.version_info >= (3, 11):
        with asyncio.Runner(loop_factory=factory, debug=debug) as runner:
            return runner.run(main)
    loop = factory()  # pragma: no cover - Python 3.10
    asyncio.set_event_loop(loop)
    loop.set_debug(debug)
    try:
        return loop.run_until_complete(main)
    finally:
        close_loop(loop)


def close_loop(loop: asyncio.AbstractEventLoop) -> None:
    """What ``asyncio.Runner`` does on exit: cancel what is left, finish async generators."""
    pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
    for task in pending:
        task.cancel()
    if pending:
        loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
    loop.run_until_complete(loop.shutdown_asyncgens())
    asyncio.set_event_loop(None)
    loop.close()


class StopOnSignals:
    """The first of ``signals`` asks for a graceful stop; a second one exits at once.

    Use as a context manager around serving; :meth:`wait` returns once a stop is asked for,
    by a signal or by :meth:`request` (a worker told by its supervisor). Only a second
    *signal* forces the exit: a worker may be told to stop both by its supervisor and by a
    signal to its whole process group (systemd's KillMode=control-group), and that is still
    one graceful stop.
    """

    def __init__(
        self, server: Server, signals: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM)
    ) -> None:
        self._server = server
        self._signals = signals
        self._stop = asyncio.Event()
        self._signalled = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def __enter__(self) -> StopOnSignals:
        self._loop = asyncio.get_running_loop()
        for signum in self._signals:
            self._loop.add_signal_handler(signum, self._on_signal, signum)
        return self

    def __exit__(self, *exc_info: object) -> None:
        assert self._loop is not None
        for signum in self._signals:
            self._loop.remove_signal_handler(signum)

    def request(self, reason: str) -> None:
        if not self._stop.is_set():
            error_logger.info("%s: shutting down gracefully", reason)
            self._stop.set()

    async def wait(self) -> None:
        await self._stop.wait()

    def force(self, reason: str) -> None:
        """Cut every connection now, and exit within FORCED_EXIT_SECONDS whatever the app does."""
        error_logger.warning("%s: exiting now", reason)
        self._stop.set()
        self._server.force_shutdown()
        timer = threading.Timer(FORCED_EXIT_SECONDS, _exit_now)
        timer.daemon = True
        timer.start()

    def _on_signal(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self._signalled:
            self.force(f"Received {name} again")
            return
        self._signalled = True
        self.request(f"Received {name}")


async def shutdown_server(server: Server) -> int:
    """The graceful stop; the exit code (1 when lifespan shutdown failed or it was forced)."""
    try:
        await server.shutdown()
    except LifespanFailure as exc:
        error_logger.error("%s", exc)
        return 1
    return 1 if server.forced else 0


async def _serve_until_signalled(
    app: Any, config: Config, access_log: AccessLogger | None, notify: Notifier
) -> int:
    server = Server(app, config, access_log=access_log)
    with StopOnSignals(server) as stopping:
        try:
            await server.startup()
        except (BindError, LifespanFailure) as exc:
            error_logger.error("%s", exc)
            return 1
        tune_gc(config)
        notify("READY=1")
        await stopping.wait()
        notify("STOPPING=1")
        return await shutdown_server(server)


def _exit_now() -> None:  # pragma: no cover - only when an app ignores cancellation
    logging.shutdown()
    os._exit(1)


def _write_pid_file(path: str) -> None:
    with open(path, "w") as file:
        file.write(f"{os.getpid()}\n")


def _remove_pid_file(path: str) -> None:
    # Only our own: a newer process may have taken the path over since.
    with contextlib.suppress(OSError), open(path) as file:
        mine = file.read().strip() == str(os.getpid())
    if mine:
        with contextlib.suppress(OSError):
            os.unlink(path)
