"""The ASGI lifespan protocol: startup before serving, shutdown after."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from ..protocol.context import ASGIApp

__all__ = ["Lifespan", "LifespanFailure"]


class LifespanFailure(Exception):
    """The app reported (or caused) a failed startup or shutdown; the message says why."""


class Lifespan:
    """Runs the app's lifespan scope in a task and waits on its answers."""

    def __init__(
        self, app: ASGIApp, mode: str, logger: logging.Logger, loop: asyncio.AbstractEventLoop
    ) -> None:
        self._app = app
        self._mode = mode
        self._logger = logger
        self._loop = loop
        self._inbox: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self._startup: asyncio.Future[None] = loop.create_future()
        self._shutdown: asyncio.Future[None] = loop.create_future()
        self._task: asyncio.Task[None] | None = None
        #: The ``state`` dict shared (shallow-copied) into every request scope.
        self.state: dict[str, Any] = {}
        #: False when the app turned out not to speak lifespan (mode ``auto``).
        self.supported = mode != "off"

    async def startup(self, timeout: float) -> None:
        """Run startup. Raises LifespanFailure if the app fails it (or, in mode on, lacks it)."""
        if self._mode == "off":
            return
        self._task = self._loop.create_task(self._run())
        await self._inbox.put({"type": "lifespan.startup"})
        try:
            await asyncio.wait_for(asyncio.shield(self._startup), timeout)
        except asyncio.TimeoutError:
            # The failure is reported here, once; the cancelled app has nothing to add.
            self._startup.cancel()
            self._task.cancel()
            raise LifespanFailure(
                f"lifespan startup did not complete within {timeout:g}s"
            ) from None

    async def shutdown(self, timeout: float) -> None:
        if not self.supported or self._task is None or self._task.done():
            return
        await self._inbox.put({"type": "lifespan.shutdown"})
        try:
            await asyncio.wait_for(asyncio.shield(self._shutdown), timeout)
        except asyncio.TimeoutError:
            self._task.cancel()
            raise LifespanFailure(
                f"lifespan shutdown did not complete within {timeout:g}s"
            ) from None

    async def _run(self) -> None:
        scope = {
            "type": "lifespan",
            "asgi": {"version": "3.0", "spec_version": "2.0"},
            "state": self.state,
        }
        try:
            await self._app(scope, self._receive, self._send)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            if not self._startup.done():
                if self._mode == "auto":
                    self.supported = False
                    self._logger.info(
                        "The app does not support ASGI lifespan (%s: %s); serving without it",
                        type(exc).__name__,
                        exc,
                    )
                    self._startup.set_result(None)
                else:
                    self._startup.set_exception(
                        LifespanFailure(f"lifespan startup raised {type(exc).__name__}: {exc}")
                    )
            elif not self._shutdown.done():
                self._logger.error("Exception in lifespan", exc_info=exc)
                self._shutdown.set_exception(
                    LifespanFailure(f"lifespan shutdown raised {type(exc).__name__}: {exc}")
                )
            else:
                self._logger.error("Exception in lifespan after shutdown", exc_info=exc)
        finally:
            if not self._startup.done():
                # Returned without answering startup: it does not speak lifespan.
                self.supported = False
                if self._mode == "on":
                    self._startup.set_exception(
                        LifespanFailure("the app returned from lifespan without starting up")
                    )
                else:
                    self._logger.info(
                        "The app returned from lifespan without starting up; serving anyway"
                    )
                    self._startup.set_result(None)
            if not self._shutdown.done():
                self._shutdown.set_result(None)

    async def _receive(self) -> dict[str, Any]:
        return await self._inbox.get()

    async def _send(self, message: dict[str, Any]) -> None:
        kind = message.get("type")
        if kind == "lifespan.startup.complete" and not self._startup.done():
            self._startup.set_result(None)
        elif kind == "lifespan.startup.failed" and not self._startup.done():
            reason = message.get("message") or "no reason given"
            self._startup.set_exception(LifespanFailure(f"startup failed: {reason}"))
        elif kind == "lifespan.shutdown.complete" and not self._shutdown.done():
            self._shutdown.set_result(None)
        elif kind == "lifespan.shutdown.failed" and not self._shutdown.done():
            reason = message.get("message") or "no reason given"
            self._shutdown.set_exception(LifespanFailure(f"shutdown failed: {reason}"))
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
