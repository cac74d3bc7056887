"""Duplicates an import created reach reviewers through GraphQL, with evidence."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.auth.tokens import default_scopes, issue_access_token
from backend.db import transaction
from backend.interop.hl7v2.store import receive
from backend.organization.models import CareTeam, CareTeamMember, CareTeamPatient, CareTeamRole
from backend.patients.models import Patient
from tests.api.conftest import api_db_url, api_engine, client, operation, settings_for
from tests.mpi_db.factory import surname
from tests.mpi_db.test_import_paths import SECRET, adt

__all__ = ["api_db_url", "api_engine", "client"]  # fixtures shared with the API tests


def test_an_hl7_duplicate_shows_in_possible_duplicates_with_evidence(
    client: TestClient, api_engine: Engine, api_db_url: str
) -> None:
    family, tag = surname().upper(), uuid.uuid4().hex[:8]
    with transaction(api_engine) as s:
        for n, given in ((1, "ANNA"), (2, "MARIA")):
            text = adt("A04", f"{tag}-{n}", f"{tag}G{n}", family, given)
            assert receive(session=s, text=text, secret_key=SECRET).ack_code == "AA"
        team = CareTeam(id=uuid.uuid4(), name=f"MPI {tag}")
        user = StaffUser(id=uuid.uuid4(), username=f"coord-{tag}", display_name="coordinator")
        s.add_all([team, user])
        s.flush()
        s.add(StaffRoleAssignment(staff_user_id=user.id, role=StaffRole.CARE_COORDINATOR))
        s.add(
            CareTeamMember(
                care_team_id=team.id, staff_user_id=user.id, role=CareTeamRole.CARE_COORDINATOR
            )
        )
        ids = set(s.execute(select(Patient.id).where(Patient.family_name == family)).scalars())
        s.add_all([CareTeamPatient(care_team_id=team.id, patient_id=p) for p in ids])
        token = issue_access_token(
            session=s,
            settings=settings_for(api_db_url),
            staff_user_id=user.id,
            scopes=default_scopes(frozenset({str(StaffRole.CARE_COORDINATOR)})),
            lifetime=timedelta(hours=1),
        ).access_token
    response = client.post(
        "/graphql",
        json={"query": operation("PossibleDuplicates"), "variables": {"first": 50}},
        headers={"Authorization": f"Bearer {token}"},
    )
    body = response.json()
    assert "errors" not in body, body
    nodes = [
        e["node"]
        for e in body["data"]["possibleDuplicates"]["edges"]
        if {e["node"]["patientA"]["id"], e["node"]["patientB"]["id"]} == {str(i) for i in ids}
    ]
    assert len(nodes) == 1
    node = nodes[0]
    evidence = {item["field"]: item for item in node["evidence"]}
    assert evidence["given_name"]["agreement"] == "disagree"
    assert evidence["given_name"]["weight"] < 0
    assert evidence["birth_date"]["agreement"] == "exact"
    assert evidence["birth_date"]["weight"] > 0
    assert evidence["phone"]["agreement"] == "exact"
    assert abs(node["totalWeight"] - sum(item["weight"] for item in node["evidence"])) < 0.05
    assert 0 <= node["score"] <= 1
    assert node["matcherVersion"]
