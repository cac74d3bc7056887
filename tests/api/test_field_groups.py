"""Every field of every GraphQL object type maps to a policy field group, or is structural.

The services mask by column name (``RecordType.field`` in policies/policy.csv); a GraphQL
type is named after its record type (or says otherwise with a ``policy_record_type``
class attribute) and its fields after the columns (a field derived from a column says
which in a ``policy_fields`` class attribute). A field that maps to no group would be
served unmasked to anyone whose role reads the type, so it fails here: add it to a group
in policy.csv (or, if it really carries no patient data, to the structural lists below
with the reason).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.utils.str_converters import to_camel_case

from backend.access.policy import CompiledPolicy, policy_store
from backend.api.schema import build_schema
from backend.settings import Settings

STRUCTURAL_TYPES = {
    "PageInfo": "cursors and flags of a page, no data",
    "WithheldField": "names of withheld fields and rules, never their values",
    "Me": "the caller's own account (username, roles, scopes), not patient data",
    "BreakGlassAccess": "the caller's own new grant: ids and its expiry, no patient data",
    "MpiStats": "counts over the whole index, no patient data",
    "MergeResult": "the caller's own merge: ids, a row count and times",
    "NotDuplicateResult": "the caller's own decision: its id and time",
    # An IdentityLink seen by a reviewer: score and evidence are masked in the service by
    # the IdentityLink plan (identity_matching), the two patients by the Patient type.
    "PossibleDuplicate": "IdentityLink.score/match_evidence masked in backend/identity/review",
    "FieldEvidence": "one entry of IdentityLink.match_evidence (masked with it)",
    "TimelineEntry": (
        "built by backend/record/timeline.py only from fields of its record the caller may "
        "read (each listed by kind in the policy through backend/record/categories.py)"
    ),
    "PortalInviteLink": "the invite the caller just made: ids, the one-time link, its expiry",
    "SurveyInvitationLink": "the survey link the caller just made: ids, link, expiry, mailed",
    "SurveyAnswerOutcome": "whether the caller's own answer was kept",
    "AlumniOutcome": "the caller's own write: the record's id and its new status",
}
STRUCTURAL_FIELDS = {
    "id": "the id the caller asked by (never masked)",
    "withheld": "the mask markers themselves",
    "timeline": "a connection of TimelineEntry (see STRUCTURAL_TYPES)",
}
CONNECTION_FIELDS = {"edges", "page_info", "withheld"}
EDGE_FIELDS = {"cursor", "node"}


def _unwrap(type_: Any) -> Any:
    while hasattr(type_, "of_type"):
        type_ = type_.of_type
    return type_


def _record_type(definition: Any) -> str:
    return str(getattr(definition.origin, "policy_record_type", definition.name))


def _policy_field(definition: Any, python_name: str) -> str:
    derived: dict[str, str] = getattr(definition.origin, "policy_fields", {})
    return derived.get(python_name, python_name)


def _object_types(schema: strawberry.Schema) -> Iterator[StrawberryObjectDefinition]:
    for name in sorted(schema._schema.type_map):
        definition = schema.get_type_by_name(name)
        if isinstance(definition, StrawberryObjectDefinition) and not definition.is_input:
            yield definition


def ungrouped_fields(schema: strawberry.Schema, policy: CompiledPolicy) -> list[str]:
    """``Type.field`` for every field that maps to no field group and is not structural."""
    problems: list[str] = []
    core = schema._schema
    # Root operations carry no data of their own; their results are checked as types.
    roots = {t.name for t in (core.query_type, core.mutation_type, core.subscription_type) if t}
    for definition in _object_types(schema):
        name = definition.name
        if name in STRUCTURAL_TYPES or name in roots:
            continue
        names = {f.python_name for f in definition.fields}
        if name.endswith("Connection") and names <= CONNECTION_FIELDS:
            continue
        if name.endswith("Edge") and names <= EDGE_FIELDS:
            continue
        record_type = _record_type(definition)
        if record_type not in policy.record_types:
            problems.append(f"{name}: no record type {record_type!r} in the policy")
            continue
        for field in definition.fields:
            if field.python_name in STRUCTURAL_FIELDS:
                continue
            if policy.group_of(record_type, _policy_field(definition, field.python_name)):
                continue
            # A list of another record type (Patient.conditions): masked as a whole
            # category by that type's group and field by field on its own type.
            nested = getattr(_unwrap(field.type), "__strawberry_definition__", None)
            if nested is not None and policy.group_of(_record_type(nested), "id") is not None:
                continue
            problems.append(f"{name}.{to_camel_case(field.python_name)}")
    return problems


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return policy_store(Settings(env="test").policies_dir).current()


def test_every_field_of_the_schema_is_in_a_field_group(policy: CompiledPolicy) -> None:
    schema = build_schema(production=False)
    checked = {d.name for d in _object_types(schema)} - set(STRUCTURAL_TYPES)
    # The patient family and the audit family are really enumerated, not skipped.
    assert {"Patient", "ContactPoint", "Condition", "AuditEvent", "BreakGlassGrant"} <= set(checked)
    assert ungrouped_fields(schema, policy) == []


@strawberry.type(name="Condition")
class RogueCondition:
    id: strawberry.ID
    code_display: str | None
    shoe_size: int | None  # in no group


@strawberry.type
class Gossip:  # no such record type
    id: strawberry.ID
    rumour: str


@strawberry.type
class RogueQuery:
    condition: RogueCondition | None = None
    gossip: Gossip | None = None


def test_a_field_or_type_without_a_group_fails_the_check(policy: CompiledPolicy) -> None:
    problems = ungrouped_fields(strawberry.Schema(query=RogueQuery), policy)
    assert problems == ["Condition.shoeSize", "Gossip: no record type 'Gossip' in the policy"]


def test_every_patient_record_type_maps_fields_to_groups_not_just_names(
    policy: CompiledPolicy,
) -> None:
    """The mapping is by column name: a GraphQL field of a record type is one of its
    policy fields, so a role lacking the group gets null plus a withheld entry."""
    schema = build_schema(production=False)
    patient = schema.get_type_by_name("Patient")
    assert patient is not None
    assert isinstance(patient, StrawberryObjectDefinition)
    groups = {f.python_name: policy.group_of("Patient", f.python_name) for f in patient.fields}
    assert groups["given_name"] == "demographics"
    assert groups["birth_date"] == "demographics"
