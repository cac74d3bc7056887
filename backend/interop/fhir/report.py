"""What an import did: per-type counts, problems with their place, patients touched."""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field

OUTCOMES = ("created", "updated", "unchanged", "raw", "failed")


@dataclass(slots=True)
class TypeCounts:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    raw: int = 0
    failed: int = 0

    def add(self, outcome: str) -> None:
        setattr(self, outcome, getattr(self, outcome) + 1)


@dataclass(frozen=True, slots=True)
class Problem:
    """Where a batch failed: entry index, fullUrl, field path. Never a value."""

    batch: str
    index: int | None
    full_url: str | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"entry[{self.index}]" if self.index is not None else "batch"
        if self.full_url:
            where += f" ({self.full_url})"
        return f"{self.batch} {where} {self.path}: {self.message}"


@dataclass(frozen=True, slots=True)
class EntryResult:
    index: int
    resource_type: str
    source_id: str
    outcome: str  # one of OUTCOMES


@dataclass(slots=True)
class BatchReport:
    label: str
    kind: str
    source_system: str | None = None
    counts: dict[str, TypeCounts] = field(default_factory=lambda: defaultdict(TypeCounts))
    problems: list[Problem] = field(default_factory=list)
    entries: list[EntryResult] = field(default_factory=list)
    patients_upserted: list[uuid.UUID] = field(default_factory=list)
    history_rows: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(slots=True)
class ImportReport:
    batches: list[BatchReport] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(b.ok for b in self.batches)

    @property
    def patients_upserted(self) -> list[uuid.UUID]:
        """Patients created or changed, for the patient matcher (see on_patient_upserted)."""
        seen: dict[uuid.UUID, None] = {}
        for batch in self.batches:
            seen.update(dict.fromkeys(batch.patients_upserted))
        return list(seen)

    def totals(self) -> dict[str, TypeCounts]:
        found: dict[str, TypeCounts] = defaultdict(TypeCounts)
        for batch in self.batches:
            for resource_type, counts in batch.counts.items():
                total = found[resource_type]
                for outcome in OUTCOMES:
                    setattr(total, outcome, getattr(total, outcome) + getattr(counts, outcome))
        return dict(sorted(found.items()))
