"""The engagement demo generator: rows insert cleanly, fit the journey and the budget."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import date, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from backend.careplans.models import Task
from backend.common.types import Sensitivity
from backend.demo import engagement, journey
from backend.demo.context import JourneyStage, PatientSeed, demo_now
from backend.demo.sink import RowSink
from backend.engagement.models import (
    Campaign,
    Communication,
    CommunicationSettings,
    Consent,
    ConsentKind,
    ContactPreference,
    Direction,
    MessageType,
    SurveyInvitation,
    SurveyKind,
)
from backend.scheduling.models import Encounter
from tests.demo_world import clinic, new_sink, patient

PER_STAGE = 8
# Future-dated columns the generator may write: link expiry.
FUTURE_OK = {"expires_at"}
# The journey tests' day, with the same journey timelines.
TODAY = date(2026, 3, 2)
NOW = demo_now(TODAY)


def _generate(sink: RowSink, *, with_facts: bool) -> tuple[list[PatientSeed], Counter[str]]:
    ctx = clinic(sink, today=TODAY, seed=7, generators=(journey, engagement))
    seeds: list[PatientSeed] = []
    rows: Counter[str] = Counter()
    for n, stage in enumerate(s for s in JourneyStage for _ in range(PER_STAGE)):
        # First contact 400 - n days ago, admitted 5 days later, discharged 70 days after.
        seed = patient(ctx, sink, n, stage, timeline=(400 - n, 395 - n, 330 - n))
        journey.patient_rows(ctx, seed, sink)
        if with_facts and seed.admitted_at is not None:
            # What scheduling and careplans leave behind when they run first.
            start = seed.admitted_at + timedelta(days=7)
            encounter = sink.add(Encounter, patient_id=seed.id, period_start=start)
            task = sink.add(Task, patient_id=seed.id, title="Complete safety plan")
            seed.facts["scheduling.encounters"] = [(encounter, start, None)]
            seed.facts["scheduling.appointments"] = [(uuid.uuid4(), start, "completed")]
            seed.facts["careplans.task_ids"] = [task]
        before = sink.count()
        engagement.patient_rows(ctx, seed, sink)
        rows[stage.value] += sink.count() - before
        seeds.append(seed)
    return seeds, rows


def _count(
    session: Session, model: type[Any], seed: PatientSeed, *where: ColumnElement[bool]
) -> int:
    query = select(func.count()).select_from(model).where(model.patient_id == seed.id, *where)
    return session.scalar(query) or 0


def test_generated_engagement_inserts_and_fits_each_journey(session: Session) -> None:
    sink = new_sink(5, today=TODAY)
    seeds, rows = _generate(sink, with_facts=True)
    sink.flush(session.connection())

    assert session.scalar(select(func.count()).select_from(Campaign)) == 5
    directions: set[Direction] = set()
    channels: set[str] = set()
    linked_to_task = 0
    for seed in seeds:
        assert _count(session, CommunicationSettings, seed) == 1
        assert _count(session, Communication, seed) >= 1
        treatment = _count(session, Consent, seed, Consent.kind == ConsentKind.TREATMENT)
        part2 = session.scalars(
            select(Consent).where(
                Consent.patient_id == seed.id, Consent.kind == ConsentKind.PART2_DISCLOSURE
            )
        ).all()
        if seed.stage is JourneyStage.INQUIRY:
            assert treatment == 0
            assert _count(session, ContactPreference, seed) == 0
            continue
        assert treatment == 1
        assert len(part2) == (1 if seed.facts["journey.sud"] else 0)
        assert all(c.sensitivity & Sensitivity.PART2 for c in part2)
        marketing = session.scalars(
            select(ContactPreference.allowed).where(
                ContactPreference.patient_id == seed.id,
                ContactPreference.message_type == MessageType.MARKETING,
            )
        ).all()
        assert marketing == [False]  # marketing stays off unless the patient opts in
        messages = session.scalars(
            select(Communication).where(Communication.patient_id == seed.id)
        ).all()
        directions.update(m.direction for m in messages)
        channels.update(m.channel.value for m in messages)
        task_links = {m.task_id for m in messages if m.task_id is not None}
        assert task_links <= set(seed.facts["careplans.task_ids"])
        linked_to_task += bool(task_links)
        if seed.discharged_at is not None:
            [invitation] = session.scalars(
                select(SurveyInvitation).where(
                    SurveyInvitation.patient_id == seed.id,
                    SurveyInvitation.survey_kind == SurveyKind.DISCHARGE,
                )
            ).all()
            assert invitation.discharge_id == seed.facts["journey.discharge_id"]
            assert invitation.sent_at is not None
            assert invitation.sent_at > seed.discharged_at
            assert len(invitation.token_hash) == 64
    assert linked_to_task >= PER_STAGE  # most care-plan e-mails point at the task
    assert directions == {Direction.INBOUND, Direction.OUTBOUND}
    assert {"sms", "email", "phone"} <= channels

    # Budget: ~3 rows for an inquiry, ~10-14 for a treated patient.
    assert rows["inquiry"] <= 3 * PER_STAGE
    for stage in ("in_treatment", "discharged", "alumni"):
        assert 7 * PER_STAGE <= rows[stage] <= 16 * PER_STAGE, (stage, rows[stage])


def test_generator_runs_without_facts_from_other_domains(session: Session) -> None:
    sink = new_sink(6, today=TODAY)
    seeds, _ = _generate(sink, with_facts=False)
    sink.flush(session.connection())
    linked = session.scalar(
        select(func.count()).select_from(Communication).where(Communication.task_id.is_not(None))
    )
    assert linked == 0
    assert all(_count(session, CommunicationSettings, s) == 1 for s in seeds)


def test_nothing_is_dated_after_now() -> None:
    sink = new_sink(7, today=TODAY)
    _generate(sink, with_facts=True)
    engagement_tables = {
        "communication",
        "contact_preference",
        "communication_settings",
        "preference_change",
        "consent",
        "survey_invitation",
        "survey_response",
        "review",
        "campaign",
    }
    checked = 0
    for table, rows in sink.rows.items():
        if table.name not in engagement_tables:
            continue
        for row in rows:
            for key, value in row.items():
                if key.endswith("_at") and key not in FUTURE_OK and value is not None:
                    assert value <= NOW, (table.name, key, value)
                    checked += 1
    assert checked > 100
