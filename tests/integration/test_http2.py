"""HTTP/2 against a real listening server, with real clients.

curl (h2c prior knowledge, h2c Upgrade, ALPN h2), httpx, h2load, nghttp and Chromium speak
to the server as users' clients do; :class:`~.h2_helpers.H2Wire`, a frame-level client, does
what well-behaved clients do not (keep windows shut, reset streams, open a stream after
GOAWAY) and records every frame for assertions. The core behaviours run on both event loops
(``serve_h2``); those that pass through the HTTP/1.1 parser first (h2c Upgrade, preface
sniffing, HTTP/1.1 early hints and trailers) run on every loop x parser (``serve``).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import os
import re
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from hypercorn.config import Config

from ..conftest import ServerFactory
from ..h2_apps import CHUNK, HINT_LINKS, TRAILER_NAME, H2App, pattern
from ..helpers import LOOPS, LiveServer, Reader, request
from .h2_helpers import (
    ENABLE_PUSH,
    INITIAL_WINDOW_SIZE,
    MAX_CONCURRENT_STREAMS,
    NO_ERROR,
    PROTOCOL_ERROR,
    REFUSED_STREAM,
    H2Wire,
    TLSFiles,
    curl,
    h2_client_context,
    h2_connection,
    make_tls_files,
    parse_h2load,
    rss_bytes,
    run_tool,
    tool,
)

MiB = 1 << 20


@pytest.fixture(params=LOOPS)
def loop(request: pytest.FixtureRequest) -> str:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve_h2(loop: str) -> Iterator[ServerFactory]:
    """Live servers with the default HTTP/1.1 parser, on each event loop; stopped after."""
    started: list[LiveServer] = []

    def start(app: Any = None, **options: Any) -> LiveServer:
        config = Config(bind=["127.0.0.1:0"], **options)
        server = LiveServer(app if app is not None else H2App(), config, loop=loop)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> TLSFiles:
    return make_tls_files(tmp_path_factory.mktemp("h2tls"))


def tls_options(files: TLSFiles) -> dict[str, Any]:
    return {"certfile": files.cert_path, "keyfile": files.key_path}


def https(server: LiveServer, path: str) -> str:
    return f"https://127.0.0.1:{server.port}{path}"


def curl_body_and_version(result: subprocess.CompletedProcess[str]) -> tuple[str, str]:
    """Split curl's output, run with ``-w '\\n%{http_version}'``, into body and version."""
    assert result.returncode == 0, result.stderr
    body, _, version = result.stdout.rpartition("\n")
    return body, version


# --- curl -----------------------------------------------------------------------------------


def test_curl_prior_knowledge(serve_h2: ServerFactory, tmp_path: Path) -> None:
    app = H2App()
    server = serve_h2(app)
    result = curl("--http2-prior-knowledge", "-w", "\n%{http_version}", server.url + "/scope")
    body, version = curl_body_and_version(result)
    assert version == "2"
    scope = json.loads(body)
    assert scope["http_version"] == "2"
    assert scope["scheme"] == "http"
    assert ["host", f"127.0.0.1:{server.port}"] in scope["headers"]  # from :authority
    payload = tmp_path / "payload"
    payload.write_bytes(b"x" * 200_000)  # more than the stream's initial window
    posted = curl(
        "--http2-prior-knowledge", "-w", "\n%{http_version}", "--data-binary", f"@{payload}",
        server.url + "/echo",
    )  # fmt: skip
    assert curl_body_and_version(posted) == ("x" * 200_000, "2")


def test_curl_h2c_upgrade_get_and_post(serve: ServerFactory) -> None:
    app = H2App()
    server = serve(app)
    got = curl("--http2", "--verbose", "-w", "\n%{http_version}", server.url + "/scope")
    body, version = curl_body_and_version(got)
    assert "HTTP/1.1 101 Switching Protocols" in got.stderr
    assert version == "2"
    assert json.loads(body)["http_version"] == "2"  # the upgraded request is served as h2

    payload = "upgrade-body-" * 1000
    posted = curl(
        "--http2", "--verbose", "-w", "\n%{http_version}", "--data-binary", payload,
        server.url + "/echo",
    )  # fmt: skip
    body, version = curl_body_and_version(posted)
    assert "Upgrade: h2c" in posted.stderr and "101 Switching Protocols" in posted.stderr
    assert version == "2"
    assert body == payload
    assert app.wait_event("body") == payload.encode()


def test_curl_over_tls_negotiates_h2(serve_h2: ServerFactory, tls_files: TLSFiles) -> None:
    server = serve_h2(H2App(), **tls_options(tls_files))
    result = curl(
        "--http2", "--verbose", "--cacert", tls_files.ca_path, "-w", "\n%{http_version}",
        https(server, "/scope"),
    )  # fmt: skip
    body, version = curl_body_and_version(result)
    assert version == "2"
    assert "ALPN: server accepted h2" in result.stderr
    scope = json.loads(body)
    assert (scope["http_version"], scope["scheme"]) == ("2", "https")


# --- httpx ------------------------------------------------------------------------------------


def httpx_client(files: TLSFiles) -> httpx.AsyncClient:
    pytest.importorskip("h2", reason="pip install 'httpx[http2]'")
    return httpx.AsyncClient(http2=True, verify=h2_client_context(files.ca_path), timeout=10)


def test_httpx_concurrent_requests_share_one_connection(
    serve_h2: ServerFactory, tls_files: TLSFiles
) -> None:
    app = H2App()
    server = serve_h2(app, **tls_options(tls_files))
    count = 50

    async def main() -> list[httpx.Response]:
        async with httpx_client(tls_files) as client:
            # Every request waits at one gate, opened only once all are in the app at once:
            # that they all got there proves they share the connection concurrently.
            requests = [client.get(https(server, f"/block?name=all&i={i}")) for i in range(count)]
            pending = asyncio.gather(*requests)
            await asyncio.to_thread(lambda: [app.wait_event("blocked") for _ in range(count)])
            server.call(app.release, "all")
            responses = await pending
            scope = await client.get(https(server, "/scope"))
            return [*responses, scope]

    *responses, scope = asyncio.run(main())
    assert {r.http_version for r in responses} == {"HTTP/2"}
    assert [r.status_code for r in responses] == [200] * count
    assert {r.text for r in responses} == {"released all"}
    # One TCP connection: every request came from the same client port.
    ports = {r.headers["x-client-port"] for r in responses}
    assert ports == {str(scope.json()["client"][1])}


def test_httpx_post_of_one_mib_is_echoed_intact(
    serve_h2: ServerFactory, tls_files: TLSFiles
) -> None:
    app = H2App()
    server = serve_h2(app, **tls_options(tls_files))
    payload = os.urandom(MiB)

    async def main() -> httpx.Response:
        async with httpx_client(tls_files) as client:
            return await client.post(https(server, "/echo"), content=payload)

    response = asyncio.run(main())
    assert response.http_version == "HTTP/2"
    assert response.status_code == 200
    assert hashlib.sha256(response.content).hexdigest() == hashlib.sha256(payload).hexdigest()
    assert app.wait_event("body") == payload


def test_httpx_streamed_response_arrives_as_it_is_sent(
    serve_h2: ServerFactory, tls_files: TLSFiles
) -> None:
    app = H2App()
    server = serve_h2(app, **tls_options(tls_files))

    async def main() -> tuple[bytes, bytes, bytes]:
        async with httpx_client(tls_files) as client:
            async with client.stream("GET", https(server, "/gated_stream?name=s")) as response:
                assert response.http_version == "HTTP/2"
                pieces = response.aiter_raw()
                # The first piece arrives while the app is still held at its gate.
                first = await pieces.__anext__()
                server.call(app.release, "s")
                rest = b"".join([piece async for piece in pieces])
            many = await client.get(https(server, "/stream?n=200"))
            return first, rest, many.content

    first, rest, many = asyncio.run(main())
    assert (first, rest) == (b"first;", b"last;")
    assert many == b"".join(b"chunk%d;" % i for i in range(200))


# --- h2load -------------------------------------------------------------------------------


@pytest.mark.parametrize("secure", [False, True], ids=["h2c", "tls"])
def test_h2load_many_multiplexed_requests_all_succeed(
    serve_h2: ServerFactory, tls_files: TLSFiles, secure: bool
) -> None:
    h2load = tool("h2load", "nghttp2-client")
    options = tls_options(tls_files) if secure else {}
    server = serve_h2(H2App(), **options)
    url = https(server, "/") if secure else server.url + "/"
    total = 30000
    result = run_tool([h2load, "-n", str(total), "-c", "4", "-m", "16", url], timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    if secure:
        assert "Application protocol: h2" in result.stdout
    stats = parse_h2load(result.stdout)
    assert (stats.failed, stats.errored, stats.timeout) == (0, 0, 0), stats.output
    assert stats.succeeded == stats.status_2xx == stats.total == total, stats.output


# --- server push (nghttp and the frame-level client) ------------------------------------------


def nghttp_frames(output: str) -> list[str]:
    """``nghttp -v`` output split into one block per frame (or per header line)."""
    return [block for block in re.split(r"^(?=\[ *[0-9.]+\] )", output, flags=re.M) if block]


def test_nghttp_sees_push_promise(serve_h2: ServerFactory) -> None:
    nghttp = tool("nghttp", "nghttp2-client")
    app = H2App()
    server = serve_h2(app)
    result = run_tool([nghttp, "-nv", "-t", "10", server.url + "/push"], timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    frames = nghttp_frames(result.stdout)
    promises = [block for block in frames if "recv PUSH_PROMISE frame" in block]
    assert len(promises) == 1, result.stdout
    promised = re.search(r"promised_stream_id=(\d+)", promises[0])
    assert promised is not None and int(promised.group(1)) % 2 == 0, promises[0]
    pushed = promised.group(1)
    assert ":path: /pushed/style.css" in result.stdout
    # nghttp received the pushed response on the promised stream, to its end.
    assert f"recv (stream_id={pushed}) :status: 200" in result.stdout
    assert any(
        f"stream_id={pushed}>" in block and "END_STREAM" in block and "recv DATA" in block
        for block in frames
    ), result.stdout
    assert app.wait_event("pushed_request") == ("GET", "/pushed/style.css", b"text/css")


def test_nghttp_with_push_disabled_gets_no_push_promise(serve_h2: ServerFactory) -> None:
    nghttp = tool("nghttp", "nghttp2-client")
    app = H2App()
    server = serve_h2(app)
    result = run_tool([nghttp, "-nv", "--no-push", "-t", "10", server.url + "/push"], timeout=20)
    assert result.returncode == 0, result.stdout + result.stderr
    frames = nghttp_frames(result.stdout)
    sent_settings = next(block for block in frames if "send SETTINGS frame" in block)
    assert "[SETTINGS_ENABLE_PUSH(0x02):0]" in sent_settings  # the client really said so
    assert "PUSH_PROMISE" not in result.stdout
    assert re.search(r"recv \(stream_id=\d+\) :status: 200", result.stdout), result.stdout
    assert app.wait_event("push_offered") is True  # the app asked; the server declined
    assert "pushed_request" not in [kind for kind, _ in app.drain_events()]


def test_pushed_response_carries_the_request_and_body(serve_h2: ServerFactory) -> None:
    server = serve_h2(H2App())
    with h2_connection(server.port) as wire:
        stream_id = wire.request("/push")
        wire.until(lambda: wire.pushes and wire.stream(wire.pushes[0].promised).ended)
        wire.until(lambda: wire.stream(stream_id).ended)
    (push,) = wire.pushes
    assert push.parent == stream_id
    assert push.promised % 2 == 0  # RFC 9113 §5.1.1: server-initiated streams are even
    assert dict(push.headers) == {
        b":method": b"GET",
        b":scheme": b"http",
        b":authority": b"localhost",
        b":path": b"/pushed/style.css",
        b"accept": b"text/css",
    }
    pushed = wire.stream(push.promised)
    assert pushed.status == 200
    assert pushed.header(b"content-type") == b"text/css"
    assert bytes(pushed.data) == b"pushed /pushed/style.css"
    assert wire.stream(stream_id).status == 200


def test_no_push_beyond_the_clients_concurrent_stream_limit(serve_h2: ServerFactory) -> None:
    nghttp = tool("nghttp", "nghttp2-client")
    server = serve_h2(H2App())
    # RFC 9113 §8.4: a limit of zero "prevents the server from opening the streams necessary
    # to push responses"; a PUSH_PROMISE (which only reserves a stream) is still allowed.
    result = run_tool(
        [nghttp, "-nv", "--max-concurrent-streams=0", "-t", "10", server.url + "/push"],
        timeout=20,
    )
    assert "max concurrent streams exceeded" not in result.stdout, result.stdout[-1500:]
    assert "[INVALID" not in result.stdout, result.stdout[-1500:]
    assert "Some requests were not processed" not in result.stdout
    with h2_connection(server.port, settings={MAX_CONCURRENT_STREAMS: 0}) as wire:
        stream_id = wire.request("/push")
        wire.until(lambda: wire.stream(stream_id).ended)
        wire.quiet_for(0.2)
    assert wire.stream(stream_id).status == 200
    opened = [s for s in wire.streams.values() if s.stream_id % 2 == 0 and s.blocks]
    assert opened == [], wire.describe()


# --- early hints ------------------------------------------------------------------------------


def test_early_hints_over_http2(serve_h2: ServerFactory) -> None:
    app = H2App()
    server = serve_h2(app)
    with h2_connection(server.port) as wire:
        stream_id = wire.request("/hints")
        wire.until(lambda: wire.stream(stream_id).ended)
    record = wire.stream(stream_id)
    assert app.wait_event("hints_offered") is True
    # RFC 8297: a 103 HEADERS block carrying the links, then the final response.
    (hint,) = record.informational
    assert hint[0] == (b":status", b"103")
    assert [value for name, value in hint if name == b"link"] == HINT_LINKS
    assert record.status == 200
    assert bytes(record.data) == b"hinted"


def test_early_hints_over_http11(serve: ServerFactory) -> None:
    server = serve(H2App())
    with contextlib.closing(server.connect()) as sock:
        sock.sendall(b"GET /hints HTTP/1.1\r\nHost: x\r\n\r\n")
        reader = Reader(sock)
        hint = reader.read_until(b"\r\n\r\n")
        final = reader.response()
    lines = hint.split(b"\r\n")
    assert lines[0] == b"HTTP/1.1 103 Early Hints"
    assert [line[len(b"link: ") :] for line in lines if line.lower().startswith(b"link:")] == (
        HINT_LINKS
    )
    assert (final.status, final.body) == (200, b"hinted")


def test_no_early_hints_for_http10(serve: ServerFactory) -> None:
    server = serve(H2App())
    response = request(server, b"GET /hints HTTP/1.0\r\n\r\n")
    assert (response.status, response.body) == (200, b"hinted")  # RFC 8297 §3


# --- trailers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("parts", [1, 3])
def test_trailers_over_http2(serve_h2: ServerFactory, parts: int) -> None:
    server = serve_h2(H2App())
    with h2_connection(server.port) as wire:
        stream_id = wire.request(f"/trailers?parts={parts}")
        wire.until(lambda: wire.stream(stream_id).ended)
    record = wire.stream(stream_id)
    body = b"".join(b"part%d;" % i for i in range(parts))
    assert record.status == 200
    assert bytes(record.data) == body
    # RFC 9113 §8.1: the trailers are a HEADERS frame that ends the stream.
    assert record.trailers == [(TRAILER_NAME, hashlib.sha256(body).hexdigest().encode())]
    assert record.blocks[-1] is record.trailers
    assert wire.frame_types.count("HeadersFrame") == 2


def test_trailers_over_http11_only_with_te_trailers(serve: ServerFactory) -> None:
    server = serve(H2App())
    body = b"part0;part1;"
    checksum = hashlib.sha256(body).hexdigest().encode()
    with contextlib.closing(server.connect()) as sock:
        reader = Reader(sock)
        sock.sendall(b"GET /trailers HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
        accepted = reader.response()
        sock.sendall(b"GET /trailers HTTP/1.1\r\nHost: x\r\n\r\n")
        plain = reader.response()
        sock.sendall(b"GET /trailers?parts=1 HTTP/1.1\r\nHost: x\r\nTE: trailers\r\n\r\n")
        single = reader.response()
    # RFC 9112 §7.1.2: trailer fields follow the last chunk of a chunked response.
    assert accepted.chunked and accepted.body == body
    assert accepted.trailers == [(TRAILER_NAME, checksum)]
    # RFC 9110 §10.1.4: only "TE: trailers" says the client will not discard them.
    assert plain.chunked and plain.body == body
    assert plain.trailers == []
    assert single.chunked and single.body == b"part0;"
    assert single.trailers == [(TRAILER_NAME, hashlib.sha256(b"part0;").hexdigest().encode())]


# --- stream lifecycle -------------------------------------------------------------------------


@pytest.mark.parametrize("body_open", [False, True], ids=["after-body", "during-body"])
def test_rst_stream_reaches_the_app_as_http_disconnect(
    serve_h2: ServerFactory, body_open: bool
) -> None:
    app = H2App()
    server = serve_h2(app)
    with h2_connection(server.port) as wire:
        if body_open:
            stream_id = wire.request(
                "/wait_disconnect?tag=a", method="POST", body=b"some", end_stream=False
            )
        else:
            stream_id = wire.request("/wait_disconnect?tag=a")
        assert app.wait_event("receiving") == "a"
        assert app.wait_event("received") == ("a", "http.request")
        wire.reset(stream_id)
        assert app.wait_event("received") == ("a", "http.disconnect")
        # The connection is still good for other streams.
        second = wire.request("/")
        wire.until(lambda: wire.stream(second).ended)
    assert bytes(wire.stream(second).data) == b"Hello, world!"
    assert not wire.goaways


def test_streams_beyond_max_concurrent_are_refused(serve_h2: ServerFactory) -> None:
    app = H2App()
    server = serve_h2(app, h2_max_concurrent_streams=2)
    with h2_connection(server.port) as wire:
        assert wire.server_settings[MAX_CONCURRENT_STREAMS] == 2
        first = wire.request("/block?name=a")
        second = wire.request("/block?name=b")
        assert {app.wait_event("blocked"), app.wait_event("blocked")} == {"a", "b"}
        third = wire.request("/block?name=refused")
        wire.until(lambda: wire.stream(third).reset is not None)
        # RFC 9113 §5.1.2 / §8.7: REFUSED_STREAM, so the client knows it may retry.
        assert wire.stream(third).reset == REFUSED_STREAM
        server.call(app.release, "a")
        server.call(app.release, "b")
        wire.until(lambda: wire.stream(first).ended and wire.stream(second).ended)
        retry = wire.request("/block?name=c")
        assert app.wait_event("blocked") == "c"
        server.call(app.release, "c")
        wire.until(lambda: wire.stream(retry).ended)
    assert [bytes(wire.stream(s).data) for s in (first, second, retry)] == [
        b"released a",
        b"released b",
        b"released c",
    ]
    assert not wire.goaways
    # Every "blocked" was consumed above, and the refused stream's app never ran.
    assert [value for kind, value in app.drain_events() if kind == "blocked"] == []


def test_closed_window_holds_the_app_and_bounds_memory(serve_h2: ServerFactory) -> None:
    streams = 50
    app = H2App()
    server = serve_h2(app)
    with h2_connection(
        server.port, settings={INITIAL_WINDOW_SIZE: 0, ENABLE_PUSH: 0}, auto_window=False
    ) as wire:
        baseline = rss_bytes()
        ids = [wire.request(f"/big?seed={seed}") for seed in range(streams)]
        wire.until(lambda: all(wire.stream(s).status == 200 for s in ids))
        started = {app.wait_event("big_started") for _ in range(streams)}
        assert started == set(range(streams))
        # With every window shut, no DATA may come and the apps' sends must wait: give them
        # time to get ahead if they could.
        wire.quiet_for(0.3)
        grown = rss_bytes() - baseline
        assert sum(len(wire.stream(s).data) for s in ids) == 0
        progress = app.drain_events()
        assert not [value for kind, value in progress if kind == "big_done"]
        sent: dict[int, int] = {}
        for kind, value in progress:
            if kind == "big_sent":
                sent[value[0]] = value[1]
        assert max(sent.values(), default=0) <= 2 * CHUNK, sent
        # The 50 MiB of responses may not pile up in the server: each app makes one 64 KiB
        # block at a time, so the growth must stay far below 50 MiB.
        assert grown < 20 * MiB, f"RSS grew by {grown / MiB:.1f} MiB"

        # Open the connection window, then each stream's: every byte arrives, intact.
        wire.window_update(0, streams * MiB)
        for stream_id in ids:
            wire.window_update(stream_id, MiB)
        wire.until(lambda: all(wire.stream(s).ended for s in ids), timeout=30)
    for seed, stream_id in enumerate(ids):
        data = bytes(wire.stream(stream_id).data)
        assert len(data) == MiB
        assert data == pattern(seed, 0, MiB), f"stream {stream_id} corrupted"
    assert {app.wait_event("big_done") for _ in range(streams)} == set(range(streams))


def test_reset_or_close_frees_apps_waiting_for_window(serve_h2: ServerFactory) -> None:
    app = H2App()
    server = serve_h2(app)
    with h2_connection(server.port, settings={INITIAL_WINDOW_SIZE: 0}, auto_window=False) as wire:
        reset = wire.request("/big?seed=1")
        kept = wire.request("/big?seed=2")
        assert {app.wait_event("big_started"), app.wait_event("big_started")} == {1, 2}
        wire.until(lambda: wire.stream(reset).status == wire.stream(kept).status == 200)
        # Both apps are parked in send(); RST_STREAM must wake the first with an error...
        wire.reset(reset)
        assert app.wait_event("big_failed") == (1, "ClientDisconnected")
    # ...and closing the connection the other.
    assert app.wait_event("big_failed") == (2, "ClientDisconnected")
    assert "big_done" not in [kind for kind, _ in app.drain_events()]


def test_graceful_shutdown_sends_goaway_and_finishes_in_flight(
    serve_h2: ServerFactory,
) -> None:
    app = H2App()
    server = serve_h2(app, graceful_timeout=10.0)
    stopper = threading.Thread(target=server.stop)
    with h2_connection(server.port) as wire:
        in_flight = wire.request("/gated_stream?name=g")
        assert app.wait_event("gated") == "g"
        wire.until(lambda: bytes(wire.stream(in_flight).data) == b"first;")
        stopper.start()
        wire.until(lambda: wire.goaways)
        # RFC 9113 §6.8: NO_ERROR, and a last stream id that covers the stream in progress.
        assert wire.goaways == [(in_flight, NO_ERROR)]
        # A stream opened after the GOAWAY is not served (it may be refused outright).
        late = 3
        wire.send(
            wire.headers_frame(
                late,
                [(b":method", b"GET"), (b":scheme", b"http"), (b":authority", b"x"),
                 (b":path", b"/late")],
                end_stream=True,
            )
        )  # fmt: skip
        server.call(app.release, "g")
        wire.until(lambda: wire.stream(in_flight).ended)
        assert bytes(wire.stream(in_flight).data) == b"first;last;"
        assert wire.read_to_close(10), "the server kept the connection open after GOAWAY"
    stopper.join(15)
    assert not stopper.is_alive()
    assert wire.stream(late).status is None
    assert wire.stream(late).reset in (None, REFUSED_STREAM)
    assert "/late" not in [value for kind, value in app.drain_events() if kind == "request"]


def test_nghttp_downloads_a_large_response(serve_h2: ServerFactory) -> None:
    nghttp = tool("nghttp", "nghttp2-client")
    server = serve_h2(H2App())
    size = 64 * MiB
    # nghttp's default windows are 64 KiB per stream, handed back every 32 KiB, as many
    # clients (h2-based ones included) do: some 4,000 WINDOW_UPDATEs for this body, which
    # the control-frame flood budget must not mistake for a flood (it did, at ~29 MiB).
    result = run_tool(
        [nghttp, "-n", "-s", "-t", "30", f"{server.url}/big?seed=3&size={size}"], timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "Some requests were not processed" not in result.stdout, result.stdout[-1000:]
    assert re.search(r" 200 +64M /big", result.stdout), result.stdout[-1000:]


def test_ping_finds_a_silent_client_and_spares_one_that_answers(
    serve_h2: ServerFactory,
) -> None:
    app = H2App()
    server = serve_h2(app, h2_ping_interval=0.5, h2_ping_timeout=0.5, keep_alive_timeout=0.5)
    received: list[tuple[str, str]] = []
    with h2_connection(server.port) as silent, h2_connection(server.port) as live:
        silent.request("/wait_disconnect?tag=silent")
        live.request("/wait_disconnect?tag=live")
        # The silent client never reads again, so never answers a PING; the live one does,
        # each time this loop reads its socket.
        deadline = time.monotonic() + 5
        while ("silent", "http.disconnect") not in received and time.monotonic() < deadline:
            live.quiet_for(0.1)
            received += [value for kind, value in app.drain_events() if kind == "received"]
        live.until(lambda: live.frame_types.count("PingFrame") >= 2, timeout=5)
        received += [value for kind, value in app.drain_events() if kind == "received"]
    assert ("silent", "http.disconnect") in received, received
    assert ("live", "http.disconnect") not in received, received
    assert not live.goaways and not live.closed


@pytest.mark.parametrize("loop", ["asyncio"])  # the behaviour is in the protocol layer
def test_ping_interval_shorter_than_keep_alive(serve_h2: ServerFactory) -> None:
    app = H2App()
    server = serve_h2(app, h2_ping_interval=0.5, h2_ping_timeout=0.5, keep_alive_timeout=10.0)
    with h2_connection(server.port) as silent:
        silent.request("/wait_disconnect?tag=silent")
        assert app.wait_event("received") == ("silent", "http.request")
        # 0.5 s of silence, 0.5 s for the answer, and the server's tick (at most 1 s).
        assert app.wait_event("received", timeout=3.0) == ("silent", "http.disconnect")


# --- the cleartext port: HTTP/1.1 and h2c side by side ------------------------------------------


@pytest.mark.parametrize(
    "garbage",
    [b"PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00"],
    ids=["bad-magic", "data-before-settings"],
)
def test_broken_preface_gets_goaway_while_http11_still_works(
    serve: ServerFactory, garbage: bytes
) -> None:
    app = H2App()
    server = serve(app)
    with contextlib.closing(server.connect()) as sock:
        wire = H2Wire(sock, preface=False)
        wire.send_raw(garbage + b"\x00" * 16)
        assert wire.read_to_close(10), "the server kept a connection with a broken preface"
    # RFC 9113 §3.4: an invalid preface is a connection error (PROTOCOL_ERROR); a GOAWAY
    # is optional, but if one is sent it must say so.
    assert all(code == PROTOCOL_ERROR for _, code in wire.goaways), wire.describe()
    assert not wire.streams
    response = request(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert (response.status, response.body) == (200, b"Hello, world!")
    assert [value for kind, value in app.drain_events() if kind == "request"] == ["/"]


def test_prior_knowledge_and_http11_on_one_port(serve: ServerFactory) -> None:
    server = serve(H2App())
    with h2_connection(server.port) as wire:
        stream_id = wire.request("/")
        wire.until(lambda: wire.stream(stream_id).ended)
    assert bytes(wire.stream(stream_id).data) == b"Hello, world!"
    assert request(server, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").body == b"Hello, world!"


# --- a browser --------------------------------------------------------------------------------


def spki_hash(cert_pem: str) -> str:
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(spki).digest()).decode()


def test_chromium_loads_a_page_over_h2(tls_files: TLSFiles) -> None:
    chromium = tool("chromium", "chromium")
    config = Config(bind=["127.0.0.1:0"], **tls_options(tls_files))
    with LiveServer(H2App(), config) as server, tempfile.TemporaryDirectory() as profile:
        result = run_tool(
            [
                chromium,
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                # Trust exactly the test server's key, not every certificate.
                f"--ignore-certificate-errors-spki-list={spki_hash(tls_files.server_cert_pem)}",
                "--dump-dom",
                https(server, "/page"),
            ],
            timeout=60,
            env={**os.environ, "HOME": str(Path(profile))},
        )
    assert result.returncode == 0, result.stderr[-3000:]
    found = re.search(r'data-protocol="([^"]*)"', result.stdout)
    assert found is not None, result.stdout[-2000:] + result.stderr[-2000:]
    assert found.group(1) == "h2"
