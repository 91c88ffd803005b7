"""The app the gunicorn integration tests serve (``gunicorn_app:app``).

An ASGI app at the root (lifespan, WebSocket echo, a slow route) and a Flask app mounted at
``/flask`` by :class:`~hypercorn.middleware.DispatcherMiddleware`, so one gunicorn run covers
ASGI and WSGI. Each response names the worker process that served it.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import flask

from hypercorn.middleware import DispatcherMiddleware

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

flask_app = flask.Flask(__name__)


@flask_app.get("/hello")
def hello() -> Any:
    return {
        "pid": os.getpid(),
        "script_root": flask.request.script_root,
        "multiprocess": flask.request.environ["wsgi.multiprocess"],
    }


async def asgi_app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            else:
                print(f"app: lifespan shutdown in {os.getpid()}", file=sys.stderr, flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] == "websocket":
        await receive()
        await send({"type": "websocket.accept"})
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            await send({"type": "websocket.send", "text": f"echo {message.get('text')}"})
    if scope["path"].startswith("/slow/"):
        print(f"app: slow request in {os.getpid()}", file=sys.stderr, flush=True)
        await asyncio.sleep(float(scope["path"][len("/slow/") :]))
    body = json.dumps({"pid": os.getpid(), "http_version": scope["http_version"]}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "http.response.body", "body": body})


app = DispatcherMiddleware({"/flask": flask_app, "/": asgi_app})
