"""HTTP/1.1 connection behaviour as bytes in, bytes out: no sockets, no event loop, no mocks."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import pytest

from hypercorn.protocol.http11 import MAX_PIPELINE

from .stepper import EPOCH_DATE, StepWaiter, connection

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]

DEFAULTS = EPOCH_DATE + b"server: hypercorn\r\n"


@pytest.fixture(params=["httptools", "h11"])
def parser(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": [(b"x", b"1")]})
    await send({"type": "http.response.body", "body": b"hi"})


async def echo(scope: Scope, receive: Receive, send: Send) -> None:
    body = b""
    while True:
        message = await receive()
        body += message.get("body", b"")
        if not message.get("more_body"):
            break
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def stream(scope: Scope, receive: Receive, send: Send) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ab", "more_body": True})
    await send({"type": "http.response.body", "body": b"", "more_body": True})
    await send({"type": "http.response.body", "body": b"cde", "more_body": False})


RESPONSES: list[tuple[str, Any, bytes, bytes]] = [
    (
        "one write: head and body together",
        hello,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"x: 1\r\ncontent-length: 2\r\n\r\nhi",
    ),
    (
        "HEAD: the GET's length, no body",
        hello,
        b"HEAD / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"x: 1\r\ncontent-length: 2\r\n\r\n",
    ),
    (
        "HTTP/1.0 without keep-alive closes",
        hello,
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n"
        + DEFAULTS
        + b"x: 1\r\ncontent-length: 2\r\nconnection: close\r\n\r\nhi",
    ),
    (
        "HTTP/1.0 keep-alive is confirmed",
        hello,
        b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"x: 1\r\ncontent-length: 2\r\n"
        b"connection: keep-alive\r\n\r\nhi",
    ),
    (
        "streaming is chunked; empty pieces send nothing",
        stream,
        b"GET / HTTP/1.1\r\nHost: a\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"transfer-encoding: chunked\r\n\r\n"
        b"2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
    ),
    (
        "streaming to HTTP/1.0 is delimited by close",
        stream,
        b"GET / HTTP/1.0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"connection: close\r\n\r\nabcde",
    ),
    (
        "chunked request body with extensions and trailers",
        echo,
        b"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3;a=b\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n" + DEFAULTS + b"content-length: 5\r\n\r\nabcde",
    ),
]


@pytest.mark.parametrize(
    ("name", "app", "request_bytes", "expected"), RESPONSES, ids=[case[0] for case in RESPONSES]
)
def test_response_bytes(
    parser: str, name: str, app: Any, request_bytes: bytes, expected: bytes
) -> None:
    conn, io = connection(app, parser)
    conn.data_received(request_bytes)
    io.run()
    assert io.take() == expected


def test_request_split_into_single_bytes(parser: str) -> None:
    conn, io = connection(echo, parser)
    for byte in b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nxyz":
        conn.data_received(bytes([byte]))
        io.run()
    assert io.take().endswith(b"content-length: 3\r\n\r\nxyz")


def test_pipelined_requests_wait_their_turn(parser: str) -> None:
    gate: list[StepWaiter] = []
    order: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        order.append(scope["path"])
        if scope["path"] == "/slow":
            waiter = conn.io.create_waiter()
            gate.append(waiter)  # type: ignore[arg-type]
            await waiter
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": scope["path"].encode()})

    conn, io = connection(app, parser)
    conn.data_received(
        b"GET /slow HTTP/1.1\r\nHost: a\r\n\r\nGET /fast HTTP/1.1\r\nHost: a\r\n\r\n"
    )
    io.run()
    # Only the first app runs; reading stops while a request waits behind it.
    assert order == ["/slow"]
    assert io.take() == b""
    assert not io.reading
    gate[0].wake()
    io.run()
    assert order == ["/slow", "/fast"]
    output = io.take()
    assert output.index(b"\r\n\r\n/slow") < output.index(b"\r\n\r\n/fast")
    assert io.reading


def test_pipeline_depth_is_bounded(parser: str) -> None:
    conn, io = connection(hello, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n" * (MAX_PIPELINE + 10))
    io.run()
    output = io.take()
    responses = output.count(b"HTTP/1.1 200 OK")
    assert responses == MAX_PIPELINE + 1  # the one being answered plus the queue
    assert output.rstrip(b"hi").endswith(b"connection: close\r\n\r\n")
    assert io.write_closed


def test_expect_continue_only_when_the_body_is_wanted(parser: str) -> None:
    reads: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        reads.append("read")
        message = await receive()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": message["body"]})

    gate: list[StepWaiter] = []
    conn, io = connection(app, parser)
    conn.data_received(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    )
    io.run()
    assert io.take() == b""
    gate[0].wake()
    io.run()
    assert io.take() == b"HTTP/1.1 100 Continue\r\n\r\n"
    conn.data_received(b"ok")
    io.run()
    assert io.take().endswith(b"\r\n\r\nok")


def test_body_buffer_pauses_reading_until_the_app_reads(parser: str) -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        await echo(scope, receive, send)

    conn, io = connection(app, parser, request_body_buffer=1000)
    conn.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3000\r\n\r\n")
    conn.data_received(b"x" * 1500)
    io.run()
    assert not io.reading
    gate[0].wake()
    io.run()
    assert io.reading
    conn.data_received(b"x" * 1500)
    io.run()
    assert io.take().endswith(b"\r\n\r\n" + b"x" * 3000)


def test_write_backpressure_suspends_send(parser: str) -> None:
    progress: list[int] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})
        for index in range(3):
            await send({"type": "http.response.body", "body": b"x", "more_body": True})
            progress.append(index)
        await send({"type": "http.response.body", "body": b""})

    conn, io = connection(app, parser)
    conn.pause_writing()
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert progress == []  # the first body message waits for the transport
    conn.resume_writing()
    io.run()
    assert progress == [0, 1, 2]


def test_keep_alive_idle_timeout(parser: str) -> None:
    conn, io = connection(hello, parser, keep_alive_timeout=5.0)
    conn.ctx.now = 100.0
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert conn.deadline == 105.0
    conn.on_deadline(104.9)
    assert not io.closed
    conn.on_deadline(105.0)
    assert io.closed


def test_a_new_connection_must_send_a_request_within_the_head_timeout(parser: str) -> None:
    conn, io = connection(hello, parser, request_head_timeout=10.0)
    assert conn.deadline == 10.0
    conn.on_deadline(10.0)
    assert io.closed


def test_trickled_head_gets_408(parser: str) -> None:
    conn, io = connection(hello, parser, request_head_timeout=10.0, keep_alive_timeout=5.0)
    conn.ctx.now = 50.0
    conn.data_received(b"GET / HTTP/1.1\r\n")
    for second in range(51, 60):
        conn.ctx.now = float(second)
        conn.data_received(b"X-A: b\r\n")  # a field a second never completes the head
        conn.on_deadline(float(second))
        assert not io.closed
    conn.on_deadline(60.0)
    assert io.take().startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert io.closed


def test_stalled_body_gets_408(parser: str) -> None:
    conn, io = connection(echo, parser, request_body_timeout=30.0, request_body_min_rate=0)
    conn.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 10\r\n\r\nabc")
    io.run()
    conn.on_deadline(29.0)
    assert not io.closed
    conn.on_deadline(30.0)
    assert io.take().startswith(b"HTTP/1.1 408 ")
    assert io.write_closed or io.closed


def test_body_below_the_minimum_rate_is_cut(parser: str) -> None:
    conn, io = connection(
        echo, parser, request_body_min_rate=240.0, request_body_min_rate_grace=5.0
    )
    conn.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1000000\r\n\r\n")
    io.run()
    second = 0.0
    while not (io.closed or io.write_closed) and second < 30:
        second += 1.0
        conn.ctx.now = second
        conn.data_received(b"x")  # one byte a second
        if conn.deadline <= second:
            conn.on_deadline(second)
    assert 5.0 <= second <= 7.0
    assert io.take().startswith(b"HTTP/1.1 408 ")


def test_body_at_a_healthy_rate_is_not_cut(parser: str) -> None:
    conn, io = connection(
        echo, parser, request_body_min_rate=240.0, request_body_min_rate_grace=5.0
    )
    conn.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 20000\r\n\r\n")
    io.run()
    for second in range(1, 21):
        conn.ctx.now = float(second)
        conn.data_received(b"x" * 1000)
        if conn.deadline <= second:
            conn.on_deadline(float(second))
        io.run()
    assert io.take().endswith(b"\r\n\r\n" + b"x" * 20000)
    assert not io.closed


def test_time_paused_by_backpressure_does_not_count_against_the_client(parser: str) -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        await echo(scope, receive, send)

    conn, io = connection(app, parser, request_body_buffer=100, request_body_timeout=5.0)
    conn.data_received(b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 200\r\n\r\n" + b"x" * 150)
    io.run()
    assert not io.reading
    conn.on_deadline(1000.0)  # the app has been busy for ages; the client is not at fault
    assert not io.closed and not io.write_closed
    conn.ctx.now = 1000.0
    gate[0].wake()
    io.run()
    conn.data_received(b"x" * 50)
    io.run()
    assert io.take().endswith(b"x" * 200)


def test_expect_continue_client_is_not_timed_before_the_100(parser: str) -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        await echo(scope, receive, send)

    conn, io = connection(app, parser, request_body_timeout=5.0)
    conn.data_received(
        b"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: 100-continue\r\n\r\n"
    )
    io.run()
    conn.on_deadline(500.0)
    assert not io.closed and not io.write_closed


def test_eof_after_request_still_answers(parser: str) -> None:
    conn, io = connection(hello, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    assert conn.eof_received() is True
    io.run()
    assert io.take().endswith(b"hi")
    assert io.closed


def test_eof_when_idle_closes(parser: str) -> None:
    conn, _io = connection(hello, parser)
    assert conn.eof_received() is False


def test_connection_lost_is_a_disconnect_for_the_app(parser: str) -> None:
    seen: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await receive()
        seen.append((await receive())["type"])

    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert seen == []
    conn.connection_lost()
    io.run()
    assert seen == ["http.disconnect"]


def test_send_after_disconnect_raises_oserror(parser: str) -> None:
    errors: list[BaseException] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        try:
            await send({"type": "http.response.start", "status": 200, "headers": []})
        except OSError as exc:
            errors.append(exc)

    gate: list[StepWaiter] = []
    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    conn.connection_lost()
    gate[0].wake()
    io.run()
    assert len(errors) == 1


def test_graceful_shutdown_closes_idle_and_finishes_busy(parser: str) -> None:
    gate: list[StepWaiter] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        waiter = conn.io.create_waiter()
        gate.append(waiter)  # type: ignore[arg-type]
        await waiter
        await hello(scope, receive, send)

    idle, idle_io = connection(hello, parser)
    idle.shutdown()
    assert idle_io.closed

    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    conn.ctx.shutting_down = True
    conn.shutdown()
    assert not io.closed
    gate[0].wake()
    io.run()
    assert b"connection: close\r\n" in io.take()
    assert io.write_closed


def test_unknown_status_code_gets_an_empty_reason(parser: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 299, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert io.take().startswith(b"HTTP/1.1 299 \r\n")


@pytest.mark.parametrize(
    ("message", "problem"),
    [
        ({"type": "http.response.body", "body": b"x"}, "where 'http.response.start'"),
        ({"type": "http.response.start", "status": 99}, "invalid status"),
        ({"type": "http.response.start", "status": 200, "headers": [("a", "b")]}, "not a byte"),
        ({"type": "http.response.start", "status": 200, "headers": [(b"a b", b"c")]}, "name"),
        ({"type": "http.response.start", "status": 200, "headers": [(b"a", b"\x00")]}, "control"),
        ({"type": "http.response.start", "status": 200, "headers": [(b"a",)]}, "pairs"),
        ({"status": 200}, "not an ASGI message"),
    ],
)
def test_invalid_messages_are_refused_with_500(
    parser: str, message: dict[str, Any], problem: str
) -> None:
    errors: list[str] = []

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await send(message)
        except Exception as exc:
            errors.append(str(exc))
            raise

    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert io.take().startswith(b"HTTP/1.1 500 Internal Server Error\r\n")
    assert len(errors) == 1 and problem in errors[0]


def test_body_longer_than_content_length_is_cut(parser: str) -> None:
    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        await send(
            {"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]}
        )
        await send({"type": "http.response.body", "body": b"ab", "more_body": True})
        await send({"type": "http.response.body", "body": b"c"})

    conn, io = connection(app, parser)
    conn.data_received(b"GET / HTTP/1.1\r\nHost: a\r\n\r\n")
    io.run()
    assert io.take().endswith(b"\r\n\r\nab")
    assert io.closed  # the framing cannot be honoured: the connection ends
