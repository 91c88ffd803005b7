"""The configurations under test: which app, which server, which worker, which environment.

Each runs as one server process (Gunicorn: one master and one worker) pinned to the server
core, serving ``quart_app:app`` or ``flask_app:app`` from ``benchmarks/crud/apps``, access
log off, keep-alive 600 s where the server keeps connections alive, listen backlog 2048.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from harness.envs import REPO, fill_venv, installed_versions

KEEP_ALIVE_SECONDS = 600
BACKLOG = 2048


@dataclass(frozen=True)
class Venv:
    """A virtual environment filled by one or more ``pip install`` steps, in order.

    ``{repo}`` in a step stands for the checkout of this project. Two steps are needed where
    Quart meets this project: Quart requires ``hypercorn>=0.11.2`` and checkouts older
    than 0.19.0.dev0 were 0.1.0.dev0, so one resolver run cannot hold both; Quart (with
    PyPI's Hypercorn) goes in first, then this project, editable, replaces that Hypercorn
    (pip warns of the conflict).
    """

    name: str
    steps: tuple[tuple[str, ...], ...]
    report: tuple[str, ...]  # distributions whose versions the report names

    def path(self, cache: Path) -> Path:
        return cache / "venvs" / self.name

    def bin(self, cache: Path) -> Path:
        return self.path(cache) / "bin"

    def _uses_repo(self) -> bool:
        return any("{repo}" in arg for step in self.steps for arg in step)

    def _fingerprint(self, source: Path) -> dict[str, object]:
        found: dict[str, object] = {"steps": [list(step) for step in self.steps]}
        if self._uses_repo():
            found["source"] = str(source)
            pyproject = (source / "pyproject.toml").read_bytes()
            found["pyproject"] = hashlib.sha256(pyproject).hexdigest()
        return found

    def ensure(self, cache: Path, *, log: Path, reinstall: bool, source: Path = REPO) -> None:
        steps = [[arg.format(repo=source) for arg in step] for step in self.steps]
        fill_venv(
            self.name,
            self.path(cache),
            steps,
            self._fingerprint(source),
            log=log,
            reinstall=reinstall,
        )

    def versions(self, cache: Path) -> dict[str, str]:
        return installed_versions(self.bin(cache) / "python")


QUART_THIS = Venv(
    "crud-quart-this",
    (("quart", "asyncpg"), ("-e", "{repo}[standard]")),
    report=("hypercorn", "quart", "asyncpg", "uvloop", "httptools"),
)
QUART_UVICORN = Venv(
    "crud-quart-uvicorn",
    (("uvicorn[standard]", "quart", "asyncpg"),),
    report=("uvicorn", "quart", "asyncpg", "uvloop", "httptools"),
)
# sync, gthread and gevent workers: the newest Gunicorn.
FLASK = Venv(
    "crud-flask",
    # Gunicorn's gevent worker imports packaging without requiring it.
    (("flask", "psycopg[binary]", "gunicorn", "gevent", "packaging"),),
    report=("gunicorn", "flask", "psycopg", "psycopg-binary", "gevent"),
)
# Gunicorn 26 dropped the eventlet worker (deprecated since 23); 25.x is the last with it.
FLASK_EVENTLET = Venv(
    "crud-flask-eventlet",
    (("flask", "psycopg[binary]", "gunicorn<26", "eventlet"),),
    report=("gunicorn", "flask", "psycopg", "psycopg-binary", "eventlet"),
)
VENVS = (QUART_THIS, QUART_UVICORN, FLASK, FLASK_EVENTLET)


@dataclass(frozen=True)
class Launch:
    bin: Path
    port: int
    connections: int  # the load's concurrency


Kind = Literal["this", "asgi", "sync", "green"]


@dataclass(frozen=True)
class Config:
    name: str  # on the command line and in the JSON
    label: str  # in tables and the chart
    venv: Venv
    kind: Kind  # this server; another ASGI server; sync Flask; green-thread Flask
    command: Callable[[Launch], list[str]]
    pool_size: Callable[[int], int]  # from the concurrency
    pool_note: str


def _hypercorn_this(launch: Launch) -> list[str]:
    return [
        str(launch.bin / "hypercorn"), "quart_app:app",
        "--bind", f"127.0.0.1:{launch.port}", "--worker-class", "uvloop", "--http", "httptools",
        "--keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", str(BACKLOG),
        "--log-level", "warning",
    ]  # fmt: skip


def _uvicorn(launch: Launch) -> list[str]:
    return [
        str(launch.bin / "uvicorn"), "quart_app:app",
        "--host", "127.0.0.1", "--port", str(launch.port),
        "--loop", "uvloop", "--http", "httptools", "--no-access-log", "--log-level", "warning",
        "--timeout-keep-alive", str(KEEP_ALIVE_SECONDS), "--backlog", str(BACKLOG),
    ]  # fmt: skip


def _gunicorn(
    worker: str, extra: Callable[[Launch], list[str]] = lambda _: []
) -> Callable[[Launch], list[str]]:
    def command(launch: Launch) -> list[str]:
        return [
            str(launch.bin / "gunicorn"), "--worker-class", worker, "--workers", "1",
            *extra(launch),
            "--bind", f"127.0.0.1:{launch.port}", "--backlog", str(BACKLOG),
            "--keep-alive", str(KEEP_ALIVE_SECONDS), "--log-level", "warning",
            "flask_app:app",
        ]  # fmt: skip

    return command


def _concurrency(connections: int) -> int:
    return connections


# Conventional gthread sizing (Gunicorn's docs suggest 2-4 threads per core); the other
# gthread configuration gives every client its own thread, as the green workers give it a
# greenlet and the async apps a coroutine.
GTHREAD_FEW = 8

# The order here is the order of every round, and of the tables.
CONFIGS: tuple[Config, ...] = (
    Config(
        "this",
        "Quart + asyncpg on this server (uvloop, httptools)",
        QUART_THIS,
        "this",
        _hypercorn_this,
        _concurrency,
        "asyncpg pool, min = max = clients",
    ),
    Config(
        "uvicorn",
        "Quart + asyncpg on Uvicorn (uvloop, httptools)",
        QUART_UVICORN,
        "asgi",
        _uvicorn,
        _concurrency,
        "asyncpg pool, min = max = clients",
    ),
    Config(
        "sync",
        "Flask + psycopg on Gunicorn sync",
        FLASK,
        "sync",
        _gunicorn("sync"),
        lambda _: 1,
        "1 connection (one request at a time)",
    ),
    Config(
        "gthread",
        f"Flask + psycopg on Gunicorn gthread, {GTHREAD_FEW} threads",
        FLASK,
        "sync",
        _gunicorn("gthread", lambda _: ["--threads", str(GTHREAD_FEW)]),
        lambda _: GTHREAD_FEW,
        "one connection per thread",
    ),
    Config(
        "gthread-max",
        "Flask + psycopg on Gunicorn gthread, a thread per client",
        FLASK,
        "sync",
        _gunicorn("gthread", lambda launch: ["--threads", str(launch.connections)]),
        _concurrency,
        "one connection per thread",
    ),
    Config(
        "gevent",
        "Flask + psycopg on Gunicorn gevent",
        FLASK,
        "green",
        _gunicorn("gevent", lambda _: ["--worker-connections", "1000"]),
        _concurrency,
        "at most one connection per client",
    ),
    Config(
        "eventlet",
        "Flask + psycopg on Gunicorn eventlet",
        FLASK_EVENTLET,
        "green",
        _gunicorn("eventlet", lambda _: ["--worker-connections", "1000"]),
        _concurrency,
        "at most one connection per client",
    ),
)

BASELINE = "this"


def app_of(config: Config) -> str:
    return "quart" if config.kind in ("this", "asgi") else "flask"


def by_name(names: list[str]) -> list[Config]:
    known = {config.name: config for config in CONFIGS}
    unknown = [name for name in names if name not in known]
    if unknown:
        raise ValueError(f"unknown configuration {', '.join(unknown)}; known: {', '.join(known)}")
    return [config for config in CONFIGS if config.name in names]
