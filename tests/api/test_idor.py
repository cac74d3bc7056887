"""IDOR: every id argument of the schema, tried with ids that are not the caller's.

The id arguments are enumerated from the schema by introspection (top-level arguments
and fields of input objects), so a new query or mutation taking an id fails
:func:`test_every_id_argument_has_a_case` until it gets a case below. For each:

* a real id of the right kind, belonging to a patient outside the caller's care teams,
  answers exactly like an id that never existed (the whole response compared), with no
  data: NOT_FOUND, or FORBIDDEN when the caller's roles lack the operation whatever the
  id (a refusal that says nothing about the record);
* a real id of the wrong kind (a task id where a patient id is expected) answers like a
  missing id too;
* a garbage id is BAD_USER_INPUT naming the argument, never a 500.

Staff call ``POST /graphql`` with bearer tokens; another patient runs the same documents
through the in-process path the portal uses (patients have no ``/graphql`` credential).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.testclient import TestClient

from backend.access.models import BreakGlassGrant
from backend.access.policy import policy_store
from backend.accounts.models import PortalAccount, StaffUser
from backend.api.context import ApiContext
from backend.api.schema import build_schema
from backend.auth.portal_sessions import patient_principal
from backend.careplans.models import CarePlan, Goal, Task
from backend.common.mixins import utcnow
from backend.common.types import LevelOfCare
from backend.db import transaction
from backend.engagement.enums import CommunicationChannel
from backend.engagement.feedback import Review, ReviewKind, SurveyInvitation, SurveyKind
from backend.forms.intake import intake_definition
from backend.forms.models import FormResponse
from backend.identity.models import IdentityLink, LinkKind, LinkStatus
from backend.interop.hl7v2.models import Hl7Message
from backend.journey.alumni import AlumniEvent, AlumniEventKind, AlumniProgram
from backend.journey.models import Admission, Discharge, DischargeDisposition
from backend.organization.models import CareTeamMember, CareTeamPatient, CareTeamRole
from backend.patients.models import EmergencyContact, Patient
from backend.scheduling.models import Encounter
from graphql import GraphQLID, GraphQLInputObjectType, get_named_type
from tests.api.conftest import ApiWorld
from tests.api.crew import Crew, crew_fixture  # noqa: F401
from tests.api.test_patient_api import gql

SCHEMA = build_schema(production=False)
GARBAGE = "not-an-id"


def id_arguments() -> set[str]:
    """``Root.field(arg)`` / ``Root.field(input.field)`` for every argument of type ID."""
    core = SCHEMA._schema
    found: set[str] = set()

    def walk(prefix: str, type_: GraphQLInputObjectType) -> None:
        for name, f in type_.fields.items():
            named = get_named_type(f.type)
            if named is GraphQLID:
                found.add(f"{prefix}{name})")
            elif isinstance(named, GraphQLInputObjectType):
                walk(f"{prefix}{name}.", named)

    for root in (core.query_type, core.mutation_type):
        assert root is not None
        for name, field in root.fields.items():
            for arg_name, arg in field.args.items():
                named = get_named_type(arg.type)
                if named is GraphQLID:
                    found.add(f"{root.name}.{name}({arg_name})")
                elif isinstance(named, GraphQLInputObjectType):
                    walk(f"{root.name}.{name}({arg_name}.", named)
    return found


# ---- the other team's records: real ids the callers may not reach ----------------------


@dataclass
class Foreign:
    """Records of a patient on team B (outside every caller's teams)."""

    patient: uuid.UUID
    second_patient: uuid.UUID
    task: uuid.UUID
    goal: uuid.UUID
    care_plan: uuid.UUID
    encounter: uuid.UUID
    link: uuid.UUID
    grant: uuid.UUID
    hl7_message: uuid.UUID
    staff: uuid.UUID  # a nurse on team B
    own_task: uuid.UUID  # a task the caller may see: the wrong kind for a patient id
    own_patient: uuid.UUID
    portal_account: uuid.UUID  # a patient on team A, the "another patient" caller
    discharge: uuid.UUID
    survey: uuid.UUID  # a survey invitation
    review: uuid.UUID  # a testimonial
    alumni_event: uuid.UUID  # an event of a program the caller's patient is not in
    form_response: uuid.UUID  # an intake in progress


@pytest.fixture(scope="module")
def foreign(api_world: ApiWorld, api_engine: Engine, crew: Crew) -> Foreign:
    other = api_world.patients["other"]
    tag = uuid.uuid4().hex[:8]
    now = datetime.now(UTC)
    with transaction(api_engine) as s:
        team_b = s.execute(
            select(CareTeamPatient.care_team_id).where(CareTeamPatient.patient_id == other)
        ).scalar_one()
        second = Patient(id=uuid.uuid4(), given_name="Ona", family_name=f"Other{tag}")
        s.add(second)
        s.flush()
        s.add(CareTeamPatient(care_team_id=team_b, patient_id=second.id))
        plan = CarePlan(id=uuid.uuid4(), patient_id=other, title="B plan")
        s.add(plan)
        s.flush()
        goal = Goal(id=uuid.uuid4(), patient_id=other, care_plan_id=plan.id, title="B goal")
        task = Task(id=uuid.uuid4(), patient_id=other, care_plan_id=plan.id, title="B task")
        own = Task(id=uuid.uuid4(), patient_id=crew.patient, title="A task")
        encounter = Encounter(id=uuid.uuid4(), patient_id=other, period_start=now)
        link = IdentityLink(
            id=uuid.uuid4(),
            patient_a_id=other,
            patient_b_id=second.id,
            kind=LinkKind.POSSIBLE_DUPLICATE,
            status=LinkStatus.OPEN,
        )
        physician = s.scalars(
            select(StaffUser.id).where(StaffUser.username == f"physician-{api_world.tag}")
        ).one()
        grant = BreakGlassGrant(
            id=uuid.uuid4(),
            staff_user_id=physician,
            patient_id=other,
            reason="Unresponsive at the door",
            expires_at=now - timedelta(hours=1),
        )
        message = Hl7Message(
            id=uuid.uuid4(),
            source=f"idor-{tag}",
            control_id=f"C{tag}",
            digest=uuid.uuid4().hex * 2,
            message_type="ADT^A08",
            version="2.5",
            raw="MSH|^~\\&|",
        )
        staff_b = StaffUser(id=uuid.uuid4(), username=f"b-staff-{tag}", display_name="B staff")
        s.add_all([goal, task, own, encounter, link, grant, message, staff_b])
        s.flush()
        s.add(
            CareTeamMember(care_team_id=team_b, staff_user_id=staff_b.id, role=CareTeamRole.NURSE)
        )
        admission = Admission(
            id=uuid.uuid4(),
            patient_id=other,
            program="B residential",
            level_of_care=LevelOfCare.RESIDENTIAL,
            admitted_at=now - timedelta(days=30),
        )
        s.add(admission)
        s.flush()
        discharge = Discharge(
            id=uuid.uuid4(),
            patient_id=other,
            admission_id=admission.id,
            discharged_at=now - timedelta(days=1),
            disposition=DischargeDisposition.COMPLETED_PROGRAM,
        )
        program = AlumniProgram(id=uuid.uuid4(), name=f"B alumni {tag}")
        s.add_all([discharge, program])
        s.flush()
        event = AlumniEvent(
            id=uuid.uuid4(),
            program_id=program.id,
            title="B meeting",
            kind=AlumniEventKind.MEETING,
            starts_at=now + timedelta(days=7),
        )
        survey = SurveyInvitation(
            id=uuid.uuid4(),
            patient_id=other,
            survey_kind=SurveyKind.VISIT,
            encounter_id=encounter.id,
            token_hash=uuid.uuid4().hex * 2,
            channel=CommunicationChannel.EMAIL,
            expires_at=now + timedelta(days=7),
        )
        review = Review(id=uuid.uuid4(), patient_id=other, kind=ReviewKind.TESTIMONIAL)
        # Contact details of someone else: the patient read must not carry them either.
        contact = EmergencyContact(
            patient_id=other, name="B contact", relationship_to_patient="spouse", phone="+1555"
        )
        response = FormResponse(
            id=uuid.uuid4(),
            patient_id=other,
            definition_id=intake_definition(s, now=now).id,
        )
        s.add_all([event, survey, review, response, contact])
        s.add(
            PortalAccount(
                id=(account := uuid.uuid4()),
                patient_id=crew.patient,
                login_email=f"idor-{tag}@example.org",
                password_hash="not-used-here",
            )
        )
    return Foreign(
        patient=other,
        second_patient=second.id,
        task=task.id,
        goal=goal.id,
        care_plan=plan.id,
        encounter=encounter.id,
        link=link.id,
        grant=grant.id,
        hl7_message=message.id,
        staff=staff_b.id,
        own_task=own.id,
        own_patient=crew.patient,
        portal_account=account,
        discharge=discharge.id,
        survey=survey.id,
        review=review.id,
        alumni_event=event.id,
        form_response=response.id,
    )


# ---- one case per id argument -----------------------------------------------------------


@dataclass(frozen=True)
class Case:
    document: str
    variables: Callable[[Foreign, str], dict[str, Any]]  # (records, the id under test)
    real: Callable[[Foreign], uuid.UUID]  # a real id of the right kind, out of scope
    caller: str  # a staff caller on team A whose roles may run the operation if any may
    patient_arg: bool = False  # the argument names a patient (tried with a task id too)


def _task_input(f: Foreign, **ids: str) -> dict[str, Any]:
    return {"input": {"patientId": str(f.own_patient), "title": "Call back", **ids}}


def _note(f: Foreign, **ids: str) -> dict[str, Any]:
    fields = {"patientId": str(f.own_patient), "kind": "progress", "title": "t", "body": "b"}
    return {"input": {**fields, **ids}}


R = "__typename"
WHY = 'reason: "Same person, checked"'  # a valid reason: refusals must not be about it
CASES: dict[str, Case] = {
    "Query.patient(id)": Case(
        "query($x: ID!) { patient(id: $x) { id givenName emergencyContacts { name phone } } }",
        lambda f, x: {"x": x}, lambda f: f.patient, "physician", patient_arg=True,
    ),
    "Query.contactPreferences(patientId)": Case(
        f"query($x: ID!) {{ contactPreferences(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "care_coordinator", patient_arg=True,
    ),
    "Query.recordAccess(patientId)": Case(
        f"query($x: ID!) {{ recordAccess(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "physician", patient_arg=True,
    ),
    # Auditors read the whole trail (no care teams); everyone else is refused by role.
    "Query.auditEvents(patientId)": Case(
        f"query($x: ID) {{ auditEvents(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "physician", patient_arg=True,
    ),
    # Break-glass exists to reach patients outside one's teams: a role without it is
    # refused whatever the id.
    "Mutation.breakGlass(patientId)": Case(
        f"mutation($x: ID!) {{ breakGlass(patientId: $x, {WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "billing", patient_arg=True,
    ),
    "Mutation.markBreakGlassReviewed(grantId)": Case(
        f"mutation($x: ID!) {{ markBreakGlassReviewed(grantId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.grant, "physician",
    ),
    "Mutation.mergePatients(survivorId)": Case(
        f"mutation($x: ID!, $y: ID!) {{ mergePatients(survivorId: $x, mergedId: $y, "
        f"{WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x, "y": str(f.own_patient)}, lambda f: f.patient,
        "care_coordinator", patient_arg=True,
    ),
    "Mutation.mergePatients(mergedId)": Case(
        f"mutation($x: ID!, $y: ID!) {{ mergePatients(survivorId: $y, mergedId: $x, "
        f"{WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x, "y": str(f.own_patient)}, lambda f: f.patient,
        "care_coordinator", patient_arg=True,
    ),
    "Mutation.mergePatients(linkId)": Case(
        f"mutation($x: ID, $a: ID!, $b: ID!) {{ mergePatients(survivorId: $a, mergedId: $b, "
        f"{WHY}, linkId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x, "a": str(f.patient), "b": str(f.second_patient)},
        lambda f: f.link, "care_coordinator",
    ),
    "Mutation.unmergePatients(linkId)": Case(
        f"mutation($x: ID!) {{ unmergePatients(linkId: $x, {WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.link, "care_coordinator",
    ),
    "Mutation.markNotDuplicate(a)": Case(
        f"mutation($x: ID!, $y: ID!) {{ markNotDuplicate(a: $x, b: $y, {WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x, "y": str(f.own_patient)}, lambda f: f.patient,
        "care_coordinator", patient_arg=True,
    ),
    "Mutation.markNotDuplicate(b)": Case(
        f"mutation($x: ID!, $y: ID!) {{ markNotDuplicate(a: $y, b: $x, {WHY}) {{ {R} }} }}",
        lambda f, x: {"x": x, "y": str(f.own_patient)}, lambda f: f.patient,
        "care_coordinator", patient_arg=True,
    ),
    "Mutation.logCommunication(input.patientId)": Case(
        f"mutation($i: LogCommunicationInput!) {{ logCommunication(input: $i) {{ {R} }} }}",
        lambda f, x: {
            "i": {
                "patientId": x,
                "channel": "phone",
                "direction": "outbound",
                "occurredAt": "2026-01-05T10:00:00+00:00",
            }
        },
        lambda f: f.patient, "physician", patient_arg=True,
    ),
    "Mutation.recordConsentByPhone(input.patientId)": Case(
        f"mutation($i: RecordConsentByPhoneInput!) {{ recordConsentByPhone(input: $i) "
        f"{{ {R} }} }}",
        lambda f, x: {"i": {"patientId": x, "kind": "treatment", "purpose": "Outpatient care"}},
        lambda f: f.patient, "physician", patient_arg=True,
    ),
    "Mutation.createTask(input.patientId)": Case(
        f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {R} }} }}",
        lambda f, x: _task_input(f, patientId=x), lambda f: f.patient, "physician",
        patient_arg=True,
    ),
    # An assignee must be staff on the patient's care teams or the caller's: another
    # team's staff member answers like a missing one.
    "Mutation.createTask(input.assigneeId)": Case(
        f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {R} }} }}",
        lambda f, x: _task_input(f, assigneeId=x), lambda f: f.staff, "physician",
    ),
    "Mutation.createTask(input.carePlanId)": Case(
        f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {R} }} }}",
        lambda f, x: _task_input(f, carePlanId=x), lambda f: f.care_plan, "physician",
    ),
    "Mutation.createTask(input.goalId)": Case(
        f"mutation($input: CreateTaskInput!) {{ createTask(input: $input) {{ {R} }} }}",
        lambda f, x: _task_input(f, goalId=x), lambda f: f.goal, "physician",
    ),
    "Mutation.updateTask(id)": Case(
        f"mutation($x: ID!) {{ updateTask(id: $x, version: 1, input: {{title: \"t\"}}) "
        f"{{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.task, "physician",
    ),
    "Mutation.updateTask(input.assigneeId)": Case(
        f"mutation($t: ID!, $x: ID) {{ updateTask(id: $t, version: 1, input: {{assigneeId: $x}}) "
        f"{{ {R} }} }}",
        lambda f, x: {"t": str(f.own_task), "x": x}, lambda f: f.staff, "physician",
    ),
    "Mutation.updateGoal(id)": Case(
        f"mutation($x: ID!) {{ updateGoal(id: $x, version: 1, progress: 10) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.goal, "physician",
    ),
    "Mutation.applyCarePlanTemplate(patientId)": Case(
        f"mutation($x: ID!, $t: ID!) {{ applyCarePlanTemplate(patientId: $x, templateId: $t, "
        f"startOn: \"2026-01-05\") {{ {R} }} }}",
        lambda f, x: {"x": x, "t": str(uuid.uuid4())}, lambda f: f.patient, "physician",
        patient_arg=True,
    ),
    # Templates are reference data every staff member reads: the id under test here is
    # the wrong kind (a patient's care plan) against a missing one.
    "Mutation.applyCarePlanTemplate(templateId)": Case(
        f"mutation($p: ID!, $x: ID!) {{ applyCarePlanTemplate(patientId: $p, templateId: $x, "
        f"startOn: \"2026-01-05\") {{ {R} }} }}",
        lambda f, x: {"p": str(f.own_patient), "x": x}, lambda f: f.care_plan, "physician",
    ),
    "Mutation.addClinicalNote(input.patientId)": Case(
        f"mutation($input: AddClinicalNoteInput!) {{ addClinicalNote(input: $input) {{ {R} }} }}",
        lambda f, x: _note(f, patientId=x), lambda f: f.patient, "physician", patient_arg=True,
    ),
    "Mutation.addClinicalNote(input.encounterId)": Case(
        f"mutation($input: AddClinicalNoteInput!) {{ addClinicalNote(input: $input) {{ {R} }} }}",
        lambda f, x: _note(f, encounterId=x), lambda f: f.encounter, "physician",
    ),
    "Mutation.retryHl7Message(id)": Case(
        f"mutation($x: ID!) {{ retryHl7Message(id: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.hl7_message, "physician",
    ),
    "Mutation.createPortalInvite(patientId)": Case(
        f"mutation($x: ID!) {{ createPortalInvite(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "care_coordinator", patient_arg=True,
    ),
    # Surveys: staff send invitations for their own patients' visits and discharges; a
    # patient answers only their own.
    "Mutation.createSurveyInvitation(input.patientId)": Case(
        f"mutation($i: CreateSurveyInvitationInput!) {{ createSurveyInvitation(input: $i) "
        f"{{ {R} }} }}",
        lambda f, x: {"i": {"patientId": x, "kind": "nps_periodic"}},
        lambda f: f.patient, "care_coordinator", patient_arg=True,
    ),
    "Mutation.createSurveyInvitation(input.encounterId)": Case(
        f"mutation($i: CreateSurveyInvitationInput!) {{ createSurveyInvitation(input: $i) "
        f"{{ {R} }} }}",
        lambda f, x: {"i": {"patientId": str(f.own_patient), "kind": "visit", "encounterId": x}},
        lambda f: f.encounter, "care_coordinator",
    ),
    "Mutation.createSurveyInvitation(input.dischargeId)": Case(
        f"mutation($i: CreateSurveyInvitationInput!) {{ createSurveyInvitation(input: $i) "
        f"{{ {R} }} }}",
        lambda f, x: {
            "i": {"patientId": str(f.own_patient), "kind": "discharge", "dischargeId": x}
        },
        lambda f: f.discharge, "care_coordinator",
    ),
    "Mutation.answerSurvey(input.invitationId)": Case(
        f"mutation($i: AnswerSurveyInput!) {{ answerSurvey(input: $i) {{ {R} }} }}",
        lambda f, x: {"i": {"invitationId": x, "nps": "9", "csat": "5"}},
        lambda f: f.survey, "care_coordinator",
    ),
    # Alumni: the signed-in patient's own programs, events and testimonials.
    "Query.alumniPrograms(patientId)": Case(
        f"query($x: ID!) {{ alumniPrograms(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "alumni_coordinator", patient_arg=True,
    ),
    "Query.alumniEvents(patientId)": Case(
        f"query($x: ID!) {{ alumniEvents(patientId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.patient, "alumni_coordinator", patient_arg=True,
    ),
    "Mutation.rsvpAlumniEvent(eventId)": Case(
        f"mutation($x: ID!) {{ rsvpAlumniEvent(eventId: $x, attend: true) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.alumni_event, "alumni_coordinator",
    ),
    "Mutation.revokeTestimonialConsent(reviewId)": Case(
        f"mutation($x: ID!) {{ revokeTestimonialConsent(reviewId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.review, "alumni_coordinator",
    ),
    # Intake: the signed-in patient's own form responses.
    "Query.myIntake(responseId)": Case(
        f"query($x: ID) {{ myIntake(responseId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.form_response, "physician",
    ),
    "Mutation.saveIntakeStep(input.responseId)": Case(
        f"mutation($i: SaveIntakeStepInput!) {{ saveIntakeStep(input: $i) {{ {R} }} }}",
        lambda f, x: {"i": {"responseId": x, "step": "contact", "answers": {}}},
        lambda f: f.form_response, "physician",
    ),
    "Mutation.submitIntake(responseId)": Case(
        f"mutation($x: ID!) {{ submitIntake(responseId: $x) {{ {R} }} }}",
        lambda f, x: {"x": x}, lambda f: f.form_response, "physician",
    ),
}  # fmt: skip


def test_every_id_argument_has_a_case() -> None:
    assert id_arguments() == set(CASES)


# ---- running a case ---------------------------------------------------------------------


Runner = Callable[[str, dict[str, Any]], dict[str, Any]]


def _staff_runner(client: TestClient, token: str) -> Runner:
    def run(document: str, variables: dict[str, Any]) -> dict[str, Any]:
        return gql(client, document, variables, token)

    return run


def _patient_runner(client: TestClient, engine: Engine, account: uuid.UUID) -> Runner:
    with transaction(engine) as s:
        principal = patient_principal(session=s, portal_account_id=account)
    assert principal is not None
    app: Any = client.app

    def run(document: str, variables: dict[str, Any]) -> dict[str, Any]:
        context = ApiContext(
            request=Request({"type": "http", "app": app, "headers": [], "method": "POST"}),
            principal=principal,
            policy=policy_store(app.state.settings.policies_dir).current(),
            now=utcnow(),
            request_id=uuid.uuid4().hex,
        )
        result = asyncio.run(
            SCHEMA.execute(document, variable_values=variables, context_value=context)
        )
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [e.formatted for e in result.errors]
        return body

    return run


def _codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


def _no_data(body: dict[str, Any]) -> bool:
    data = body.get("data")
    return data is None or all(v is None for v in data.values())


def _runner(
    who: str, case: Case, client: TestClient, engine: Engine, world: ApiWorld, foreign: Foreign
) -> Runner:
    if who == "patient":
        return _patient_runner(client, engine, foreign.portal_account)
    return _staff_runner(client, world.tokens[case.caller])


@pytest.mark.parametrize("who", ["staff", "patient"])
@pytest.mark.parametrize("key", sorted(CASES))
def test_an_id_not_yours_answers_like_a_missing_one(
    key: str,
    who: str,
    client: TestClient,
    api_world: ApiWorld,
    api_engine: Engine,
    crew: Crew,
    foreign: Foreign,
) -> None:
    case = CASES[key]
    run = _runner(who, case, client, api_engine, api_world, foreign)
    missing = run(case.document, case.variables(foreign, str(uuid.uuid4())))
    real = run(case.document, case.variables(foreign, str(case.real(foreign))))
    assert _no_data(real), real
    # NOT_FOUND; FORBIDDEN when the roles lack the operation whatever the id; or, for a
    # second id beside an in-scope patient, BAD_USER_INPUT saying it is not one of hers.
    assert _codes(real)
    assert set(_codes(real)) <= {"NOT_FOUND", "FORBIDDEN", "BAD_USER_INPUT"}
    assert real == missing
    if case.patient_arg:
        wrong_kind = run(case.document, case.variables(foreign, str(foreign.own_task)))
        assert wrong_kind == missing
    garbage = run(case.document, case.variables(foreign, GARBAGE))
    assert _codes(garbage) == ["BAD_USER_INPUT"], garbage
    assert _no_data(garbage)
