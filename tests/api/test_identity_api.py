"""Duplicate review, merge, unmerge and MPI KPIs over real HTTP, on both databases."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
from backend.auth.tokens import default_scopes, issue_access_token
from backend.clinical.models import Condition
from backend.common.types import Code
from backend.db import transaction
from backend.identity.models import IdentityLink, LinkKind, LinkStatus
from backend.organization.models import CareTeam, CareTeamMember, CareTeamPatient, CareTeamRole
from backend.patients.models import Patient
from tests.api.conftest import operation, settings_for
from tests.identity.factory import EVIDENCE


@dataclass
class Desk:
    tokens: dict[str, str] = field(default_factory=dict)
    patients: dict[str, uuid.UUID] = field(default_factory=dict)
    links: dict[str, uuid.UUID] = field(default_factory=dict)


@pytest.fixture(scope="module")
def desk(api_engine: Engine, api_db_url: str) -> Desk:
    """A team with a care coordinator and a physician, four near-duplicate patients with
    two open suggestions, and one suggestion reaching a patient of another team."""
    tag = uuid.uuid4().hex[:8]
    found = Desk()
    with transaction(api_engine) as s:
        team = CareTeam(id=uuid.uuid4(), name=f"MPI {tag}")
        other = CareTeam(id=uuid.uuid4(), name=f"Other {tag}")
        s.add_all([team, other])
        s.flush()
        for who, role in (
            ("coordinator", StaffRole.CARE_COORDINATOR),
            ("physician", StaffRole.PHYSICIAN),
            ("admin", StaffRole.ADMIN),
        ):
            user = StaffUser(id=uuid.uuid4(), username=f"{who}-mpi-{tag}", display_name=who)
            s.add(user)
            s.flush()
            s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
            s.add(
                CareTeamMember(
                    care_team_id=team.id, staff_user_id=user.id, role=CareTeamRole.CARE_COORDINATOR
                )
            )
            found.tokens[who] = issue_access_token(
                session=s,
                settings=settings_for(api_db_url),
                staff_user_id=user.id,
                scopes=default_scopes(frozenset({str(role)})),
                lifetime=timedelta(hours=1),
            ).access_token
        for key, given, home in (
            ("kate", "Kate", team),
            ("katherine", "Katherine", team),
            ("bill", "Bill", team),
            ("william", "William", team),
            ("outsider", "Kathy", other),
        ):
            p = Patient(id=uuid.uuid4(), given_name=given, family_name=f"Mpi{tag}")
            s.add(p)
            s.flush()
            s.add(CareTeamPatient(care_team_id=home.id, patient_id=p.id))
            found.patients[key] = p.id
        s.add(Condition(patient_id=found.patients["kate"], code=Code("icd", "F32.1", "Dx")))
        old = datetime.now(UTC) - timedelta(days=10)
        for name, a, b, when in (
            ("kate", "katherine", "kate", old),
            ("bill", "william", "bill", old + timedelta(days=1)),
            ("outsider", "katherine", "outsider", old),
        ):
            link = IdentityLink(
                id=uuid.uuid4(),
                patient_a_id=found.patients[a],
                patient_b_id=found.patients[b],
                kind=LinkKind.POSSIBLE_DUPLICATE,
                score=0.91,
                match_evidence=EVIDENCE,
                matcher_version="test-1",
                recorded_at=when,
            )
            s.add(link)
            found.links[name] = link.id
    return found


def gql(client: TestClient, token: str, name: str, **variables: Any) -> dict[str, Any]:
    response = client.post(
        "/graphql",
        json={"query": operation(name), "variables": variables},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


def code(body: dict[str, Any]) -> str:
    return str(body["errors"][0]["extensions"]["code"])


def test_review_merge_unmerge_over_http(client: TestClient, desk: Desk, api_engine: Engine) -> None:
    token = desk.tokens["coordinator"]
    stats_before = gql(client, token, "MpiStats")["data"]["mpiStats"]
    page = gql(client, token, "PossibleDuplicates", first=1)["data"]["possibleDuplicates"]
    node = page["edges"][0]["node"]
    assert node["linkId"] == str(
        desk.links["kate"]
    )  # oldest first; the outsider's link is left out
    assert page["pageInfo"]["hasNextPage"] is True
    assert {e["field"]: e["agreement"] for e in node["evidence"]} == {
        "birth_date": "exact",
        "family_name": "exact",
        "given_name": "partial",
        "phone": "missing",
    }
    assert node["totalWeight"] == 11.6
    assert node["score"] == 0.91
    assert {node["patientA"]["givenName"], node["patientB"]["givenName"]} == {"Kate", "Katherine"}
    rest = gql(client, token, "PossibleDuplicates", first=50, after=page["pageInfo"]["endCursor"])
    links = [e["node"]["linkId"] for e in rest["data"]["possibleDuplicates"]["edges"]]
    assert str(desk.links["bill"]) in links
    assert str(desk.links["outsider"]) not in links

    survivor, merged = desk.patients["katherine"], desk.patients["kate"]
    merged_body = gql(
        client,
        token,
        "MergePatients",
        survivorId=str(survivor),
        mergedId=str(merged),
        reason="same person",
        linkId=str(desk.links["kate"]),
    )
    result = merged_body["data"]["mergePatients"]
    assert result["survivorId"] == str(survivor)
    assert result["movedRecords"] >= 1
    again = gql(
        client,
        token,
        "MergePatients",
        survivorId=str(survivor),
        mergedId=str(merged),
        reason="same person",
    )
    assert code(again) == "CONFLICT"
    # The merged id answers with the survivor.
    read = client.post(
        "/graphql",
        json={"query": f'{{ patient(id: "{merged}") {{ id givenName }} }}'},
        headers={"Authorization": f"Bearer {token}"},
    ).json()
    assert read["data"]["patient"] == {"id": str(survivor), "givenName": "Katherine"}
    with transaction(api_engine) as s:
        owner = s.execute(
            select(Condition.patient_id).where(Condition.patient_id.in_([survivor, merged]))
        ).scalar()
    assert owner == survivor

    stats = gql(client, token, "MpiStats")["data"]["mpiStats"]
    assert stats["openPairs"] == stats_before["openPairs"] - 1
    assert stats["manualMerges"] == stats_before["manualMerges"] + 1
    assert stats["oldestOpenAgeSeconds"] >= 9 * 86400
    assert stats["duplicateRatePer1000"] == pytest.approx(
        stats["openPairs"] * 1000 / stats["patients"], abs=0.001
    )

    undone = gql(
        client, token, "UnmergePatients", linkId=result["linkId"], reason="two people after all"
    )
    assert undone["data"]["unmergePatients"]["unmergedAt"] is not None
    with transaction(api_engine) as s:
        owner = s.execute(
            select(Condition.patient_id).where(Condition.patient_id.in_([survivor, merged]))
        ).scalar()
    assert owner == merged
    assert (
        code(
            gql(
                client,
                token,
                "UnmergePatients",
                linkId=result["linkId"],
                reason="two people after all",
            )
        )
        == "CONFLICT"
    )


def test_mark_not_duplicate_over_http(client: TestClient, desk: Desk, api_engine: Engine) -> None:
    token = desk.tokens["coordinator"]
    a, b = str(desk.patients["william"]), str(desk.patients["bill"])
    body = gql(client, token, "MarkNotDuplicate", a=a, b=b, reason="father and son")
    link_id = body["data"]["markNotDuplicate"]["linkId"]
    again = gql(client, token, "MarkNotDuplicate", a=b, b=a, reason="father and son")
    assert again["data"]["markNotDuplicate"]["linkId"] == link_id
    page = gql(client, token, "PossibleDuplicates", first=50)["data"]["possibleDuplicates"]
    assert str(desk.links["bill"]) not in [e["node"]["linkId"] for e in page["edges"]]
    with transaction(api_engine) as s:
        status = s.execute(
            select(IdentityLink.status).where(IdentityLink.id == desk.links["bill"])
        ).scalar()
    assert status is LinkStatus.REJECTED


def test_roles_and_scope(client: TestClient, desk: Desk) -> None:
    for who in ("physician", "admin"):
        token = desk.tokens[who]
        assert code(gql(client, token, "PossibleDuplicates")) == "FORBIDDEN"
        assert code(gql(client, token, "MpiStats")) == "FORBIDDEN"
        assert (
            code(
                gql(
                    client,
                    token,
                    "MarkNotDuplicate",
                    a=str(desk.patients["bill"]),
                    b=str(desk.patients["william"]),
                    reason="not the same",
                )
            )
            == "FORBIDDEN"
        )
    token = desk.tokens["coordinator"]
    outsider = gql(
        client,
        token,
        "MergePatients",
        survivorId=str(desk.patients["katherine"]),
        mergedId=str(desk.patients["outsider"]),
        reason="same person",
    )
    missing = gql(
        client,
        token,
        "MergePatients",
        survivorId=str(desk.patients["katherine"]),
        mergedId=str(uuid.uuid4()),
        reason="same person",
    )
    assert outsider["errors"][0] == {**missing["errors"][0], "path": outsider["errors"][0]["path"]}
    assert code(outsider) == "NOT_FOUND"
    bad = gql(
        client,
        token,
        "MergePatients",
        survivorId="nope",
        mergedId=str(uuid.uuid4()),
        reason="same person",
    )
    assert code(bad) == "BAD_USER_INPUT"
