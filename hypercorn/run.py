"""Running the server as a process: logging, the event loop, signals, the pid file."""

from __future__ import annotations

import asyncio
import contextlib
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

__all__ = ["run"]

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
    try:
        app = load_application(application)
        factory = loop_factory(config.worker_class)
    except (AppLoadError, ConfigError) as exc:
        error_logger.error("%s", exc)
        return 1
    if config.workers != 1:
        error_logger.warning(
            "workers = %d: this release runs a single worker process", config.workers
        )
    pid_path = config.pid_path
    if pid_path is not None:
        try:
            _write_pid_file(pid_path)
        except OSError as exc:
            error_logger.error("pid_path: cannot write %s: %s", pid_path, exc.strerror or exc)
            return 1
    try:
        return run_in_loop(factory, _serve_until_signalled(app, config, access_log), config.debug)
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
        pending = [task for task in asyncio.all_tasks(loop) if not task.done()]
        for task in pending:
            task.cancel()
        if pending:
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
        loop.run_until_complete(loop.shutdown_asyncgens())
        asyncio.set_event_loop(None)
        loop.close()


async def _serve_until_signalled(app: Any, config: Config, access_log: AccessLogger | None) -> int:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    server = Server(app, config, access_log=access_log)

    def on_signal(signum: int) -> None:
        name = signal.Signals(signum).name
        if not stop.is_set():
            error_logger.info("Received %s: shutting down gracefully", name)
            stop.set()
            return
        error_logger.warning("Received %s again: exiting now", name)
        server.force_shutdown()
        timer = threading.Timer(FORCED_EXIT_SECONDS, _exit_now)
        timer.daemon = True
        timer.start()

    handled = (signal.SIGINT, signal.SIGTERM)
    for signum in handled:
        loop.add_signal_handler(signum, on_signal, signum)
    try:
        try:
            await server.startup()
        except (BindError, LifespanFailure) as exc:
            error_logger.error("%s", exc)
            return 1
        await stop.wait()
        try:
            await server.shutdown()
        except LifespanFailure as exc:
            error_logger.error("%s", exc)
            return 1
        return 1 if server.forced else 0
    finally:
        for signum in handled:
            loop.remove_signal_handler(signum)


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
