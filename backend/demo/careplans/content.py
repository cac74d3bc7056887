"""What the demo care plans are made of: who does a care-team role's tasks, which
template a programme uses, case titles and outcomes, notes on benefit use. Data only."""

from __future__ import annotations

from backend.accounts.models import StaffRole
from backend.careplans.enums import BenefitCategory, CaseKind
from backend.organization.models import CareTeamRole

DOMAIN = "careplans"
ORGANIZATION = "Harborview Behavioral Health"  # publisher of the starter templates
US_CORE_CAREPLAN_CATEGORY = "http://hl7.org/fhir/us/core/CodeSystem/careplan-category"
# Who on the team does a task assigned to a care-team role (no peer-support access role).
STAFF_FOR_TEAM_ROLE = {
    CareTeamRole.LEAD_CLINICIAN: StaffRole.THERAPIST,
    CareTeamRole.PHYSICIAN: StaffRole.PHYSICIAN,
    CareTeamRole.NURSE: StaffRole.NURSE,
    CareTeamRole.THERAPIST: StaffRole.THERAPIST,
    CareTeamRole.CARE_COORDINATOR: StaffRole.CARE_COORDINATOR,
    CareTeamRole.CASE_MANAGER: StaffRole.CARE_COORDINATOR,
    CareTeamRole.FRONT_DESK: StaffRole.FRONT_DESK,
    CareTeamRole.BILLING: StaffRole.BILLING,
    CareTeamRole.ALUMNI_COORDINATOR: StaffRole.ALUMNI_COORDINATOR,
    CareTeamRole.PEER_SUPPORT: StaffRole.CARE_COORDINATOR,
}
# Treatment template by the patient's concern (journey.concern): a substance-use disorder
# gets the Part 2 recovery plan, anything else never does.
SUD_TEMPLATE = "iop_sud"
TEMPLATE_BY_CONCERN = {"ptsd": "ptsd_cpt"}
DEFAULT_TEMPLATE = "depression_anxiety"
# Without a concern (a generator run on its own): by the care team's program,
# (template key, weight).
TREATMENT_BY_PROGRAM = {
    "intensive_outpatient": (("iop_sud", 0.8), ("depression_anxiety", 0.2)),
    "outpatient": (("depression_anxiety", 0.7), ("ptsd_cpt", 0.3)),
}
CASES: dict[CaseKind, tuple[str, ...]] = {
    CaseKind.CARE_COORDINATION: (
        "Coordinate care with primary care physician",
        "Obtain records from previous provider",
        "Arrange step-down to standard outpatient",
        "Pharmacy prior authorization for medication",
    ),
    CaseKind.BILLING_ISSUE: (
        "Claim denied: authorization missing",
        "Patient disputes balance statement",
        "Coverage changed mid-treatment",
    ),
    CaseKind.COMPLAINT: ("Complaint about appointment wait times", "Complaint about billing calls"),
    CaseKind.CRISIS: (
        "Crisis call: safety check and safety plan update",
        "Missed sessions after reported relapse: outreach",
    ),
    CaseKind.AFTERCARE: ("Aftercare housing support", "Reconnect with outpatient therapist"),
    CaseKind.INTAKE: ("Admission inquiry follow-up",),
}
CASE_OWNER = {
    CaseKind.INTAKE: CareTeamRole.FRONT_DESK,
    CaseKind.BILLING_ISSUE: CareTeamRole.BILLING,
}
CASE_KINDS = (
    CaseKind.CARE_COORDINATION,
    CaseKind.BILLING_ISSUE,
    CaseKind.COMPLAINT,
    CaseKind.CRISIS,
    CaseKind.AFTERCARE,
)
CASE_KIND_WEIGHTS = (0.35, 0.25, 0.1, 0.15, 0.15)
RESOLUTIONS = {
    CaseKind.INTAKE: (
        "Admitted to waiting list; insurance verified",
        "Patient chose another provider",
        "Referred to a lower level of care",
        "No response after three call-back attempts",
    ),
}
DEFAULT_RESOLUTION = ("Resolved with the patient; no further action.",)
USE_NOTES: dict[BenefitCategory, tuple[str, ...]] = {
    BenefitCategory.TRANSPORTATION: ("Round-trip bus fare to group", "Rideshare to appointment"),
    BenefitCategory.HOUSING: ("Monthly sober-living house fee", "Sober-living deposit"),
    BenefitCategory.PEER_SUPPORT: ("Peer coaching session", "Peer recovery check-in"),
    BenefitCategory.CHILDCARE: ("Childcare during evening session",),
    BenefitCategory.HARM_REDUCTION: ("Naloxone kit handed out with training",),
}
