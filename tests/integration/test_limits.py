"""Every limit and timeout, hit by a real client on a real socket."""

from __future__ import annotations

import contextlib
import socket
import time

import pytest

from ..conftest import ServerFactory
from ..helpers import Reader, request


def test_request_line_too_long_gets_414(serve: ServerFactory) -> None:
    server = serve(max_request_line_size=1024)
    response = request(server, b"GET /" + b"a" * 2000 + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    assert response.status == 414
    assert response.header(b"connection") == b"close"


def test_header_section_too_large_gets_431(serve: ServerFactory) -> None:
    server = serve(max_header_size=4096)
    big = b"X-Big: " + b"v" * 5000 + b"\r\n"
    assert request(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + big + b"\r\n").status == 431


def test_too_many_headers_gets_431(serve: ServerFactory) -> None:
    server = serve(max_header_count=20)
    many = b"".join(b"X-%d: v\r\n" % index for index in range(25))
    assert request(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n").status == 431
    few = b"".join(b"X-%d: v\r\n" % index for index in range(10))
    assert request(server, b"GET / HTTP/1.1\r\nHost: x\r\n" + few + b"\r\n").status == 200


def test_endless_header_is_cut_off_without_waiting_for_its_end(serve: ServerFactory) -> None:
    server = serve(max_header_size=4096, max_request_line_size=1024)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nX-Endless: ")
        with contextlib.suppress(OSError):
            for _ in range(100):
                sock.sendall(b"v" * 1024)
        response = Reader(sock).response()
        assert response.status == 431


def test_idle_keep_alive_connection_is_closed(serve: ServerFactory) -> None:
    server = serve(keep_alive_timeout=0.3)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        assert reader.response().status == 200
        started = time.monotonic()
        assert reader.at_eof(timeout=3)
        assert time.monotonic() - started < 2


def test_silent_connection_is_closed(serve: ServerFactory) -> None:
    server = serve(request_head_timeout=0.3)
    with contextlib.closing(server.connect()) as sock:
        assert Reader(sock).at_eof(timeout=3)


def test_trickled_request_head_gets_408(serve: ServerFactory) -> None:
    server = serve(request_head_timeout=0.5)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\n")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(30):
                sock.sendall(b"X: y\r\n")  # slowloris: a header every 0.1 s, never finishing
                time.sleep(0.1)
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 408
        assert time.monotonic() - started < 2.5


def test_stalled_request_body_gets_408(serve: ServerFactory) -> None:
    server = serve(request_body_timeout=0.5, request_body_min_rate=0)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nabc")
        reader = Reader(sock)
        response = reader.response()
        assert response.status == 408
        assert reader.at_eof()


def test_request_body_trickled_below_the_minimum_rate_is_cut(serve: ServerFactory) -> None:
    # A byte every 0.1 s (10 B/s) into a large Content-Length: both the existing Hypercorn
    # and Uvicorn keep such a client for ever.
    server = serve(request_body_min_rate=100.0, request_body_min_rate_grace=0.5)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
        started = time.monotonic()
        with contextlib.suppress(OSError):
            for _ in range(50):
                sock.sendall(b"x")
                time.sleep(0.1)
        response = Reader(sock).response()
        assert response.status == 408
        assert time.monotonic() - started < 3


def test_a_fast_body_is_not_cut(serve: ServerFactory) -> None:
    server = serve(request_body_min_rate=100.0, request_body_min_rate_grace=0.3)
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n")
        for _ in range(10):
            sock.sendall(b"x" * 2000)
            time.sleep(0.08)
        assert Reader(sock).response().body == b"x" * 20000


@pytest.mark.parametrize("chunked", [False, True])
def test_malformed_body_mid_request(serve: ServerFactory, chunked: bool) -> None:
    server = serve()
    with contextlib.closing(server.connect()) as sock:
        if chunked:
            sock.sendall(
                b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                b"3\r\nabc\r\nZZ\r\n"
            )
            response = Reader(sock).response()
            assert response.status == 400
        else:
            sock.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc")
            sock.shutdown(socket.SHUT_WR)  # the body can never be completed now
            reader = Reader(sock)
            assert reader.response().status == 400
            assert reader.at_eof()
