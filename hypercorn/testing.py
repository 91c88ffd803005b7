"""Run a real server for tests: in a background thread, on a free port, stopped cleanly.

::

    from hypercorn.testing import LiveServer

    with LiveServer(app) as server:            # binds 127.0.0.1:0
        httpx.get(server.url + "/")

The server is this project's real one (sockets, HTTP/1.1, HTTP/2, WebSockets, lifespan),
on its own event loop in a daemon thread, so synchronous test code and clients can use it.
``stop()`` (or leaving the ``with`` block) shuts it down gracefully and joins the thread.

The ``hypercorn_server`` pytest fixture (installed with the package, see
:mod:`hypercorn.pytest_plugin`) wraps this: ``hypercorn_server(app, **options)``.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from .asyncio.server import Server
from .config import Config
from .logs import AccessLogger
from .run import loop_factory

__all__ = ["LiveServer"]

T = TypeVar("T")
_Server = TypeVar("_Server", bound="LiveServer")

#: Seconds to wait for the server to start or stop before giving up.
WAIT_SECONDS = 30.0


class LiveServer:
    """A real listening server on 127.0.0.1:0 (unless ``bind`` says otherwise) in a thread.

    ``options`` are :class:`~hypercorn.config.Config` options, applied over ``config``.
    ``loop`` is ``"asyncio"``, ``"uvloop"`` or ``"auto"``.
    """

    def __init__(
        self,
        app: Any,
        config: Config | None = None,
        *,
        loop: str = "auto",
        access_log: AccessLogger | None = None,
        **options: Any,
    ) -> None:
        config = config or Config()
        if options:
            config = config.replace(**options)
        if config.bind == ["127.0.0.1:8000"]:  # the default: take a free port instead
            config = config.replace(bind=["127.0.0.1:0"])
        self.config = config
        self.app = app
        self._loop_kind = loop
        self._access_log = access_log
        self._ready = threading.Event()
        self._stopped = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="hypercorn-live", daemon=True)
        #: The server's event loop (set once started).
        self.loop: asyncio.AbstractEventLoop | None = None
        #: The :class:`~hypercorn.asyncio.Server` (set once started).
        self.server: Server | None = None
        self._stop: asyncio.Event | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self: _Server) -> _Server:
        """Start and wait until the server accepts connections. Raises what startup raised."""
        self._thread.start()
        if not self._ready.wait(WAIT_SECONDS):
            raise TimeoutError(f"the server did not start within {WAIT_SECONDS:g}s")
        if self._error is not None:
            raise self._error
        return self

    def stop(self) -> None:
        """Shut down gracefully and wait for the thread. Raises what shutdown raised."""
        if self.loop is not None and self._stop is not None and not self._stopped.is_set():
            self.loop.call_soon_threadsafe(self._stop.set)
        if self._thread.is_alive():
            self._thread.join(WAIT_SECONDS)
        if self._error is not None and not isinstance(self._error, asyncio.CancelledError):
            error, self._error = self._error, None
            raise error

    def __enter__(self: _Server) -> _Server:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        loop = loop_factory(self._loop_kind)()
        self.loop = loop
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(self._main())
        except BaseException as exc:
            self._error = exc
            self._ready.set()
        finally:
            loop.close()
            self._stopped.set()

    async def _main(self) -> None:
        self._stop = asyncio.Event()
        self.server = Server(self.app, self.config, access_log=self._access_log)
        await self.server.startup()
        self._ready.set()
        await self._stop.wait()
        await self.server.shutdown()

    # --- where it is ---------------------------------------------------------------------

    @property
    def urls(self) -> list[str]:
        """A URL per bound address: ``http(s)://host:port`` or ``unix:path``."""
        assert self.server is not None, "the server is not started"
        return self.server.urls()

    @property
    def url(self) -> str:
        """The first bound address as a URL, e.g. ``http://127.0.0.1:51234``."""
        return self.urls[0]

    @property
    def port(self) -> int:
        """The first bound TCP port."""
        assert self.server is not None, "the server is not started"
        address = self.server.addresses[0]
        return int(address[1])

    # --- reaching into it ----------------------------------------------------------------

    def call(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(*args)`` on the server's event loop and return its result."""
        assert self.loop is not None, "the server is not started"
        result: list[T] = []
        errors: list[BaseException] = []
        done = threading.Event()

        def run() -> None:
            try:
                result.append(function(*args))
            except BaseException as exc:
                errors.append(exc)
            finally:
                done.set()

        self.loop.call_soon_threadsafe(run)
        if not done.wait(WAIT_SECONDS):
            raise TimeoutError("the server's loop did not run the call")
        if errors:
            raise errors[0]
        return result[0]
