from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from hypercorn.config import Config

from .apps import RoutingApp
from .helpers import LOOPS, PARSERS, LiveServer

ServerFactory = Callable[..., LiveServer]


@pytest.fixture(
    params=[(loop, parser) for loop in LOOPS for parser in PARSERS], ids=lambda p: f"{p[0]}-{p[1]}"
)
def backend(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Every event loop x HTTP/1.1 parser combination."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def serve(backend: tuple[str, str]) -> Iterator[ServerFactory]:
    """Start live servers on the current backend; all are stopped after the test."""
    started: list[LiveServer] = []
    loop, parser = backend

    def start(app: Any = None, **options: Any) -> LiveServer:
        config = Config(bind=["127.0.0.1:0"], http=parser, **options)  # type: ignore[arg-type]
        server = LiveServer(app if app is not None else RoutingApp(), config, loop=loop)
        started.append(server.start())
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def app() -> RoutingApp:
    return RoutingApp()


@pytest.fixture
def error_log(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """The hypercorn.error records of the test, whatever logging was configured before."""
    logger = logging.getLogger("hypercorn.error")
    propagate = logger.propagate
    logger.propagate = True
    caplog.set_level(logging.DEBUG, logger="hypercorn.error")
    yield caplog
    logger.propagate = propagate
