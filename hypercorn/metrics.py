"""Server metrics: counters and a latency histogram, exported to Prometheus and statsd.

One :class:`Metrics` per process counts completed responses (by status and HTTP version),
their latency (a fixed-bucket histogram), and the open connections, HTTP/2 streams and
WebSockets. Counting costs a few list increments per response; nothing is allocated.

Two ways out, both off by default:

* ``metrics_bind``: a Prometheus text endpoint (``GET /metrics``) on its own address, so it
  is never exposed on the public bind by accident;
* ``statsd_host``: counters, gauges and latency samples pushed over UDP once a second, with
  DogStatsD tags when ``dogstatsd_tags`` is set.

Values live in one flat list of floats (:attr:`Metrics.values`) so that the counters of
several worker processes can be kept side by side in shared memory and summed by whichever
process answers a scrape (:func:`prometheus_text` takes any number of them).
"""

from __future__ import annotations

import contextlib
import mmap
import os
import random
import socket
import tempfile
from collections.abc import Iterable, MutableSequence, Sequence
from typing import IO, Any

__all__ = ["Metrics", "SharedMetrics", "StatsdClient", "metrics_app", "prometheus_text"]

#: Latency bucket upper bounds, in seconds (Prometheus' defaults, which suit web requests).
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
VERSIONS = ("1.0", "1.1", "2")
_STATUSES = range(100, 600)

# Layout of Metrics.values.
_RESPONSES = 0  # one slot per (version, status)
_BUCKET_COUNTS = _RESPONSES + len(VERSIONS) * len(_STATUSES)  # one per bucket, + Inf
_DURATION_SUM = _BUCKET_COUNTS + len(BUCKETS) + 1
_DURATION_COUNT = _DURATION_SUM + 1
_CONNECTIONS = _DURATION_COUNT + 1
_STREAMS = _CONNECTIONS + 1
_WEBSOCKETS = _STREAMS + 1
SIZE = _WEBSOCKETS + 1

_VERSION_OFFSET = {version: index * len(_STATUSES) for index, version in enumerate(VERSIONS)}

#: Latency samples kept per statsd flush; beyond it a uniform sample is sent with its rate.
MAX_TIMER_SAMPLES = 1000


class Metrics:
    """This process's counters. The protocol layer calls the ``*_opened``/``*_closed`` and
    :meth:`response` methods; exporters read :attr:`values`."""

    __slots__ = ("_samples", "_seen", "values")

    def __init__(self, values: MutableSequence[float] | None = None) -> None:
        #: Every counter and gauge, in the fixed layout above.
        self.values: MutableSequence[float] = values if values is not None else [0.0] * SIZE
        # Latency samples since the last statsd flush (reservoir-sampled).
        self._samples: list[float] = []
        self._seen = 0

    def response(self, status: int, http_version: str, duration: float) -> None:
        values = self.values
        values[_VERSION_OFFSET.get(http_version, 0) + status - 100] += 1
        for index, bound in enumerate(BUCKETS):
            if duration <= bound:
                values[_BUCKET_COUNTS + index] += 1
                break
        else:
            values[_BUCKET_COUNTS + len(BUCKETS)] += 1
        values[_DURATION_SUM] += duration
        values[_DURATION_COUNT] += 1
        self._seen += 1
        samples = self._samples
        if len(samples) < MAX_TIMER_SAMPLES:
            samples.append(duration)
        else:
            slot = random.randrange(self._seen)
            if slot < MAX_TIMER_SAMPLES:
                samples[slot] = duration

    def connection_opened(self) -> None:
        self.values[_CONNECTIONS] += 1

    def connection_closed(self) -> None:
        self.values[_CONNECTIONS] -= 1

    def stream_opened(self) -> None:
        self.values[_STREAMS] += 1

    def stream_closed(self) -> None:
        self.values[_STREAMS] -= 1

    def websocket_opened(self) -> None:
        self.values[_WEBSOCKETS] += 1

    def websocket_closed(self) -> None:
        self.values[_WEBSOCKETS] -= 1

    def take_samples(self) -> tuple[list[float], int]:
        """The latency samples since the last call, and how many responses they stand for."""
        samples, seen = self._samples, self._seen
        self._samples, self._seen = [], 0
        return samples, seen


#: Indices of Metrics.values that are gauges (current values, not running totals).
GAUGES = (_CONNECTIONS, _STREAMS, _WEBSOCKETS)


class SharedMetrics:
    """Every worker's counters in one block of shared memory, summed by any of them.

    The supervisor creates the block (an unlinked temporary file, in /dev/shm where there is
    one, so nothing is left behind whatever happens) and hands its file descriptor to each
    worker. Each worker writes only its own slot (so no locks) and answers a scrape with the
    sum of all slots. Slot 0 holds what retired workers counted, so totals survive a rolling
    restart; a worker's gauges leave with it.
    """

    def __init__(self, slots: int, fd: int | None = None) -> None:
        self.slots = slots
        size = slots * SIZE * 8
        self._file: IO[bytes] | None = None
        if fd is None:
            directory = "/dev/shm" if os.path.isdir("/dev/shm") else None
            self._file = tempfile.TemporaryFile(dir=directory)  # noqa: SIM115 - lives with self
            fd = self._file.fileno()
            os.ftruncate(fd, size)
        #: The descriptor a worker inherits to reach the block.
        self.fd = fd
        self._map = mmap.mmap(fd, size)
        self._view = memoryview(self._map).cast("d")

    def slot(self, index: int) -> MutableSequence[float]:
        """The values of slot ``index`` (1 and up for workers)."""
        view: Any = self._view[index * SIZE : (index + 1) * SIZE]
        return view  # type: ignore[no-any-return]

    def stores(self) -> list[Sequence[float]]:
        return [self.slot(index) for index in range(self.slots)]

    def retire(self, index: int) -> None:
        """Fold a departed worker's counters into slot 0 and clear its slot for reuse."""
        slot, total = self.slot(index), self.slot(0)
        for position in range(SIZE):
            if position not in GAUGES:
                total[position] += slot[position]
            slot[position] = 0.0

    def close(self) -> None:
        # A slot view still held elsewhere keeps the mapping open; the file goes regardless.
        with contextlib.suppress(BufferError):
            self._view.release()
            self._map.close()
        if self._file is not None:
            self._file.close()


def _summed(stores: Sequence[Sequence[float]]) -> list[float]:
    total = [0.0] * SIZE
    for store in stores:
        for index in range(SIZE):
            total[index] += store[index]
    return total


def prometheus_text(stores: Sequence[Sequence[float]]) -> str:
    """The Prometheus text exposition (format 0.0.4) of the sum of ``stores``."""
    values = _summed(stores)
    lines = [
        "# HELP hypercorn_responses_total Completed responses by status code and HTTP version.",
        "# TYPE hypercorn_responses_total counter",
    ]
    for version in VERSIONS:
        offset = _VERSION_OFFSET[version]
        for status in _STATUSES:
            count = values[offset + status - 100]
            if count:
                lines.append(
                    f'hypercorn_responses_total{{status="{status}",http_version="{version}"}}'
                    f" {count:.0f}"
                )
    lines += [
        "# HELP hypercorn_response_duration_seconds Time from request head to last response byte.",
        "# TYPE hypercorn_response_duration_seconds histogram",
    ]
    cumulative = 0.0
    for index, bound in enumerate(BUCKETS):
        cumulative += values[_BUCKET_COUNTS + index]
        lines.append(
            f'hypercorn_response_duration_seconds_bucket{{le="{bound}"}} {cumulative:.0f}'
        )
    cumulative += values[_BUCKET_COUNTS + len(BUCKETS)]
    lines += [
        f'hypercorn_response_duration_seconds_bucket{{le="+Inf"}} {cumulative:.0f}',
        f"hypercorn_response_duration_seconds_sum {values[_DURATION_SUM]:.6f}",
        f"hypercorn_response_duration_seconds_count {values[_DURATION_COUNT]:.0f}",
    ]
    for name, index, text in (
        ("connections", _CONNECTIONS, "Open client connections."),
        ("http2_streams", _STREAMS, "HTTP/2 streams in progress."),
        ("websockets", _WEBSOCKETS, "Open WebSockets."),
    ):
        lines += [
            f"# HELP hypercorn_{name} {text}",
            f"# TYPE hypercorn_{name} gauge",
            f"hypercorn_{name} {values[index]:.0f}",
        ]
    return "\n".join(lines) + "\n"


def metrics_app(stores: Any) -> Any:
    """An ASGI app serving ``GET /metrics`` from ``stores()`` (a callable returning stores)."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        if scope["path"] != "/metrics" or scope["method"] not in ("GET", "HEAD"):
            status, body = 404, b"Not Found: metrics are at /metrics\n"
            content_type = b"text/plain; charset=utf-8"
        else:
            status, body = 200, prometheus_text(stores()).encode("ascii")
            content_type = b"text/plain; version=0.0.4; charset=utf-8"
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [(b"content-type", content_type), (b"cache-control", b"no-store")],
            }
        )
        await send({"type": "http.response.body", "body": body})

    return app


class StatsdClient:
    """Pushes :class:`Metrics` to a statsd (or DogStatsD) server over UDP.

    Counters go as deltas since the previous flush, gauges as values, latency as ``ms``
    timers (a uniform sample of at most :data:`MAX_TIMER_SAMPLES` per flush, with its
    sample rate). Datagrams stay under 1432 bytes, the usual safe UDP payload; a send that
    fails is dropped, as statsd expects.
    """

    MAX_DATAGRAM = 1432

    def __init__(self, address: str, prefix: str, tags: Iterable[str]) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"statsd_host {address!r} is not HOST:PORT")
        host = host.strip("[]")
        info = socket.getaddrinfo(host, int(port), type=socket.SOCK_DGRAM)[0]
        self._address = info[4]
        self._socket = socket.socket(info[0], socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self._prefix = prefix.rstrip(".") + "." if prefix else ""
        joined = ",".join(tags)
        self._tags = f"|#{joined}" if joined else ""
        self._last = [0.0] * SIZE

    def close(self) -> None:
        self._socket.close()

    def lines(self, metrics: Metrics) -> list[str]:
        """The statsd lines for everything since the previous call."""
        values, last, prefix, tags = metrics.values, self._last, self._prefix, self._tags
        lines = []
        total = 0.0
        for version in VERSIONS:
            offset = _VERSION_OFFSET[version]
            for status in _STATUSES:
                index = offset + status - 100
                delta = values[index] - last[index]
                if delta:
                    total += delta
                    lines.append(f"{prefix}responses.{status}:{delta:.0f}|c{tags}")
        if total:
            lines.append(f"{prefix}requests:{total:.0f}|c{tags}")
        for name, index in (
            ("connections", _CONNECTIONS),
            ("http2_streams", _STREAMS),
            ("websockets", _WEBSOCKETS),
        ):
            lines.append(f"{prefix}{name}:{values[index]:.0f}|g{tags}")
        samples, seen = metrics.take_samples()
        rate = f"|@{len(samples) / seen:.4f}" if seen > len(samples) else ""
        lines += [f"{prefix}request.duration:{s * 1000:.3f}|ms{rate}{tags}" for s in samples]
        self._last = list(values)
        return lines

    def flush(self, metrics: Metrics) -> None:
        packet: list[str] = []
        size = 0
        for line in self.lines(metrics):
            if packet and size + len(line) + 1 > self.MAX_DATAGRAM:
                self._send("\n".join(packet))
                packet, size = [], 0
            packet.append(line)
            size += len(line) + 1
        if packet:
            self._send("\n".join(packet))

    def _send(self, text: str) -> None:
        # statsd is best effort: a full buffer or an absent server loses a flush.
        with contextlib.suppress(OSError):
            self._socket.sendto(text.encode("ascii"), self._address)
