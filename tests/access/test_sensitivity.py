"""Record-level rules: psychotherapy notes, Part 2 consent, alumni contact channels.
The pure function and the SQL filter must agree on every case, on both databases."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy, load_policy
from backend.access.principal import Principal
from backend.access.sensitivity import (
    PART2_RULE,
    PSYCHOTHERAPY_RULE,
    RESTRICTED_RULE,
    PatientAccess,
    consented_contact_filter,
    load_patient_access,
    record_rule,
    sensitivity_filter,
)
from backend.clinical.models import ClinicalNote, NoteKind
from backend.common.types import Code, Sensitivity
from backend.engagement.consent import Consent, ConsentKind, ConsentStatus, RecipientType
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.models import ContactPreference
from backend.patients.models import ContactPoint, ContactSystem
from backend.settings import Settings
from tests.access.world import NOW, World, build


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return load_policy(Settings().policies_dir)[1]


@pytest.fixture
def world(session: Session) -> World:
    return build(session)


def note(
    session: Session, world: World, patient: str, flags: Sensitivity, author: str
) -> uuid.UUID:
    row = ClinicalNote(
        patient_id=world.patients[patient],
        kind=NoteKind.PSYCHOTHERAPY if flags & Sensitivity.PSYCHOTHERAPY else NoteKind.PROGRESS,
        doc_type=Code("http://loinc.org", "11506-3", None),
        title="Session",
        body="(not read by these tests)",
        sensitivity=flags,
        author_id=world.staff[author],
    )
    session.add(row)
    session.flush()
    return row.id


def consent(
    session: Session, world: World, patient: str, kind: RecipientType, ids: list[Any], **kw: Any
) -> None:
    values: dict[str, Any] = {"status": ConsentStatus.ACTIVE, **kw}
    session.add(
        Consent(
            patient_id=world.patients[patient],
            kind=ConsentKind.PART2_DISCLOSURE,
            recipient_type=kind,
            recipients=[{"id": str(i)} for i in ids],
            **values,
        )
    )
    session.flush()


def shown(
    session: Session, principal: Principal, patient: uuid.UUID
) -> tuple[set[uuid.UUID], set[uuid.UUID]]:
    """(ids the SQL filter keeps, ids the pure rule keeps) for one patient's notes."""
    facts = load_patient_access(
        session=session, principal=principal, patient_ids=[patient], now=NOW
    )
    by_sql = set(
        session.execute(
            select(ClinicalNote.id).where(
                ClinicalNote.patient_id == patient,
                sensitivity_filter(ClinicalNote, principal=principal, access=facts),
            )
        ).scalars()
    )
    access = facts[patient]
    rows = session.execute(select(ClinicalNote).where(ClinicalNote.patient_id == patient)).scalars()
    by_rule = {
        r.id
        for r in rows
        if record_rule(
            principal=principal, sensitivity=r.sensitivity, author_id=r.author_id, access=access
        )
        is None
    }
    return by_sql, by_rule


def test_psychotherapy_notes_only_to_author_and_treating_therapist(
    session: Session, world: World
) -> None:
    plain = note(session, world, "a", Sensitivity.NONE, "physician")
    psy = note(session, world, "a", Sensitivity.PSYCHOTHERAPY, "therapist")
    psy_b = note(session, world, "b", Sensitivity.PSYCHOTHERAPY, "other_therapist")
    cases = [
        (world.principal("therapist", "therapist", teams=(world.team_a,)), "a", {plain, psy}),
        (world.principal("physician", "physician", teams=(world.team_a,)), "a", {plain}),
        (world.principal("other_therapist", "therapist", teams=(world.team_b,)), "b", {psy_b}),
        # the therapist left team B yesterday: no longer treating, not the author
        (world.principal("therapist", "therapist", teams=(world.team_a,)), "b", set()),
        (world.patient_principal("a"), "a", {plain}),
    ]
    for principal, patient, expected in cases:
        by_sql, by_rule = shown(session, principal, world.patients[patient])
        assert by_sql == by_rule == expected, (principal.username, patient)


def test_one_filter_for_many_patients_holds_each_row_to_its_own_patient(
    session: Session, world: World
) -> None:
    """DataLoaders filter a batch of patients with one clause built from facts decided
    once per request: each row answers to its own patient's facts, and a patient missing
    from the facts grants nothing."""
    psy_a = note(session, world, "a", Sensitivity.PSYCHOTHERAPY, "other_therapist")
    walled_a = note(session, world, "a", Sensitivity.RESTRICTED, "other_therapist")
    note(session, world, "b", Sensitivity.PSYCHOTHERAPY, "physician")
    note(session, world, "b", Sensitivity.RESTRICTED, "physician")
    plain_b = note(session, world, "b", Sensitivity.NONE, "physician")
    a, b = world.patients["a"], world.patients["b"]
    # Treating therapist and treating team of a (team A), neither of b (left team B).
    therapist = world.principal("therapist", "therapist", teams=(world.team_a,))
    facts = load_patient_access(session=session, principal=therapist, patient_ids=[a, b], now=NOW)

    def kept(access: dict[uuid.UUID, PatientAccess]) -> set[uuid.UUID]:
        query = select(ClinicalNote.id).where(
            ClinicalNote.patient_id.in_([a, b]),
            sensitivity_filter(ClinicalNote, principal=therapist, access=access),
        )
        return set(session.execute(query).scalars())

    rows = session.execute(select(ClinicalNote).where(ClinicalNote.patient_id.in_([a, b])))
    by_rule = {
        r.id
        for r in rows.scalars()
        if record_rule(
            principal=therapist,
            sensitivity=r.sensitivity,
            author_id=r.author_id,
            access=facts[r.patient_id],
        )
        is None
    }
    assert kept(facts) == by_rule == {psy_a, walled_a, plain_b}
    assert kept({a: facts[a]}) == {psy_a, walled_a, plain_b}
    assert kept({}) == {plain_b}


def test_the_rule_names_what_withheld_it(world: World) -> None:
    from backend.access.sensitivity import PatientAccess

    physician = world.principal("physician", "physician")
    rule = record_rule(
        principal=physician,
        sensitivity=Sensitivity.PSYCHOTHERAPY,
        author_id=None,
        access=PatientAccess(),
    )
    assert rule == PSYCHOTHERAPY_RULE
    rule = record_rule(
        principal=physician, sensitivity=Sensitivity.PART2, author_id=None, access=PatientAccess()
    )
    assert rule == PART2_RULE


def test_restricted_records_only_to_author_treating_team_and_break_glass(
    session: Session, world: World
) -> None:
    from backend.access.principal import BreakGlassGrant

    plain = note(session, world, "a", Sensitivity.NONE, "physician")
    walled = note(session, world, "a", Sensitivity.RESTRICTED, "therapist")
    grant = BreakGlassGrant(world.patients["a"], NOW + timedelta(minutes=30), uuid.uuid4())
    expired = BreakGlassGrant(world.patients["a"], NOW - timedelta(minutes=1), uuid.uuid4())
    cases = [
        ("author, on no team", world.principal("therapist", "therapist"), {plain, walled}),
        (
            "on the patient's team",
            world.principal("physician", "physician", teams=(world.team_a,)),
            {plain, walled},
        ),
        # Front desk sees the patient through their location, which is not treatment.
        (
            "by location only",
            world.principal("front_desk", "front_desk", location=world.loc1),
            {plain},
        ),
        (
            "another team",
            world.principal("other_therapist", "therapist", teams=(world.team_b,)),
            {plain},
        ),
        (
            "break-glass",
            world.principal("other_therapist", "therapist", grants=(grant,)),
            {plain, walled},
        ),
        (
            "expired break-glass",
            world.principal("other_therapist", "therapist", grants=(expired,)),
            {plain},
        ),
        ("the patient", world.patient_principal("a"), {plain, walled}),
    ]
    for case, principal, expected in cases:
        by_sql, by_rule = shown(session, principal, world.patients["a"])
        assert by_sql == by_rule == expected, case
    rule = record_rule(
        principal=world.principal("front_desk", "front_desk"),
        sensitivity=Sensitivity.RESTRICTED,
        author_id=None,
        access=PatientAccess(),
    )
    assert rule == RESTRICTED_RULE


PART2_CASES = [
    ("care team named", RecipientType.CARE_TEAM, "team_a", {}, True),
    ("another care team", RecipientType.CARE_TEAM, "team_b", {}, False),
    ("organization named", RecipientType.ORGANIZATION, "org", {}, True),
    ("another organization", RecipientType.ORGANIZATION, "other_org", {}, False),
    ("role named", RecipientType.STAFF_ROLE, "physician", {}, True),
    ("another role", RecipientType.STAFF_ROLE, "billing", {}, False),
    ("person named", RecipientType.PERSON, "me", {}, True),
    ("revoked", RecipientType.CARE_TEAM, "team_a", {"status": ConsentStatus.REVOKED}, False),
    ("expired", RecipientType.CARE_TEAM, "team_a", {"period_end": NOW - timedelta(days=1)}, False),
    (
        "not yet",
        RecipientType.CARE_TEAM,
        "team_a",
        {"period_start": NOW + timedelta(days=1)},
        False,
    ),
    ("deleted", RecipientType.CARE_TEAM, "team_a", {"deleted_at": NOW - timedelta(days=1)}, False),
]


@pytest.mark.parametrize(
    ("case", "kind", "who", "extra", "covered"), PART2_CASES, ids=[c[0] for c in PART2_CASES]
)
def test_part2_records_need_a_consent_covering_the_caller(
    session: Session,
    world: World,
    case: str,
    kind: RecipientType,
    who: str,
    extra: dict[str, Any],
    covered: bool,
) -> None:
    part2 = note(session, world, "a", Sensitivity.PART2, "therapist")
    plain = note(session, world, "a", Sensitivity.NONE, "therapist")
    physician = world.principal(
        "physician", "physician", teams=(world.team_a,), location=world.loc1
    )
    ids = {
        "team_a": world.team_a,
        "team_b": world.team_b,
        "org": world.org,
        "other_org": world.other_org,
        "me": world.staff["physician"],
    }
    consent(session, world, "a", kind, [ids.get(who, who)], **extra)
    by_sql, by_rule = shown(session, physician, world.patients["a"])
    assert by_sql == by_rule == ({plain, part2} if covered else {plain})
    # the patient always sees their own Part 2 records
    assert part2 in shown(session, world.patient_principal("a"), world.patients["a"])[0]


def test_alumni_coordinators_see_only_consented_channels(
    session: Session, world: World, policy: CompiledPolicy
) -> None:
    pid = world.patients["a"]
    phone = ContactPoint(patient_id=pid, system=ContactSystem.PHONE, value="+15550000001")
    email = ContactPoint(patient_id=pid, system=ContactSystem.EMAIL, value="x@example.org")
    sms = ContactPoint(patient_id=pid, system=ContactSystem.SMS, value="+15550000002")
    session.add_all([phone, email, sms])
    session.add_all(
        [
            ContactPreference(
                patient_id=pid,
                channel=PreferenceChannel.EMAIL,
                message_type=MessageType.ALUMNI_EVENTS,
                allowed=True,
            ),
            ContactPreference(
                patient_id=pid,
                channel=PreferenceChannel.SMS,
                message_type=MessageType.ALUMNI_EVENTS,
                allowed=False,
            ),
            ContactPreference(
                patient_id=pid,
                channel=PreferenceChannel.PHONE,
                message_type=MessageType.MARKETING,
                allowed=True,
            ),
        ]
    )
    session.flush()

    def seen(principal: Principal) -> set[uuid.UUID]:
        query = select(ContactPoint.id).where(
            ContactPoint.patient_id == pid,
            consented_contact_filter(ContactPoint, policy=policy, principal=principal),
        )
        return set(session.execute(query).scalars())

    assert seen(world.principal("alumni", "alumni_coordinator")) == {email.id}
    # with another role that grants contact, the restriction no longer applies
    both = world.principal("alumni", {"alumni_coordinator", "care_coordinator"})
    assert seen(both) == {phone.id, email.id, sms.id}
