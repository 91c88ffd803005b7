"""What both CRUD apps share: the table, the SQL, and the validation of a request body.

The same four statements serve the Quart and the Flask app, one statement per request. The
"slow database" regime runs the same statements joined to ``pg_sleep(delay)``, so PostgreSQL
itself spends ``delay`` seconds on every query (a remote or busy database, seen from the web
server): the web server only waits, it does no more work.
"""

from __future__ import annotations

import re
from dataclasses import astuple, dataclass
from typing import Any

COLUMNS = "id, name, description, price_cents, quantity"
# The writable fields of an item, in the order the statements take them.
FIELDS: tuple[tuple[str, type], ...] = (
    ("name", str),
    ("description", str),
    ("price_cents", int),
    ("quantity", int),
)  # the types are checked in fields()


@dataclass(frozen=True)
class Queries:
    """The four statements, with asyncpg's ``$n`` placeholders."""

    get: str  # $1 = id
    create: str  # $1..$4 = the fields
    update: str  # $1..$4 = the fields, $5 = id
    delete: str  # $1 = id

    def for_psycopg(self) -> Queries:
        """The same statements with psycopg's positional ``%s`` placeholders."""
        for text in astuple(self):
            numbers = [int(n) for n in re.findall(r"\$(\d+)", text)]
            if numbers != list(range(1, len(numbers) + 1)):
                raise ValueError(f"placeholders out of order, %s would mix them up: {text}")
        return Queries(*(re.sub(r"\$\d+", "%s", text) for text in astuple(self)))


def queries(delay: float) -> Queries:
    """The statements; with ``delay`` > 0 PostgreSQL sleeps that long inside each one."""
    if delay <= 0:
        return Queries(
            get=f"SELECT {COLUMNS} FROM items WHERE id = $1",
            create=(
                "INSERT INTO items (name, description, price_cents, quantity)"
                f" VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
            ),
            update=(
                "UPDATE items SET name = $1, description = $2, price_cents = $3, quantity = $4"
                f" WHERE id = $5 RETURNING {COLUMNS}"
            ),
            delete="DELETE FROM items WHERE id = $1 RETURNING id",
        )
    sleep = f"pg_sleep({delay:g})"
    returning = ", ".join(f"items.{column}" for column in COLUMNS.split(", "))
    return Queries(
        get=f"SELECT {returning} FROM items, {sleep} AS delay WHERE items.id = $1",
        create=(
            "INSERT INTO items (name, description, price_cents, quantity)"
            f" SELECT $1::text, $2::text, $3::integer, $4::integer FROM {sleep} AS delay"
            f" RETURNING {COLUMNS}"
        ),
        update=(
            "UPDATE items SET name = $1::text, description = $2::text,"
            f" price_cents = $3::integer, quantity = $4::integer FROM {sleep} AS delay"
            f" WHERE items.id = $5 RETURNING {returning}"
        ),
        delete=f"DELETE FROM items USING {sleep} AS delay WHERE items.id = $1 RETURNING items.id",
    )


def fields(body: Any) -> tuple[str, str, int, int] | None:
    """The item fields of a JSON body in statement order, or None if it is not an item."""
    if not isinstance(body, dict):
        return None
    name, description, price_cents, quantity = (body.get(field) for field, _ in FIELDS)
    if not (isinstance(name, str) and isinstance(description, str)):
        return None
    # bool is an int subclass; a quantity of true is not a quantity.
    if not (type(price_cents) is int and type(quantity) is int):
        return None
    return name, description, price_cents, quantity
