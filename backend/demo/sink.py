"""Collects demo rows per table and writes them in bulk, in foreign-key order."""

from __future__ import annotations

import functools
import random
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

from backend.bulk import prepare, write_prepared
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
