"""Masks: a withheld field is None *and* reported with its rule; an empty one is just None."""

from __future__ import annotations

import uuid

import pytest

from backend.access.masking import (
    GROUP_RULE_PREFIX,
    Withheld,
    denied_writes,
    mask_plan,
    mask_record,
)
from backend.access.policy import CompiledPolicy, load_policy
from backend.access.principal import Principal, PrincipalKind
from backend.settings import Settings


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


def staff(*roles: str) -> Principal:
    return Principal(
        kind=PrincipalKind.STAFF, subject_id=uuid.uuid4(), username="u", roles=frozenset(roles)
    )


APPOINTMENT = {
    "id": uuid.uuid4(),
    "status": "booked",
    "start_at": "2025-06-02T15:00:00Z",
    "reason_text": "follow-up",
    "comment": None,  # genuinely empty
    "not_a_field": 1,  # in no group: denied to everyone
}


def test_front_desk_gets_masked_and_empty_fields_told_apart(policy: CompiledPolicy) -> None:
    masked = mask_record(
        policy=policy, principal=staff("front_desk"), record_type="Appointment", record=APPOINTMENT
    )
    assert masked.values["status"] == "booked"
    assert masked.values["reason_text"] is None
    assert masked.values["comment"] is None
    assert masked.withheld == (
        Withheld("reason_text", GROUP_RULE_PREFIX + "visit_reasons"),
        Withheld("not_a_field", GROUP_RULE_PREFIX + "unassigned"),
    )
    assert "comment" not in masked.withheld_fields


def test_physician_sees_the_reason(policy: CompiledPolicy) -> None:
    masked = mask_record(
        policy=policy, principal=staff("physician"), record_type="Appointment", record=APPOINTMENT
    )
    assert masked.values["reason_text"] == "follow-up"
    assert masked.withheld_fields == {"not_a_field"}


def test_a_role_with_no_group_for_a_type_sees_nothing(policy: CompiledPolicy) -> None:
    plan = mask_plan(policy=policy, principal=staff("admin"), record_type="Appointment")
    assert plan.sees_nothing
    masked = plan.mask(APPOINTMENT)
    assert all(v is None for v in masked.values.values())
    assert masked.withheld_fields == set(APPOINTMENT)


def test_a_record_rule_withholds_everything_but_the_id(policy: CompiledPolicy) -> None:
    plan = mask_plan(policy=policy, principal=staff("physician"), record_type="Appointment")
    rows = plan.mask_all([APPOINTMENT, APPOINTMENT], record_rules=[None, "part2_consent"])
    assert rows[0].values["status"] == "booked"
    assert rows[1].values["id"] == APPOINTMENT["id"]
    assert rows[1].values["status"] is None
    assert {w.rule for w in rows[1].withheld} == {"part2_consent"}
    assert "id" not in rows[1].withheld_fields


def test_plan_records_the_policy_version(policy: CompiledPolicy) -> None:
    plan = mask_plan(policy=policy, principal=staff("nurse"), record_type="Observation")
    assert plan.policy_version == policy.version


@pytest.mark.parametrize(
    ("roles", "record_type", "fields", "denied"),
    [
        (("front_desk",), "Patient", ["given_name", "birth_date"], []),
        (("front_desk",), "ClinicalNote", ["body"], ["body"]),
        (("billing",), "Invoice", ["total", "note"], []),
        (("nurse",), "Invoice", ["total"], ["total"]),
        (("therapist",), "ClinicalNote", ["body", "title"], []),
        (("admin",), "Patient", ["given_name"], ["given_name"]),
    ],
)
def test_denied_writes(
    policy: CompiledPolicy,
    roles: tuple[str, ...],
    record_type: str,
    fields: list[str],
    denied: list[str],
) -> None:
    result = denied_writes(
        policy=policy, principal=staff(*roles), record_type=record_type, fields=fields
    )
    assert [w.field for w in result] == denied
