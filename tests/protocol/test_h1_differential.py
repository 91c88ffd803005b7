"""The llhttp and h11 backends must reach the same verdict on every request in the corpus.

Each input is fed whole, in two halves and one byte at a time, to both backends; all six
runs must produce the same events (request heads, body bytes, ends, failure status), and
that result must match the verdict written in the corpus.
"""

from __future__ import annotations

from typing import Any

import pytest

from hypercorn.protocol.events import END_OF_MESSAGE, ParseFailure, RequestHead
from hypercorn.protocol.h1_parse import ParserLimits, create_parser

from .h1_corpus import ALL_CASES, CASES

LIMITS = ParserLimits()


def normalise(events: list[Any]) -> list[Any]:
    """Events as comparable values, with adjacent body pieces joined."""
    out: list[Any] = []
    for event in events:
        if isinstance(event, bytes):
            if out and isinstance(out[-1], bytes):
                out[-1] += event
            else:
                out.append(event)
        elif isinstance(event, RequestHead):
            out.append(tuple(event))
        elif event is END_OF_MESSAGE:
            out.append("end")
        else:
            assert isinstance(event, ParseFailure)
            out.append(("failure", event.status))
    return out


def run(backend: str, pieces: list[bytes]) -> list[Any]:
    parser = create_parser(backend, LIMITS)
    events: list[Any] = []
    for piece in pieces:
        events += parser.feed(piece)
        if parser.holding:  # after an upgrade request: stay on HTTP/1.1, as a server would
            events += parser.release()
    return normalise(events)


def splits(data: bytes) -> dict[str, list[bytes]]:
    middle = len(data) // 2
    return {
        "whole": [data],
        "halves": [data[:middle], data[middle:]],
        "bytes": [data[i : i + 1] for i in range(len(data))],
    }


def verdict(events: list[Any]) -> int:
    """The corpus's terms: the failure status, or the number of complete requests."""
    if events and isinstance(events[-1], tuple) and events[-1][0] == "failure":
        return int(events[-1][1])
    return events.count("end")


def test_corpus_size() -> None:
    assert len(CASES) >= 200 or len(ALL_CASES) >= 200
    assert len({name for name, _, _ in ALL_CASES}) == len(ALL_CASES), "duplicate case names"


@pytest.mark.parametrize(("name", "data", "expected"), ALL_CASES, ids=[c[0] for c in ALL_CASES])
def test_backends_agree(name: str, data: bytes, expected: int) -> None:
    reference = run("httptools", [data])
    assert verdict(reference) == expected, f"llhttp: {reference}"
    for backend in ("httptools", "h11"):
        for how, pieces in splits(data).items():
            if backend == "httptools" and how == "whole":
                continue
            got = run(backend, pieces)
            assert got == reference, f"{backend} fed {how} disagrees with llhttp fed whole"


def test_failure_ends_the_stream() -> None:
    for backend in ("httptools", "h11"):
        parser = create_parser(backend, LIMITS)
        events = parser.feed(b"GET / HTTP/1.1\nHost: x\n\n")
        assert isinstance(events[-1], ParseFailure)
        assert parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n") == []


@pytest.mark.parametrize("backend", ["httptools", "h11"])
def test_request_head_fields(backend: str) -> None:
    parser = create_parser(backend, LIMITS)
    events = parser.feed(
        b"PUT /a?b HTTP/1.1\r\nHost: h\r\nX-Mixed-Case:  v  \r\nConnection: close\r\n"
        b"Expect: 100-continue\r\nContent-Length: 5\r\n\r\nhel"
    )
    head = events[0]
    assert head == RequestHead(
        method="PUT",
        target=b"/a?b",
        http_version="1.1",
        headers=[
            (b"host", b"h"),
            (b"x-mixed-case", b"v"),
            (b"connection", b"close"),
            (b"expect", b"100-continue"),
            (b"content-length", b"5"),
        ],
        keep_alive=False,
        expect_continue=True,
        chunked=False,
        content_length=5,
        upgrade=None,
    )
    assert events[1:] == [b"hel"]
    assert parser.head_in_progress is False
    assert parser.feed(b"lo") == [b"lo", END_OF_MESSAGE]


@pytest.mark.parametrize("backend", ["httptools", "h11"])
def test_incomplete_over_long_request_line_fails_before_it_ends(backend: str) -> None:
    parser = create_parser(backend, LIMITS)
    events: list[Any] = parser.feed(b"GET /")
    for _ in range(20):
        events += parser.feed(b"a" * 1000)  # never a space, never a CRLF
        if events:
            break
    assert len(events) == 1 and isinstance(events[0], ParseFailure)
    assert events[0].status == 414


@pytest.mark.parametrize("backend", ["httptools", "h11"])
def test_incomplete_over_large_head_fails_before_it_ends(backend: str) -> None:
    parser = create_parser(backend, LIMITS)
    parser.feed(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: ")
    events: list[Any] = []
    for _ in range(200):
        events += parser.feed(b"v" * 1024)
        if events:
            break
    assert len(events) == 1 and isinstance(events[0], ParseFailure)
    assert events[0].status == 431


@pytest.mark.parametrize("backend", ["httptools", "h11"])
def test_endless_chunk_extensions_are_cut_off(backend: str) -> None:
    parser = create_parser(backend, LIMITS)
    parser.feed(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1;a=")
    events: list[Any] = []
    for _ in range(200):
        events += parser.feed(b"b" * 1024)
        if events:
            break
    assert len(events) == 1 and isinstance(events[0], ParseFailure)


@pytest.mark.parametrize("backend", ["httptools", "h11"])
def test_garbage_fails_without_waiting_for_a_line_end(backend: str) -> None:
    parser = create_parser(backend, LIMITS)
    events = parser.feed(b"\x16\x03\x01\x00")
    assert len(events) == 1 and isinstance(events[0], ParseFailure)
    assert events[0].status == 400
