"""Which tables hold a patient's records, found from the metadata rather than listed.

A merge must move every patient-owned row; a list in code would silently miss the next
table someone adds. So ownership is read from ``Base.metadata``: every table with a
``patient_id`` column that is a foreign key to ``patient.id`` belongs to its patient,
except the few named in :data:`NOT_MOVED` with the reason why.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from sqlalchemy import Index, MetaData, Table, UniqueConstraint

from backend.db import Base

NOT_MOVED: Mapping[str, str] = {
    # An emergency grant names the record it was given for; moving it to the survivor
    # would open a record the grant never covered.
    "break_glass_grant": "an access grant for one record, not part of the patient's story",
    # The matcher's index is derived from the patient's rows: the matcher drops the merged
    # record's keys and rebuilds the survivor's after a merge.
    "patient_match_key": "blocking keys derived from the record, rebuilt after a merge",
    "patient_match_state": "a fingerprint of the record's own matching data",
}


@dataclass(frozen=True, slots=True)
class OwnedTable:
    """A patient-owned table and the unique keys a move could collide on."""

    table: Table
    # Column names of each unique constraint or index that includes patient_id, minus
    # patient_id itself: two rows with equal values there cannot share one patient.
    unique_keys: tuple[tuple[str, ...], ...]

    @property
    def name(self) -> str:
        return self.table.name


def _patient_fk(table: Table) -> bool:
    column = table.c.get("patient_id")
    if column is None:
        return False
    return any(fk.column.table.name == "patient" for fk in column.foreign_keys)


def _unique_keys(table: Table) -> tuple[tuple[str, ...], ...]:
    keys: set[tuple[str, ...]] = set()
    for constraint in table.constraints:
        if isinstance(constraint, UniqueConstraint):
            names = [c.name for c in constraint.columns]
            if "patient_id" in names:
                keys.add(tuple(sorted(n for n in names if n != "patient_id")))
    for index in table.indexes:
        if isinstance(index, Index) and index.unique:
            # A partial unique index is treated as a full one: at worst a row that could
            # have moved stays with the merged record (kept), never a crash.
            names = [c.name for c in index.columns]
            if "patient_id" in names:
                keys.add(tuple(sorted(n for n in names if n != "patient_id")))
    for column in table.columns:
        if column.name == "patient_id" and column.unique:
            keys.add(())
    return tuple(sorted(keys))


def owned_tables(metadata: MetaData | None = None) -> tuple[OwnedTable, ...]:
    """Every patient-owned table, parents before children (the metadata's sort order)."""
    meta = metadata if metadata is not None else Base.metadata
    return _owned_tables(meta, len(meta.tables))


def record_type_names(metadata: MetaData | None = None) -> Mapping[str, str]:
    """Table name -> model class name (the policy's record types), for the audit trail."""
    meta = metadata if metadata is not None else Base.metadata
    return _record_type_names(meta, len(meta.tables))


# Worked out once per metadata and number of tables (a table added later is a new key):
# sorting the metadata's tables and walking the mappers again cost about half a
# millisecond per merge.
@functools.lru_cache(maxsize=8)
def _owned_tables(meta: MetaData, _tables: int) -> tuple[OwnedTable, ...]:
    return tuple(
        OwnedTable(table, _unique_keys(table))
        for table in meta.sorted_tables
        if _patient_fk(table) and table.name not in NOT_MOVED
    )


@functools.lru_cache(maxsize=8)
def _record_type_names(meta: MetaData, _tables: int) -> Mapping[str, str]:
    names = {}
    for mapper in Base.registry.mappers:
        table = mapper.local_table
        if isinstance(table, Table) and table.name in meta.tables:
            names[table.name] = mapper.class_.__name__
    return MappingProxyType(names)
