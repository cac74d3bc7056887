"""More of the API test clinic for the mutation tests: a care coordinator and a nurse on
team A, a care-plan template, and helpers to read back what a mutation wrote.

Imported by the mutation test modules (fixtures defined here are pulled in by name).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access.models import AuditAction, AuditEvent
from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.auth.tokens import default_scopes, issue_access_token
from backend.careplans.enums import GoalCategory, Priority, TemplateStatus
from backend.careplans.models import (
    CarePlanTemplate,
    TemplateBenefit,
    TemplateGoal,
    TemplateTask,
)
from backend.db import transaction
from backend.organization.models import CareTeamMember, CareTeamPatient, CareTeamRole
from backend.patients.models import Patient
from tests.api.conftest import ApiWorld, settings_for
from tests.api.test_patient_api import gql


@dataclass
class Crew:
    tokens: dict[str, str] = field(default_factory=dict)
    ids: dict[str, uuid.UUID] = field(default_factory=dict)
    # A patient of their own on team A: the mutations add records, and other API tests
    # count the records of the shared patients.
    patient: uuid.UUID = field(default_factory=uuid.uuid4)
    template_id: uuid.UUID = field(default_factory=uuid.uuid4)
    draft_template_id: uuid.UUID = field(default_factory=uuid.uuid4)


@pytest.fixture(scope="session", name="crew")
def crew_fixture(api_world: ApiWorld, api_engine: Engine, api_db_url: str) -> Crew:
    out = Crew()
    tag = uuid.uuid4().hex[:8]
    with transaction(api_engine) as s:
        team_id = s.execute(
            select(CareTeamPatient.care_team_id).where(
                CareTeamPatient.patient_id == api_world.patients["jose"]
            )
        ).scalar_one()
        home = s.execute(
            select(Patient.home_location_id).where(Patient.id == api_world.patients["jose"])
        ).scalar_one()
        s.add(
            Patient(
                id=out.patient,
                given_name="Mona",
                family_name=f"Mutable{tag}",
                birth_date=date(1990, 2, 3),
                home_location_id=home,
            )
        )
        s.flush()
        s.add(CareTeamPatient(care_team_id=team_id, patient_id=out.patient))
        for who, role, team_role in (
            ("care_coordinator", StaffRole.CARE_COORDINATOR, CareTeamRole.CARE_COORDINATOR),
            ("nurse", StaffRole.NURSE, CareTeamRole.NURSE),
        ):
            user = StaffUser(id=uuid.uuid4(), username=f"{who}-m-{tag}", display_name=who)
            s.add(user)
            s.flush()
            s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
            s.add(CareTeamMember(care_team_id=team_id, staff_user_id=user.id, role=team_role))
            out.ids[who] = user.id
            out.tokens[who] = issue_access_token(
                session=s,
                settings=settings_for(api_db_url),
                staff_user_id=user.id,
                scopes=default_scopes(frozenset({role.value})),
                lifetime=timedelta(hours=1),
            ).access_token
        for who in ("physician", "therapist", "front_desk", "alumni_coordinator", "admin"):
            out.ids[who] = s.execute(
                select(StaffUser.id).where(StaffUser.username == f"{who}-{api_world.tag}")
            ).scalar_one()
        template = CarePlanTemplate(
            id=out.template_id,
            name=f"IOP {tag}",
            title="Intensive outpatient",
            status=TemplateStatus.ACTIVE,
            duration_days=84,
        )
        s.add(template)
        s.add(CarePlanTemplate(id=out.draft_template_id, name=f"Draft {tag}"))
        s.flush()
        top = TemplateGoal(
            id=uuid.uuid4(),
            template_id=template.id,
            title="Reduce depressive symptoms",
            category=GoalCategory.SYMPTOM,
        )
        s.add(top)
        s.flush()
        milestone = TemplateGoal(
            template_id=template.id,
            parent_goal_id=top.id,
            title="PHQ-9 < 15",
            target_offset_days=28,
        )
        s.add(milestone)
        s.add(TemplateBenefit(template_id=template.id, name="Bus pass", max_uses=4))
        s.flush()
        s.add(
            TemplateTask(
                template_id=template.id,
                goal_id=top.id,
                title="Safety plan review",
                due_offset_days=7,
                assignee_role=CareTeamRole.THERAPIST,
                priority=Priority.URGENT,
            )
        )
        s.add(TemplateTask(template_id=template.id, title="Benefits check", due_offset_days=3))
    return out


def latest_audit(engine: Engine, actor_id: uuid.UUID, action: AuditAction) -> AuditEvent:
    with transaction(engine) as s:
        row = s.execute(
            select(AuditEvent)
            .where(AuditEvent.actor_id == actor_id, AuditEvent.action == action)
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        ).scalar_one()
        s.expunge(row)
        return row


def audit_text(event: AuditEvent) -> str:
    """Every column of an audit row as text, to prove no value leaked in."""
    return repr([getattr(event, c.key) for c in AuditEvent.__table__.columns])


def ok(client: TestClient, query: str, variables: dict[str, Any], token: str) -> dict[str, Any]:
    body = gql(client, query, variables, token)
    assert "errors" not in body, body
    data: dict[str, Any] = body["data"]
    return data


def error(body: dict[str, Any]) -> dict[str, Any]:
    assert body.get("errors"), body
    assert len(body["errors"]) == 1, body
    first: dict[str, Any] = body["errors"][0]
    return first
