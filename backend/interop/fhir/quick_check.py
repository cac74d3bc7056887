"""A cheap proof that a resource is valid R4B, from the R4B models' own rules.

Validating with the ``fhir.resources`` models costs about 1.8 ms a resource, most of it
Python validators run once per nested element (every Coding, every Reference). This
walks the JSON against a table compiled once from the same model classes: every key
must be a field (by its JSON name) of the model, a list where the model has a list,
required elements and the choice-type rule (``value[x]``: at most one, or exactly one)
as the models check them, and each primitive value validated by a pydantic
``TypeAdapter`` of the field's own annotated type (the core schema the model uses, so
the same regexes and date checks); valid codes and URIs are remembered.

It answers only "certainly valid" or "not sure". What it does not model (a null, an
empty list, a ``_field`` primitive extension, a contained resource, a model with
validators of its own) is "not sure", and the caller then runs the R4B model, whose
errors make the report. So an invalid resource is reported exactly as before, and this
check can only err by being too careful (tests/interop/fhir/test_quick_check.py: every
mutant of the fixtures it calls valid, the models accept too).
"""

from __future__ import annotations

import importlib
import types
import typing
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fhir_core.constraints import FHIR_TYPES_MAPS
from fhir_core.fhirabstractmodel import FHIRAbstractModel
from fhir_core.types import Code, FhirBase, FhirElementOrResourceBase, Oid, Uri, Url
from pydantic import TypeAdapter, ValidationError

# The model validators every FHIRAbstractModel has, which this module reproduces; a
# model with any other validator is not modelled here (its resources go to the model).
_BASE_VALIDATORS = frozenset({"reject_null_complex_elements", "validate_after_model_construction"})
_REMEMBERED = 20_000  # valid values kept per coded type: codes and systems repeat
# Only values of these types are remembered: never a string, date or number, which may be
# a name or a birth date that has no business staying in memory after its import.
_CODED = (Code, Uri, Url, Oid)
_SCALARS = (str, int, float, bool)


@dataclass(slots=True)
class _Primitive:
    adapter: TypeAdapter[Any]
    remember: bool
    valid: set[tuple[type, Any]] = field(default_factory=set)

    def accepts(self, value: Any) -> bool:
        if not isinstance(value, _SCALARS):
            return False
        # Keyed by type too: True == 1 and 1 == 1.0, but they validate differently.
        key = (type(value), value)
        if key in self.valid:
            return True
        try:
            self.adapter.validate_python(value)
        except ValidationError:
            return False
        if self.remember and len(self.valid) < _REMEMBERED:
            self.valid.add(key)
        return True


@dataclass(frozen=True, slots=True)
class _Field:
    many: bool
    primitive: _Primitive | None = None
    model: type[FHIRAbstractModel] | None = None
    resources: str | None = None  # any resource (contained): the models' type-name prefix


@dataclass(frozen=True, slots=True)
class _Spec:
    fields: dict[str, _Field]  # by JSON name
    required: tuple[str, ...]
    choices: tuple[tuple[tuple[str, ...], bool], ...]  # (JSON names, one required)
    modelled: bool  # False: the model has validators this module does not reproduce


_specs: dict[type[FHIRAbstractModel], _Spec] = {}
_primitives: dict[str, _Primitive] = {}


def _primitive(annotation: Any) -> _Primitive:
    key = repr(annotation)
    found = _primitives.get(key)
    if found is None:
        coded = any(isinstance(m, _CODED) for m in typing.get_args(annotation)[1:])
        found = _primitives[key] = _Primitive(TypeAdapter(annotation), coded)
    return found


def _unwrap(annotation: Any) -> tuple[bool, Any] | None:
    """(is a list, the element type) of ``Optional[...]``/``List[...]``; None when the
    annotation is something else (a union of two types)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(annotation) if a is not type(None)]
        if len(inner) != 1:
            return None
        annotation = inner[0]
    if typing.get_origin(annotation) is list:
        return True, typing.get_args(annotation)[0]
    return False, annotation


def _field(annotation: Any) -> _Field | None:
    unwrapped = _unwrap(annotation)
    if unwrapped is None:
        return None
    many, inner = unwrapped
    if isinstance(inner, type) and issubclass(inner, FhirBase):
        if issubclass(inner, FhirElementOrResourceBase):
            if inner.get_model_klass().__name__ != "Resource":
                return None  # "any element": not modelled
            return _Field(many, resources=inner._prefix)
        return _Field(many, model=inner.get_model_klass())
    if isinstance(inner, type) and issubclass(inner, FHIRAbstractModel):
        return None  # the primitive-extension model itself: not modelled
    return _Field(many, primitive=_primitive(inner))


def _compile(model: type[FHIRAbstractModel]) -> _Spec:
    decorators = model.__pydantic_decorators__
    modelled = (
        set(decorators.model_validators) <= _BASE_VALIDATORS
        and not decorators.field_validators
        and model.__init__ is FHIRAbstractModel.__init__
    )
    fields: dict[str, _Field] = {}
    required: list[str] = []
    alias = {name: info.alias or name for name, info in model.model_fields.items()}
    for name, info in model.model_fields.items():
        # ``_field`` extensions and fhir_comments are left out: a resource carrying one
        # is "not sure" and goes to the model.
        if name.endswith("__ext") or name == "fhir_comments":
            continue
        found = _field(info.annotation)
        if found is not None:
            fields[alias[name]] = found
        if info.is_required():
            required.append(alias[name])
    # The models' own tables of required primitives and choice types (instance methods
    # that read nothing from the instance).
    for name, _ext in model.get_required_fields(None):  # type: ignore[arg-type]
        required.append(alias[name])
    choices = []
    for names in model.get_one_of_many_fields(None).values():  # type: ignore[arg-type]
        extra = model.model_fields[names[0]].json_schema_extra
        needed = isinstance(extra, dict) and extra.get("one_of_many_required") is True
        choices.append((tuple(alias[n] for n in names), needed))
    return _Spec(fields, tuple(dict.fromkeys(required)), tuple(choices), modelled)


def _spec(model: type[FHIRAbstractModel]) -> _Spec:
    found = _specs.get(model)
    if found is None:
        found = _specs[model] = _compile(model)
    return found


def _valid(model: type[FHIRAbstractModel], data: Any, resource_type: str | None) -> bool:
    if type(data) is not dict:
        return False
    spec = _spec(model)
    if not spec.modelled:
        return False
    fields = spec.fields
    for key, value in data.items():
        found = fields.get(key)
        if found is None:
            # resourceType is checked against the model by the model's __init__; only
            # the top-level one is expected (a nested one goes to the model).
            if key == "resourceType" and resource_type is not None and value == resource_type:
                continue
            return False
        if found.many:
            if type(value) is not list or not value:
                return False
            for item in value:
                if not _one(found, item):
                    return False
        elif not _one(found, value):
            return False
    for name in spec.required:
        if name not in data:
            return False
    for names, needed in spec.choices:
        present = sum(1 for name in names if name in data)
        if present > 1 or (needed and present == 0):
            return False
    return True


def _one(found: _Field, value: Any) -> bool:
    if value is None:
        return False
    if found.primitive is not None:
        return found.primitive.accepts(value)
    if found.resources is not None:
        return _resource(found.resources, value)
    assert found.model is not None
    return _valid(found.model, value, None)


@cache
def _class(dotted: str) -> type[FHIRAbstractModel]:
    module, _, name = dotted.rpartition(".")
    found: type[FHIRAbstractModel] = getattr(importlib.import_module(module), name)
    return found


def _resource(prefix: str, value: Any) -> bool:
    """A contained resource: its class found by its resourceType as the models find it."""
    if type(value) is not dict:
        return False
    resource_type = value.get("resourceType")
    name = f"{prefix}{resource_type}Type" if isinstance(resource_type, str) else None
    if name not in FHIR_TYPES_MAPS:
        return False
    model = _class(FHIR_TYPES_MAPS[name])
    if not model.has_resource_base():
        return False
    return _valid(model, value, resource_type)


def proves_valid(model: type[FHIRAbstractModel], resource: dict[str, Any]) -> bool:
    """True only when ``model`` (an R4B resource class) would accept ``resource``;
    False means "not sure": ask the model."""
    return _valid(model, resource, model.__resource_type__)
