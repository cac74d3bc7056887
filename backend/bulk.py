"""Bulk row writes below the ORM, for loads where per-row statement machinery dominates.

Used by the demo seeder (millions of rows) and the matcher's blocking keys (hundreds per
scan batch). Values still go through each column type's bind processor, so what lands
is exactly what the ORM would write.
"""

from __future__ import annotations

import operator
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect


def bulk_insert(connection: Connection, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert ``rows`` (dicts holding every column) as fast as the driver allows."""
    write_prepared(connection, table, prepare(connection.dialect, table, rows))


def prepare(dialect: Dialect, table: Table, rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
    """Turn complete row dicts into driver-ready tuples in column order.

    Values go through each column type's own bind processor, so what lands is exactly
    what the ORM would write; only the per-row statement machinery is skipped. The dicts
    are converted in place. Pure CPU work: the seeder runs it in a worker process.
    """
    columns = list(table.c)
    for column in columns:
        process = column.type._cached_bind_processor(dialect)
        if process is not None:
            key = column.key
            for row in rows:
                value = row[key]
                if value is not None:
                    row[key] = process(value)
    return list(map(operator.itemgetter(*(column.key for column in columns)), rows))


def write_prepared(connection: Connection, table: Table, data: list[tuple[Any, ...]]) -> None:
    """Write tuples from :func:`prepare`: COPY on PostgreSQL, executemany on SQLite."""
    dialect = connection.dialect
    columns = list(table.c)
    names = ", ".join(dialect.identifier_preparer.quote(column.name) for column in columns)
    quoted_table = dialect.identifier_preparer.format_table(table)
    if dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        assert driver is not None  # a live connection inside a transaction
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy,
        ):
            for record in data:
                copy.write_row(record)
    else:
        marks = ", ".join("?" for _ in columns)
        # Identifiers come from our own metadata, quoted by the dialect; values are bound.
        insert = f"INSERT INTO {quoted_table} ({names}) VALUES ({marks})"  # noqa: S608
        connection.exec_driver_sql(insert, data)
