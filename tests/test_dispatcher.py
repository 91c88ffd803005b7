"""DispatcherMiddleware: routing by prefix, root_path, 404s, and lifespan fanned out."""

from __future__ import annotations

import asyncio
import json
from collections.abc import MutableMapping
from typing import Any

import httpx
import pytest

from hypercorn.config import Config
from hypercorn.middleware import DispatcherMiddleware

from .helpers import LiveServer, call_app, request

Message = MutableMapping[str, Any]


def named(name: str) -> Any:
    """An ASGI app answering with its name and the scope paths it was given."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        body = json.dumps({"app": name, "root_path": scope["root_path"], "path": scope["path"]})
        if scope["type"] == "websocket":
            await send({"type": "websocket.accept"})
            await send({"type": "websocket.send", "text": body})
            await send({"type": "websocket.close"})
            return
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body.encode()})

    return app


def route(app: Any, path: str, root_path: str = "", kind: str = "http") -> Any:
    scope = {"type": kind, "path": path, "root_path": root_path, "headers": []}
    sent = call_app(app, scope)
    if sent[0]["type"] == "http.response.start" and sent[0]["status"] == 404:
        return 404
    body = sent[-1].get("body") or sent[1].get("text")
    assert body is not None
    return json.loads(body)


DISPATCHER = DispatcherMiddleware(
    {
        "/api": named("api"),
        "/api/v2/": named("v2"),  # a trailing slash is ignored
        "/static": named("static"),
    }
)


@pytest.mark.parametrize(
    ("path", "app", "root_path"),
    [
        ("/api", "api", "/api"),
        ("/api/", "api", "/api"),
        ("/api/users", "api", "/api"),
        ("/api/v2", "v2", "/api/v2"),  # the longest prefix wins
        ("/api/v2/items", "v2", "/api/v2"),
        ("/api/v20", "api", "/api"),  # prefixes match whole segments
        ("/static/a.css", "static", "/static"),
    ],
)
def test_longest_prefix_wins_and_root_path_grows(path: str, app: str, root_path: str) -> None:
    assert route(DISPATCHER, path) == {"app": app, "root_path": root_path, "path": path}


@pytest.mark.parametrize("path", ["/", "/apis", "/stat", "/other/api"])
def test_unmatched_is_404(path: str) -> None:
    assert route(DISPATCHER, path) == 404


def test_root_mount_takes_the_rest() -> None:
    app = DispatcherMiddleware({"/": named("root"), "/api": named("api")})
    assert route(app, "/apis") == {"app": "root", "root_path": "", "path": "/apis"}
    assert route(app, "/api/x")["app"] == "api"


def test_under_an_existing_root_path() -> None:
    # This server's paths include root_path; the dispatcher routes on what lies below it.
    assert route(DISPATCHER, "/prefix/api/x", root_path="/prefix") == {
        "app": "api",
        "root_path": "/prefix/api",
        "path": "/prefix/api/x",
    }
    assert route(DISPATCHER, "/prefix/other", root_path="/prefix") == 404


def test_websockets_are_routed_and_refused_when_unmatched() -> None:
    assert route(DISPATCHER, "/api/ws", kind="websocket")["app"] == "api"
    closed = call_app(DISPATCHER, {"type": "websocket", "path": "/nope", "root_path": ""})
    assert closed == [{"type": "websocket.close", "code": 1000}]
    denied = call_app(
        DISPATCHER,
        {
            "type": "websocket",
            "path": "/nope",
            "extensions": {"websocket.http.response": {}},
        },
    )
    assert denied[0]["type"] == "websocket.http.response.start" and denied[0]["status"] == 404


@pytest.mark.parametrize(
    "mounts",
    [
        {"api": named("a")},
        {"/a": named("a"), "/a/": named("b")},
        {"": named("a"), "/": named("b")},
    ],
)
def test_bad_mounts_are_refused(mounts: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"mount(ed)? "):
        DispatcherMiddleware(mounts)


# --- lifespan --------------------------------------------------------------------------------


class LifespanApp:
    """Speaks lifespan, answering as told, and records what it was sent."""

    def __init__(self, startup: str = "complete", shutdown: str = "complete") -> None:
        self.answers = {"lifespan.startup": startup, "lifespan.shutdown": shutdown}
        self.events: list[str] = []

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert scope["type"] == "lifespan"
        scope["state"][f"app{id(self)}"] = True
        while True:
            message = await receive()
            kind = message["type"]
            self.events.append(kind)
            answer = self.answers[kind]
            if answer == "raise":
                raise RuntimeError(f"{kind} broke")
            reply: dict[str, Any] = {"type": f"{kind}.{answer}"}
            if answer == "failed":
                reply["message"] = "database down"
            await send(reply)
            if kind == "lifespan.shutdown" or answer == "failed":
                return


async def no_lifespan(scope: Any, receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        raise TypeError("http only")


def run_lifespan(app: Any) -> tuple[list[Message], dict[str, Any]]:
    """Drive a lifespan the way the server does; stop after a startup failure."""
    sent: list[Message] = []
    inbox: asyncio.Queue[Message] = asyncio.Queue()
    state: dict[str, Any] = {}

    async def send(message: Message) -> None:
        sent.append(message)
        if message["type"] == "lifespan.startup.complete":
            await inbox.put({"type": "lifespan.shutdown"})

    async def main() -> None:
        await inbox.put({"type": "lifespan.startup"})
        scope = {"type": "lifespan", "asgi": {"version": "3.0"}, "state": state}
        await asyncio.wait_for(app(scope, inbox.get, send), 5)

    asyncio.run(main())
    return sent, state


def test_lifespan_reaches_every_app_once() -> None:
    first, second = LifespanApp(), LifespanApp()
    app = DispatcherMiddleware({"/a": first, "/b": second, "/b2": second, "/c": no_lifespan})
    sent, state = run_lifespan(app)
    assert [m["type"] for m in sent] == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
    assert first.events == second.events == ["lifespan.startup", "lifespan.shutdown"]
    assert len(state) == 2  # the state dict is shared with each app


def test_a_failed_startup_fails_and_shuts_the_others_down() -> None:
    good, bad = LifespanApp(), LifespanApp(startup="failed")
    sent, _ = run_lifespan(DispatcherMiddleware({"/good": good, "/bad": bad}))
    assert sent == [{"type": "lifespan.startup.failed", "message": "/bad: database down"}]
    assert good.events == ["lifespan.startup", "lifespan.shutdown"]
    assert bad.events == ["lifespan.startup"]


def test_a_failed_shutdown_fails() -> None:
    app = DispatcherMiddleware({"/a": LifespanApp(shutdown="raise"), "/b": LifespanApp()})
    sent, _ = run_lifespan(app)
    assert sent == [
        {"type": "lifespan.startup.complete"},
        {
            "type": "lifespan.shutdown.failed",
            "message": "/a: RuntimeError: lifespan.shutdown broke",
        },
    ]


def test_an_app_mounted_twice_is_wrapped_once() -> None:
    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        return []

    app = DispatcherMiddleware({"/a": wsgi, "/b": wsgi})
    app.configure(Config(wsgi_threads=3))
    (_, first), (_, second) = app.mounts
    assert first is second
    assert first.pool.size == 3  # type: ignore[attr-defined]


def test_without_any_lifespan_app_the_dispatcher_has_none() -> None:
    sent, _ = run_lifespan(DispatcherMiddleware({"/a": no_lifespan, "/b": named("b")}))
    assert sent == []


# --- live ------------------------------------------------------------------------------------


def test_live_with_wsgi_and_asgi_apps_and_lifespan() -> None:
    def wsgi(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("content-type", "application/json")])
        paths = {"script_name": environ["SCRIPT_NAME"], "path_info": environ["PATH_INFO"]}
        return [json.dumps(paths).encode()]

    lifespan_app = LifespanApp()
    app = DispatcherMiddleware({"/legacy": wsgi, "/": named("root"), "/life": lifespan_app})
    with LiveServer(app, Config(lifespan="on", root_path="/site")) as server:
        with httpx.Client(base_url=server.url) as client:
            legacy = client.get("/legacy/a/b").json()
            root = client.get("/other").json()
        assert legacy == {"script_name": "/site/legacy", "path_info": "/a/b"}
        assert root == {"app": "root", "root_path": "/site", "path": "/site/other"}
        handshake = (
            b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
            b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
        )
        assert request(server, handshake).status == 101
    assert lifespan_app.events == ["lifespan.startup", "lifespan.shutdown"]
