"""The CRUD app on Quart + asyncpg, served by this project's server and by Uvicorn.

Configured by the environment (the harness sets it): ``CRUD_DSN`` (PostgreSQL), ``CRUD_POOL_SIZE``
(asyncpg pool size, min = max, opened at startup) and ``CRUD_DB_DELAY`` (seconds PostgreSQL
sleeps inside each query; 0 for the fast-database regime).
"""

from __future__ import annotations

import importlib.util
import os
import sys
import types
from typing import Any

import sql


def _provide_hypercorn_typing() -> None:
    """Let Quart import when ``hypercorn`` is this project, which has no ``hypercorn.typing``.

    Quart imports ~20 type names (ASGI TypedDicts) from ``hypercorn.typing`` at import time,
    only to annotate with them. Hypercorn 0.18 from PyPI has the module; this project does not
    (yet), so without this stand-in ``import quart`` fails before a request is served. Each
    name resolves to ``typing.Any``; nothing here touches how requests are served.
    """
    if importlib.util.find_spec("hypercorn") is None:
        return
    try:
        import hypercorn.typing  # noqa: F401
    except ImportError:
        stand_in = types.ModuleType("hypercorn.typing")
        stand_in.__getattr__ = lambda name: Any  # type: ignore[method-assign]
        sys.modules["hypercorn.typing"] = stand_in


_provide_hypercorn_typing()

import asyncpg  # noqa: E402
from quart import Quart, Response, request  # noqa: E402

QUERIES = sql.queries(float(os.environ.get("CRUD_DB_DELAY", "0")))
POOL_SIZE = int(os.environ.get("CRUD_POOL_SIZE", "64"))
# "default": asyncpg's own reset on release (one more round trip per request: advisory
# unlock, CLOSE ALL, UNLISTEN, RESET ALL). "light" (the benchmark's choice): roll back only
# when a connection comes back inside a transaction, as psycopg's pools do; the app never
# takes advisory locks, opens cursors, listens or SETs anything.
POOL_RESET = os.environ.get("CRUD_ASYNCPG_RESET", "light")

app = Quart(__name__)
_pools: list[asyncpg.Pool] = []


async def _light_reset(connection: asyncpg.Connection) -> None:
    if connection.is_in_transaction():
        await connection.execute("ROLLBACK")


@app.before_serving
async def open_pool() -> None:
    options: dict[str, Any] = {}
    if POOL_RESET == "light":
        options["reset"] = _light_reset
    _pools.append(
        await asyncpg.create_pool(
            os.environ["CRUD_DSN"], min_size=POOL_SIZE, max_size=POOL_SIZE, **options
        )
    )


@app.after_serving
async def close_pool() -> None:
    while _pools:
        await _pools.pop().close()


def _not_found() -> tuple[dict[str, str], int]:
    return {"error": "not found"}, 404


def _bad_request() -> tuple[dict[str, str], int]:
    return {"error": "expected an item: name, description, price_cents, quantity"}, 400


@app.get("/items/<int:item_id>")
async def get_item(item_id: int) -> Any:
    row = await _pools[0].fetchrow(QUERIES.get, item_id)
    return _not_found() if row is None else dict(row)


@app.post("/items")
async def create_item() -> Any:
    values = sql.fields(await request.get_json(silent=True))
    if values is None:
        return _bad_request()
    row = await _pools[0].fetchrow(QUERIES.create, *values)
    if row is None:  # INSERT ... RETURNING always returns the row
        return {"error": "the insert returned nothing"}, 500
    return dict(row), 201


@app.put("/items/<int:item_id>")
async def update_item(item_id: int) -> Any:
    values = sql.fields(await request.get_json(silent=True))
    if values is None:
        return _bad_request()
    row = await _pools[0].fetchrow(QUERIES.update, *values, item_id)
    return _not_found() if row is None else dict(row)


@app.delete("/items/<int:item_id>")
async def delete_item(item_id: int) -> Any:
    row = await _pools[0].fetchrow(QUERIES.delete, item_id)
    return _not_found() if row is None else Response(status=204)
