"""The demo's Quart application, built by :func:`create_app`.

Routes:

- ``GET /``: the page. Over HTTP/2 the server pushes its stylesheet and script with it
  (to clients that accept push: nghttp, h2 clients; today's browsers turn push off).
- ``GET /api/messages``: the chat history as JSON; ``POST /api/messages`` with
  ``{"author": ..., "text": ...}`` adds a message (201) and broadcasts it to the chat.
- ``WS /ws``: the chat; every JSON message a client sends goes to every connected client.
- ``GET /stream?count=N&interval=S``: N lines, one every S seconds, from an async generator.
- ``GET /api/status``: when the app started, how many chat clients are connected.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections import deque
from collections.abc import AsyncIterator
from typing import Any

from quart import (
    Quart,
    Response,
    abort,
    jsonify,
    make_push_promise,
    render_template,
    request,
    url_for,
    websocket,
)

__all__ = ["ChatRoom", "create_app"]

#: Messages kept for ``GET /api/messages`` and for clients that join later.
HISTORY_LENGTH = 50
#: Messages queued for one slow chat client before it misses some: enough for a burst,
#: and a client that falls this far behind should not make the server hold more for it.
CLIENT_QUEUE_LENGTH = 64
#: Longest accepted author name and message text, in characters.
MAX_AUTHOR = 40
MAX_TEXT = 1000
#: Bounds on ``/stream``'s query parameters, so one request cannot hold a task for long.
MAX_STREAM_COUNT = 100
STREAM_INTERVAL_BOUNDS = (0.01, 5.0)

Message = dict[str, Any]


class ChatRoom:
    """The connected chat clients (one bounded queue each) and the recent history."""

    def __init__(self) -> None:
        self.history: deque[Message] = deque(maxlen=HISTORY_LENGTH)
        self.clients: set[asyncio.Queue[Message]] = set()
        self.next_id = 1
        self.open = False

    def join(self) -> asyncio.Queue[Message]:
        queue: asyncio.Queue[Message] = asyncio.Queue(CLIENT_QUEUE_LENGTH)
        self.clients.add(queue)
        return queue

    def leave(self, queue: asyncio.Queue[Message]) -> None:
        self.clients.discard(queue)

    def post(self, author: str, text: str) -> Message:
        """Record a message and queue it for every client; a full queue misses it."""
        message: Message = {"id": self.next_id, "author": author, "text": text, "at": time.time()}
        self.next_id += 1
        self.history.append(message)
        for queue in self.clients:
            if not queue.full():
                queue.put_nowait(message)
        return message


def parse_message(data: object) -> tuple[str, str]:
    """``(author, text)`` from a posted or received JSON object; ValueError if unusable."""
    if not isinstance(data, dict):
        raise ValueError("expected a JSON object")
    author = data.get("author", "anonymous")
    text = data.get("text")
    if not isinstance(author, str) or not isinstance(text, str):
        raise ValueError("author and text must be strings")
    author, text = author.strip()[:MAX_AUTHOR] or "anonymous", text.strip()
    if not text:
        raise ValueError("text must not be empty")
    if len(text) > MAX_TEXT:
        raise ValueError(f"text is longer than {MAX_TEXT} characters")
    return author, text


def create_app() -> Quart:
    """A new demo app with its own chat room (tests build one each)."""
    app = Quart(__name__)
    room = ChatRoom()
    started: dict[str, float] = {}

    # Lifespan: Quart runs these on the server's ASGI lifespan startup and shutdown.
    @app.before_serving
    async def open_room() -> None:
        room.open = True
        started["at"] = time.time()

    @app.after_serving
    async def close_room() -> None:
        # The server has already closed every WebSocket (Close 1001) by the time this runs.
        room.open = False
        room.clients.clear()

    @app.get("/")
    async def index() -> str:
        # Over HTTP/2 these become PUSH_PROMISEs sent before the page, unless the client set
        # SETTINGS_ENABLE_PUSH to 0 (Chrome and Firefox now do); over HTTP/1.1, where the
        # server does not offer the ASGI push extension, Quart skips them.
        await make_push_promise(url_for("static", filename="style.css"))
        await make_push_promise(url_for("static", filename="chat.js"))
        return await render_template("index.html", http_version=request.http_version)

    @app.get("/api/status")
    async def status() -> Response:
        return jsonify(
            started_at=started.get("at"),
            serving=room.open,
            clients=len(room.clients),
            http_version=request.http_version,
        )

    @app.get("/api/messages")
    async def list_messages() -> Response:
        return jsonify(messages=list(room.history))

    @app.post("/api/messages")
    async def post_message() -> tuple[Response, int]:
        data = await request.get_json(silent=True)
        try:
            author, text = parse_message(data)
        except ValueError as exc:
            return jsonify(error=str(exc)), 400
        return jsonify(room.post(author, text)), 201

    @app.get("/stream")
    async def stream() -> tuple[AsyncIterator[bytes], int, dict[str, str]]:
        try:
            count = int(request.args.get("count", "10"))
            interval = float(request.args.get("interval", "0.5"))
        except ValueError:
            abort(400)
        if not 1 <= count <= MAX_STREAM_COUNT or not math.isfinite(interval):
            abort(400)
        low, high = STREAM_INTERVAL_BOUNDS
        interval = min(max(interval, low), high)

        async def lines() -> AsyncIterator[bytes]:
            # Each yield is sent as it is made: one HTTP/1.1 chunk or HTTP/2 DATA frame.
            for number in range(1, count + 1):
                if number > 1:
                    await asyncio.sleep(interval)
                yield f"line {number} of {count} at {time.time():.3f}\n".encode()

        # text/plain alone lets browsers buffer the start to sniff the type; nosniff does not.
        return lines(), 200, {"content-type": "text/plain", "x-content-type-options": "nosniff"}

    @app.websocket("/ws")
    async def chat() -> None:
        await websocket.accept()
        queue = room.join()

        async def forward() -> None:
            """Send this client the recent history, then what the room queues for it."""
            for message in list(room.history)[-10:]:
                await websocket.send(json.dumps({"history": True, **message}))
            while True:
                await websocket.send(json.dumps(await queue.get()))

        async def receive() -> None:
            while True:
                try:
                    author, text = parse_message(json.loads(await websocket.receive()))
                except ValueError as exc:  # json.JSONDecodeError is a ValueError too
                    await websocket.send(json.dumps({"error": str(exc)}))
                    continue
                room.post(author, text)

        # Quart cancels this handler when the client disconnects; both tasks go with it.
        tasks = [asyncio.ensure_future(forward()), asyncio.ensure_future(receive())]
        try:
            done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
            for task in done:
                task.result()  # re-raise what ended it
        finally:
            for task in tasks:
                task.cancel()
            room.leave(queue)

    return app
