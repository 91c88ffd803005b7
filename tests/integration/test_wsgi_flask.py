"""A real Flask app served through the WSGI wrapper by a real server, with httpx as client."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from typing import Any

import flask
import httpx
import pytest

from hypercorn.app_wrappers import wrap_app
from hypercorn.config import Config

from ..helpers import LiveServer

MIB = 1024 * 1024


def create_app() -> Any:
    app = flask.Flask(__name__)
    app.secret_key = "test"
    app.config["stream_release"] = threading.Event()

    @app.get("/")
    def index() -> str:
        return "Hello from Flask"

    @app.get("/items/<int:item_id>")
    def item(item_id: int) -> Any:
        return {"id": item_id, "q": flask.request.args.get("q")}

    @app.post("/json")
    def echo_json() -> Any:
        return {"received": flask.request.get_json()}

    @app.post("/form")
    def form() -> Any:
        return {"form": flask.request.form.to_dict()}

    @app.post("/upload")
    def upload() -> Any:
        file = flask.request.files["file"]
        data = file.read()
        return {
            "name": file.filename,
            "size": len(data),
            "sha256": hashlib.sha256(data).hexdigest(),
            "field": flask.request.form["field"],
        }

    @app.get("/stream")
    def stream() -> Any:
        release = app.config["stream_release"]

        def generate() -> Iterator[str]:
            yield "first\n"
            release.wait(5)
            yield "second\n"

        return flask.Response(generate(), mimetype="text/plain")

    @app.get("/where")
    def where() -> Any:
        return {
            "url_for": flask.url_for("item", item_id=1),
            "script_root": flask.request.script_root,
            "path": flask.request.path,
            "url": flask.request.url,
        }

    @app.get("/redirect")
    def redirect() -> Any:
        return flask.redirect(flask.url_for("index"))

    @app.get("/session")
    def session() -> Any:
        flask.session["visits"] = flask.session.get("visits", 0) + 1
        return {"visits": flask.session["visits"]}

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("boom")

    return app


@pytest.fixture(scope="module")
def flask_app() -> Any:
    return create_app()


@pytest.fixture(scope="module")
def server(flask_app: Any) -> Iterator[LiveServer]:
    config = Config(wsgi_max_body_size=4 * MIB)
    with LiveServer(wrap_app(flask_app, config), config) as live:
        yield live


@pytest.fixture
def client(server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=10) as http:
        yield http


def test_routes_and_query(client: httpx.Client) -> None:
    assert client.get("/").text == "Hello from Flask"
    assert client.get("/items/7", params={"q": "a b"}).json() == {"id": 7, "q": "a b"}
    assert client.get("/missing").status_code == 404


def test_json_and_form_posts(client: httpx.Client) -> None:
    payload = {"name": "café", "tags": [1, 2]}
    assert client.post("/json", json=payload).json() == {"received": payload}
    assert client.post("/form", data={"a": "1", "b": "x y"}).json() == {
        "form": {"a": "1", "b": "x y"}
    }


def test_two_mib_upload(client: httpx.Client) -> None:
    data = os.urandom(2 * MIB)
    response = client.post("/upload", files={"file": ("blob.bin", data)}, data={"field": "value"})
    assert response.status_code == 200
    assert response.json() == {
        "name": "blob.bin",
        "size": len(data),
        "sha256": hashlib.sha256(data).hexdigest(),
        "field": "value",
    }


def test_upload_over_the_limit_is_413(client: httpx.Client) -> None:
    response = client.post("/upload", files={"file": ("big.bin", b"x" * (5 * MIB))})
    assert response.status_code == 413


def test_streaming_response(client: httpx.Client, flask_app: Any) -> None:
    release = flask_app.config["stream_release"]
    release.clear()
    with client.stream("GET", "/stream") as response:
        assert response.headers.get("transfer-encoding") == "chunked"
        pieces = response.iter_text()
        assert next(pieces) == "first\n"  # before the app has produced the rest
        release.set()
        assert "".join(pieces) == "second\n"


def test_redirect_session_and_errors(client: httpx.Client) -> None:
    response = client.get("/redirect")
    assert response.status_code == 302 and response.headers["location"] == "/"
    assert client.get("/session").json() == {"visits": 1}
    assert client.get("/session").json() == {"visits": 2}  # the cookie came back
    assert client.get("/boom").status_code == 500


def test_head_request(client: httpx.Client) -> None:
    response = client.head("/")
    assert response.status_code == 200
    assert response.headers["content-length"] == str(len("Hello from Flask"))
    assert response.content == b""


def test_http2(server: LiveServer) -> None:
    with httpx.Client(base_url=server.url, http1=False, http2=True) as client:
        response = client.post("/json", json={"h2": True})
        assert response.http_version == "HTTP/2"
        assert response.json() == {"received": {"h2": True}}
        assert client.get("/items/3").json()["id"] == 3


def test_mounted_under_a_root_path(flask_app: Any) -> None:
    config = Config(root_path="/prefix")
    with (
        LiveServer(wrap_app(flask_app, config), config) as server,
        httpx.Client(base_url=server.url) as client,
    ):
        where = client.get("/where").json()
        port = server.port
    assert where == {
        "url_for": "/prefix/items/1",
        "script_root": "/prefix",
        "path": "/where",
        "url": f"http://127.0.0.1:{port}/prefix/where",
    }
