"""The quick check may only say "valid" where the R4B models agree: checked on every
fixture resource and on thousands of one-change mutants of them (no database)."""

from __future__ import annotations

import copy
import json
import random
from typing import Any

import pytest

from backend.interop.fhir.quick_check import proves_valid
from backend.interop.fhir.validation import _model, validate_resource
from tests.interop.fhir.extra_bundle import extra_bundle
from tests.interop.fhir.test_import import BUNDLES

MUTANTS_PER_RESOURCE = 25

# Values that are valid for some primitive types and not others, or for none.
ODD_VALUES: list[Any] = [
    None, "", " ", "\t", "x", "a b", " a", "a  b", "a\nb", "\u00a0", "\x0b", "\u2003x", "é",
    "a" * 64, "a" * 65, "a-b.c", "a_b", "2020", "2020-13", "2020-02", "2020-02-29",
    "2019-02-29", "2020-02-30", "0000", "2020-01-01T10:00:00", "2020-01-01T10:00:00Z",
    "2020-01-01T24:00:00Z", "2020-01-01T10:00:00+14:00", "2020-01-01T10:00:00+15:00",
    "2016-12-31T23:59:60Z", "2020-01-01T10:00Z", "10:00", "10:00:00", "25:00:00", 0, -1,
    1, 2**31, -(2**31), 2**31 - 1, 1.5, 1.0, -0.0, 1e-7, 1e300, float("inf"), True, False,
    "true", "1", "1.0", "-0", "01", "+1", [], {}, [None], [1], ["x"], {"a": 1}, [{}],
    {"extension": []}, {"id": "x"}, "urn:uuid:6f1c2c1e-0000-4000-8000-000000000001",
    "urn:oid:1.2.3", "urn:oid:1.02", "http://example.org/a", "http://x y", "ftp://a",
    "Patient/123", "#p1", "QUJD", "QUJ", {"reference": "Patient/1"}, {"coding": [{}]},
    {"coding": [{"system": "http://loinc.org", "code": "1-8"}]}, {"value": "1"},
    {"value": 1, "unit": "mg"}, {"start": "2020"}, {"resourceType": "Patient"},
    {"resourceType": "Coding", "code": "x"},
]  # fmt: skip
ODD_KEYS = [
    "foo", "resourceType", "_status", "_birthDate", "fhir_comments", "valueString",
    "valueQuantity", "effectivePeriod", "effectiveDateTime", "onsetDateTime", "status",
    "id", "extension", "contained", "class", "class_fhir", "status__ext", "value",
    "deceasedBoolean", "multipleBirthInteger", "url", "code", "system",
]  # fmt: skip


def _resources() -> list[dict[str, Any]]:
    bundles = [json.loads(p.read_text(encoding="utf-8")) for p in BUNDLES] + [extra_bundle()]
    return [e["resource"] for b in bundles for e in b["entry"]]


def _places(node: Any, found: list[tuple[Any, Any]]) -> list[tuple[Any, Any]]:
    """Every (container, key or index) in a JSON tree."""
    if isinstance(node, dict):
        for key, value in node.items():
            found.append((node, key))
            _places(value, found)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found.append((node, index))
            _places(value, found)
    return found


def _mutant(resource: dict[str, Any], rng: random.Random) -> dict[str, Any]:
    mutant = copy.deepcopy(resource)
    container, key = rng.choice(_places(mutant, []))
    how = rng.randrange(6)
    if how == 0 and isinstance(container, dict):
        del container[key]
    elif how == 1 and isinstance(container, dict):
        container[rng.choice(ODD_KEYS)] = copy.deepcopy(container[key])
    elif how == 2:
        container[key] = [container[key]]
    elif how == 3 and isinstance(container[key], list) and container[key]:
        container[key] = container[key][0]
    elif how == 4 and isinstance(container, dict):
        container[rng.choice(ODD_KEYS)] = copy.deepcopy(rng.choice(ODD_VALUES))
    else:
        container[key] = copy.deepcopy(rng.choice(ODD_VALUES))
    return mutant


def _model_accepts(resource: dict[str, Any]) -> bool:
    try:
        _model(str(resource.get("resourceType"))).model_validate(resource)
    except Exception:  # fhir_core raises more than ValidationError
        return False
    return True


def test_every_fixture_resource_is_proven_valid_without_the_models() -> None:
    for resource in _resources():
        assert proves_valid(_model(resource["resourceType"]), resource), resource["resourceType"]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_mutant_called_valid_is_valid_for_the_models(seed: int) -> None:
    rng = random.Random(seed)
    proven = rejected = 0
    for resource in _resources():
        for _ in range(MUTANTS_PER_RESOURCE):
            mutant = _mutant(resource, rng)
            model = _model(str(mutant.get("resourceType")))
            if model is None:
                continue
            if proves_valid(model, mutant):
                proven += 1
                assert _model_accepts(mutant), json.dumps(mutant, default=str)[:2000]
            elif not _model_accepts(mutant):
                rejected += 1
                # The report of an invalid resource is still the models' own.
                assert validate_resource(mutant)
    # Both ways exercised: many mutants stay valid, many break the resource.
    assert proven > 500
    assert rejected > 500
