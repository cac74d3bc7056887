"""Files and request bodies to batches: one Bundle, or one NDJSON file, per batch.

A batch is the unit of all-or-nothing: every entry of a Bundle (transaction, batch or
collection alike) is validated before anything is written, and one bad entry rejects
the whole Bundle. Bulk NDJSON (one resource per line, one type per file, as FHIR Bulk
Data writes it) is treated the same way, file by file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from backend.interop.fhir_map import IMPORT_ORDER

BUNDLE_TYPES = frozenset({"transaction", "batch", "collection"})
"""Bundle types accepted for import; searchset, history, document and message are not."""


class ReadError(ValueError):
    """A file or body that is not a Bundle or NDJSON we accept; says where, never what."""

    def __init__(self, where: str, message: str) -> None:
        super().__init__(f"{where}: {message}")
        self.where = where
        self.message = message


@dataclass(frozen=True, slots=True)
class Entry:
    """One resource of a batch: its position (Bundle entry index or NDJSON line number
    counted from 0) and ``fullUrl``, which reports name when something is wrong."""

    index: int
    full_url: str | None
    resource: dict[str, Any]

    @property
    def resource_type(self) -> str:
        return str(self.resource.get("resourceType", ""))

    @property
    def where(self) -> str:
        return f"entry[{self.index}]" + (f" ({self.full_url})" if self.full_url else "")


@dataclass(slots=True)
class Batch:
    label: str  # file name, or "request body": what a report calls the batch
    kind: str  # transaction | batch | collection | ndjson
    entries: list[Entry] = field(default_factory=list)
    bundle_id: str | None = None
    meta_source: str | None = None  # Bundle.meta.source, a candidate source system


def bundle_from_json(data: Any, *, label: str) -> Batch:
    """A parsed Bundle as a batch; ReadError for anything else."""
    if not isinstance(data, dict) or data.get("resourceType") != "Bundle":
        raise ReadError(label, "expected a FHIR Bundle (resourceType 'Bundle')")
    kind = data.get("type")
    if kind not in BUNDLE_TYPES:
        raise ReadError(
            label, f"Bundle.type must be one of {', '.join(sorted(BUNDLE_TYPES))}, not {kind!r}"
        )
    raw_entries = data.get("entry") or []
    if not isinstance(raw_entries, list):
        raise ReadError(label, "Bundle.entry must be a list")
    entries: list[Entry] = []
    for index, raw in enumerate(raw_entries):
        if not isinstance(raw, dict) or not isinstance(raw.get("resource"), dict):
            raise ReadError(f"{label} entry[{index}]", "entry has no resource")
        full_url = raw.get("fullUrl")
        entries.append(
            Entry(index, full_url if isinstance(full_url, str) else None, raw["resource"])
        )
    meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
    source = meta.get("source") if isinstance(meta, dict) else None
    bundle_id = data.get("id")
    return Batch(
        label=label,
        kind=str(kind),
        entries=entries,
        bundle_id=bundle_id if isinstance(bundle_id, str) else None,
        meta_source=source if isinstance(source, str) else None,
    )


def bundle_from_bytes(body: bytes, *, label: str) -> Batch:
    try:
        data = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise ReadError(label, f"not valid JSON (at character {exc.pos})") from None
    return bundle_from_json(data, label=label)


def ndjson_from_bytes(body: bytes, *, label: str) -> Batch:
    """Bulk NDJSON: one resource per line, all of one type (FHIR Bulk Data)."""
    entries: list[Entry] = []
    first_type: str | None = None
    for number, line in enumerate(body.splitlines()):
        if not line.strip():
            continue
        try:
            resource = orjson.loads(line)
        except orjson.JSONDecodeError:
            raise ReadError(f"{label} line {number + 1}", "not valid JSON") from None
        if not isinstance(resource, dict) or not isinstance(resource.get("resourceType"), str):
            raise ReadError(f"{label} line {number + 1}", "not a FHIR resource")
        first_type = first_type or resource["resourceType"]
        if resource["resourceType"] != first_type:
            raise ReadError(
                f"{label} line {number + 1}",
                f"NDJSON files hold one resource type; found {resource['resourceType']} "
                f"after {first_type}",
            )
        entries.append(Entry(number, None, resource))
    return Batch(label=label, kind="ndjson", entries=entries)


def _bulk_order(path: Path) -> tuple[int, str]:
    """Bulk NDJSON files (``Patient.ndjson``, ``Condition.2.ndjson``) in dependency order,
    so a Condition file finds the patients a Patient file brings; Bundles by name."""
    if path.suffix != ".ndjson":
        return (-1, path.name)
    kind = path.name.split(".")[0]
    rank = IMPORT_ORDER.index(kind) if kind in IMPORT_ORDER else len(IMPORT_ORDER)
    return (rank, path.name)


def files_under(paths: list[Path]) -> list[Path]:
    """The .json and .ndjson files named or inside the folders named: a folder's Bundles
    by name, then its NDJSON files in dependency order."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found.extend(
                sorted(
                    (
                        p
                        for p in path.rglob("*")
                        if p.suffix in (".json", ".ndjson") and p.is_file()
                    ),
                    key=lambda p: (str(p.parent), *_bulk_order(p)),
                )
            )
        elif path.is_file():
            found.append(path)
        else:
            raise ReadError(str(path), "no such file or folder")
    return found


def read_file(path: Path) -> Batch:
    body = path.read_bytes()
    if path.suffix == ".ndjson":
        return ndjson_from_bytes(body, label=path.name)
    return bundle_from_bytes(body, label=path.name)


def read_paths(paths: list[Path]) -> Iterator[Batch]:
    for path in files_under(paths):
        yield read_file(path)
