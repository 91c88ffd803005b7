"""One worker process under the supervisor: ``python -m hypercorn.worker_process FD``.

The supervisor (:mod:`hypercorn.supervisor`) starts this module in a fresh interpreter with
its listening sockets inherited as ``fd://N`` binds (or, with ``reuse_port``, TCP binds the
worker makes itself) and one end of a socketpair, the control channel. Over the channel:

* supervisor → worker: one line of JSON, ``{"application": ..., "config": {...}}``, first;
  then ``stop`` (the graceful stop) or ``force`` (stop at once); the channel closing (end of
  file) means the supervisor is gone, and the worker stops gracefully;
* worker → supervisor: ``ready`` once the app's lifespan startup is done and the sockets are
  accepting; ``retire`` once ``max_requests`` are served (the supervisor starts a replacement,
  and tells this worker to ``stop`` once the replacement is ready); ``failed REASON`` when
  start-up fails for a reason that fits on one line (the supervisor logs it, once).

Signals: SIGTERM is the graceful stop (a second one exits at once), exactly as for the single
server process; it stops a worker that is still starting at once. SIGINT, SIGHUP, SIGTTIN and
SIGTTOU are the supervisor's: a Ctrl+C in a terminal reaches the whole process group, and the
supervisor decides what it means. The supervisor stops a serving worker with a message, not
a signal, so that a SIGTERM to the whole group (systemd's default) is not taken for a second
one.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import socket
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .app_wrappers import AppLoadError, load_application
from .asyncio.connection import ConnectionProtocol
from .asyncio.lifespan import LifespanFailure
from .asyncio.server import Server
from .config import Config, ConfigError
from .logs import AccessLogger, configure_logging, error_logger
from .metrics import Metrics, SharedMetrics
from .protocol.context import ASGIApp
from .run import StopOnSignals, loop_factory, run_in_loop, shutdown_server, tune_gc
from .sockets import BindError

__all__ = ["FRESH_CONNECTION_GRACE", "main"]

#: Seconds a connection accepted just before the worker stops accepting is given to send its
#: first request, so that a request racing a rolling restart is served, not dropped. (Go's
#: http.Server.Shutdown likewise waits for new connections to send a request.) Real clients
#: write their request as soon as they connect; a connection that has sent nothing by then
#: is closed as idle.
FRESH_CONNECTION_GRACE = 0.5

#: The supervisor's signals, ignored here (see the module docstring).
SUPERVISOR_SIGNALS = (signal.SIGINT, signal.SIGHUP, signal.SIGTTIN, signal.SIGTTOU)


class ControlChannel:
    """The worker's end of the socketpair to the supervisor."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self._buffer = b""

    def read_spec(self) -> dict[str, Any]:
        """The first line: what to serve and how (blocking; the supervisor sends it at once)."""
        while b"\n" not in self._buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("the supervisor closed the control channel")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        spec: dict[str, Any] = json.loads(line)
        return spec

    def send(self, message: str) -> bool:
        """Send one line; False when the supervisor is gone."""
        try:
            self.sock.sendall(message.replace("\n", " ").encode() + b"\n")
        except OSError:
            return False
        return True

    def watch(self, loop: asyncio.AbstractEventLoop, on_message: Callable[[str], None]) -> None:
        """Call ``on_message`` with each line the supervisor sends, and with ``""`` when its
        end closes (it exited, or was killed)."""
        self.sock.setblocking(False)

        def readable() -> None:
            try:
                data = self.sock.recv(4096)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:
                data = b""
            if not data:
                loop.remove_reader(self.sock.fileno())
                on_message("")
                return
            self._buffer += data
            while b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                on_message(line.decode(errors="replace"))

        loop.add_reader(self.sock.fileno(), readable)


class RequestBudget:
    """Counts the requests (and WebSockets) an app is given; calls ``on_spent`` at ``limit``."""

    _hypercorn_wrapped = True  # already ASGI 3: wrap_app passes it through

    def __init__(self, app: ASGIApp, limit: int, on_spent: Callable[[], None]) -> None:
        self.app = app
        self.limit = limit
        self.count = 0
        self._on_spent = on_spent

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            self.count += 1
            if self.count == self.limit:
                self._on_spent()
        await self.app(scope, receive, send)


class WorkerServer(Server):
    """A :class:`Server` that can step down without dropping a request that races it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._opened_at: dict[ConnectionProtocol, float] = {}

    def connection_opened(self, connection: ConnectionProtocol) -> None:
        self._opened_at[connection] = self.loop.time()
        super().connection_opened(connection)

    def connection_closed(self, connection: ConnectionProtocol) -> None:
        self._opened_at.pop(connection, None)
        super().connection_closed(connection)

    async def step_down(self, grace: float = FRESH_CONNECTION_GRACE) -> None:
        """Stop accepting, then give just-accepted connections ``grace`` to send a request.

        The listening sockets stay open in the supervisor and the other workers, so the
        connections still in the backlog are theirs. A connection this worker accepted in
        the last moment may not have sent its request yet; the graceful shutdown would close
        it as idle, and the request would be lost.
        """
        self.stop_accepting()
        loop = self.loop
        deadline = loop.time() + min(grace, self.config.graceful_timeout)
        while True:
            # A connection accepted before the listener closed may still be on its way to
            # connection_made (asyncio hands it over in a task): let it arrive first.
            await asyncio.sleep(0)
            now = loop.time()
            youngest = max(self._opened_at.values(), default=None)
            if youngest is None or now >= deadline or youngest + grace <= now:
                return
            await asyncio.sleep(min(youngest + grace, deadline) - now)


def worker_config(data: dict[str, Any]) -> Config:
    return Config.from_mapping(data, "the supervisor's config")


async def serve_worker(
    app: ASGIApp,
    config: Config,
    access_log: AccessLogger | None,
    channel: ControlChannel,
    shared: tuple[SharedMetrics, int] | None = None,
) -> int:
    loop = asyncio.get_running_loop()
    if config.max_requests > 0:
        limit = config.max_requests + random.randint(0, config.max_requests_jitter)

        def spent() -> None:
            error_logger.info("Served %d requests (max_requests): asking to be replaced", limit)
            channel.send("retire")

        app = RequestBudget(app, limit, spent)
    metrics = Metrics(shared[0].slot(shared[1])) if shared is not None else None
    server = WorkerServer(app, config, access_log=access_log, metrics=metrics)
    if shared is not None:
        server.metric_stores = shared[0].stores  # a scrape sums every worker's slot
    with StopOnSignals(server, (signal.SIGTERM,)) as stopping:

        def on_message(message: str) -> None:
            if message == "stop":
                stopping.request("Told to stop by the supervisor")
            elif message == "force":
                stopping.force("Told to stop at once by the supervisor")
            elif not message:
                stopping.request("The supervisor has gone")

        channel.watch(loop, on_message)
        try:
            await server.startup()
        except (BindError, LifespanFailure) as exc:
            if not channel.send(f"failed {exc}"):
                error_logger.error("%s", exc)
            return 1
        tune_gc(config)
        channel.send("ready")
        await stopping.wait()
        await server.step_down()
        return await shutdown_server(server)


def _stop_while_starting(signum: int, frame: object) -> None:
    # Told to stop before serving (a rolling restart overtaken by another): nothing to drain.
    raise SystemExit(0)


def main(argv: Sequence[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    for signum in SUPERVISOR_SIGNALS:
        signal.signal(signum, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _stop_while_starting)
    control_fd = int(args[0])
    os.set_inheritable(control_fd, False)  # nothing the app starts may hold it open
    channel = ControlChannel(socket.socket(fileno=control_fd))
    try:
        spec = channel.read_spec()
        config = worker_config(spec["config"])
        application = str(spec["application"])
    except (EOFError, OSError, ValueError, KeyError) as exc:
        print(f"hypercorn worker: no instructions from the supervisor: {exc}", file=sys.stderr)
        return 1
    try:
        access_log = configure_logging(config)
        app = load_application(application, config)
        factory = loop_factory(config.worker_class)
    except (AppLoadError, ConfigError) as exc:
        if not channel.send(f"failed {exc}"):
            error_logger.error("%s", exc)
        return 1
    shared = None
    if "metrics" in spec:
        block = spec["metrics"]
        try:
            shared = (SharedMetrics(int(block["slots"]), int(block["fd"])), int(block["slot"]))
        except (OSError, ValueError, KeyError) as exc:
            error_logger.warning("Metrics shared with the other workers unavailable: %s", exc)
    # SIGTERM stays an immediate exit until serve_worker makes it the graceful stop.
    return run_in_loop(
        factory, serve_worker(app, config, access_log, channel, shared), config.debug
    )


if __name__ == "__main__":
    sys.exit(main())
