"""Bulk row writes below the ORM, for loads where per-row statement machinery dominates.

Used by the demo seeder (millions of rows), the matcher's blocking keys (hundreds per
scan batch) and HL7 registrations of new patients (a batch of mapped objects). Values
still go through each column type's bind processor, so what lands is exactly what the
ORM would write.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Table, inspect
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import ColumnProperty, Mapper, Session
from sqlalchemy.sql import insert


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


_COLUMNS: dict[type, tuple[Table, tuple[tuple[str, str], ...]]] = {}


def _columns(model: type) -> tuple[Table, tuple[tuple[str, str], ...]]:
    """The table of a mapped class and its (attribute, column) key pairs, worked out
    once per class."""
    if model in _COLUMNS:
        return _COLUMNS[model]
    mapper: Mapper[Any] = inspect(model)
    table = mapper.local_table
    assert isinstance(table, Table)
    pairs = tuple(
        (prop.key, prop.columns[0].key)
        for prop in mapper.column_attrs
        if isinstance(prop, ColumnProperty) and prop.columns[0].table is table
    )
    _COLUMNS[model] = table, pairs
    return table, pairs


def insert_objects(session: Session, objects: Sequence[object]) -> None:
    """INSERT mapped objects that are in no session, one executemany per table and set
    of attributes set (parents first, in the order given); what was not set takes its
    column default, as the ORM's INSERT would."""
    groups: dict[tuple[Table, tuple[str, ...]], list[dict[str, Any]]] = {}
    for obj in objects:
        table, pairs = _columns(type(obj))
        state = obj.__dict__
        values = {column: state[attr] for attr, column in pairs if attr in state}
        groups.setdefault((table, tuple(values)), []).append(values)
    for (table, _), values_list in groups.items():
        session.execute(insert(table), values_list)
