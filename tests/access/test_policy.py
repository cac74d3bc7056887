"""The policy files: complete, consistent, compiled faithfully, reloaded on change."""

from __future__ import annotations

import shutil
from pathlib import Path

import casbin
import pytest
from sqlalchemy.orm import Mapper

from backend.access.policy import (
    READ,
    WRITE,
    CompiledPolicy,
    PolicyError,
    PolicyStore,
    load_policy,
    policy_version,
)
from backend.accounts.models import StaffRole
from backend.models import Base
from backend.settings import Settings

POLICIES = Settings().policies_dir
ROLES = [role.value for role in StaffRole] + ["patient"]


@pytest.fixture(scope="module")
def loaded() -> tuple[casbin.Enforcer, CompiledPolicy]:
    return load_policy(POLICIES)


@pytest.fixture(scope="module")
def policy(loaded: tuple[casbin.Enforcer, CompiledPolicy]) -> CompiledPolicy:
    return loaded[1]


def record_mappers() -> list[Mapper[object]]:
    # The auth domain (sessions, tokens, OAuth clients, login attempts) is the credential
    # store of the authentication layer, and the matcher's tables (backend/mpi: hashed
    # blocking keys and change fingerprints) are its index: neither is ever served as
    # records, so neither is in the policy.
    internal = ("backend.auth.", "backend.mpi.")
    return [m for m in Base.registry.mappers if not m.class_.__module__.startswith(internal)]


def patient_facing(mapper: Mapper[object]) -> bool:
    # The audit trail and break-glass grants name patients but hold no patient data.
    if mapper.class_.__module__ == "backend.access.models":
        return False
    return mapper.class_.__name__ == "Patient" or "patient_id" in mapper.columns


def test_every_column_of_every_record_type_is_in_exactly_one_group(policy: CompiledPolicy) -> None:
    missing, stale = [], []
    for mapper in record_mappers():
        name = mapper.class_.__name__
        columns = {attr.key for attr in mapper.column_attrs}
        grouped = set(policy.field_groups.get(name, {}))
        missing += [f"{name}.{c}" for c in sorted(columns - grouped)]
        stale += [f"{name}.{f}" for f in sorted(grouped - columns)]
    assert missing == [], "fields in no group (denied to everyone): add g2 lines"
    assert stale == [], "g2 lines for fields that no longer exist"
    # Exactly one: the compiler refuses duplicates, so a second group cannot slip in.
    assert sum(len(f) for f in policy.field_groups.values()) == sum(
        len(m.column_attrs) for m in record_mappers()
    )


def test_patient_facing_models_are_all_covered(policy: CompiledPolicy) -> None:
    facing = [m.class_.__name__ for m in record_mappers() if patient_facing(m)]
    assert len(facing) > 40  # the unified record, not a handful of types
    assert set(facing) <= policy.record_types


def test_a_field_in_two_groups_is_refused(tmp_path: Path) -> None:
    shutil.copy(POLICIES / "model.conf", tmp_path / "model.conf")
    text = (POLICIES / "policy.csv").read_text() + "g2, Patient.birth_date, contact\n"
    (tmp_path / "policy.csv").write_text(text)
    with pytest.raises(PolicyError, match=r"Patient\.birth_date"):
        load_policy(tmp_path)


def test_a_grant_of_an_unknown_group_is_refused(tmp_path: Path) -> None:
    shutil.copy(POLICIES / "model.conf", tmp_path / "model.conf")
    text = (POLICIES / "policy.csv").read_text() + "p, nurse, labz, read\n"
    (tmp_path / "policy.csv").write_text(text)
    with pytest.raises(PolicyError, match="labz"):
        load_policy(tmp_path)


def test_every_role_in_the_policy_is_a_known_role(policy: CompiledPolicy) -> None:
    bundles = {"staff", "clinician"}
    scopes = {role for role in policy.roles if role.startswith("scope")}
    assert policy.roles - bundles - scopes == set(ROLES)


# (role, record field, may read) -- the minimums the issue names, plus their negatives.
MINIMUMS = [
    ("front_desk", "Patient.birth_date", True),
    ("front_desk", "ContactPoint.value", True),
    ("front_desk", "Appointment.start_at", True),
    ("front_desk", "Appointment.reason_code", False),
    ("front_desk", "Observation.value_quantity", False),
    ("front_desk", "DiagnosticReport.conclusion", False),
    ("front_desk", "ClinicalNote.body", False),
    ("front_desk", "Condition.code_code", False),
    ("billing", "Coverage.member_id", True),
    ("billing", "Invoice.total", True),
    ("billing", "Charge.diagnosis_codes", True),
    ("billing", "ClinicalNote.body", False),
    ("billing", "Assessment.total_score", False),
    ("alumni_coordinator", "AlumniMembership.status", True),
    ("alumni_coordinator", "AlumniCheckIn.checked_in_at", True),
    ("alumni_coordinator", "SurveyResponse.nps", True),
    ("alumni_coordinator", "ContactPoint.value", True),
    ("alumni_coordinator", "Condition.code_code", False),
    ("alumni_coordinator", "ClinicalNote.body", False),
    ("physician", "Observation.value_quantity", True),
    ("physician", "ClinicalNote.body", True),
    ("physician", "Condition.code_code", True),
    ("physician", "Medication.dosage_text", True),
    ("nurse", "Observation.value_quantity", True),
    ("nurse", "Allergy.criticality", True),
    ("therapist", "ClinicalNote.body", True),
    ("physician", "Invoice.total", False),
    ("admin", "StaffRoleAssignment.role", True),
    ("admin", "StaffUser.email", True),
    ("admin", "Patient.given_name", False),
    ("admin", "Observation.value_quantity", False),
    ("auditor", "AuditEvent.action", True),
    ("auditor", "BreakGlassGrant.reason", True),
    ("auditor", "Patient.given_name", False),
    ("patient", "Medication.dosage_text", True),
    ("patient", "ClinicalNote.body", False),
    ("patient", "PortalAccount.password_hash", False),
    ("physician", "StaffUser.password_hash", False),
]


@pytest.mark.parametrize(("role", "field", "expected"), MINIMUMS)
def test_role_minimums(policy: CompiledPolicy, role: str, field: str, expected: bool) -> None:
    record_type, _, name = field.partition(".")
    assert (name in policy.allowed_fields({role}, record_type)) is expected


@pytest.mark.parametrize("role", ["admin", "auditor"])
def test_admin_and_auditor_see_no_patient_data(policy: CompiledPolicy, role: str) -> None:
    seen = {
        m.class_.__name__: policy.allowed_fields({role}, m.class_.__name__)
        for m in record_mappers()
        if patient_facing(m)
    }
    assert {t: f for t, f in seen.items() if f} == {}


def test_secrets_are_readable_by_nobody(policy: CompiledPolicy) -> None:
    for role in ROLES:
        assert "password_hash" not in policy.allowed_fields({role}, "StaffUser")
        assert "token_hash" not in policy.allowed_fields({role}, "PortalInvite")


def test_roles_union(policy: CompiledPolicy) -> None:
    both = policy.allowed_fields({"front_desk", "billing"}, "Invoice")
    assert both == policy.allowed_fields({"billing"}, "Invoice") != frozenset()
    assert policy.allowed_fields({"front_desk", "admin"}, "StaffRoleAssignment") == (
        policy.allowed_fields({"admin"}, "StaffRoleAssignment")
    )
    assert policy.allowed_fields(set(), "Patient") == frozenset()


def test_capabilities(policy: CompiledPolicy) -> None:
    assert policy.may({"physician"}, "break_glass")
    assert policy.may({"nurse"}, "break_glass")
    assert not policy.may({"front_desk"}, "break_glass")
    assert not policy.may({"admin"}, "break_glass")
    assert policy.may({"auditor"}, "review_break_glass")
    assert policy.may({"admin"}, "manage_users")


def test_compiled_sets_agree_with_casbin_enforce(
    loaded: tuple[casbin.Enforcer, CompiledPolicy],
) -> None:
    """The compiler is checked against pycasbin itself, role by role, on every field of a
    spread of record types (enforce is the reference, just too slow to serve with)."""
    enforcer, policy = loaded
    types = ["Patient", "ClinicalNote", "Appointment", "Charge", "ContactPoint", "AuditEvent"]
    types += ["StaffUser", "AlumniCheckIn", "Consent", "Encounter"]
    for role in ROLES:
        for action in (READ, WRITE):
            for record_type in types:
                fields = policy.field_groups[record_type]
                expected = {
                    f for f in fields if enforcer.enforce(role, f"{record_type}.{f}", action)
                }
                assert policy.allowed_fields({role}, record_type, action) == expected, (
                    role,
                    action,
                    record_type,
                )


def test_policy_version_is_a_hash_of_both_files(tmp_path: Path) -> None:
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, tmp_path / name)
    first = policy_version(tmp_path)
    assert len(first) == 64
    assert first == policy_version(POLICIES)
    with (tmp_path / "model.conf").open("a") as handle:
        handle.write("\n# a comment is still a change\n")
    assert policy_version(tmp_path) != first


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_store_reloads_a_changed_policy_without_restart(tmp_path: Path) -> None:
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, tmp_path / name)
    clock = FakeClock()
    store = PolicyStore(tmp_path, clock=clock)
    before = store.current()
    assert "dosage_text" not in before.allowed_fields({"front_desk"}, "Medication")
    with (tmp_path / "policy.csv").open("a") as handle:
        handle.write("p, front_desk, medications, read\n")
    clock.now += 0.5  # within the check interval: no stat, same policy
    assert store.current() is before
    clock.now += 0.6
    after = store.current()
    assert after is not before
    assert after.version != before.version
    assert "dosage_text" in after.allowed_fields({"front_desk"}, "Medication")
    clock.now += 5  # unchanged files: the compiled policy is reused
    assert store.current() is after


def test_store_keeps_the_last_good_policy_when_a_change_is_broken(tmp_path: Path) -> None:
    for name in ("model.conf", "policy.csv"):
        shutil.copy(POLICIES / name, tmp_path / name)
    clock = FakeClock()
    store = PolicyStore(tmp_path, clock=clock)
    good = store.current()
    with (tmp_path / "policy.csv").open("a") as handle:
        handle.write("g2, Patient.birth_date, contact\n")  # a field in two groups
    clock.now += 2
    assert store.current() is good
