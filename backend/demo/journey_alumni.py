"""Demo alumni life: program membership, event attendances and check-ins after discharge.

Called by :mod:`backend.demo.journey` for patients at the alumni stage, with the same
random generator, so it is part of the journey domain's deterministic stream.
"""

from __future__ import annotations

import random
import uuid
from datetime import timedelta

from backend.common.types import Sensitivity
from backend.demo.context import DemoContext, PatientSeed, between, new_id
from backend.demo.journey_content import CHECK_IN_NOTES, Concern
from backend.demo.sink import RowSink
from backend.journey.models import (
    AlumniCheckIn,
    AlumniEventAttendance,
    AlumniMembership,
    AttendanceStatus,
    CheckInChannel,
    MembershipStatus,
    RecoveryStatus,
)


def alumni_rows(
    ctx: DemoContext,
    patient: PatientSeed,
    concern: Concern,
    label: Sensitivity,
    discharge_id: uuid.UUID,
    coordinator: uuid.UUID | None,
    rng: random.Random,
    sink: RowSink,
) -> None:
    """Membership of the program that fits the patient, then one to three touch points."""
    assert patient.discharged_at is not None
    programs: list[uuid.UUID] = ctx.shared.get("journey.alumni_programs") or []
    if not programs:
        return
    now = ctx.now
    program_id = programs[1] if concern.sud and len(programs) > 1 else programs[0]
    invited = min(patient.discharged_at + timedelta(days=rng.randrange(0, 7)), now)
    joined = min(invited + timedelta(days=rng.randrange(0, 14)), now)
    status = rng.choices(
        (MembershipStatus.ACTIVE, MembershipStatus.PAUSED, MembershipStatus.LEFT),
        weights=(0.8, 0.1, 0.1),
    )[0]
    left = between(rng, joined, now) if status is MembershipStatus.LEFT else None
    membership_id = sink.add(
        AlumniMembership,
        id=new_id(rng),
        patient_id=patient.id,
        effective_at=joined,
        sensitivity=label,
        program_id=program_id,
        status=status,
        invited_at=invited,
        joined_at=joined,
        left_at=left,
        left_reason="Moved out of state." if left else None,
        mentor_id=coordinator if rng.random() < 0.4 else None,
        discharge_id=discharge_id,
    )
    until = left or now
    events = [
        e for e in ctx.shared.get("journey.alumni_events", {}).get(program_id, []) if e[1] > joined
    ]
    # One to three touch points after joining: event attendances and check-ins.
    touches = rng.randint(1, 3)
    attended = min(len(events), rng.randint(1, touches))
    for event_id, starts, _ends in rng.sample(events, k=attended):
        registered = min(max(joined, starts - timedelta(days=rng.randrange(1, 21))), now)
        if starts > now:
            state = AttendanceStatus.REGISTERED
        else:
            state = rng.choices(
                (AttendanceStatus.ATTENDED, AttendanceStatus.NO_SHOW, AttendanceStatus.CANCELLED),
                weights=(0.75, 0.15, 0.10),
            )[0]
        sink.add(
            AlumniEventAttendance,
            patient_id=patient.id,
            effective_at=min(starts, now)
            if state is not AttendanceStatus.REGISTERED
            else registered,
            event_id=event_id,
            membership_id=membership_id,
            status=state,
            registered_at=registered,
            checked_in_at=starts + timedelta(minutes=rng.randrange(0, 15))
            if state is AttendanceStatus.ATTENDED
            else None,
            cancelled_at=between(rng, registered, starts)
            if state is AttendanceStatus.CANCELLED
            else None,
        )
    for _ in range(max(1, touches - attended)):
        when = between(rng, joined, until)
        if concern.sud:
            recovery = rng.choices(
                (
                    RecoveryStatus.STABLE,
                    RecoveryStatus.STRUGGLING,
                    RecoveryStatus.LAPSE,
                    RecoveryStatus.RELAPSE,
                ),
                weights=(0.65, 0.18, 0.1, 0.07),
            )[0]
        else:
            recovery = RecoveryStatus.NOT_APPLICABLE
        score = max(
            1, min(10, round(rng.gauss(7 if recovery is RecoveryStatus.STABLE else 5, 1.5)))
        )
        sink.add(
            AlumniCheckIn,
            patient_id=patient.id,
            effective_at=when,
            sensitivity=label,
            author_id=coordinator,
            membership_id=membership_id,
            channel=rng.choices(list(CheckInChannel), weights=(0.45, 0.2, 0.1, 0.15, 0.07, 0.03))[
                0
            ],
            checked_in_at=when,
            wellbeing_score=score,
            recovery_status=recovery,
            days_since_last_use=(when - patient.discharged_at).days
            if recovery is RecoveryStatus.STABLE and concern.sud
            else (rng.randrange(0, 20) if concern.sud else None),
            notes=rng.choice(CHECK_IN_NOTES),
            needs_follow_up=score <= 4
            or recovery in (RecoveryStatus.RELAPSE, RecoveryStatus.IN_CRISIS),
            staff_id=coordinator,
        )
