"""WSGI (PEP 3333) apps: the environ built from the ASGI scope, the response path through a
pool thread, the body limit, and interface detection. Live tests use a real server."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

import httpx
import pytest

from hypercorn.app_wrappers import (
    ASGI2Wrapper,
    UnsupportedScope,
    WSGIWrapper,
    build_environ,
    detect_interface,
    load_application,
    wrap_app,
)
from hypercorn.asyncio.lifespan import LifespanFailure
from hypercorn.config import Config
from hypercorn.middleware import DispatcherMiddleware

from .helpers import LOOPS, LiveServer, Reader, Response, request, wait_for

StartResponse = Callable[..., Callable[[bytes], None]]
Environ = dict[str, Any]


def scope(**extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "type": "http",
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "root_path": "",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"host", b"example.com")],
        "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.2", 51000),
    }
    base.update(extra)
    return base


# --- the environ -----------------------------------------------------------------------------

ENVIRON_CASES: list[tuple[str, dict[str, Any], bytes, dict[str, Any]]] = [
    (
        "basic",
        scope(path="/a b", raw_path=b"/a%20b", query_string=b"x=1&y=%20"),
        b"",
        {
            "REQUEST_METHOD": "GET",
            "SCRIPT_NAME": "",
            "PATH_INFO": "/a b",
            "QUERY_STRING": "x=1&y=%20",
            "SERVER_NAME": "127.0.0.1",
            "SERVER_PORT": "8000",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REMOTE_ADDR": "10.0.0.2",
            "REMOTE_PORT": "51000",
            "HTTP_HOST": "example.com",
            "REQUEST_URI": "/a%20b?x=1&y=%20",
            "wsgi.url_scheme": "http",
            "wsgi.version": (1, 0),
            "wsgi.multithread": True,
            "wsgi.multiprocess": False,
            "wsgi.run_once": False,
        },
    ),
    (
        "root_path becomes SCRIPT_NAME",
        scope(root_path="/app", path="/app/x/y", raw_path=b"/app/x/y"),
        b"",
        {"SCRIPT_NAME": "/app", "PATH_INFO": "/x/y"},
    ),
    (
        "path equal to root_path",
        scope(root_path="/app", path="/app", raw_path=b"/app"),
        b"",
        {"SCRIPT_NAME": "/app", "PATH_INFO": ""},
    ),
    (
        "UTF-8 path is Latin-1 decoded bytes (PEP 3333)",
        scope(path="/café", raw_path=b"/caf%C3%A9"),
        b"",
        {"PATH_INFO": "/caf\xc3\xa9"},
    ),
    (
        "non-UTF-8 bytes reach the app unchanged",
        scope(path="/caf\ufffd", raw_path=b"/caf%E9"),
        b"",
        {"PATH_INFO": "/caf\xe9"},
    ),
    (
        "encoded slash is decoded, as CGI does",
        scope(path="/a/b", raw_path=b"/a%2Fb"),
        b"",
        {"PATH_INFO": "/a/b"},
    ),
    (
        "without raw_path the path is encoded as UTF-8",
        scope(path="/café", raw_path=None),
        b"",
        {"PATH_INFO": "/caf\xc3\xa9"},
    ),
    (
        "headers",
        scope(
            method="POST",
            headers=[
                (b"host", b"example.com"),
                (b"content-type", b"application/json"),
                (b"content-length", b"2"),
                (b"accept", b"text/html"),
                (b"accept", b"application/json"),
                (b"cookie", b"a=1"),
                (b"cookie", b"b=2"),
                (b"x-custom-header", b"caf\xe9"),
            ],
        ),
        b"{}",
        {
            "REQUEST_METHOD": "POST",
            "CONTENT_TYPE": "application/json",
            "CONTENT_LENGTH": "2",
            "HTTP_ACCEPT": "text/html,application/json",
            "HTTP_COOKIE": "a=1; b=2",  # RFC 9113 §8.2.3: HTTP/2 splits cookies
            "HTTP_X_CUSTOM_HEADER": "caf\xe9",
        },
    ),
    (
        "a chunked body gets its length",
        scope(method="POST", headers=[(b"transfer-encoding", b"chunked")]),
        b"abc",
        {"CONTENT_LENGTH": "3", "HTTP_TRANSFER_ENCODING": "chunked"},
    ),
    (
        "HTTP/2 over TLS",
        scope(http_version="2", scheme="https", server=("::1", 443)),
        b"",
        {
            "SERVER_PROTOCOL": "HTTP/2",
            "wsgi.url_scheme": "https",
            "SERVER_NAME": "::1",
            "SERVER_PORT": "443",
        },
    ),
    (
        "unix socket: the server is named by the Host header",
        scope(server=("/run/app.sock", None), client=None, headers=[(b"host", b"example.com:81")]),
        b"",
        {"SERVER_NAME": "example.com", "SERVER_PORT": "81", "REMOTE_ADDR": ""},
    ),
    (
        "unix socket, IPv6 Host",
        scope(server=("/run/app.sock", None), headers=[(b"host", b"[::1]")], scheme="https"),
        b"",
        {"SERVER_NAME": "[::1]", "SERVER_PORT": "443"},
    ),
    (
        "unix socket, no Host",
        scope(server=("/run/app.sock", None), headers=[]),
        b"",
        {"SERVER_NAME": "localhost", "SERVER_PORT": "80"},
    ),
]


@pytest.mark.parametrize(
    ("given", "body", "expected"),
    [case[1:] for case in ENVIRON_CASES],
    ids=[case[0] for case in ENVIRON_CASES],
)
def test_environ(given: dict[str, Any], body: bytes, expected: dict[str, Any]) -> None:
    environ = build_environ(given, body)
    for key, value in expected.items():
        assert environ[key] == value, key
    assert environ["wsgi.input"].read() == body
    assert all(type(v) is str for k, v in environ.items() if k.isupper()), environ


def test_environ_drops_header_names_with_underscores() -> None:
    # X_Forwarded_For would otherwise land on HTTP_X_FORWARDED_FOR beside (or instead of) the
    # X-Forwarded-For a proxy in front has set.
    environ = build_environ(
        scope(headers=[(b"x-forwarded-for", b"10.1.1.1"), (b"x_forwarded_for", b"6.6.6.6")])
    )
    assert environ["HTTP_X_FORWARDED_FOR"] == "10.1.1.1"


def test_environ_without_a_body_has_no_content_length_and_multiprocess_is_passed() -> None:
    environ = build_environ(scope(), multiprocess=True)
    assert "CONTENT_LENGTH" not in environ
    assert "CONTENT_TYPE" not in environ
    assert environ["wsgi.multiprocess"] is True
    assert environ["wsgi.input_terminated"] is True


def test_wsgi_errors_goes_to_the_error_log(error_log: pytest.LogCaptureFixture) -> None:
    errors = build_environ(scope())["wsgi.errors"]
    errors.write("first line\nsecond ")
    errors.writelines(["line\n", "tail"])
    errors.flush()
    assert [r.getMessage() for r in error_log.records] == ["first line", "second line", "tail"]
    assert {r.levelno for r in error_log.records} == {logging.ERROR}


# --- detection -------------------------------------------------------------------------------


def wsgi_function(environ: Environ, start_response: StartResponse) -> list[bytes]:
    start_response("200 OK", [])
    return [b""]


def wsgi_with_optional(
    environ: Environ, start_response: StartResponse, extra: Any = None
) -> list[bytes]:
    return wsgi_function(environ, start_response)


class WSGIClass:
    """PEP 3333's class form: instantiated per request, the instance is the body."""

    def __init__(self, environ: Environ, start_response: StartResponse) -> None:
        start_response("200 OK", [("content-type", "text/plain")])

    def __iter__(self) -> Iterator[bytes]:
        yield b"from a class"


class WSGIObject:
    def __call__(self, environ: Environ, start_response: StartResponse) -> list[bytes]:
        return wsgi_function(environ, start_response)


async def asgi3_function(scope: Any, receive: Any, send: Any) -> None:
    pass


class ASGI3Object:
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        pass


class ASGI2Class:
    """An ASGI 2 app without any framework: the class is called with the scope."""

    def __init__(self, scope: Any) -> None:
        self.scope = scope

    async def __call__(self, receive: Any, send: Any) -> None:
        if self.scope["type"] == "lifespan":
            message = await receive()
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            assert message["type"] == "lifespan.shutdown"
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = json.dumps({"asgi": self.scope["asgi"], "path": self.scope["path"]}).encode()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": body})


class ASGI2WithOption(ASGI2Class):
    def __init__(self, scope: Any, extra: Any = None) -> None:
        super().__init__(scope)


def asgi2_function(scope: Any) -> Callable[[Any, Any], Any]:
    return ASGI2Class(scope)


def flask_app() -> Any:
    flask = pytest.importorskip("flask")
    return flask.Flask(__name__)


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        (wsgi_function, "wsgi"),
        (wsgi_with_optional, "wsgi"),
        (WSGIClass, "wsgi"),
        (WSGIObject(), "wsgi"),
        (functools.partial(wsgi_with_optional, extra=1), "wsgi"),
        (asgi3_function, "asgi3"),
        (ASGI3Object(), "asgi3"),
        (ASGI2Class, "asgi2"),
        (ASGI2WithOption, "asgi2"),
        (asgi2_function, "asgi2"),
        (lambda *args: None, "asgi3"),  # undecidable: the current ASGI version
        (print, "asgi3"),
    ],
)
def test_detect_interface(app: Any, expected: str) -> None:
    assert detect_interface(app) == expected


def test_flask_is_detected_as_wsgi() -> None:
    assert detect_interface(flask_app()) == "wsgi"


def test_wrap_app_by_interface() -> None:
    assert wrap_app(asgi3_function) is asgi3_function
    assert isinstance(wrap_app(ASGI2Class), ASGI2Wrapper)
    assert isinstance(wrap_app(wsgi_function), WSGIWrapper)
    # Forced, by argument or by the app_interface option.
    assert isinstance(wrap_app(asgi3_function, interface="wsgi"), WSGIWrapper)
    forced: object = wrap_app(wsgi_function, Config(app_interface="asgi3"))
    assert forced is wsgi_function
    assert isinstance(wrap_app(wsgi_function, Config(app_interface="asgi2")), ASGI2Wrapper)


def test_wrap_app_configures_wsgi_and_keeps_hand_made_wrappers() -> None:
    config = Config(wsgi_threads=3, wsgi_max_body_size=1000, workers=2)
    wrapper = wrap_app(wsgi_function, config)
    assert isinstance(wrapper, WSGIWrapper)
    assert (wrapper.pool.size, wrapper.max_body_size, wrapper.multiprocess) == (3, 1000, True)
    # Loaded without a config, then given one (load_application, then Server): configured.
    loaded = wrap_app(wsgi_function)
    again = wrap_app(loaded, config)
    assert isinstance(again, WSGIWrapper)
    assert again is not loaded and again.pool.size == 3 and again.app is wsgi_function
    assert wrap_app(again, Config()) is again
    # A kind forced without a config survives the config's arrival.
    forced_wsgi = wrap_app(asgi3_function, interface="wsgi")
    assert isinstance(wrap_app(forced_wsgi, config), WSGIWrapper)
    # Made by hand: left as it is.
    by_hand = WSGIWrapper(wsgi_function, threads=2)
    assert wrap_app(by_hand, config) is by_hand


def test_apps_marked_as_wrapped_pass_through() -> None:
    class Internal:
        _hypercorn_wrapped = True

        def __call__(self, environ: Any, start_response: Any) -> None:  # looks like WSGI
            pass

    internal = Internal()
    wrapped: object = wrap_app(internal, Config())
    assert wrapped is internal


def test_load_application_with_a_config(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "wsgi_module_for_test.py").write_text(
        "def app(environ, start_response):\n"
        "    start_response('200 OK', [])\n"
        "    return [b'loaded']\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    loaded = load_application("wsgi_module_for_test:app", Config(wsgi_threads=4))
    assert isinstance(loaded, WSGIWrapper) and loaded.pool.size == 4
    with LiveServer(loaded) as server:
        assert get(server, "/").body == b"loaded"


def test_wsgi_refuses_lifespan_and_websockets() -> None:
    sent: list[Any] = []

    async def receive() -> Any:
        return {"type": "websocket.connect"}

    async def send(message: Any) -> None:
        sent.append(message)

    wrapper = WSGIWrapper(wsgi_function)
    asyncio.run(wrapper({"type": "websocket", "path": "/"}, receive, send))
    assert sent == [{"type": "websocket.close", "code": 1000}]
    with pytest.raises(UnsupportedScope, match="no ASGI lifespan"):
        asyncio.run(wrapper({"type": "lifespan"}, receive, send))


# --- live ------------------------------------------------------------------------------------


def raw(target: str, headers: bytes = b"", method: bytes = b"GET") -> bytes:
    return method + b" " + target.encode() + b" HTTP/1.1\r\nhost: x\r\n" + headers + b"\r\n"


def get(server: LiveServer, target: str) -> Response:
    return request(server, raw(target))


def dump_environ(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    shown = {k: v for k, v in environ.items() if k.isupper()}
    shown["body"] = body.decode("latin-1")
    shown["wsgi.url_scheme"] = environ["wsgi.url_scheme"]
    data = json.dumps(shown).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [data]


def test_environ_from_a_live_server() -> None:
    config = Config(root_path="/mount")
    with LiveServer(wrap_app(dump_environ, config), config) as server:
        response = request(
            server,
            b"POST /caf%C3%A9/x?q=%20 HTTP/1.1\r\nhost: example.com\r\naccept: a\r\naccept: b\r\n"
            b"content-type: text/plain\r\ntransfer-encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n0\r\n\r\n",
        )
        port = server.port
    assert response.status == 200
    environ = json.loads(response.body)
    assert environ["SCRIPT_NAME"] == "/mount"
    assert environ["PATH_INFO"] == "/caf\xc3\xa9/x"
    assert environ["QUERY_STRING"] == "q=%20"
    assert environ["HTTP_ACCEPT"] == "a,b"
    assert environ["CONTENT_TYPE"] == "text/plain"
    assert environ["CONTENT_LENGTH"] == "3"
    assert environ["body"] == "abc"
    assert environ["REMOTE_ADDR"] == "127.0.0.1"
    assert environ["SERVER_PORT"] == str(port)
    assert environ["wsgi.url_scheme"] == "http"


def test_environ_over_http2() -> None:
    with (
        LiveServer(dump_environ) as server,
        httpx.Client(http1=False, http2=True, base_url=server.url) as client,
    ):
        response = client.post("/x", content=b"data", headers={"cookie": "a=1"})
        port = server.port
    environ = response.json()
    assert environ["SERVER_PROTOCOL"] == "HTTP/2"
    assert environ["HTTP_HOST"] == f"127.0.0.1:{port}"
    assert environ["CONTENT_LENGTH"] == "4" and environ["body"] == "data"


class Recorder:
    """A WSGI app built from a generator function, recording that its iterable was closed."""

    def __init__(self, body: Callable[[StartResponse], Iterable[bytes]]) -> None:
        self.body = body
        self.closed = threading.Event()

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        recorder = self

        class Body:
            def __init__(self) -> None:
                self.inner = iter(recorder.body(start_response))

            def __iter__(self) -> Iterator[bytes]:
                return self.inner

            def close(self) -> None:
                recorder.closed.set()

        return Body()


def test_write_callable_and_iterable_in_order_and_close_called() -> None:
    def body(start_response: StartResponse) -> Iterator[bytes]:
        write = start_response("200 OK", [("content-type", "text/plain")])
        write(b"written ")
        yield b"then "
        yield b""
        yield b"iterated"

    app = Recorder(body)
    with LiveServer(app) as server:
        response = get(server, "/")
    assert (response.status, response.body) == (200, b"written then iterated")
    assert response.chunked
    assert app.closed.wait(2)


def test_pep3333_class_app() -> None:
    with LiveServer(WSGIClass) as server:
        response = get(server, "/")
    assert (response.status, response.body) == (200, b"from a class")


@pytest.mark.parametrize("loop", LOOPS)
def test_response_is_streamed_piece_by_piece(loop: str) -> None:
    release = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"first"
        assert release.wait(5), "the client never saw the first piece"
        yield b"second"

    with LiveServer(app, loop=loop) as server, server.connect() as sock:
        sock.sendall(raw("/"))
        reader = Reader(sock)
        head = reader.read_until(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head
        assert reader.read_until(b"first\r\n") == b"5\r\nfirst\r\n"
        release.set()
        assert reader.read_until(b"0\r\n\r\n") == b"6\r\nsecond\r\n0\r\n\r\n"


def test_streaming_waits_for_a_slow_client() -> None:
    chunk = b"x" * 65536
    total = 1024  # 64 MiB: far more than the socket buffers hold
    produced = 0

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        nonlocal produced
        start_response("200 OK", [("content-length", str(len(chunk) * total))])
        for _ in range(total):
            produced += 1
            yield chunk

    with LiveServer(app) as server, server.connect(timeout=10) as sock:
        sock.sendall(raw("/"))
        time.sleep(0.5)
        stalled_at = produced
        time.sleep(0.3)
        assert produced == stalled_at < total  # backpressure: the app waits for the client
        received = 0
        while received < len(chunk) * total:
            data = sock.recv(1 << 20)
            assert data
            received += len(data)
    assert produced == total


def test_exception_before_the_response_is_a_500(error_log: pytest.LogCaptureFixture) -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise ValueError("broken app")

    with LiveServer(app) as server:
        response = get(server, "/")
    assert response.status == 500
    assert any(r.exc_info and "broken app" in str(r.exc_info[1]) for r in error_log.records)


def test_exception_while_streaming_truncates_and_closes() -> None:
    def body(start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"partial"
        raise ValueError("mid-stream")

    app = Recorder(body)
    with LiveServer(app) as server, server.connect() as sock:
        sock.sendall(raw("/"))
        data = Reader(sock).read_to_close()
    assert b"200 OK" in data and b"partial" in data
    assert not data.endswith(b"0\r\n\r\n")  # no last chunk: the client sees the cut
    assert app.closed.wait(2)


def test_exc_info_before_the_head_replaces_the_response() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("content-type", "text/plain")])
        try:
            raise KeyError("oops")
        except KeyError:
            start_response("503 Busy", [("retry-after", "5")], sys.exc_info())
        return [b"try later"]

    with LiveServer(app) as server:
        response = get(server, "/")
    assert (response.status, response.reason, response.body) == (
        503,
        b"Service Unavailable",
        b"try later",
    )
    assert response.header(b"retry-after") == b"5"
    assert response.header(b"content-type") is None


def test_exc_info_after_the_head_reraises() -> None:
    seen: list[BaseException] = []

    def body(start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        yield b"sent"
        try:
            raise KeyError("late")
        except KeyError:
            try:
                start_response("500 Error", [], sys.exc_info())
            except KeyError as exc:
                seen.append(exc)
                raise

    with LiveServer(Recorder(body)) as server, server.connect() as sock:
        sock.sendall(raw("/"))
        data = Reader(sock).read_to_close()
    assert b"sent" in data and not data.endswith(b"0\r\n\r\n")
    assert len(seen) == 1


@pytest.mark.parametrize(
    ("status", "headers", "problem"),
    [
        ("200 OK", [("x-a", "1")], "start_response() called again"),
        ("OK", [], "invalid status"),
        ("103 Early Hints", [], "invalid status"),
        (200, [], "status must be a str"),
        ("200 OK", [("x-bad", "a\r\nset-cookie: evil=1")], "control character"),
        ("200 OK", [("bad name", "v")], "invalid header name"),
        ("200 OK", [("x-a", 1)], "(str, str) pairs"),
        ("200 OK", [("x-a", "snow\u2603")], "(str, str) pairs"),
        ("200 OK", (("x-a", "1"),), "a list"),
    ],
)
def test_start_response_errors_reach_the_app_and_become_500(
    status: Any, headers: Any, problem: str
) -> None:
    raised: list[BaseException] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        if problem.startswith("start_response()"):
            start_response("200 OK", [])
        try:
            start_response(status, headers)
        except (TypeError, ValueError, RuntimeError) as exc:
            raised.append(exc)
            raise
        return [b"never"]

    with LiveServer(app) as server:
        response = get(server, "/")
    assert response.status == 500
    assert len(raised) == 1 and problem in str(raised[0])


def test_body_before_start_response_and_str_bodies_are_500() -> None:
    def no_start(environ: Environ, start_response: StartResponse) -> list[bytes]:
        return [b"body"]

    def text_body(environ: Environ, start_response: StartResponse) -> list[str]:
        start_response("200 OK", [])
        return ["text"]

    for app in (no_start, text_body):
        with LiveServer(app) as server:
            assert get(server, "/").status == 500


def test_body_over_content_length_is_cut_and_logged(
    error_log: pytest.LogCaptureFixture,
) -> None:
    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("content-length", "5")])
        yield b"abc"
        yield b"defgh"
        yield b"more"

    with LiveServer(app) as server:
        response = get(server, "/")
        assert (response.status, response.body) == (200, b"abcde")
        assert get(server, "/").status == 200  # the connection and the server are fine
    assert any("more body than its Content-Length" in r.getMessage() for r in error_log.records)


def test_head_request_gets_the_length_and_no_body() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        start_response("200 OK", [("content-length", "5")])
        return [] if environ["REQUEST_METHOD"] == "HEAD" else [b"hello"]

    with LiveServer(app) as server:
        response = request(server, raw("/", method=b"HEAD"), head_request=True)
    assert response.status == 200 and response.header(b"content-length") == b"5"


def echo_length(environ: Environ, start_response: StartResponse) -> list[bytes]:
    body = environ["wsgi.input"].read()
    start_response("200 OK", [])
    return [str(len(body)).encode()]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        (b"content-length: 100\r\n", b"x" * 100, 200),
        (b"content-length: 101\r\n", b"", 413),  # by its Content-Length: nothing is read
        (b"transfer-encoding: chunked\r\n", b"40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n", 200),
        (
            b"transfer-encoding: chunked\r\n",
            b"40\r\n" + b"x" * 64 + b"\r\n40\r\n" + b"x" * 64 + b"\r\n0\r\n\r\n",
            413,
        ),
    ],
    ids=["at the limit", "content-length over", "chunked under", "chunked over"],
)
def test_body_limit(headers: bytes, body: bytes, status: int) -> None:
    entered = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        entered.set()
        return echo_length(environ, start_response)

    with LiveServer(WSGIWrapper(app, max_body_size=100)) as server:
        response = request(server, raw("/", headers, b"POST") + body)
    assert response.status == status
    assert entered.is_set() == (status == 200)
    if status == 413:
        assert response.body == b"Request body too large\n"


def test_body_limit_from_config_and_expect_continue() -> None:
    config = Config(wsgi_max_body_size=10)
    with LiveServer(wrap_app(echo_length, config), config) as server, server.connect() as sock:
        # Refused by its length, so the client is never told to send the body.
        sock.sendall(raw("/", b"content-length: 11\r\nexpect: 100-continue\r\n", b"POST"))
        response = Reader(sock).response()
    assert response.status == 413


async def async_hello(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"async"})


def test_a_slow_wsgi_request_does_not_delay_an_async_one() -> None:
    release = threading.Event()

    def blocking(environ: Environ, start_response: StartResponse) -> list[bytes]:
        assert release.wait(10)
        start_response("200 OK", [])
        return [b"wsgi"]

    app = DispatcherMiddleware({"/wsgi": blocking, "/async": async_hello})
    with LiveServer(app) as server, server.connect() as slow:
        slow.sendall(raw("/wsgi"))
        time.sleep(0.1)  # the WSGI app is now blocked in its thread
        started = time.monotonic()
        response = get(server, "/async")
        assert time.monotonic() - started < 1.0
        assert response.body == b"async"
        release.set()
        assert Reader(slow).response().body == b"wsgi"


def test_the_thread_pool_is_bounded() -> None:
    release = threading.Event()
    running = 0
    most = 0
    lock = threading.Lock()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        release.wait(10)
        with lock:
            running -= 1
        start_response("200 OK", [])
        return [b"done"]

    wrapper = WSGIWrapper(app, threads=2)
    with LiveServer(wrapper) as server:
        sockets = [server.connect() for _ in range(5)]
        for sock in sockets:
            sock.sendall(raw("/"))
        assert wait_for(lambda: running == 2)
        time.sleep(0.2)
        assert running == 2 and wrapper.pool.threads == 2
        release.set()
        for sock in sockets:
            assert Reader(sock).response().body == b"done"
            sock.close()
    assert most == 2


def test_client_disconnect_mid_stream_stops_the_app() -> None:
    def body(start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [])
        for _ in range(100_000):
            yield b"x" * 65536

    app = Recorder(body)
    with LiveServer(app) as server:
        sock = server.connect()
        sock.sendall(raw("/"))
        Reader(sock).read_until(b"\r\n\r\n")
        sock.close()
        assert app.closed.wait(5)


def test_wsgi_app_serves_without_lifespan_and_fails_lifespan_on(
    error_log: pytest.LogCaptureFixture,
) -> None:
    with LiveServer(wsgi_function) as server:
        assert get(server, "/").status == 200
    assert any("does not support ASGI lifespan" in r.getMessage() for r in error_log.records)
    with pytest.raises(LifespanFailure):
        LiveServer(wsgi_function, Config(lifespan="on")).start()


def test_websocket_to_a_wsgi_app_is_refused() -> None:
    handshake = (
        b"GET /ws HTTP/1.1\r\nhost: x\r\nupgrade: websocket\r\nconnection: upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    with LiveServer(wsgi_function) as server:
        assert request(server, handshake).status == 403


def test_system_exit_in_the_app_does_not_stop_the_server() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        if environ["PATH_INFO"] == "/exit":
            sys.exit(3)
        return wsgi_function(environ, start_response)

    with LiveServer(app) as server:
        assert get(server, "/exit").status == 500
        assert get(server, "/").status == 200


# --- ASGI 2 ----------------------------------------------------------------------------------


@pytest.mark.parametrize("app", [ASGI2Class, asgi2_function], ids=["class", "function"])
def test_asgi2_app_is_served_with_lifespan(app: Any) -> None:
    with LiveServer(app, Config(lifespan="on")) as server:
        response = get(server, "/p")
    assert response.status == 200
    assert json.loads(response.body) == {
        "asgi": {"version": "2.0", "spec_version": "2.4"},
        "path": "/p",
    }


def test_wsgi_input_is_a_readable_stream() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        stream: io.BytesIO = environ["wsgi.input"]
        first = stream.readline()
        rest = list(stream)
        start_response("200 OK", [])
        return [first, b"|", *rest]

    with LiveServer(app) as server:
        response = request(server, raw("/", b"content-length: 8\r\n", b"POST") + b"ab\ncd\nef")
    assert response.body == b"ab\n|cd\nef"
