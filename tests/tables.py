"""The Core table behind a mapped model, typed as a Table.

SQLAlchemy types ``Model.__table__`` as the broad ``FromClause``; every model here is mapped to a
plain ``Table``, and tests that write behind the ORM's back (stale versions, raw deletes) need its
``update()``/``delete()``. The isinstance check narrows the type and would catch a model mapped
to anything else.
"""

from __future__ import annotations

from sqlalchemy import Table

from backend.db import Base


def table_of(model: type[Base]) -> Table:
    table = model.__table__
    assert isinstance(table, Table), f"{model.__name__} is not mapped to a plain Table"
    return table
