"""The CRUD app on Flask + psycopg 3, served by Gunicorn's sync, gthread, gevent and eventlet
workers.

Configured by the environment like the Quart app: ``CRUD_DSN``, ``CRUD_POOL_SIZE`` (at most
this many connections per worker process, opened on first need) and ``CRUD_DB_DELAY``.

Under gevent and eventlet the waits must yield to the other green threads, or one query
blocks the whole worker. psycopg 3 detects gevent's monkey-patching itself and then waits
with the (patched) ``select.poll``. It does not detect eventlet, whose patching removes
``poll`` and ``epoll`` from ``select``: there this module switches psycopg to its
``wait_select`` function, which calls ``select.select`` when it waits, and that is
eventlet's green ``select`` once patched. Connecting uses ``selectors.DefaultSelector``, which
eventlet's patching also makes green (psycopg is imported after the worker patched).
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import psycopg.waiting
import sql
from flask import Flask, Response, request
from psycopg.rows import DictRow, dict_row

QUERIES = sql.queries(float(os.environ.get("CRUD_DB_DELAY", "0"))).for_psycopg()
POOL_SIZE = int(os.environ.get("CRUD_POOL_SIZE", "1"))


def _green_waits() -> str:
    """Make psycopg's waits cooperative under eventlet; says which wait function is used."""
    patcher = sys.modules.get("eventlet.patcher")
    if patcher is not None and patcher.is_monkey_patched("select"):
        psycopg.waiting.wait = psycopg.waiting.wait_select
    return str(getattr(psycopg.waiting.wait, "__name__", psycopg.waiting.wait))


WAIT_FUNCTION = _green_waits()
# The harness reads this line from the server log into the report.
print(f"flask_app: psycopg waits with {WAIT_FUNCTION}", file=sys.stderr, flush=True)


class Pool:
    """At most ``size`` autocommit connections, handed to waiters first come, first served.

    ``queue.Queue`` wakes its waiters in order, and gevent and eventlet patch it (and the
    lock) into green versions, so one class serves threads and green threads alike.
    """

    def __init__(self, dsn: str, size: int) -> None:
        self._dsn = dsn
        self._size = size
        self._opened = 0
        self._lock = threading.Lock()
        self._idle: queue.Queue[psycopg.Connection[DictRow]] = queue.Queue()

    @contextlib.contextmanager
    def connection(self) -> Iterator[psycopg.Connection[DictRow]]:
        connection = self._take()
        try:
            yield connection
        except BaseException:
            if not (connection.closed or connection.broken):
                self._idle.put(connection)  # autocommit: a failed statement leaves it idle
            else:
                with self._lock:
                    self._opened -= 1  # reopened by the next caller that finds none idle
            raise
        self._idle.put(connection)

    def _take(self) -> psycopg.Connection[DictRow]:
        with contextlib.suppress(queue.Empty):
            return self._idle.get_nowait()
        with self._lock:
            may_open = self._opened < self._size
            if may_open:
                self._opened += 1
        if not may_open:
            return self._idle.get()
        try:
            return psycopg.connect(self._dsn, autocommit=True, row_factory=dict_row)
        except BaseException:
            with self._lock:
                self._opened -= 1
            raise


pool = Pool(os.environ["CRUD_DSN"], POOL_SIZE)
app = Flask(__name__)


def _fetch(statement: str, *params: Any) -> DictRow | None:
    with pool.connection() as connection:
        return connection.execute(statement, params).fetchone()


def _not_found() -> tuple[dict[str, str], int]:
    return {"error": "not found"}, 404


def _bad_request() -> tuple[dict[str, str], int]:
    return {"error": "expected an item: name, description, price_cents, quantity"}, 400


@app.get("/items/<int:item_id>")
def get_item(item_id: int) -> Any:
    row = _fetch(QUERIES.get, item_id)
    return _not_found() if row is None else row


@app.post("/items")
def create_item() -> Any:
    values = sql.fields(request.get_json(silent=True))
    if values is None:
        return _bad_request()
    return _fetch(QUERIES.create, *values), 201


@app.put("/items/<int:item_id>")
def update_item(item_id: int) -> Any:
    values = sql.fields(request.get_json(silent=True))
    if values is None:
        return _bad_request()
    row = _fetch(QUERIES.update, *values, item_id)
    return _not_found() if row is None else row


@app.delete("/items/<int:item_id>")
def delete_item(item_id: int) -> Any:
    row = _fetch(QUERIES.delete, item_id)
    return _not_found() if row is None else Response(status=204)
