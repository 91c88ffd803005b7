"""Metrics (Prometheus, statsd), JSON access logs and dictConfig logging, on real servers."""

from __future__ import annotations

import json
import re
import socket
import time
from pathlib import Path

import httpx
import pytest

from hypercorn.config import Config
from hypercorn.metrics import MAX_TIMER_SAMPLES, Metrics, StatsdClient, prometheus_text

from ..apps import RoutingApp
from ..helpers import LiveServer, wait_for
from .test_cli import Spawn, app_dir, get, run_to_exit, spawn, stderr_lines

__all__ = ["app_dir", "spawn"]  # fixtures shared with the CLI tests


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    assert found is not None, f"{name} not in\n{text}"
    return float(found.group(1))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.parametrize("loop", ["asyncio", "uvloop"])
def test_prometheus_endpoint_on_its_own_bind(loop: str) -> None:
    metrics_port = free_port()
    config = Config(bind=["127.0.0.1:0"], metrics_bind=[f"127.0.0.1:{metrics_port}"])
    with LiveServer(RoutingApp(), config, loop=loop) as server, httpx.Client() as client:
        for _ in range(3):
            assert client.get(server.url + "/").status_code == 200
        assert client.get(server.url + "/status?code=404").status_code == 404
        # The app's bind does not expose metrics, and the metrics bind does not serve
        # the app.
        assert "hypercorn_responses_total" not in client.get(server.url + "/metrics").text
        scrape = client.get(f"http://127.0.0.1:{metrics_port}/metrics")
        assert client.get(f"http://127.0.0.1:{metrics_port}/").status_code == 404
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = scrape.text
    ok = 'hypercorn_responses_total{status="200",http_version="1.1"}'
    assert metric(text, ok) >= 3
    assert metric(text, 'hypercorn_responses_total{status="404",http_version="1.1"}') == 1
    assert metric(text, "hypercorn_response_duration_seconds_count") >= 4
    assert metric(text, 'hypercorn_response_duration_seconds_bucket{le="+Inf"}') >= 4
    assert metric(text, "hypercorn_connections") >= 1  # the scrape's own client is connected


def test_http2_streams_and_connections_are_gauged() -> None:
    h2 = pytest.importorskip("h2.connection")
    metrics_port = free_port()
    config = Config(bind=["127.0.0.1:0"], metrics_bind=[f"127.0.0.1:{metrics_port}"])
    app = RoutingApp()
    with LiveServer(app, config) as server:
        assert server.server is not None
        metrics = server.server.metrics
        assert metrics is not None
        with socket.create_connection(("127.0.0.1", server.port), timeout=5) as sock:
            import h2.config
            import h2.events

            client = h2.connection.H2Connection(
                h2.config.H2Configuration(client_side=True, header_encoding=None)
            )
            client.initiate_connection()
            client.send_headers(
                1,
                [
                    (b":method", b"GET"),
                    (b":scheme", b"http"),
                    (b":authority", b"x"),
                    (b":path", b"/disconnect"),
                ],
                end_stream=True,
            )
            sock.sendall(client.data_to_send())
            assert wait_for(lambda: server.call(lambda: metrics.values[-2]) == 1)
            text = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
            assert metric(text, "hypercorn_http2_streams") == 1
            assert metric(text, "hypercorn_connections") >= 1
        assert wait_for(lambda: server.call(lambda: metrics.values[-2]) == 0)
        assert wait_for(lambda: server.call(lambda: metrics.values[-3]) == 0)


def test_statsd_receives_counters_gauges_and_timers() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as statsd:
        statsd.bind(("127.0.0.1", 0))
        statsd.settimeout(5)
        port = statsd.getsockname()[1]
        config = Config(
            bind=["127.0.0.1:0"],
            statsd_host=f"127.0.0.1:{port}",
            statsd_prefix="web",
            dogstatsd_tags=["env:test", "team:core"],
        )
        with LiveServer(RoutingApp(), config) as server:
            for _ in range(2):
                assert httpx.get(server.url + "/").status_code == 200
            lines: list[str] = []
            deadline = time.monotonic() + 5
            while not any(line.startswith("web.requests:") for line in lines):
                assert time.monotonic() < deadline, lines
                lines += statsd.recv(65536).decode().splitlines()
    assert "web.responses.200:2|c|#env:test,team:core" in lines
    assert "web.requests:2|c|#env:test,team:core" in lines
    gauge = re.compile(r"web\.connections:\d+\|g\|#env:test,team:core")
    assert any(gauge.fullmatch(line) for line in lines)
    timer = re.compile(r"web\.request\.duration:[\d.]+\|ms\|#env:test,team:core")
    timers = [line for line in lines if line.startswith("web.request.duration:")]
    assert len(timers) == 2
    assert all(timer.fullmatch(line) for line in timers)


def test_statsd_samples_latency_beyond_a_bound() -> None:
    metrics = Metrics()
    for _ in range(MAX_TIMER_SAMPLES * 3):
        metrics.response(200, "1.1", 0.001)
    client = StatsdClient("127.0.0.1:9", "p", [])
    try:
        lines = client.lines(metrics)
    finally:
        client.close()
    timers = [line for line in lines if ".request.duration:" in line]
    assert len(timers) == MAX_TIMER_SAMPLES
    assert timers[0].endswith("|ms|@0.3333")
    assert f"p.requests:{MAX_TIMER_SAMPLES * 3}|c" in lines
    # Counters go as deltas: with nothing new, nothing is counted again.
    assert not any(line.startswith("p.requests:") for line in client.lines(metrics))


def test_prometheus_text_sums_worker_stores() -> None:
    first, second = Metrics(), Metrics()
    first.response(200, "2", 0.02)
    second.response(200, "2", 0.2)
    second.websocket_opened()
    text = prometheus_text([first.values, second.values])
    assert metric(text, 'hypercorn_responses_total{status="200",http_version="2"}') == 2
    assert metric(text, 'hypercorn_response_duration_seconds_bucket{le="0.025"}') == 1
    assert metric(text, 'hypercorn_response_duration_seconds_bucket{le="0.25"}') == 2
    assert metric(text, "hypercorn_websockets") == 1


def test_a_bad_statsd_host_is_a_startup_error() -> None:
    from hypercorn.sockets import BindError

    config = Config(bind=["127.0.0.1:0"], statsd_host="no-port-here")
    server = LiveServer(RoutingApp(), config)
    with pytest.raises(BindError, match="statsd_host"):
        server.start()


# --- logs --------------------------------------------------------------------------------


def test_json_access_log(spawn: Spawn) -> None:
    process = spawn("app", "--access-logfile", "-", "--access-log-format", "json")
    get(process.port, "/path%0aX?q=1", b"User-Agent: ag\x85ent\r\nReferer: r\r\n")
    assert process.terminate() == 0
    lines = process.lines("stdout")
    assert len(lines) == 1, lines
    record = json.loads(lines[0])
    assert record["client"] == "127.0.0.1"
    assert record["method"] == "GET"
    assert record["path"] == "/path%0aX"
    assert record["query"] == "q=1"
    assert record["http_version"] == "1.1"
    assert record["status"] == 200
    assert record["bytes"] == 3
    assert record["user_agent"] == "ag\x85ent"
    assert record["referer"] == "r"
    assert isinstance(record["duration_ms"], float)
    # Control characters are escaped by JSON: one physical line, nothing raw.
    assert "\x85" not in lines[0] and "\\u0085" in lines[0]


def test_log_config_dict_config(spawn: Spawn, tmp_path: Path) -> None:
    log_file = tmp_path / "access.jsonl"
    config = tmp_path / "logging.toml"
    config.write_text(
        f"""
version = 1
[formatters.plain]
format = "ACCESS %(message)s"
[handlers.file]
class = "logging.FileHandler"
filename = "{log_file}"
formatter = "plain"
[loggers."hypercorn.access"]
handlers = ["file"]
level = "INFO"
propagate = false
"""
    )
    process = spawn("app", "--log-config", str(config))
    get(process.port, "/configured")
    assert process.terminate() == 0
    lines = log_file.read_text().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('ACCESS 127.0.0.1 "GET /configured HTTP/1.1" 200')


@pytest.mark.parametrize(
    ("content", "name", "message"),
    [
        ("{not json", "logging.json", "does not parse"),
        (
            '{"version": 1, "handlers": {"h": {"class": "no.such.Handler"}}}',
            "logging.json",
            "not a valid dictConfig",
        ),
        ("x = 1", "logging.yaml", "neither .json nor .toml"),
    ],
)
def test_bad_log_config_is_one_line(tmp_path: Path, content: str, name: str, message: str) -> None:
    (tmp_path / "app.py").write_text("async def app(scope, receive, send):\n    pass\n")
    path = tmp_path / name
    path.write_text(content)
    result = run_to_exit("app", "--log-config", str(path), "-b", "127.0.0.1:0", cwd=tmp_path)
    assert result.returncode == 1
    lines = stderr_lines(result)
    assert len(lines) == 1, result.stderr
    assert message in lines[0] and str(path) in lines[0]
