"""Real frameworks on a real server: Quart, Starlette, FastAPI, Django (ASGI and WSGI), Flask.

Every app is started with the ``hypercorn_server`` fixture (the one the package ships; the
``live`` fixture only shortens its graceful timeout) and
spoken to by real clients: httpx over HTTP/1.1, over h2c (prior knowledge) and over TLS with
ALPN ``h2``; the ``websockets`` library for WebSockets over HTTP/1.1; the frame-level
:class:`~.h2_helpers.H2Wire` for what httpx cannot show (PUSH_PROMISE frames, RFC 8441
WebSockets over HTTP/2). What each framework adds on top of ASGI is what is tested: Quart's
``before_serving``/``after_serving`` and push promises, Starlette's lifespan state, FastAPI's
validation and background tasks, Django's handlers and its refusal of lifespan. Flask's own
suite is tests/integration/test_wsgi_flask.py; here it only joins the HTTP/2 matrix.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import ssl
import threading
import time
import types
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import flask
import httpx
import pytest
from fastapi import BackgroundTasks, FastAPI, WebSocket
from hyperframe.frame import DataFrame
from pydantic import BaseModel
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, StreamingResponse
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket as StarletteWebSocket
from websockets.asyncio.client import connect as ws_connect

from hypercorn.middleware import DispatcherMiddleware
from hypercorn.testing import LiveServer

from .h2_helpers import ENABLE_PUSH, H2Wire, TLSFiles, h2_client_context, h2_connection
from .h2_helpers import make_tls_files as _make_tls_files

if TYPE_CHECKING:
    from quart import Quart

ServerFactory = Callable[..., LiveServer]

# SETTINGS_ENABLE_CONNECT_PROTOCOL (RFC 8441 §3): the server allows extended CONNECT.
ENABLE_CONNECT_PROTOCOL = 0x8


CSS = "body { color: rebeccapurple; }\n"

#: Every server here stops within this many seconds even if an app task hangs.
GRACEFUL_TIMEOUT = 1.0


# --- clients --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return _make_tls_files(tmp_path_factory.mktemp("frameworks-tls"))


#: How a client reaches the server: HTTP/1.1, HTTP/2 by prior knowledge in the clear (h2c),
#: and HTTP/2 chosen by ALPN over TLS, as browsers do.
PROTOCOLS = ["http1", "h2c", "h2-tls"]


@dataclass
class Served:
    server: LiveServer
    client: httpx.Client
    #: The ``http_version`` the app sees in its scope.
    http_version: str


@pytest.fixture
def live(hypercorn_server: ServerFactory) -> ServerFactory:
    """``hypercorn_server`` with a short graceful timeout (see :data:`GRACEFUL_TIMEOUT`)."""

    def start(app: Any, **options: Any) -> LiveServer:
        return hypercorn_server(app, **{"graceful_timeout": GRACEFUL_TIMEOUT, **options})

    return start


@pytest.fixture(params=PROTOCOLS)
def protocol(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve(
    live: ServerFactory, protocol: str, tls_files: TLSFiles
) -> Iterator[Callable[..., Served]]:
    """Start an app with ``hypercorn_server`` and an httpx client speaking ``protocol``."""
    clients: list[httpx.Client] = []

    def start(app: Any, **options: Any) -> Served:
        if protocol == "h2-tls":
            options = {**options, "certfile": tls_files.cert_path, "keyfile": tls_files.key_path}
        server = live(app, **options)
        if protocol == "http1":
            client = httpx.Client(base_url=server.url, timeout=10)
        elif protocol == "h2c":
            client = httpx.Client(base_url=server.url, http1=False, http2=True, timeout=10)
        else:
            context = ssl.create_default_context(cafile=tls_files.ca_path)
            client = httpx.Client(
                base_url=f"https://127.0.0.1:{server.port}", http2=True, verify=context, timeout=10
            )
        clients.append(client)
        return Served(server, client, "1.1" if protocol == "http1" else "2")

    yield start
    for client in clients:
        client.close()


def check_version(response: httpx.Response, served: Served) -> None:
    assert response.http_version == ("HTTP/1.1" if served.http_version == "1.1" else "HTTP/2")


def stream_in_two(served: Served, path: str, release: Callable[[], None]) -> list[bytes]:
    """GET ``path``; the first chunk must arrive before ``release()``, the rest after it.

    The app yields its first chunk, then waits for the release: a server that buffered the
    body would deliver nothing before the release, and the test would time out.
    """
    chunks: list[bytes] = []
    with served.client.stream("GET", path) as response:
        assert response.status_code == 200
        check_version(response, served)
        pieces = response.iter_raw()
        chunks.append(next(pieces))
        release()
        chunks.extend(pieces)
    return chunks


def run(coroutine: Any) -> Any:
    return asyncio.run(asyncio.wait_for(coroutine, 10))


async def ws_exchange(url: str, messages: list[str]) -> list[str]:
    """Open a WebSocket (HTTP/1.1), send each message and collect one reply for each."""
    replies = []
    async with ws_connect(url, compression=None) as websocket:
        for message in messages:
            await websocket.send(message)
            replies.append(str(await websocket.recv()))
    return replies


class H2WebSocket:
    """An RFC 8441 WebSocket: an extended CONNECT stream on an :class:`H2Wire` connection.

    The WebSocket frames in the stream's DATA are made and read here, by hand (RFC 6455
    §5.2): client frames masked, text only, no extensions offered.
    """

    def __init__(self, wire: H2Wire, path: str) -> None:
        assert wire.server_settings.get(ENABLE_CONNECT_PROTOCOL) == 1, wire.server_settings
        self.wire = wire
        self.stream_id = wire.request(
            path,
            method="CONNECT",
            headers=[(b":protocol", b"websocket"), (b"sec-websocket-version", b"13")],
            end_stream=False,
        )
        self._read = 0
        record = wire.streams[self.stream_id]
        wire.until(lambda: record.status is not None)
        assert record.status == 200, record.blocks

    def send_text(self, text: str) -> None:
        payload = text.encode()
        assert len(payload) < 126, "the tests send short messages"
        mask = os.urandom(4)
        masked = bytes(byte ^ mask[index % 4] for index, byte in enumerate(payload))
        frame = bytes([0x81, 0x80 | len(payload)]) + mask + masked  # FIN, text, masked
        self.wire.send(DataFrame(self.stream_id, data=frame))

    def _next_frame(self) -> tuple[int, bytes] | None:
        data = self.wire.streams[self.stream_id].data
        view = data[self._read :]
        if len(view) < 2:
            return None
        opcode, length, offset = view[0] & 0x0F, view[1] & 0x7F, 2
        if length == 126:
            length, offset = int.from_bytes(view[2:4], "big"), 4
        elif length == 127:
            length, offset = int.from_bytes(view[2:10], "big"), 10
        if len(view) < offset + length:
            return None
        self._read += offset + length
        return opcode, bytes(view[offset : offset + length])

    def receive_text(self, timeout: float = 5.0) -> str:
        """The next text message from the server (control frames are skipped)."""
        found: list[str] = []

        def arrived() -> bool:
            while (frame := self._next_frame()) is not None:
                opcode, payload = frame
                if opcode == 0x1:
                    found.append(payload.decode())
                    return True
            return False

        self.wire.until(arrived, timeout)
        return found[0]


# --- Quart ----------------------------------------------------------------------------------


@pytest.fixture
def quart_available() -> None:
    """Quart imports names from ``hypercorn.typing`` and asks for hypercorn>=0.11.2."""
    pytest.importorskip("quart")


def test_quart_can_be_imported_with_this_server() -> None:
    import quart

    assert callable(quart.make_push_promise)


def quart_app(events: list[str], release: asyncio.Event) -> Quart:
    from quart import Quart, Response, jsonify, make_push_promise, request, websocket

    app = Quart(__name__)

    @app.before_serving
    async def startup() -> None:
        events.append("startup")

    @app.after_serving
    async def shutdown() -> None:
        events.append("shutdown")

    @app.get("/")
    async def index() -> str:
        await make_push_promise("/style.css")
        return '<link rel="stylesheet" href="/style.css"><p>Hello from Quart</p>'

    @app.get("/style.css")
    async def style() -> tuple[str, int, dict[str, str]]:
        return CSS, 200, {"content-type": "text/css"}

    @app.get("/items/<int:item_id>")
    async def item(item_id: int) -> Response:
        return jsonify(
            id=item_id,
            q=request.args.get("q"),
            http_version=request.http_version,
            started=events[:1] == ["startup"],
        )

    @app.post("/echo")
    async def echo() -> Response:
        return jsonify(received=await request.get_json())

    @app.get("/stream")
    async def stream() -> tuple[AsyncIterator[bytes], int, dict[str, str]]:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await release.wait()
            yield b"second\n"
            yield b"third\n"

        return body(), 200, {"content-type": "text/plain"}

    @app.websocket("/ws")
    async def echo_socket() -> None:
        await websocket.accept()
        while True:
            message = await websocket.receive()
            await websocket.send(f"quart {websocket.http_version}: {message!s}")

    return app


@pytest.mark.usefixtures("quart_available")
def test_quart_routes_and_get_json(serve: Callable[..., Served]) -> None:
    events: list[str] = []
    served = serve(quart_app(events, asyncio.Event()))
    client = served.client
    response = client.get("/items/7", params={"q": "x"})
    check_version(response, served)
    assert response.json() == {
        "id": 7, "q": "x", "http_version": served.http_version, "started": True,
    }  # fmt: skip
    payload = {"name": "widget", "tags": ["a", "b"], "price": 9.5, "nested": {"ok": True}}
    assert client.post("/echo", json=payload).json() == {"received": payload}
    json_type = {"content-type": "application/json"}
    assert client.post("/echo", content=b"{not json", headers=json_type).status_code == 400
    assert client.get("/items/seven").status_code == 404
    assert client.get("/nowhere").status_code == 404


@pytest.mark.usefixtures("quart_available")
def test_quart_streams_an_async_generator(serve: Callable[..., Served]) -> None:
    release = asyncio.Event()
    served = serve(quart_app([], release))
    chunks = stream_in_two(served, "/stream", lambda: served.server.call(release.set))
    assert chunks[0] == b"first\n"
    assert b"".join(chunks) == b"first\nsecond\nthird\n"


@pytest.mark.usefixtures("quart_available")
def test_quart_lifespan_runs_before_and_after_serving(live: ServerFactory) -> None:
    events: list[str] = []
    server = live(quart_app(events, asyncio.Event()))
    assert events == ["startup"]  # before the first connection is accepted
    assert httpx.get(server.url + "/items/1").json()["started"] is True
    server.stop()
    assert events == ["startup", "shutdown"]


@pytest.mark.usefixtures("quart_available")
@pytest.mark.parametrize("tls", [False, True], ids=["h2c", "h2-tls"])
def test_quart_push_promise_reaches_an_http2_client(
    live: ServerFactory, tls_files: TLSFiles, tls: bool
) -> None:
    options = {"certfile": tls_files.cert_path, "keyfile": tls_files.key_path} if tls else {}
    server = live(quart_app([], asyncio.Event()), **options)
    context = h2_client_context(tls_files.ca_path) if tls else None
    with h2_connection(server.port, tls=context) as wire:
        stream_id = wire.request("/", scheme="https" if tls else "http")
        page = wire.streams[stream_id]
        wire.until(
            lambda: page.ended and wire.pushes and wire.stream(wire.pushes[0].promised).ended
        )
        assert page.status == 200
        assert b"Hello from Quart" in page.data
        (push,) = wire.pushes
        assert push.parent == stream_id
        assert (b":path", b"/style.css") in push.headers
        assert (b":method", b"GET") in push.headers
        pushed = wire.stream(push.promised)
        assert pushed.status == 200
        assert pushed.header(b"content-type") == b"text/css"
        assert pushed.data.decode() == CSS
        # The promise came before the page's own body, so the client need not ask.
        assert wire.frame_types.index("PushPromiseFrame") < wire.frame_types.index("DataFrame")


@pytest.mark.usefixtures("quart_available")
def test_quart_push_is_skipped_when_the_client_refuses_it(live: ServerFactory) -> None:
    server = live(quart_app([], asyncio.Event()))
    with h2_connection(server.port, settings={ENABLE_PUSH: 0}) as wire:
        page = wire.streams[wire.request("/")]
        wire.until(lambda: page.ended)
        assert page.status == 200
        assert wire.pushes == []
    # Over HTTP/1.1 there is no push; Quart's make_push_promise does nothing.
    assert "Hello from Quart" in httpx.get(server.url + "/").text


@pytest.mark.usefixtures("quart_available")
def test_quart_websocket_over_http11_and_http2(live: ServerFactory) -> None:
    server = live(quart_app([], asyncio.Event()))
    url = f"ws://127.0.0.1:{server.port}/ws"
    assert run(ws_exchange(url, ["hi", "again"])) == ["quart 1.1: hi", "quart 1.1: again"]
    with h2_connection(server.port) as wire:  # RFC 8441, on an h2c connection
        websocket = H2WebSocket(wire, "/ws")
        websocket.send_text("over h2")
        assert websocket.receive_text() == "quart 2: over h2"
        websocket.send_text("twice")
        assert websocket.receive_text() == "quart 2: twice"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put the server's loggers back as they were: serve() configures them for run_task."""
    loggers = [logging.getLogger(name) for name in ("hypercorn.error", "hypercorn.access")]
    saved = [(lg.handlers[:], lg.propagate, lg.level) for lg in loggers]
    yield
    for logger, (handlers, propagate, level) in zip(loggers, saved, strict=True):
        for handler in logger.handlers[:]:
            if handler not in handlers:
                logger.removeHandler(handler)
                handler.close()
        logger.propagate, logger.level = propagate, level


@pytest.mark.usefixtures("quart_available", "restore_logging")
def test_quart_run_task_serves_through_this_server(capsys: pytest.CaptureFixture[str]) -> None:
    events: list[str] = []
    app = quart_app(events, asyncio.Event())

    async def stop_at_once() -> None:
        pass

    async def main() -> None:
        await app.run_task(host="127.0.0.1", port=0, shutdown_trigger=stop_at_once)

    run(main())
    assert events == ["startup", "shutdown"]
    # run_task asks for logging: the server says where it runs, as the command line does.
    assert "Running on http://127.0.0.1:" in capsys.readouterr().err


# --- Starlette ------------------------------------------------------------------------------


def starlette_app(events: list[str], release: asyncio.Event) -> Starlette:
    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Any]]:
        events.append("startup")
        yield {"greeting": "hello"}  # lifespan state, copied into every request's scope
        events.append("shutdown")

    async def homepage(request: Request) -> PlainTextResponse:
        return PlainTextResponse(f"{request.state.greeting} from Starlette")

    async def user(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "name": request.path_params["name"],
                "http_version": request.scope["http_version"],
                "scheme": request.url.scheme,
            }
        )

    async def stream(request: Request) -> StreamingResponse:
        async def body() -> AsyncIterator[bytes]:
            yield b"first\n"
            await release.wait()
            for number in range(3):
                yield f"line {number}\n".encode()

        return StreamingResponse(body(), media_type="text/plain")

    async def shout(websocket: StarletteWebSocket) -> None:
        await websocket.accept()
        async for text in websocket.iter_text():
            await websocket.send_text(text.upper())

    return Starlette(
        routes=[
            Route("/", homepage),
            Route("/users/{name}", user),
            Route("/stream", stream),
            WebSocketRoute("/ws", shout),
        ],
        lifespan=lifespan,
    )


def test_starlette_routes_and_lifespan_state(serve: Callable[..., Served]) -> None:
    events: list[str] = []
    served = serve(starlette_app(events, asyncio.Event()))
    assert events == ["startup"]
    response = served.client.get("/")
    check_version(response, served)
    assert response.text == "hello from Starlette"
    scheme = "https" if served.client.base_url.scheme == "https" else "http"
    assert served.client.get("/users/ada").json() == {
        "name": "ada", "http_version": served.http_version, "scheme": scheme,
    }  # fmt: skip
    assert served.client.get("/missing").status_code == 404
    served.client.close()  # see test_idle_tls_connections_do_not_hold_up_shutdown
    served.server.stop()
    assert events == ["startup", "shutdown"]


def test_starlette_streaming_response(serve: Callable[..., Served]) -> None:
    release = asyncio.Event()
    served = serve(starlette_app([], release))
    chunks = stream_in_two(served, "/stream", lambda: served.server.call(release.set))
    assert chunks[0] == b"first\n"
    assert b"".join(chunks) == b"first\nline 0\nline 1\nline 2\n"


def test_starlette_websocket_over_http11_and_http2(live: ServerFactory) -> None:
    server = live(starlette_app([], asyncio.Event()))
    assert run(ws_exchange(f"ws://127.0.0.1:{server.port}/ws", ["abc", "déf"])) == ["ABC", "DÉF"]
    with h2_connection(server.port) as wire:
        websocket = H2WebSocket(wire, "/ws")
        websocket.send_text("over h2")
        assert websocket.receive_text() == "OVER H2"


# --- FastAPI --------------------------------------------------------------------------------


class Item(BaseModel):
    name: str
    price: float
    tags: list[str] = []


@dataclass
class FastAPIProbe:
    """Lets a test hold a background task, and see when it has run."""

    gate: asyncio.Event
    done: threading.Event
    ran_at: list[float]


def fastapi_app(probe: FastAPIProbe) -> FastAPI:
    app = FastAPI()

    @app.get("/items/{item_id}")
    async def read_item(item_id: int, q: str | None = None) -> dict[str, Any]:
        return {"item_id": item_id, "q": q}

    @app.post("/items", status_code=201)
    async def create_item(item: Item) -> Item:
        return item

    async def after_response() -> None:
        await probe.gate.wait()
        probe.ran_at.append(time.monotonic())
        probe.done.set()

    @app.post("/notify", status_code=202)
    async def notify(background_tasks: BackgroundTasks) -> dict[str, bool]:
        background_tasks.add_task(after_response)
        return {"queued": True}

    @app.websocket("/ws")
    async def total(websocket: WebSocket) -> None:
        await websocket.accept()
        numbers = await websocket.receive_json()
        await websocket.send_json({"sum": sum(numbers)})
        await websocket.close()

    return app


def new_probe() -> FastAPIProbe:
    return FastAPIProbe(asyncio.Event(), threading.Event(), [])


def test_fastapi_path_params_and_body_validation(serve: Callable[..., Served]) -> None:
    served = serve(fastapi_app(new_probe()))
    client = served.client
    response = client.get("/items/42", params={"q": "find"})
    check_version(response, served)
    assert response.json() == {"item_id": 42, "q": "find"}
    invalid_path = client.get("/items/forty-two")
    assert invalid_path.status_code == 422
    assert invalid_path.json()["detail"][0]["loc"] == ["path", "item_id"]
    created = client.post("/items", json={"name": "widget", "price": "9.5"})
    assert created.status_code == 201
    assert created.json() == {"name": "widget", "price": 9.5, "tags": []}
    invalid = client.post("/items", json={"price": "cheap"})
    assert invalid.status_code == 422
    locations = sorted(tuple(error["loc"]) for error in invalid.json()["detail"])
    assert locations == [("body", "name"), ("body", "price")]
    not_json = client.post("/items", content=b"{", headers={"content-type": "application/json"})
    assert not_json.status_code == 422


def test_fastapi_background_task_runs_after_the_response(serve: Callable[..., Served]) -> None:
    probe = new_probe()
    served = serve(fastapi_app(probe))
    response = served.client.post("/notify")
    received_at = time.monotonic()
    assert (response.status_code, response.json()) == (202, {"queued": True})
    # The task is still held, so the response did not wait for it...
    assert not probe.done.is_set()
    served.server.call(probe.gate.set)
    # ...and it runs once released, after the response was complete.
    assert probe.done.wait(5)
    assert probe.ran_at[0] > received_at


def test_fastapi_websocket(live: ServerFactory) -> None:
    server = live(fastapi_app(new_probe()))

    async def exchange() -> Any:
        async with ws_connect(f"ws://127.0.0.1:{server.port}/ws") as websocket:
            await websocket.send(json.dumps([1, 2, 3.5]))
            reply = json.loads(await websocket.recv())
            await websocket.wait_closed()
            assert websocket.close_code == 1000
            return reply

    assert run(exchange()) == {"sum": 6.5}


# --- Django ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def django_ready() -> None:
    """Configure Django once per process: no database, no apps, a URLconf of test views."""
    from django.conf import settings

    if not settings.configured:
        from django.urls import path

        # The URLconf may be any module object: Django imports it only when given a name.
        urls = types.ModuleType("hypercorn_test_django_urls")
        urls.urlpatterns = [  # type: ignore[attr-defined]
            path("", django_hello),
            path("items/<int:item_id>", django_item),
            path("echo", django_echo),
            path("stream", django_stream),
        ]
        settings.configure(
            DEBUG=False,
            SECRET_KEY="hypercorn-tests-only",
            ALLOWED_HOSTS=["127.0.0.1", "localhost"],
            ROOT_URLCONF=urls,
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            DATABASES={},
            USE_TZ=True,
            # Leave the process's logging alone: other tests read the server's log records.
            LOGGING_CONFIG=None,
        )
    import django

    django.setup()


def django_hello(request: Any) -> Any:
    from django.http import HttpResponse

    return HttpResponse(f"Hello from Django {request.method}", content_type="text/plain")


async def django_item(request: Any, item_id: int) -> Any:
    from django.http import JsonResponse

    return JsonResponse({"id": item_id, "q": request.GET.get("q"), "secure": request.is_secure()})


def django_echo(request: Any) -> Any:
    from django.http import HttpResponseNotAllowed, JsonResponse

    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    return JsonResponse({"received": json.loads(request.body)})


def django_stream(request: Any) -> Any:
    from django.http import StreamingHttpResponse

    async def lines() -> AsyncIterator[bytes]:
        for number in range(3):
            yield f"line {number}\n".encode()

    def sync_lines() -> Iterator[bytes]:
        for number in range(3):
            yield f"line {number}\n".encode()

    # Django's ASGI handler wants an async iterator, its WSGI handler a sync one.
    asgi = "wsgi.input" not in request.META
    return StreamingHttpResponse(lines() if asgi else sync_lines(), content_type="text/plain")


@pytest.fixture(params=["asgi", "wsgi"])
def django_app(request: pytest.FixtureRequest, django_ready: None) -> Any:
    if request.param == "asgi":
        from django.core.asgi import get_asgi_application

        return get_asgi_application()
    from django.core.wsgi import get_wsgi_application

    return get_wsgi_application()  # served through the server's WSGI adapter


def test_django(serve: Callable[..., Served], django_app: Any) -> None:
    # Django's ASGI handler refuses the lifespan scope (it raises ValueError): the server, in
    # lifespan mode "auto", must serve regardless.
    served = serve(django_app)
    client = served.client
    response = client.get("/")
    check_version(response, served)
    assert response.text == "Hello from Django GET"
    secure = client.base_url.scheme == "https"
    assert client.get("/items/5?q=z").json() == {"id": 5, "q": "z", "secure": secure}
    payload = {"list": [1, 2], "text": "ünïcode"}
    assert client.post("/echo", json=payload).json() == {"received": payload}
    assert client.get("/echo").status_code == 405
    assert client.get("/nope").status_code == 404
    streamed = client.get("/stream")
    assert streamed.text == "line 0\nline 1\nline 2\n"
    assert "content-length" not in streamed.headers


# --- Flask (through the WSGI adapter) -------------------------------------------------------


def flask_app() -> flask.Flask:
    app = flask.Flask(__name__)

    @app.get("/")
    def index() -> str:
        return f"Hello from Flask over {flask.request.environ['SERVER_PROTOCOL']}"

    @app.post("/json")
    def echo_json() -> Any:
        return {"received": flask.request.get_json()}

    return app


def test_flask_through_the_wsgi_adapter(serve: Callable[..., Served]) -> None:
    served = serve(flask_app())
    response = served.client.get("/")
    check_version(response, served)
    expected = "HTTP/1.1" if served.http_version == "1.1" else "HTTP/2"
    assert response.text == f"Hello from Flask over {expected}"
    assert served.client.post("/json", json={"a": [1]}).json() == {"received": {"a": [1]}}


# --- server behaviour the frameworks showed up ------------------------------------------------


def test_idle_tls_connections_do_not_hold_up_shutdown(
    hypercorn_server: ServerFactory, tls_files: TLSFiles
) -> None:
    server = hypercorn_server(
        starlette_app([], asyncio.Event()),
        certfile=tls_files.cert_path,
        keyfile=tls_files.key_path,
        graceful_timeout=3,
    )
    context = ssl.create_default_context(cafile=tls_files.ca_path)
    base_url = f"https://127.0.0.1:{server.port}"
    with (
        httpx.Client(base_url=base_url, verify=context) as http1,
        httpx.Client(base_url=base_url, http2=True, verify=context) as http2,
    ):
        assert http1.get("/").http_version == "HTTP/1.1"
        assert http2.get("/").http_version == "HTTP/2"
        started = time.monotonic()
        server.stop()  # both connections are idle: nothing is in flight
        assert time.monotonic() - started < 1.5


class ReceivesUntilDisconnect:
    """An app that reads its messages in a task of its own until ``http.disconnect``.

    This is how Quart 0.23 (Python 3.13) runs every request: an ``asyncio.TaskGroup`` of the
    handler and a reader that returns on ``http.disconnect``, so the app ends only then.
    """

    def __init__(self) -> None:
        self.finished = threading.Event()

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return  # no lifespan
        body_read = asyncio.Event()

        async def reader() -> None:
            while (await receive())["type"] != "http.disconnect":
                body_read.set()

        reading = asyncio.ensure_future(reader())
        await body_read.wait()  # the reader is back in receive() by now
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"done"})
        await reading
        self.finished.set()


@pytest.mark.parametrize("http2", [False, True], ids=["http1", "h2c"])
def test_an_app_waiting_in_receive_hears_that_its_exchange_is_over(
    live: ServerFactory, http2: bool
) -> None:
    app = ReceivesUntilDisconnect()
    server = live(app)
    with httpx.Client(base_url=server.url, http1=not http2, http2=http2) as client:
        assert client.post("/", content=b"body").text == "done"
        # The connection stays open (keep-alive): the response alone ends the exchange.
        assert app.finished.wait(1)


# --- several frameworks in one server -------------------------------------------------------


def test_frameworks_mounted_side_by_side(serve: Callable[..., Served]) -> None:
    """Starlette, FastAPI and Flask under prefixes of one server, lifespan fanned out."""
    events: list[str] = []
    app = DispatcherMiddleware(
        {
            "/starlette": starlette_app(events, asyncio.Event()),
            "/fastapi": fastapi_app(new_probe()),
            "/flask": flask_app(),
        }
    )
    served = serve(app)
    client = served.client
    assert events == ["startup"]
    assert client.get("/starlette/users/bo").json()["name"] == "bo"
    assert client.get("/fastapi/items/3").json() == {"item_id": 3, "q": None}
    assert client.get("/flask/").text.startswith("Hello from Flask")
    assert client.get("/elsewhere").status_code == 404
