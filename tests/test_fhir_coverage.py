"""Every resource type the Synthea sample bundles carry has a home in the model."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backend.interop.fhir_map import FHIR_MODELS, KEPT_RAW, model_for
from backend.interop.models import RawResource
from backend.models import metadata

FIXTURES = Path("/work/shared/fixtures/fhir/synthea")
BUNDLES = sorted(FIXTURES.glob("*.json"))

pytestmark = pytest.mark.skipif(not BUNDLES, reason=f"no Synthea bundles in {FIXTURES}")


def _resources(resource: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The resource and the resources contained in it (an EOB contains its Coverage)."""
    yield resource
    for inner in resource.get("contained", []):
        yield from _resources(inner)


def _types_in(path: Path) -> set[str]:
    bundle = json.loads(path.read_text(encoding="utf-8"))
    assert bundle["resourceType"] == "Bundle"
    return {r["resourceType"] for entry in bundle["entry"] for r in _resources(entry["resource"])}


@pytest.mark.parametrize("path", BUNDLES, ids=lambda p: p.stem.split("_")[0])
def test_every_resource_type_in_the_bundle_is_mapped(path: Path) -> None:
    types = _types_in(path)
    assert types, "an empty bundle proves nothing"
    unmapped = sorted(t for t in types if t not in FHIR_MODELS and t not in KEPT_RAW)
    assert unmapped == [], f"add these to backend/interop/fhir_map.py: {unmapped}"


def test_bundles_need_no_raw_fallback_for_their_clinical_core() -> None:
    types = set().union(*(_types_in(p) for p in BUNDLES))
    for core in ("Patient", "Encounter", "Condition", "Observation", "Claim"):
        if core in types:
            assert model_for(core) is FHIR_MODELS[core]


def test_mapping_points_at_registered_tables_and_does_not_overlap() -> None:
    assert not set(FHIR_MODELS) & KEPT_RAW
    tables = set(metadata.tables.values())
    for resource_type, model in FHIR_MODELS.items():
        assert model.__table__ in tables, resource_type
    assert RawResource.__tablename__ in metadata.tables
    assert model_for("SomethingFromR5") is RawResource
