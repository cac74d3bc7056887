"""OAuth2 scopes cap what a bearer token may use, on top of the caller's roles."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access.masking import TOKEN_SCOPE_RULE, mask_plan
from backend.access.policy import SCOPE_PREFIX, load_policy
from backend.access.principal import Principal, PrincipalKind
from backend.accounts.models import StaffUser
from backend.auth.tokens import KNOWN_SCOPES, issue_access_token
from backend.db import transaction
from backend.settings import Settings
from tests.api.conftest import ApiWorld, operation, settings_for
from tests.api.test_patient_api import gql

PATIENT_360 = operation("Patient360")
BREAK_GLASS = operation("BreakGlass")


def _token(engine: Engine, db_url: str, world: ApiWorld, who: str, scopes: tuple[str, ...]) -> str:
    with transaction(engine) as session:
        user_id = session.scalars(
            select(StaffUser.id).where(StaffUser.username == f"{who}-{world.tag}")
        ).one()
        return issue_access_token(
            session=session,
            settings=settings_for(db_url),
            staff_user_id=user_id,
            scopes=scopes,
            lifetime=timedelta(minutes=10),
        ).access_token


def test_every_scope_a_token_can_carry_has_a_ceiling_in_the_policy() -> None:
    policy = load_policy(Settings().policies_dir)[1]
    in_policy = {
        role.removeprefix(SCOPE_PREFIX) for role in policy.roles if role.startswith(SCOPE_PREFIX)
    }
    assert in_policy == set(KNOWN_SCOPES)


def test_a_token_without_a_patient_scope_sees_no_patient(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, api_db_url: str
) -> None:
    patient = {"id": str(api_world.patients["jose"])}
    full = _token(api_engine, api_db_url, api_world, "physician", ("patients:read",))
    assert gql(client, PATIENT_360, patient, full)["data"]["patient"]["id"] == patient["id"]
    # The same physician, a token for something else: the patient "does not exist".
    narrow = _token(api_engine, api_db_url, api_world, "physician", ("audit:read",))
    body = gql(client, PATIENT_360, patient, narrow)
    assert body["data"]["patient"] is None
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


def test_fields_the_role_may_read_but_the_scope_may_not_are_withheld_by_the_scope_rule() -> None:
    policy = load_policy(Settings().policies_dir)[1]

    def plan(scopes: set[str], token: bool = True) -> tuple[frozenset[str], dict[str, str]]:
        who = Principal(
            kind=PrincipalKind.STAFF,
            subject_id=uuid.uuid4(),
            username="doc",
            roles=frozenset({"physician"}),
            scopes=frozenset(scopes),
            token_id="jti-1" if token else None,
        )
        made = mask_plan(policy=policy, principal=who, record_type="Condition")
        return made.allowed, {f: made.rule_for(f) for f in ("code_code", "note")}

    by_role = policy.allowed_fields({"physician"}, "Condition")
    assert plan({"patients:read"})[0] == by_role
    assert plan(set(), token=False)[0] == by_role  # a browser session: roles alone
    allowed, rules = plan({"audit:read"})
    assert allowed == frozenset()
    assert set(rules.values()) == {TOKEN_SCOPE_RULE}
    # writing needs patients:write: a read-only token may not change what the role may
    write = mask_plan(
        policy=policy,
        principal=Principal(
            kind=PrincipalKind.STAFF,
            subject_id=uuid.uuid4(),
            username="doc",
            roles=frozenset({"physician"}),
            scopes=frozenset({"patients:read"}),
            token_id="jti-2",
        ),
        record_type="Condition",
        action="write",
    )
    assert not write.allowed


def test_break_glass_needs_a_patient_scope_as_well_as_the_role(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, api_db_url: str
) -> None:
    variables = {"patientId": str(api_world.patients["other"]), "reason": "Unconscious, ER"}
    narrow = _token(api_engine, api_db_url, api_world, "physician", ("audit:read",))
    body = gql(client, BREAK_GLASS, variables, narrow)
    assert body["errors"][0]["extensions"]["code"] == "FORBIDDEN"
