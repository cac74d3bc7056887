"""Demo clinical charts: problems, medications, allergies, PHQ-9/GAD-7 series, labs,
vitals, notes, social needs, the occasional scan.

About 15 rows for a patient who was admitted, 0-2 for an inquiry. Scores are computed
with :mod:`backend.clinical.scoring` and fall over treatment, as they do in a program
that works. The principal diagnosis, its medication, the urine drug screens and the
Part 2 labels follow the patient's concern (``journey.concern``, see
:func:`~backend.demo.journey_content.concern_of`). Sets
``patient.facts["clinical.condition_ids"]`` (list of condition ids, primary diagnosis
first).

Modules: :mod:`.chart` (problems, medications, allergies), :mod:`.measurements`,
:mod:`.documentation`, :mod:`.records` (row writers shared with the inquiry screening)
and :mod:`.content` (data).
"""

from __future__ import annotations

import random
from datetime import timedelta

from backend.accounts.models import StaffRole
from backend.clinical.models import AssessmentSource, SocialDomain, SocialFactorSource
from backend.clinical.scoring import PHQ9
from backend.demo.clinical.chart import Chart
from backend.demo.clinical.content import DOMAIN
from backend.demo.clinical.records import add_assessment, add_social
from backend.demo.context import DemoContext, JourneyStage, PatientSeed
from backend.demo.sink import RowSink


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """No reference rows: codes live in :mod:`backend.clinical.codes`."""


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    rng = ctx.rng(patient, DOMAIN)
    if patient.stage is JourneyStage.INQUIRY or patient.admitted_at is None:
        patient.facts["clinical.condition_ids"] = []
        _inquiry(ctx, patient, sink, rng)
        return
    Chart(ctx, patient, sink, rng).write()


def _inquiry(ctx: DemoContext, patient: PatientSeed, sink: RowSink, rng: random.Random) -> None:
    """A screening taken on the first call: a self-reported PHQ-9, a social need."""
    when = min(patient.first_contact_at + timedelta(minutes=20), ctx.now)
    roll = rng.random()
    if roll < 0.6:
        total = rng.randint(6, 20)
        add_assessment(
            sink, patient, rng, PHQ9, total, when, source=AssessmentSource.PATIENT_REPORTED
        )
    if roll > 0.4:
        domain = rng.choice((SocialDomain.HOUSING, SocialDomain.TRANSPORT, SocialDomain.FINANCES))
        staff = rng.choice(ctx.staff[StaffRole.FRONT_DESK])
        add_social(
            sink, patient, rng, domain, when, staff, None, SocialFactorSource.PATIENT_REPORTED
        )
