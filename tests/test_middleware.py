"""The shipped middleware, driven through the ASGI interface it implements."""

from __future__ import annotations

from typing import Any

import pytest

from hypercorn.middleware import HTTPToHTTPSRedirectMiddleware

from .helpers import call_app


async def app(scope: Any, receive: Any, send: Any) -> None:
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"app"})


def http_scope(scheme: str = "http", host: bytes = b"example.com:8080", **extra: Any) -> Any:
    return {
        "type": "http",
        "scheme": scheme,
        "path": "/a b",
        "raw_path": b"/a%20b",
        "query_string": b"x=1",
        "headers": [(b"host", host)],
        "server": ("10.0.0.1", 8080),
        **extra,
    }


@pytest.mark.parametrize(
    ("middleware", "scope", "location"),
    [
        (
            HTTPToHTTPSRedirectMiddleware(app),
            http_scope(),
            b"https://example.com/a%20b?x=1",
        ),
        (
            HTTPToHTTPSRedirectMiddleware(app, https_port=8443),
            http_scope(),
            b"https://example.com:8443/a%20b?x=1",
        ),
        (
            HTTPToHTTPSRedirectMiddleware(app, host="canonical.example"),
            http_scope(host=b"evil.example"),
            b"https://canonical.example/a%20b?x=1",
        ),
        (
            HTTPToHTTPSRedirectMiddleware(app),
            http_scope(host=b"[::1]:8080"),
            b"https://[::1]/a%20b?x=1",
        ),
        (
            HTTPToHTTPSRedirectMiddleware(app),
            http_scope(host=b"", query_string=b""),
            b"https://10.0.0.1/a%20b",
        ),
    ],
    ids=["default port", "other port", "fixed host", "ipv6", "no host header"],
)
def test_plain_http_is_redirected(middleware: Any, scope: Any, location: bytes) -> None:
    start, body = call_app(middleware, scope)
    assert start["status"] == 308  # keeps the method and body, unlike 301
    assert (b"location", location) in start["headers"]
    assert body == {"type": "http.response.body", "body": b""}


def test_https_reaches_the_app() -> None:
    sent = call_app(HTTPToHTTPSRedirectMiddleware(app), http_scope("https"))
    assert sent[1]["body"] == b"app"


def test_websocket_in_the_clear_is_refused_with_a_redirect_when_possible() -> None:
    scope = http_scope(extensions={"websocket.http.response": {}})
    scope.update(type="websocket", scheme="ws")
    start, _ = call_app(HTTPToHTTPSRedirectMiddleware(app), scope)
    assert start["type"] == "websocket.http.response.start"
    assert (b"location", b"https://example.com/a%20b?x=1") in start["headers"]
    scope["extensions"] = {}
    assert call_app(HTTPToHTTPSRedirectMiddleware(app), scope) == [{"type": "websocket.close"}]
