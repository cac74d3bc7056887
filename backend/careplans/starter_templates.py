"""Starter programme templates: what a new clinic can load, and what the demo uses.

Plain definitions (no ids, no rows): a loader gives them ids and writes
:class:`~backend.careplans.templates.CarePlanTemplate` rows. Goals name their parent and
tasks their goal by a local ``key``. Codes are real: LOINC for the instruments, ICD-10-CM
for the condition a programme treats.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from backend.careplans.enums import (
    BenefitCategory,
    BenefitPeriod,
    Comparator,
    GoalCategory,
    Priority,
)
from backend.common.types import Code, CodeSystem, Sensitivity
from backend.organization.models import CareTeamRole

PHQ9 = Code(
    CodeSystem.LOINC,
    "44261-6",
    "Patient Health Questionnaire 9 item (PHQ-9) total score [Reported]",
)
GAD7 = Code(
    CodeSystem.LOINC,
    "70274-6",
    "Generalized anxiety disorder 7 item (GAD-7) total score [Reported.PHQ]",
)
SCORE = "{score}"  # UCUM annotation for instrument scores


@dataclass(frozen=True)
class GoalDef:
    key: str
    title: str
    category: GoalCategory
    offset: int | None  # days from plan start; None: when its last milestone is due
    parent: str | None = None
    measure_text: str | None = None
    measure: Code | None = None
    comparator: Comparator | None = None
    value: Decimal | None = None
    unit: str | None = None


@dataclass(frozen=True)
class BenefitDef:
    name: str
    category: BenefitCategory
    per_period: BenefitPeriod
    unit: str
    max_uses: int | None = None
    amount_limit: Decimal | None = None
    use_amount: Decimal | None = None  # the usual amount of one use (a voucher's value)
    from_offset: int | None = None
    to_offset: int | None = None
    this_year: bool = False  # absolute window: the current calendar year
    description: str | None = None


@dataclass(frozen=True)
class TaskDef:
    title: str
    offset: int
    role: CareTeamRole
    priority: Priority = Priority.ROUTINE
    goal: str | None = None
    description: str | None = None


@dataclass(frozen=True)
class TemplateDef:
    key: str
    name: str
    title: str
    program: str
    duration_days: int
    description: str
    condition: Code | None
    sensitivity: Sensitivity
    goals: tuple[GoalDef, ...]
    benefits: tuple[BenefitDef, ...]
    tasks: tuple[TaskDef, ...]


def _transport(max_uses: int, per: BenefitPeriod, limit: int, each: int) -> BenefitDef:
    return BenefitDef(
        "Transportation vouchers",
        BenefitCategory.TRANSPORTATION,
        per,
        "voucher",
        max_uses=max_uses,
        amount_limit=Decimal(limit),
        use_amount=Decimal(each),
        description="Bus, train or rideshare to and from treatment.",
    )


DEPRESSION_ANXIETY = TemplateDef(
    key="depression_anxiety",
    name="Outpatient depression & anxiety 90-day",
    title="Your 90-day plan for mood and anxiety",
    program="outpatient",
    duration_days=90,
    description="Weekly therapy (CBT/behavioural activation), medication management and "
    "measurement-based care with PHQ-9 and GAD-7 every two weeks.",
    condition=Code(CodeSystem.ICD10, "F33.1", "Major depressive disorder, recurrent, moderate"),
    sensitivity=Sensitivity.NONE,
    goals=(
        GoalDef("safety", "Personal safety plan completed", GoalCategory.SAFETY, 7),
        GoalDef(
            "mood",
            "Reduce depressive symptoms",
            GoalCategory.SYMPTOM,
            90,
            measure_text="PHQ-9 total score < 10",
            measure=PHQ9,
            comparator=Comparator.LT,
            value=Decimal(10),
            unit=SCORE,
        ),
        GoalDef(
            "mood_m1",
            "PHQ-9 down 5 points from baseline",
            GoalCategory.SYMPTOM,
            45,
            parent="mood",
            measure_text="PHQ-9 decrease of 5 or more points",
        ),
        GoalDef(
            "mood_m2",
            "Attend 6 of the first 8 therapy sessions",
            GoalCategory.ENGAGEMENT,
            56,
            parent="mood",
        ),
        GoalDef(
            "anxiety",
            "Reduce anxiety symptoms",
            GoalCategory.SYMPTOM,
            90,
            measure_text="GAD-7 total score < 10",
            measure=GAD7,
            comparator=Comparator.LT,
            value=Decimal(10),
            unit=SCORE,
        ),
        GoalDef(
            "anxiety_m1",
            "Use a coping skill on 4 days a week",
            GoalCategory.WELLNESS,
            30,
            parent="anxiety",
        ),
    ),
    benefits=(
        BenefitDef(
            "Peer coaching sessions",
            BenefitCategory.PEER_SUPPORT,
            BenefitPeriod.MONTH,
            "session",
            max_uses=4,
        ),
        _transport(4, BenefitPeriod.MONTH, 100, 25),
    ),
    tasks=(
        TaskDef("Baseline PHQ-9 and GAD-7", 0, CareTeamRole.NURSE),
        TaskDef(
            "Columbia suicide risk screening and safety plan",
            3,
            CareTeamRole.THERAPIST,
            Priority.URGENT,
            goal="safety",
        ),
        TaskDef("Psychiatric medication evaluation", 14, CareTeamRole.PHYSICIAN),
        TaskDef(
            "30-day plan review with the patient", 30, CareTeamRole.LEAD_CLINICIAN, goal="mood"
        ),
        TaskDef("Discharge and step-down planning", 80, CareTeamRole.CARE_COORDINATOR),
    ),
)

IOP_SUD = TemplateDef(
    key="iop_sud",
    name="IOP substance use recovery 12-week",
    title="Your 12-week recovery plan",
    program="intensive_outpatient",
    duration_days=84,
    description="Intensive outpatient programme, three groups a week, with medication for "
    "opioid use disorder, weekly toxicology and recovery supports.",
    condition=Code(CodeSystem.ICD10, "F11.20", "Opioid dependence, uncomplicated"),
    sensitivity=Sensitivity.PART2,  # a 42 CFR Part 2 programme
    goals=(
        GoalDef(
            "abstinence",
            "Sustained abstinence from alcohol and opioids",
            GoalCategory.RECOVERY,
            84,
            measure_text="Negative urine drug screens for 12 weeks",
        ),
        GoalDef(
            "abst_30",
            "30 days of continuous abstinence",
            GoalCategory.RECOVERY,
            30,
            parent="abstinence",
        ),
        GoalDef(
            "abst_60",
            "60 days of continuous abstinence",
            GoalCategory.RECOVERY,
            60,
            parent="abstinence",
        ),
        GoalDef(
            "moud",
            "Stable on medication for opioid use disorder",
            GoalCategory.MEDICATION,
            56,
            measure_text="Buprenorphine taken as prescribed, no missed doses for 4 weeks",
        ),
        GoalDef(
            "moud_induction",
            "Buprenorphine induction completed",
            GoalCategory.MEDICATION,
            7,
            parent="moud",
        ),
        GoalDef("support", "Build a recovery support network", GoalCategory.SOCIAL, 84),
        GoalDef(
            "support_meetings",
            "Attend 3 mutual-help meetings a week",
            GoalCategory.ENGAGEMENT,
            28,
            parent="support",
        ),
        GoalDef(
            "support_sponsor",
            "Identify a sponsor or peer mentor",
            GoalCategory.SOCIAL,
            42,
            parent="support",
        ),
        GoalDef("housing", "Safe, substance-free housing", GoalCategory.SOCIAL, 60),
    ),
    benefits=(
        _transport(5, BenefitPeriod.WEEK, 75, 15),
        BenefitDef(
            "Sober-living stipend",
            BenefitCategory.HOUSING,
            BenefitPeriod.MONTH,
            "payment",
            max_uses=1,
            amount_limit=Decimal(800),
            use_amount=Decimal(800),
            from_offset=14,
            to_offset=84,
            description="Paid to a certified sober-living residence once a month.",
        ),
        BenefitDef(
            "Peer coaching sessions",
            BenefitCategory.PEER_SUPPORT,
            BenefitPeriod.WEEK,
            "session",
            max_uses=2,
        ),
        BenefitDef(
            "Naloxone kit",
            BenefitCategory.HARM_REDUCTION,
            BenefitPeriod.PLAN,
            "kit",
            max_uses=2,
        ),
    ),
    tasks=(
        TaskDef(
            "Obtain 42 CFR Part 2 consent to share records",
            0,
            CareTeamRole.CARE_COORDINATOR,
            Priority.URGENT,
        ),
        TaskDef("ASAM multidimensional assessment", 2, CareTeamRole.LEAD_CLINICIAN),
        TaskDef(
            "Buprenorphine induction visit", 5, CareTeamRole.PHYSICIAN, Priority.URGENT, goal="moud"
        ),
        TaskDef("Weekly urine drug screen review", 7, CareTeamRole.NURSE, goal="abstinence"),
        TaskDef("Sober-living referral", 10, CareTeamRole.CASE_MANAGER, goal="housing"),
        TaskDef("Relapse prevention plan", 21, CareTeamRole.THERAPIST, goal="abstinence"),
        TaskDef("Aftercare and alumni enrolment", 77, CareTeamRole.CARE_COORDINATOR),
    ),
)

PTSD_CPT = TemplateDef(
    key="ptsd_cpt",
    name="Trauma-focused therapy (CPT) 16-week",
    title="Your 16-week trauma recovery plan",
    program="outpatient",
    duration_days=112,
    description="Twelve sessions of cognitive processing therapy with PCL-5 every other "
    "session, sleep and functioning goals.",
    condition=Code(CodeSystem.ICD10, "F43.10", "Post-traumatic stress disorder, unspecified"),
    sensitivity=Sensitivity.NONE,
    goals=(
        GoalDef(
            "ptsd",
            "Reduce PTSD symptoms",
            GoalCategory.SYMPTOM,
            112,
            measure_text="PCL-5 total score < 33",
            comparator=Comparator.LT,
            value=Decimal(33),
            unit=SCORE,
        ),
        GoalDef(
            "ptsd_m1",
            "Complete psychoeducation and impact statement",
            GoalCategory.ENGAGEMENT,
            14,
            parent="ptsd",
        ),
        GoalDef(
            "ptsd_m2",
            "Complete 12 cognitive processing therapy sessions",
            GoalCategory.ENGAGEMENT,
            84,
            parent="ptsd",
        ),
        GoalDef(
            "sleep",
            "Improve sleep",
            GoalCategory.WELLNESS,
            56,
            measure_text="6 or more hours of sleep on 5 nights a week",
        ),
        # No own date: due when its milestones are.
        GoalDef("work", "Return to work or school", GoalCategory.FUNCTIONAL, None),
        GoalDef(
            "work_m1",
            "Meet with a vocational counselor",
            GoalCategory.FUNCTIONAL,
            60,
            parent="work",
        ),
        GoalDef(
            "work_m2",
            "Agree a graded return-to-work schedule",
            GoalCategory.FUNCTIONAL,
            100,
            parent="work",
        ),
    ),
    benefits=(
        BenefitDef(
            "Childcare during sessions",
            BenefitCategory.CHILDCARE,
            BenefitPeriod.WEEK,
            "session",
            max_uses=2,
            amount_limit=Decimal(60),
            use_amount=Decimal(30),
        ),
        _transport(2, BenefitPeriod.WEEK, 40, 20),
    ),
    tasks=(
        TaskDef("Baseline PCL-5", 0, CareTeamRole.THERAPIST),
        TaskDef("Trauma history and safety assessment", 2, CareTeamRole.THERAPIST, Priority.URGENT),
        TaskDef("Sleep medication review", 21, CareTeamRole.PHYSICIAN, goal="sleep"),
        TaskDef("Vocational rehabilitation referral", 45, CareTeamRole.CASE_MANAGER, goal="work"),
        TaskDef("Mid-treatment PCL-5 review", 56, CareTeamRole.LEAD_CLINICIAN, goal="ptsd"),
    ),
)

AFTERCARE = TemplateDef(
    key="aftercare",
    name="Aftercare & alumni 6-month",
    title="Your first six months after treatment",
    program="alumni",
    duration_days=182,
    description="Follow-up calls, monthly alumni check-ins, peer coaching and alumni events "
    "for the six months after discharge.",
    condition=None,
    sensitivity=Sensitivity.NONE,
    goals=(
        GoalDef(
            "maintain",
            "Maintain recovery and treatment gains",
            GoalCategory.RECOVERY,
            182,
            measure_text="PHQ-9 total score < 10 at 6 months",
            measure=PHQ9,
            comparator=Comparator.LT,
            value=Decimal(10),
            unit=SCORE,
        ),
        GoalDef(
            "maintain_m1",
            "Relapse prevention plan reviewed with alumni coordinator",
            GoalCategory.RECOVERY,
            30,
            parent="maintain",
        ),
        GoalDef(
            "maintain_m2",
            "Attend monthly alumni check-ins for 3 months",
            GoalCategory.ENGAGEMENT,
            90,
            parent="maintain",
        ),
        GoalDef(
            "connect",
            "Stay connected to a recovery community",
            GoalCategory.SOCIAL,
            120,
            measure_text="2 alumni or mutual-help events a month",
        ),
    ),
    benefits=(
        BenefitDef(
            "Alumni peer coaching",
            BenefitCategory.PEER_SUPPORT,
            BenefitPeriod.MONTH,
            "session",
            max_uses=2,
        ),
        BenefitDef(
            "Alumni events pass",
            BenefitCategory.OTHER,
            BenefitPeriod.PLAN,
            "event",
            max_uses=6,
            this_year=True,
            description="Alumni dinners, retreats and sober events of the calendar year.",
        ),
        _transport(2, BenefitPeriod.MONTH, 50, 25),
    ),
    tasks=(
        TaskDef(
            "7-day post-discharge follow-up call",
            7,
            CareTeamRole.ALUMNI_COORDINATOR,
            Priority.URGENT,
        ),
        TaskDef("30-day post-discharge call", 30, CareTeamRole.ALUMNI_COORDINATOR),
        TaskDef("90-day outcomes survey", 90, CareTeamRole.ALUMNI_COORDINATOR),
        TaskDef("6-month recovery check-in", 180, CareTeamRole.ALUMNI_COORDINATOR, goal="maintain"),
    ),
)

TEMPLATES: tuple[TemplateDef, ...] = (DEPRESSION_ANXIETY, IOP_SUD, PTSD_CPT, AFTERCARE)
