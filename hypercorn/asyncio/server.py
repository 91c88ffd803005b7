"""The asyncio server: listening sockets, connections, the tick, lifespan and shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import socket
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any

from ..app_wrappers import wrap_app
from ..config import Config
from ..logs import AccessLogger, configure_logging, error_logger
from ..metrics import Metrics, StatsdClient, metrics_app
from ..middleware import HTTPToHTTPSRedirectMiddleware, ProxyFixMiddleware
from ..protocol.context import LINGER_SECONDS, ServerContext
from ..protocol.http_stream import register_default_header
from ..sockets import (
    Bind,
    BindError,
    create_socket,
    create_ssl_context,
    parse_bind,
    read_server_certificate,
)
from .connection import ConnectionProtocol
from .lifespan import Lifespan
from .proxy_protocol import ProxyProtocolListener

__all__ = ["Server", "serve"]

#: How often metrics are pushed to statsd (its own default flush interval is 10 s; pushing
#: every second keeps gauges current without a packet per request).
STATSD_FLUSH_SECONDS = 1.0


def resolve_http_parser(choice: str) -> str:
    """``auto`` means httptools when it is importable, else h11."""
    if choice != "auto":
        return choice
    try:
        import httptools  # noqa: F401
    except ImportError:  # pragma: no cover - httptools is a dependency
        return "h11"
    return "httptools"


class Server:
    """One server process's listeners and connections, on the running event loop.

    ``await startup()`` binds (unless ``sockets`` are given), runs lifespan startup and
    starts accepting; :attr:`addresses` then holds what was actually bound, so port 0 works.
    ``await shutdown()`` is the graceful stop: stop accepting, close idle connections, let
    in-flight requests finish within ``graceful_timeout``, then run lifespan shutdown.
    """

    def __init__(
        self,
        app: Any,
        config: Config,
        *,
        sockets: list[socket.socket] | None = None,
        access_log: AccessLogger | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.config = config
        self.app = wrap_app(app, config)
        if metrics is None and (config.metrics_bind or config.statsd_host):
            metrics = Metrics()
        #: This process's counters, when metrics are exported (else None).
        self.metrics = metrics
        #: What a metrics scrape sums: this process's counters, or every worker's.
        self.metric_stores: Callable[[], Sequence[Sequence[float]]] = self._own_metrics
        self._metrics_server: Server | None = None
        self._statsd: StatsdClient | None = None
        self._next_flush = 0.0
        self.ctx = ServerContext(
            config,
            self.app,
            http_parser=resolve_http_parser(config.http),
            access_log=access_log,
            metrics=metrics,
        )
        for name in self.ctx.default_header_names:
            register_default_header(name)
        self._given_sockets = sockets
        self.sockets: list[socket.socket] = []
        #: Whether each of :attr:`sockets` serves TLS (``insecure_bind`` sockets do not).
        self._secure: list[bool] = []
        #: The server's certificate as PEM, for the ASGI ``tls`` extension.
        self.server_cert: str | None = None
        self._addresses: list[Any] | None = None
        self._binds: list[Bind] = []
        self._listeners: list[asyncio.Server] = []
        self._connections: set[ConnectionProtocol] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._all_closed: asyncio.Future[None] | None = None
        self._tick_handle: asyncio.TimerHandle | None = None
        self._lifespan: Lifespan | None = None
        self._forced = False
        self._stopped = False
        timeouts = [
            config.keep_alive_timeout,
            config.request_head_timeout,
            config.request_body_timeout,
            config.request_body_min_rate_grace,
            config.h2_ping_interval,
            config.h2_ping_timeout,
            config.websocket_ping_interval,
            config.websocket_ping_timeout,
            LINGER_SECONDS,
        ]
        # A quarter of the shortest timeout, so deadlines are met to within 25%, but never
        # more often than 20 times a second.
        self._tick_interval = min(1.0, max(0.05, min(t for t in timeouts if t > 0) / 4))
        self.loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]

    # --- lifecycle -----------------------------------------------------------------------

    async def startup(self) -> None:
        """Bind, run lifespan startup, start accepting. Raises on any failure, unbound."""
        self.loop = asyncio.get_running_loop()
        self.ctx.now = self.loop.time()
        config = self.config
        alpn = ["h2", "http/1.1"] if config.http2 else ["http/1.1"]
        ssl_context = create_ssl_context(config, alpn)
        self.server_cert = read_server_certificate(config)
        secure = ssl_context is not None
        if self._given_sockets is not None:
            self.sockets = list(self._given_sockets)
            self._secure = [secure] * len(self.sockets)
        else:
            plain = config.insecure_bind if secure else []
            try:
                for text, tls in [(t, secure) for t in config.bind] + [(t, False) for t in plain]:
                    bind = parse_bind(text)
                    self.sockets.append(create_socket(bind, config.backlog, config))
                    self._secure.append(tls)
                    self._binds.append(bind)
            except BaseException:
                self._close_sockets()
                raise
        if config.https_redirect and secure:
            ports = [
                address[1]
                for address, tls in zip(self.addresses, self._secure, strict=True)
                if tls and isinstance(address, tuple)
            ]
            self.ctx.app = HTTPToHTTPSRedirectMiddleware(self.app, https_port=ports[0] or 443)
        if config.proxy_headers:
            # Outermost, so the redirect and the app both see the scheme the client used.
            self.ctx.app = ProxyFixMiddleware(
                self.ctx.app, config.forwarded_allow_ips, mode=config.proxy_headers_mode
            )
        try:
            # Before the app starts, so that a bad metrics setting fails with nothing to undo.
            await self._start_metrics()
        except BaseException:
            await self._stop_metrics()
            self._close_sockets()
            raise
        self._lifespan = Lifespan(self.app, self.config.lifespan, error_logger, self.loop)
        try:
            await self._lifespan.startup(self.config.startup_timeout)
        except BaseException:
            await self._stop_metrics()
            self._close_sockets()
            raise
        if self._lifespan.supported:
            self.ctx.lifespan_state = self._lifespan.state
        self._tick()
        for sock, tls in zip(self.sockets, self._secure, strict=True):
            context = ssl_context if tls else None
            proxy = ProxyProtocolListener.for_config(self, config, context)
            listener = await self.loop.create_server(
                functools.partial(ConnectionProtocol, self, proxy),
                sock=sock,
                # A PROXY protocol header comes before TLS, which then starts after it.
                ssl=context if proxy is None else None,
                backlog=config.backlog,
            )
            self._listeners.append(listener)
        for address in self.urls():
            error_logger.info("Running on %s (CTRL + C to quit)", address)

    def _own_metrics(self) -> list[Sequence[float]]:
        return [self.metrics.values] if self.metrics is not None else []

    async def _start_metrics(self) -> None:
        config = self.config
        if config.statsd_host:
            try:
                self._statsd = StatsdClient(
                    config.statsd_host, config.statsd_prefix, config.dogstatsd_tags
                )
            except (ValueError, OSError) as exc:
                raise BindError(f"statsd_host: {exc}") from None
        if config.metrics_bind:
            # A plain HTTP server of its own, so metrics never share the app's binds.
            metrics_config = config.replace(
                bind=list(config.metrics_bind),
                metrics_bind=[],
                statsd_host=None,
                certfile=None,
                keyfile=None,
                ca_certs=None,
                insecure_bind=[],
                https_redirect=False,
                lifespan="off",
                # Scrapers connect directly, not through the app's proxy.
                proxy_protocol="off",
                proxy_headers=False,
            )
            server = Server(metrics_app(self.metric_stores), metrics_config)
            await server.startup()
            self._metrics_server = server

    async def _stop_metrics(self) -> None:
        if self._metrics_server is not None:
            await self._metrics_server.shutdown()
            self._metrics_server = None
        if self._statsd is not None:
            if self.metrics is not None:
                self._statsd.flush(self.metrics)
            self._statsd.close()
            self._statsd = None

    @property
    def addresses(self) -> list[Any]:
        """The bound addresses: ``(host, port)`` for TCP, the path for Unix sockets.

        Read once the sockets are bound, so they stay known after shutdown closes them.
        """
        if self._addresses is None or len(self._addresses) != len(self.sockets):
            found = []
            for sock in self.sockets:
                name = sock.getsockname()
                found.append(name[:2] if isinstance(name, tuple) else name)
            self._addresses = found
        return list(self._addresses)

    def urls(self) -> list[str]:
        """A URL per bound socket: ``http(s)://host:port`` or ``unix:path``."""
        urls = []
        secure = self._secure or [False] * len(self.sockets)
        for address, tls in zip(self.addresses, secure, strict=True):
            if isinstance(address, tuple):
                host, port = address
                host = f"[{host}]" if ":" in host else host
                urls.append(f"{'https' if tls else 'http'}://{host}:{port}")
            else:
                urls.append(f"unix:{address}")
        return urls

    def stop_accepting(self) -> None:
        """Close the listeners; connections already accepted go on being served.

        A socket shared with other processes stays open in them, so the connections waiting
        in its backlog are accepted there: a worker stepping down loses none.
        """
        for listener in self._listeners:
            listener.close()
        if self._metrics_server is not None:
            # A scrape must not reach a worker on its way out either.
            self._metrics_server.stop_accepting()

    async def shutdown(self) -> None:
        """Stop gracefully (see the class docstring). Raises LifespanFailure from the app."""
        if self._stopped:
            return
        self._stopped = True
        loop = self.loop
        deadline = loop.time() + self.config.graceful_timeout
        self.ctx.shutting_down = True
        self.stop_accepting()
        for connection in list(self._connections):
            connection.protocol.shutdown()
        if self._connections and not self._forced:
            self._all_closed = loop.create_future()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(
                    asyncio.shield(self._all_closed), max(0.0, deadline - loop.time())
                )
        if self._connections:
            if not self._forced:
                error_logger.warning(
                    "Graceful timeout: closing %d connection(s) still in use",
                    len(self._connections),
                )
            for connection in list(self._connections):
                connection.abort()
        if self._tasks and not self._forced:
            # Apps may still be working after their responses (background tasks).
            await asyncio.wait(list(self._tasks), timeout=max(0.0, deadline - loop.time()))
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=1.0)
        if self._tick_handle is not None:
            self._tick_handle.cancel()
        self._close_sockets()
        await self._stop_metrics()
        if self._lifespan is not None and not self._forced:
            await self._lifespan.shutdown(self.config.shutdown_timeout)

    @property
    def forced(self) -> bool:
        """Whether :meth:`force_shutdown` cut the graceful stop short."""
        return self._forced

    def force_shutdown(self) -> None:
        """Cut every connection and app now (a second signal); shutdown() then returns fast."""
        self._forced = True
        self.ctx.shutting_down = True
        for connection in list(self._connections):
            connection.abort()
        for task in list(self._tasks):
            task.cancel()
        if self._all_closed is not None and not self._all_closed.done():
            self._all_closed.set_result(None)

    def _close_sockets(self) -> None:
        for listener in self._listeners:
            listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.close()
        for bind in self._binds:
            if bind.kind == "unix":
                with contextlib.suppress(OSError):
                    os.unlink(bind.path)
        self._binds = []

    # --- what connections tell the server ------------------------------------------------

    def connection_opened(self, connection: ConnectionProtocol) -> None:
        self._connections.add(connection)
        if self.metrics is not None:
            self.metrics.connection_opened()
        if self.ctx.shutting_down:
            connection.protocol.shutdown()

    def connection_closed(self, connection: ConnectionProtocol) -> None:
        self._connections.discard(connection)
        if self.metrics is not None:
            self.metrics.connection_closed()
        waiter = self._all_closed
        if not self._connections and waiter is not None and not waiter.done():
            waiter.set_result(None)

    def start_task(self, coroutine: Coroutine[Any, Any, None]) -> None:
        task = self.loop.create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _tick(self) -> None:
        loop = self.loop
        now = loop.time()
        ctx = self.ctx
        ctx.now = now
        ctx.update_date(time.time())
        expired = [c for c in self._connections if c.protocol.deadline <= now]
        for connection in expired:
            connection.protocol.on_deadline(now)
        statsd = self._statsd
        if statsd is not None and now >= self._next_flush and self.metrics is not None:
            self._next_flush = now + STATSD_FLUSH_SECONDS
            statsd.flush(self.metrics)
        self._tick_handle = loop.call_at(now + self._tick_interval, self._tick)


async def serve(
    app: Any,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[Any]] | None = None,
    access_log: AccessLogger | None = None,
) -> None:
    """Serve ``app`` until ``shutdown_trigger`` returns (forever if None), then stop gracefully.

    Logging is left as the program set it up, unless ``config.access_logfile`` asks for an
    access log (as Quart's ``app.run_task`` does): then the error and access logs are
    configured from ``config`` as the command line would.
    """
    if access_log is None and config.access_logfile is not None:
        access_log = configure_logging(config)
    server = Server(app, config, access_log=access_log)
    await server.startup()
    try:
        if shutdown_trigger is None:
            await asyncio.get_running_loop().create_future()
        else:
            await shutdown_trigger()
    finally:
        await server.shutdown()
