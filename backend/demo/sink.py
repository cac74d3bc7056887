"""Collects demo rows per table and writes them in bulk, in foreign-key order."""

from __future__ import annotations

import functools
import operator
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from backend.db import Base
from backend.demo.context import new_id


@dataclass(frozen=True)
class _TableInfo:
    keys: frozenset[str]
    has_source_id: bool
    has_recorded_at: bool
    has_updated_at: bool


@functools.cache
def _info(table: Table) -> _TableInfo:
    keys = frozenset(table.c.keys())
    return _TableInfo(keys, "source_id" in keys, "recorded_at" in keys, "updated_at" in keys)


class RowSink:
    """``sink.add(Model, **values)`` queues one row and returns its id.

    Rows skip the ORM on purpose: 100,000 patients with ~50 records each must load in
    minutes, which only executemany of plain tuples does. Column defaults that would be
    random or time-dependent (ids, source ids, timestamps) are filled deterministically
    here so the same seed gives the same database.
    """

    def __init__(self, rng: random.Random, *, recorded_at: Any) -> None:
        self._rng = rng
        self._recorded_at = recorded_at
        self.rows: dict[Table, list[dict[str, Any]]] = defaultdict(list)

    def add(self, model: type[Base], **values: Any) -> uuid.UUID:
        table: Table = model.__table__  # type: ignore[assignment]
        info = _info(table)
        row_id = values.get("id")
        if row_id is None:
            row_id = values["id"] = new_id(self._rng)
        if info.has_source_id and "source_id" not in values:
            values["source_id"] = row_id.hex
        if info.has_recorded_at and "recorded_at" not in values:
            values["recorded_at"] = values.get("effective_at") or self._recorded_at
        if info.has_updated_at and "updated_at" not in values:
            values["updated_at"] = values.get("recorded_at", self._recorded_at)
        if not info.keys.issuperset(values):
            unknown = sorted(set(values) - info.keys)
            raise KeyError(f"{table.name} has no column(s) {unknown}")
        self.rows[table].append(values)
        return row_id

    def count(self) -> int:
        return sum(len(rows) for rows in self.rows.values())

    def flush(self, connection: Connection) -> int:
        """Insert everything queued, parents before children; return the row count."""
        written = 0
        for table, data in self.prepared(connection.dialect):
            write_prepared(connection, table, data)
            written += len(data)
        return written

    def prepared(self, dialect: Dialect) -> list[tuple[Table, list[tuple[Any, ...]]]]:
        """Empty the sink into driver-ready tuples per table, parents before children."""
        out = []
        for table in Base.metadata.sorted_tables:
            rows = self.rows.pop(table, None)
            if rows:
                out.append((table, prepare(dialect, table, _complete(table, rows))))
        return out


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


def _none() -> None:
    return None


def _constant(value: Any) -> Any:
    return value


def _complete(table: Table, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Give every row the same keys (executemany needs that), filling column defaults."""
    fillers: dict[str, Callable[[], Any]] = {}
    for column in table.c:
        default: Any = column.default
        if default is None:
            fillers[column.key] = _none
        elif default.is_callable:
            # SQLAlchemy wraps zero-argument callables to take the execution context.
            fillers[column.key] = functools.partial(default.arg, None)
        elif default.is_scalar:
            fillers[column.key] = functools.partial(_constant, default.arg)
    for key, fill in fillers.items():
        for row in rows:
            if key not in row:
                row[key] = fill()
    return rows
