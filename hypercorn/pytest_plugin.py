"""The ``hypercorn_server`` pytest fixture: a real server for your app, per test.

Installed with the package (a ``pytest11`` entry point), so any project that depends on
Hypercorn can write::

    def test_home(hypercorn_server):
        server = hypercorn_server(app)                   # 127.0.0.1, a free port
        assert httpx.get(server.url + "/").status_code == 200

    def test_over_tls(hypercorn_server):
        server = hypercorn_server(app, certfile="cert.pem", keyfile="key.pem")
        ...

Keyword arguments are :class:`~hypercorn.config.Config` options (plus ``loop``). Every
server started in a test is shut down gracefully when the test ends, so lifespan shutdown
runs and nothing leaks into the next test.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from .testing import LiveServer

__all__ = ["hypercorn_server"]


@pytest.fixture
def hypercorn_server() -> Iterator[Callable[..., LiveServer]]:
    """Start live servers: ``hypercorn_server(app, **options)``; all stop after the test."""
    started: list[LiveServer] = []

    def start(app: Any, **options: Any) -> LiveServer:
        loop = options.pop("loop", "auto")
        server = LiveServer(app, loop=loop, **options)
        started.append(server.start())
        return server

    yield start
    errors = []
    for server in reversed(started):
        try:
            server.stop()
        except Exception as exc:
            errors.append(exc)
    if errors:
        raise errors[0]
