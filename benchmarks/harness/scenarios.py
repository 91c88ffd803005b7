"""The scenarios: one small table, one entry per measurement.

A :class:`LoadScenario` is run in interleaved rounds against every server that supports it;
a :class:`MemoryScenario` once per server. Adding a scenario is an entry in ``SCENARIOS``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

# What a server must be able to do for a scenario to run against it; each is probed.
Capability = Literal["http1", "h2c", "h2-tls", "websocket"]
Tool = Literal["wrk", "h2load", "ws"]


@dataclass(frozen=True)
class LoadScenario:
    name: str
    title: str
    tool: Tool
    needs: Capability = "http1"
    method: Literal["GET", "POST"] = "GET"
    path: str = "/"
    body_bytes: int = 0  # request body (POST), or WebSocket message size
    connections: int = 64
    streams: int = 1  # concurrent streams per HTTP/2 connection (h2load -m)

    @property
    def unit(self) -> str:
        return "msgs/s" if self.tool == "ws" else "req/s"

    @property
    def tls(self) -> bool:
        return self.needs == "h2-tls"


@dataclass(frozen=True)
class MemoryScenario:
    name: str
    title: str
    kind: Literal["idle", "growth"]
    count: int  # idle connections, or requests
    quick_count: int


Scenario = LoadScenario | MemoryScenario

SCENARIOS: tuple[Scenario, ...] = (
    LoadScenario("hello", "HTTP/1.1 GET / (13 B), 64 connections", "wrk"),
    LoadScenario("64k", "HTTP/1.1 GET /64k (64 KiB), 64 connections", "wrk", path="/64k"),
    LoadScenario(
        "echo-1k",
        "HTTP/1.1 POST /echo (1 KiB), 64 connections",
        "wrk",
        method="POST",
        path="/echo",
        body_bytes=1024,
    ),
    LoadScenario("hello-c1000", "HTTP/1.1 GET /, 1,000 connections", "wrk", connections=1000),
    LoadScenario(
        "h2c",
        "HTTP/2 h2c prior knowledge GET /, 16 connections x 16 streams",
        "h2load",
        needs="h2c",
        connections=16,
        streams=16,
    ),
    LoadScenario(
        "h2-tls",
        "HTTP/2 over TLS (ALPN h2) GET /, 16 connections x 16 streams",
        "h2load",
        needs="h2-tls",
        connections=16,
        streams=16,
    ),
    LoadScenario(
        "ws-16b",
        "WebSocket echo, 16-byte messages, 16 connections",
        "ws",
        needs="websocket",
        path="/ws",
        body_bytes=16,
        connections=16,
    ),
    LoadScenario(
        "ws-64k",
        "WebSocket echo, 64 KiB messages, 16 connections",
        "ws",
        needs="websocket",
        path="/ws",
        body_bytes=65536,
        connections=16,
    ),
    MemoryScenario(
        "mem-idle",
        "RSS with idle keep-alive HTTP/1.1 connections",
        "idle",
        count=10_000,
        quick_count=1_000,
    ),
    MemoryScenario(
        "mem-growth",
        "RSS growth over many HTTP/1.1 requests (a leak check)",
        "growth",
        count=1_000_000,
        quick_count=100_000,
    ),
)


def by_name(names: list[str]) -> list[Scenario]:
    """The scenarios named, in table order; unknown names are an error listing the known."""
    known = {scenario.name: scenario for scenario in SCENARIOS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown scenario {', '.join(unknown)}; known: {', '.join(known)}")
    return [scenario for scenario in SCENARIOS if scenario.name in names]
