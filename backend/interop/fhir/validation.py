"""Structural validation with the ``fhir.resources`` R4B models (which accept R4 JSON).

A resource :mod:`.quick_check` proves valid is not put through the models (they cost
about 20 times more); any other resource is, and their errors make the report. Only the
field path and pydantic's message go into a report: pydantic's ``input`` (the
offending value, possibly PHI) is never copied.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from backend.interop.fhir.quick_check import proves_valid
from backend.interop.fhir.reader import Batch


@cache
def _model(resource_type: str) -> Any:
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):  # fhir.resources raises ValueError for unknown names
        return None


def is_known_type(resource_type: str) -> bool:
    return _model(resource_type) is not None


def validate_resource(resource: dict[str, Any]) -> list[tuple[str, str]]:
    """(field path, message) for every problem; empty when the resource is valid R4.
    An unknown resourceType is not a problem here: it is kept raw."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str) or not resource_type:
        return [("resourceType", "missing")]
    model = _model(resource_type)
    if model is None or proves_valid(model, resource):
        return []
    try:
        model.model_validate(resource)
    except ValidationError as exc:
        return [
            (
                ".".join([resource_type, *(str(p) for p in error["loc"])]),
                str(error["msg"]).removeprefix("Value error, "),
            )
            for error in exc.errors(include_url=False, include_input=False)
        ]
    except Exception as exc:
        # fhir_core itself fails on some malformed input (TypeError for a contained
        # resource whose resourceType is not a string, KeyError when it names no type,
        # AttributeError for a number where a ``_field`` object belongs): still a problem
        # with the resource, reported without the exception's text (it may quote values).
        return [(resource_type, f"not valid R4 ({type(exc).__name__} in the R4B validator)")]
    return []


Validated = dict[int, list[tuple[str, str]]]
"""Entry index -> (field path, message) problems; entries without problems are absent."""


def validate_batch(batch: Batch) -> Validated:
    """Every entry's problems. A plain function of the batch, so a worker process can
    run it for the next file while the importer writes this one."""
    found: Validated = {}
    for entry in batch.entries:
        problems = validate_resource(entry.resource)
        if problems:
            found[entry.index] = problems
    return found


def validate_model(resource: dict[str, Any]) -> None:
    """Raise ValidationError unless ``resource`` is valid R4B (exporter's self-check)."""
    model = _model(str(resource.get("resourceType")))
    if model is None:
        raise ValueError(f"unknown resourceType {resource.get('resourceType')!r}")
    model.model_validate(resource)
