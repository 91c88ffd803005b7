"""The embedding and testing API: serve() in a program, Server on port 0, the pytest fixture."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from hypercorn import Config, Server, serve
from hypercorn.testing import LiveServer

from ..apps import RoutingApp, hello


def test_the_fixture_serves_an_app_on_a_free_port(
    hypercorn_server: Callable[..., LiveServer],
) -> None:
    server = hypercorn_server(hello)
    assert server.url.startswith("http://127.0.0.1:")
    assert server.port != 8000
    assert httpx.get(server.url + "/").text == "Hello, world!"


def test_the_fixture_takes_options_and_runs_lifespan(
    hypercorn_server: Callable[..., LiveServer],
) -> None:
    app = RoutingApp()
    server = hypercorn_server(app, server_header="embedded", loop="asyncio")
    assert httpx.get(server.url + "/").headers["server"] == "embedded"
    assert app.wait_event("startup") is None
    server.stop()
    assert app.wait_event("shutdown") is None  # a graceful stop ran lifespan shutdown
    with pytest.raises(httpx.ConnectError):
        httpx.get(server.url + "/", timeout=2)


def test_several_servers_in_one_test(hypercorn_server: Callable[..., LiveServer]) -> None:
    first, second = hypercorn_server(hello), hypercorn_server(hello)
    assert first.port != second.port
    assert httpx.get(second.url).status_code == 200


def test_live_server_as_a_context_manager_in_plain_code() -> None:
    with LiveServer(hello) as server:
        url = server.url
        assert httpx.get(url).status_code == 200
    with pytest.raises(httpx.ConnectError):
        httpx.get(url, timeout=2)


def test_a_startup_failure_is_raised_by_start() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(Exception, match=str(port)):
            LiveServer(hello, bind=[f"127.0.0.1:{port}"]).start()


def test_server_in_an_existing_loop_reports_the_bound_port() -> None:
    async def main() -> tuple[list[Any], str]:
        server = Server(hello, Config(bind=["127.0.0.1:0", "[::1]:0"]))
        await server.startup()
        try:
            addresses = server.addresses
            port = addresses[0][1]
            async with httpx.AsyncClient() as client:
                response = await client.get(f"http://127.0.0.1:{port}/")
            return addresses, response.text
        finally:
            await server.shutdown()

    try:
        addresses, text = asyncio.run(main())
    except OSError as exc:  # pragma: no cover - a machine without IPv6
        pytest.skip(f"no IPv6 loopback: {exc}")
    assert text == "Hello, world!"
    assert addresses[0][0] == "127.0.0.1" and addresses[0][1] > 0
    assert addresses[1][0] == "::1" and addresses[1][1] > 0


def test_serve_returns_after_the_shutdown_trigger() -> None:
    async def main() -> int:
        stop = asyncio.Event()
        ready = asyncio.Event()
        seen: list[int] = []

        async def app(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "lifespan":
                await receive()
                await send({"type": "lifespan.startup.complete"})
                ready.set()
                await receive()
                await send({"type": "lifespan.shutdown.complete"})
                return
            seen.append(1)
            await hello(scope, receive, send)
            stop.set()

        port_holder = socket.socket()
        port_holder.bind(("127.0.0.1", 0))
        port = port_holder.getsockname()[1]
        port_holder.close()
        task = asyncio.create_task(
            serve(app, Config(bind=[f"127.0.0.1:{port}"]), shutdown_trigger=stop.wait)
        )
        await ready.wait()
        async with httpx.AsyncClient() as client:
            assert (await client.get(f"http://127.0.0.1:{port}/")).status_code == 200
        await asyncio.wait_for(task, 10)
        return len(seen)

    assert asyncio.run(main()) == 1
