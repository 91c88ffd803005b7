"""HTTP/1.1 behaviour against a live server, on every event loop x parser combination."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import time

import httpx
import pytest

from ..apps import Receive, RoutingApp, Scope, Send
from ..conftest import ServerFactory
from ..helpers import Reader, request


def test_get_with_default_headers(serve: ServerFactory) -> None:
    server = serve()
    response = request(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 200
    assert response.body == b"Hello, world!"
    assert response.header(b"content-length") == b"13"
    assert response.header(b"server") == b"hypercorn"
    date = response.header(b"date")
    assert date is not None and date.endswith(b" GMT")


def test_httpx_client(serve: ServerFactory) -> None:
    server = serve()
    with httpx.Client(base_url=server.url) as client:
        assert client.get("/").text == "Hello, world!"
        assert client.post("/echo", content=b"x" * 100_000).content == b"x" * 100_000
        scope = client.get("/scope?a=1&b=%20").json()
    assert scope["query_string"] == "a=1&b=%20"
    assert scope["http_version"] == "1.1"
    assert scope["scheme"] == "http"
    assert scope["client"][0] == "127.0.0.1"
    assert scope["server"] == ["127.0.0.1", server.port]
    assert scope["asgi"] == {"version": "3.0", "spec_version": "2.4"}


def test_keep_alive_reuses_the_connection(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        reader = Reader(sock)
        for index in range(5):
            sock.sendall(b"GET /scope?i=%d HTTP/1.1\r\nHost: x\r\n\r\n" % index)
            response = reader.response()
            assert response.status == 200
            assert json.loads(response.body)["query_string"] == f"i={index}"
            assert response.header(b"connection") is None


def test_pipelined_responses_come_back_in_request_order(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        # The first request is the slowest; the answers must still be in order.
        sock.sendall(
            b"GET /sleep?s=0.3 HTTP/1.1\r\nHost: x\r\n\r\n"
            b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello"
            b"GET /scope?third HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reader = Reader(sock)
        assert reader.response().body == b"slept"
        assert reader.response().body == b"hello"
        assert json.loads(reader.response().body)["query_string"] == "third"


def test_chunked_request_body(serve: ServerFactory) -> None:
    server = serve()
    response = request(
        server,
        b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5\r\nhello\r\n1;ext=1\r\n \r\n5\r\nworld\r\n0\r\nX-Trailer: t\r\n\r\n",
    )
    assert response.body == b"hello world"


def test_chunked_response_body(serve: ServerFactory) -> None:
    server = serve()
    response = request(server, b"GET /stream?n=3 HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.chunked
    assert response.body == b"chunk0;chunk1;chunk2;"
    assert response.header(b"content-length") is None


def test_app_content_length_is_kept_and_not_chunked(serve: ServerFactory) -> None:
    server = serve()
    response = request(server, b"GET /length HTTP/1.1\r\nHost: x\r\n\r\n")
    assert not response.chunked
    assert response.header(b"content-length") == b"10"
    assert response.body == b"0123456789"


def test_head_has_no_body_and_the_get_length(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        head = reader.response(head_request=True)
        assert head.status == 200
        assert head.header(b"content-length") == b"13"
        # The next response starts right after the HEAD response's blank line.
        assert reader.response().body == b"Hello, world!"


def test_http10_client(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /stream HTTP/1.0\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.header(b"connection") == b"close"
        assert not response.chunked  # HTTP/1.0 has no chunked coding: read until close
        assert response.body == b"chunk0;chunk1;chunk2;"


def test_http10_keep_alive(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        reader = Reader(sock)
        for _ in range(2):
            sock.sendall(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
            response = reader.response()
            assert response.header(b"connection") == b"keep-alive"
            assert response.body == b"Hello, world!"


def test_connection_close_closes_after_the_response(serve: ServerFactory) -> None:
    app = RoutingApp()
    server = serve(app)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(
            b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
        )
        reader = Reader(sock)
        response = reader.response()
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
    assert [e for e in app.drain_events() if e[0] == "request"] == [("request", "/")]


def test_app_connection_close_header(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /connection-close HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.header_names().count(b"connection") == 1
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()


@pytest.mark.parametrize(
    "framing",
    [
        b"Content-Length: 41\r\nTransfer-Encoding: chunked\r\n",
        b"Transfer-Encoding: chunked\r\nContent-Length: 41\r\n",
    ],
)
def test_content_length_with_transfer_encoding_is_answered_then_closed(
    serve: ServerFactory, framing: bytes
) -> None:
    # RFC 9112 §6.1: answer, then close, so the smuggled request is never processed.
    app = RoutingApp()
    server = serve(app)
    smuggled = b"GET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\n" + framing + b"\r\n0\r\n\r\n" + smuggled)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 400
        assert response.header(b"connection") == b"close"
        assert reader.at_eof()
    assert not [e for e in app.drain_events() if e[0] == "request"]


@pytest.mark.parametrize(
    ("data", "status"),
    [
        (b"GET / HTTP/1.1\r\n\r\n", 400),  # no Host
        (b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
        (b"GET / HTTP/1.1\nHost: x\n\n", 400),  # bare LF
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\r\n b\r\n\r\n", 400),  # obs-fold
        (b"GET / HTTP/1.1\r\nHost: x\r\nX: a\x00b\r\n\r\n", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", 400),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501),
        (b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcX\r\n", 400),
        (b"GET / HTTP/2.0\r\nHost: x\r\n\r\n", 505),
        (b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 501),
        (b"BREW /pot HTTP/1.1\r\nHost: x\r\n\r\n", 400),
        (b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", 400),  # TLS to a plain port
    ],
)
def test_malformed_requests_get_an_error_and_close(
    serve: ServerFactory, data: bytes, status: int
) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(data)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == status
        assert response.header(b"connection") == b"close"
        assert response.header(b"content-length") == b"%d" % len(response.body)
        assert reader.at_eof()


def test_error_after_a_good_pipelined_request_keeps_the_order(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /sleep?s=0.2 HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/9.9\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().body == b"slept"
        assert reader.response().status == 400
        assert reader.at_eof()


def test_expect_100_continue_is_sent_when_the_app_reads(serve: ServerFactory) -> None:
    app = RoutingApp()
    server = serve(app)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(
            b"POST /late-body-read?wait=0.3 HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        app.wait_event("before_read")
        sock.settimeout(0.15)
        with pytest.raises(TimeoutError):
            sock.recv(100)  # nothing yet: the app has not asked for the body
        sock.settimeout(5)
        reader = Reader(sock)
        interim = reader.read_until(b"\r\n\r\n")
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n"
        sock.sendall(b"hello")
        assert reader.response().body == b"hello"


def test_expect_100_continue_not_sent_when_the_app_answers_first(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(
            b"POST /ignore-body HTTP/1.1\r\nHost: x\r\n"
            b"Content-Length: 100000\r\nExpect: 100-continue\r\n\r\n"
        )
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 413  # straight to the final answer, no 100 before it
        # The unread body is too large to skip, so the connection is closed.
        assert reader.at_eof()


def test_small_unread_body_is_skipped_and_the_connection_kept(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"POST /ignore-body HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().status == 413
        sock.sendall(b"0123456789GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reader.response().body == b"Hello, world!"


def test_disconnect_reaches_the_app(serve: ServerFactory) -> None:
    app = RoutingApp()
    server = serve(app)
    sock = server.connect()
    sock.sendall(b"GET /disconnect HTTP/1.1\r\nHost: x\r\n\r\n")
    app.wait_event("waiting")
    sock.close()
    assert app.wait_event("disconnect") == "http.disconnect"


def test_request_body_backpressure(serve: ServerFactory) -> None:
    """A client uploading faster than the app reads is held back by TCP, not buffered."""
    app = RoutingApp()
    server = serve(app, request_body_buffer=65536)
    total = 64 * 1024 * 1024
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(
            b"POST /slow-reader?hold=1.5 HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % total
        )
        app.wait_event("holding")
        sock.settimeout(0.5)
        sent = 0
        chunk = b"y" * 65536
        with contextlib.suppress(TimeoutError):
            while sent < total:
                sent += sock.send(chunk)
        # The server stopped reading: only socket buffers' worth got through.
        assert sent < 16 * 1024 * 1024
        sock.settimeout(10)
        while sent < total:
            sent += sock.send(chunk[: min(len(chunk), total - sent)])
        response = Reader(sock).response()
        assert response.body == b"%d" % total


def test_response_write_backpressure(serve: ServerFactory) -> None:
    """An app streaming to a client that does not read is paused, not buffered."""
    app = RoutingApp()
    server = serve(app)
    with contextlib.closing(server.connect()) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
        sock.sendall(b"GET /firehose?mib=256 HTTP/1.1\r\nHost: x\r\n\r\n")
        time.sleep(0.5)
        progress = [value for kind, value in app.drain_events() if kind == "progress"]
        assert progress and progress[-1] < 32 * 1024 * 1024  # stalled far short of 256 MiB
        time.sleep(0.3)
        later = [value for kind, value in app.drain_events() if kind == "progress"]
        assert not later or later[-1] - progress[-1] < 1024 * 1024  # and it stays stalled
    # The client went away mid-response: the app's send raises instead of looping for ever.
    assert app.wait_event("send_failed") < 256 * 1024 * 1024


def test_exception_before_start_gives_500_and_the_worker_keeps_serving(
    serve: ServerFactory, error_log: pytest.LogCaptureFixture
) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        reader = Reader(sock)
        sock.sendall(b"GET /error HTTP/1.1\r\nHost: x\r\n\r\n")
        assert reader.response().status == 500
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")  # same connection, still served
        assert reader.response().body == b"Hello, world!"
    assert any("boom before start" in str(r.exc_info[1]) for r in error_log.records if r.exc_info)


def test_exception_after_start_before_body_still_gives_500(serve: ServerFactory) -> None:
    server = serve()
    assert request(server, b"GET /error-after-start HTTP/1.1\r\nHost: x\r\n\r\n").status == 500


def test_exception_mid_body_truncates_and_closes(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /error-mid-body HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        head = reader.read_until(b"\r\n\r\n")
        assert b"transfer-encoding: chunked" in head
        rest = reader.read_to_close()
        assert rest == b"7\r\npartial\r\n"  # no terminating chunk: the client sees it incomplete


def test_app_returning_without_response_gives_500(
    serve: ServerFactory, error_log: pytest.LogCaptureFixture
) -> None:
    server = serve()
    assert request(server, b"GET /no-response HTTP/1.1\r\nHost: x\r\n\r\n").status == 500
    assert any("returned without starting a response" in r.getMessage() for r in error_log.records)


def test_header_injection_is_refused_with_500_and_a_log_line(
    serve: ServerFactory, error_log: pytest.LogCaptureFixture
) -> None:
    app = RoutingApp()
    server = serve(app)
    response = request(server, b"GET /bad-header HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 500
    assert response.header(b"set-cookie") is None
    assert "LocalProtocolError" in app.wait_event("send_error")
    lines = [r.getMessage() for r in error_log.records if "invalid message" in r.getMessage()]
    assert len(lines) == 1 and "x-evil" in lines[0]


def test_invalid_status_is_refused(serve: ServerFactory) -> None:
    server = serve()
    assert request(server, b"GET /bad-status HTTP/1.1\r\nHost: x\r\n\r\n").status == 500


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_statuses(serve: ServerFactory, code: int) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /status?code=%d&body=1 HTTP/1.1\r\nHost: x\r\n\r\n" % code)
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == code
        assert response.header(b"content-length") is None
        assert response.header(b"transfer-encoding") is None
        assert reader.response().body == b"Hello, world!"  # no stray body bytes in between


def test_app_server_and_date_headers_replace_the_defaults(serve: ServerFactory) -> None:
    server = serve()
    response = request(
        server, b"GET /headers?server=mine&date=yesterday HTTP/1.1\r\nHost: x\r\n\r\n"
    )
    assert response.header_names().count(b"server") == 1
    assert response.header(b"server") == b"mine"
    assert response.header_names().count(b"date") == 1
    assert response.header(b"date") == b"yesterday"


def test_server_header_disabled_and_extra_headers(serve: ServerFactory) -> None:
    server = serve(server_header="", response_headers=["X-Frame-Options: DENY"])
    response = request(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.header(b"server") is None
    assert response.header(b"x-frame-options") == b"DENY"


def test_scope_paths(serve: ServerFactory) -> None:
    server = serve(root_path="/api")
    cases = {
        b"/scope/caf%C3%A9?x=%2F": ("/api/scope/café", "/api/scope/caf%C3%A9", "x=%2F"),
        b"http://example.com/scope?q#frag": ("/api/scope", "/api/scope", "q"),
    }
    for target, (path, raw_path, query) in cases.items():
        response = request(server, b"GET " + target + b" HTTP/1.1\r\nHost: other\r\n\r\n")
        scope = json.loads(response.body)
        assert (scope["path"], scope["raw_path"], scope["query_string"]) == (path, raw_path, query)
        assert scope["root_path"] == "/api"
        if target.startswith(b"http://"):
            # RFC 9112 §3.2.2: the absolute-form authority wins over Host.
            assert ["host", "example.com"] in scope["headers"]
            assert ["host", "other"] not in scope["headers"]


def test_options_asterisk(serve: ServerFactory) -> None:
    server = serve()
    response = request(server, b"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 200
    assert request(server, b"GET * HTTP/1.1\r\nHost: x\r\n\r\n").status == 400


def test_half_closed_client_still_gets_its_response(serve: ServerFactory) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /sleep?s=0.1 HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        reader = Reader(sock)
        assert reader.response().body == b"slept"
        assert reader.at_eof()


async def _gives_up_on_disconnect(scope: Scope, receive: Receive, send: Send) -> None:
    """Like Quart: a handler raced against receive(); http.disconnect cancels the handler."""
    if scope["type"] != "http":
        return
    handler = asyncio.ensure_future(asyncio.sleep(0.5))
    while (await receive())["type"] != "http.disconnect":
        pass
    handler.cancel()


def test_app_giving_up_after_half_close_is_not_an_error(
    serve: ServerFactory, error_log: pytest.LogCaptureFixture
) -> None:
    server = serve(_gives_up_on_disconnect)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        sock.shutdown(socket.SHUT_WR)
        assert Reader(sock).read_to_close() == b""  # closed, no 500
    server.stop()
    assert [r.getMessage() for r in error_log.records if r.levelno >= logging.WARNING] == []


def test_lifespan_state_reaches_requests(serve: ServerFactory) -> None:
    app = RoutingApp()
    server = serve(app)
    assert app.wait_event("startup") is None
    scope = json.loads(request(server, b"GET /scope HTTP/1.1\r\nHost: x\r\n\r\n").body)
    assert scope["state"] == {"greeting": "from lifespan"}
    server.stop()
    assert app.wait_event("shutdown") is None


def test_many_requests_on_one_connection(serve: ServerFactory) -> None:
    app = RoutingApp()
    server = serve(app)
    with httpx.Client(base_url=server.url) as client:
        for _ in range(50):
            assert client.get("/").status_code == 200
    assert len([e for e in app.drain_events() if e[0] == "request"]) == 50
