"""Mount several apps under path prefixes in one server.

:class:`DispatcherMiddleware` routes each ``http`` and ``websocket`` request to the app
mounted at the longest prefix of its path, on segment boundaries (``/api`` takes ``/api``
and ``/api/users``, never ``/apis``). As in Starlette's ``Mount``, and as the path of this
server's scopes already includes ``root_path``, the mounted app sees its prefix appended to
``root_path`` and the path unchanged; a WSGI app mounted at ``/legacy`` so gets
``SCRIPT_NAME="/legacy"`` and ``PATH_INFO`` below it. A request no prefix matches gets 404.

Lifespan is fanned out: every mounted app gets the startup event, and startup completes once
each has answered; an app that fails makes the whole startup fail (after the apps that did
start are shut down again). An app that does not speak lifespan (it raises, or returns,
without answering) is left out, as the server itself would leave it out. Mounted apps may be
ASGI 3, ASGI 2 or WSGI: each is wrapped as :func:`~hypercorn.app_wrappers.wrap_app` does,
and a WSGI app gets the server's ``wsgi_threads`` and ``wsgi_max_body_size`` once the server
wraps the dispatcher with its config (:meth:`DispatcherMiddleware.configure`).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping, MutableMapping
from typing import Any

from ..app_wrappers import wrap_app
from ..config import Config

__all__ = ["DispatcherMiddleware"]

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

_NOT_FOUND = b"Not Found\n"


class DispatcherMiddleware:
    """Serve ``mounts`` (prefix -> app) as one ASGI app; the longest matching prefix wins.

    A prefix starts with ``/``; a trailing ``/`` is ignored, and ``""`` or ``"/"`` mounts an
    app at the root, which takes every request no other prefix matches.
    """

    def __init__(self, mounts: Mapping[str, Any]) -> None:
        found: dict[str, ASGIApp] = {}
        for prefix, app in mounts.items():
            normal = prefix.rstrip("/")
            if normal and not normal.startswith("/"):
                raise ValueError(f"mount prefix {prefix!r} must start with '/'")
            if normal in found:
                raise ValueError(f"two apps are mounted at {normal or '/'!r}")
            found[normal] = app
        #: (prefix, app), longest prefix first.
        self.mounts: list[tuple[str, ASGIApp]] = _wrapped(
            sorted(found.items(), key=lambda item: len(item[0]), reverse=True), None
        )

    def configure(self, config: Config) -> None:
        """Wrap the mounted apps for ``config`` (WSGI pool size, body limit, interface).

        :func:`~hypercorn.app_wrappers.wrap_app` calls this when the server wraps the
        dispatcher; apps wrapped by hand (``WSGIWrapper(app, ...)``) are left as they are.
        """
        self.mounts = _wrapped(self.mounts, config)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "lifespan":
            await self._lifespan(scope, receive, send)
            return
        root_path: str = scope.get("root_path", "")
        path: str = scope["path"]
        # The path below the current root (this server's paths include root_path).
        route = path[len(root_path) :] if root_path and path.startswith(root_path) else path
        for prefix, app in self.mounts:
            if (
                not prefix
                or route == prefix
                or (route.startswith(prefix) and route[len(prefix)] == "/")
            ):
                child = dict(scope)
                child["root_path"] = root_path + prefix
                await app(child, receive, send)
                return
        await _not_found(scope, send)

    async def _lifespan(self, scope: Scope, receive: Receive, send: Send) -> None:
        # One lifespan per distinct app, even when an app is mounted twice.
        apps = {id(app): (prefix or "/", app) for prefix, app in reversed(self.mounts)}
        lifespans = [_MountedLifespan(app, scope, prefix) for prefix, app in apps.values()]
        try:
            message = await receive()
            if message["type"] != "lifespan.startup":
                return
            answers = await asyncio.gather(*(mounted.startup() for mounted in lifespans))
            failures = [answer for answer in answers if answer is not None]
            started = [mounted for mounted in lifespans if mounted.started]
            if failures:
                await asyncio.gather(*(mounted.shutdown() for mounted in started))
                await send({"type": "lifespan.startup.failed", "message": "; ".join(failures)})
                return
            if not started:
                return  # no mounted app speaks lifespan, so neither does the dispatcher
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            answers = await asyncio.gather(*(mounted.shutdown() for mounted in started))
            failures = [answer for answer in answers if answer is not None]
            if failures:
                await send({"type": "lifespan.shutdown.failed", "message": "; ".join(failures)})
            else:
                await send({"type": "lifespan.shutdown.complete"})
        finally:
            for mounted in lifespans:
                await mounted.close()


def _wrapped(mounts: list[tuple[str, Any]], config: Config | None) -> list[tuple[str, ASGIApp]]:
    # An app mounted at two prefixes stays one app: one wrapper, one thread pool, one lifespan.
    done: dict[int, ASGIApp] = {}
    result = []
    for prefix, app in mounts:
        if id(app) not in done:
            done[id(app)] = wrap_app(app, config)
        result.append((prefix, done[id(app)]))
    return result


class _MountedLifespan:
    """One mounted app's lifespan, run in a task of its own and driven by the dispatcher."""

    def __init__(self, app: ASGIApp, scope: Scope, prefix: str) -> None:
        self._app = app
        self._prefix = prefix
        # A copy per app; the state dict itself is shared, as it is shared with requests.
        self._scope = dict(scope)
        self._inbox: asyncio.Queue[Message] = asyncio.Queue()
        self._phase = ""
        self._answer: asyncio.Future[str | None] | None = None
        self._task: asyncio.Task[None] | None = None
        #: Whether the app answered ``lifespan.startup.complete``.
        self.started = False

    async def startup(self) -> str | None:
        """None when the app started (or does not speak lifespan), else why it failed."""
        self._task = asyncio.get_running_loop().create_task(self._run())
        return await self._ask("startup")

    async def shutdown(self) -> str | None:
        """None when the app shut down, else why it failed."""
        if self._task is None or self._task.done():
            return None
        return await self._ask("shutdown")

    async def _ask(self, phase: str) -> str | None:
        self._phase = phase
        self._answer = asyncio.get_running_loop().create_future()
        await self._inbox.put({"type": f"lifespan.{phase}"})
        return await self._answer

    async def close(self) -> None:
        task = self._task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        try:
            await self._app(self._scope, self._inbox.get, self._send)
        except Exception as exc:
            answer = self._answer
            if answer is not None and not answer.done() and self._phase == "shutdown":
                answer.set_result(f"{self._prefix}: {type(exc).__name__}: {exc}")
            # Raising instead of answering startup means the app has no lifespan (ASGI).
        finally:
            answer = self._answer
            if answer is not None and not answer.done():
                answer.set_result(None)

    async def _send(self, message: Message) -> None:
        kind = message["type"]
        answer = self._answer
        if answer is None or answer.done() or not kind.startswith(f"lifespan.{self._phase}."):
            raise RuntimeError(f"unexpected lifespan message {kind!r}")
        outcome = kind[len(f"lifespan.{self._phase}.") :]
        if outcome == "complete":
            if self._phase == "startup":
                self.started = True
            answer.set_result(None)
        elif outcome == "failed":
            answer.set_result(f"{self._prefix}: {message.get('message') or 'no reason given'}")
        else:
            raise RuntimeError(f"unexpected lifespan message {kind!r}")


async def _not_found(scope: Scope, send: Send) -> None:
    if scope["type"] == "http":
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"text/plain; charset=utf-8")],
            }
        )
        await send({"type": "http.response.body", "body": _NOT_FOUND})
    elif scope["type"] == "websocket":
        if "websocket.http.response" in scope.get("extensions", {}):
            await send(
                {
                    "type": "websocket.http.response.start",
                    "status": 404,
                    "headers": [(b"content-type", b"text/plain; charset=utf-8")],
                }
            )
            await send({"type": "websocket.http.response.body", "body": _NOT_FOUND})
        else:
            await send({"type": "websocket.close", "code": 1000})
