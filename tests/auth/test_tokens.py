"""Access tokens: issue, expiry, revocation, tampering; and the bearer principal."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import date, timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey
from sqlalchemy import Engine
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.access.principal import PrincipalKind
from backend.accounts.models import StaffRole
from backend.auth.principals import resolve_principal
from backend.auth.tokens import (
    InvalidTokenError,
    decode_and_check,
    issue_access_token,
    normalise_scopes,
    revoke_token,
    revoke_user_tokens,
    signing_key,
)
from backend.common.mixins import utcnow
from backend.db import transaction
from backend.organization.models import CareTeam, CareTeamMember, CareTeamRole
from backend.settings import Settings
from tests.auth.conftest import add_staff, committed_staff

Http = Callable[..., TestClient]
READ = ("patients:read",)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _forge(settings: Settings, token: str, **changes: object) -> str:
    """Same key, altered claims: what a holder of the key (not an attacker) could make."""
    claims = jwt.decode(token, signing_key(settings)).claims
    return jwt.encode({"alg": "HS256"}, {**claims, **changes}, signing_key(settings))


def test_a_fresh_token_decodes_to_its_claims(session: Session, settings: Settings) -> None:
    user = add_staff(session)
    issued = issue_access_token(
        session=session, settings=settings, staff_user_id=user.id, scopes=READ
    )
    claims = decode_and_check(session=session, settings=settings, token=issued.access_token)
    assert claims["sub"] == str(user.id)
    assert claims["jti"] == issued.jti
    assert claims["scope"] == "patients:read"
    assert claims["exp"] - claims["iat"] == 15 * 60
    assert 0 < issued.expires_in <= 15 * 60


@pytest.mark.parametrize(
    "how",
    [
        "expired",
        "revoked",
        "payload tampered",
        "signature tampered",
        "wrong audience",
        "wrong issuer",
        "alg none",
        "other key",
        "unknown jti",
        "too long a life",
        "not a jwt",
    ],
)
def test_unacceptable_tokens_are_refused(session: Session, settings: Settings, how: str) -> None:
    user = add_staff(session)
    issued = issue_access_token(
        session=session, settings=settings, staff_user_id=user.id, scopes=READ
    )
    token = issued.access_token
    header, payload, signature = token.split(".")
    now = utcnow()
    if how == "expired":
        now = issued.expires_at + timedelta(seconds=1)
    elif how == "revoked":
        assert revoke_token(session=session, jti=issued.jti)
    elif how == "payload tampered":
        claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
        token = f"{header}.{_b64({**claims, 'scope': 'admin'})}.{signature}"
    elif how == "signature tampered":
        token = f"{header}.{payload}.{signature[:-3]}AAA"
    elif how == "wrong audience":
        token = _forge(settings, token, aud="some-other-api")
    elif how == "wrong issuer":
        token = _forge(settings, token, iss="someone-else")
    elif how == "alg none":
        token = f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}."
    elif how == "other key":
        claims = jwt.decode(token, signing_key(settings)).claims
        token = jwt.encode({"alg": "HS256"}, claims, OctKey.generate_key(256))
    elif how == "unknown jti":
        token = _forge(settings, token, jti="never-issued")
    elif how == "too long a life":
        claims = jwt.decode(token, signing_key(settings)).claims
        token = _forge(settings, token, exp=claims["iat"] + 2 * 3600)
    elif how == "not a jwt":
        token = "hello"
    with pytest.raises(InvalidTokenError):
        decode_and_check(session=session, settings=settings, token=token, now=now)


def test_lifetime_is_capped_at_one_hour(session: Session, settings: Settings) -> None:
    user = add_staff(session)
    for lifetime in (timedelta(minutes=61), timedelta(0)):
        with pytest.raises(ValueError, match="at most 1 hour"):
            issue_access_token(
                session=session,
                settings=settings,
                staff_user_id=user.id,
                scopes=READ,
                lifetime=lifetime,
            )
    hour = issue_access_token(
        session=session,
        settings=settings,
        staff_user_id=user.id,
        scopes=READ,
        lifetime=timedelta(hours=1),
    )
    assert decode_and_check(session=session, settings=settings, token=hour.access_token)


def test_revoking_a_users_tokens(session: Session, settings: Settings) -> None:
    user = add_staff(session)
    tokens = [
        issue_access_token(session=session, settings=settings, staff_user_id=user.id, scopes=READ)
        for _ in range(3)
    ]
    assert revoke_user_tokens(session=session, staff_user_id=user.id) == 3
    for issued in tokens:
        with pytest.raises(InvalidTokenError):
            decode_and_check(session=session, settings=settings, token=issued.access_token)


def test_unknown_scopes_are_refused() -> None:
    assert normalise_scopes("patients:read audit:read") == ("audit:read", "patients:read")
    with pytest.raises(ValueError, match="everything"):
        normalise_scopes(["everything"])


def test_bearer_principal_has_roles_active_care_teams_location_and_scopes(
    session: Session, settings: Settings
) -> None:
    user = add_staff(session, roles=(StaffRole.NURSE, StaffRole.CARE_COORDINATOR))
    current, ended, inactive = (
        CareTeam(name="Current"),
        CareTeam(name="Ended"),
        CareTeam(name="Closed", active=False),
    )
    session.add_all([current, ended, inactive])
    session.flush()
    session.add_all(
        [
            CareTeamMember(care_team_id=current.id, staff_user_id=user.id, role=CareTeamRole.NURSE),
            CareTeamMember(
                care_team_id=ended.id,
                staff_user_id=user.id,
                role=CareTeamRole.NURSE,
                end_date=date.today() - timedelta(days=2),
            ),
            CareTeamMember(
                care_team_id=inactive.id, staff_user_id=user.id, role=CareTeamRole.NURSE
            ),
        ]
    )
    session.flush()
    issued = issue_access_token(
        session=session, settings=settings, staff_user_id=user.id, scopes=READ
    )
    principal = resolve_principal(
        session=session,
        settings=settings,
        session_cookie=None,
        authorization=f"Bearer {issued.access_token}",
        client_address="10.0.0.1",
    )
    assert principal is not None
    assert principal.kind is PrincipalKind.STAFF
    assert principal.subject_id == user.id
    assert principal.roles == frozenset({"nurse", "care_coordinator"})
    assert principal.care_team_ids == frozenset({current.id})
    assert principal.scopes == frozenset(READ)
    assert principal.token_id == issued.jti
    assert principal.session_id is None


@pytest.mark.parametrize("header", ["Bearer", "Basic abc", "Bearer not-a-token", "bearer  "])
def test_a_bad_authorization_header_does_not_fall_back_to_the_cookie(
    session: Session, settings: Settings, header: str
) -> None:
    from backend.auth.sessions import create_session

    user = add_staff(session)
    cookie = create_session(session=session, staff_user_id=user.id).cookie_value
    assert resolve_principal(
        session=session, settings=settings, session_cookie=cookie, authorization=None
    )
    assert (
        resolve_principal(
            session=session, settings=settings, session_cookie=cookie, authorization=header
        )
        is None
    )


def test_bearer_over_http_until_revoked(engine: Engine, settings: Settings, http: Http) -> None:
    user_id, username = committed_staff(engine, roles=(StaffRole.PHYSICIAN,))
    with transaction(engine) as session:
        issued = issue_access_token(
            session=session, settings=settings, staff_user_id=user_id, scopes=READ
        )
    client = http()
    auth = {"Authorization": f"Bearer {issued.access_token}"}
    me = client.get("/auth/whoami", headers=auth)
    assert me.json() == {
        "kind": "staff",
        "username": username,
        "roles": ["physician"],
        "scopes": ["patients:read"],
    }
    with transaction(engine) as session:
        revoke_token(session=session, jti=issued.jti)
    assert client.get("/auth/whoami", headers=auth).status_code == 401
    assert client.get("/auth/whoami", headers={"Authorization": "Bearer x.y.z"}).status_code == 401


def test_a_token_for_a_missing_user_resolves_to_nobody(
    session: Session, settings: Settings
) -> None:
    user = add_staff(session)
    issued = issue_access_token(
        session=session, settings=settings, staff_user_id=user.id, scopes=READ
    )
    user.active = False
    session.flush()
    assert (
        resolve_principal(
            session=session,
            settings=settings,
            session_cookie=None,
            authorization=f"Bearer {issued.access_token}",
        )
        is None
    )
    forged = _forge(settings, issued.access_token, sub=str(uuid.uuid4()))
    with pytest.raises(InvalidTokenError):  # the recorded jti belongs to someone else
        decode_and_check(session=session, settings=settings, token=forged)


def test_the_principal_carries_live_break_glass_grants_only(
    session: Session, settings: Settings
) -> None:
    from backend.access.models import BreakGlassGrant
    from backend.auth.sessions import create_session
    from backend.patients.models import Patient

    user = add_staff(session, roles=(StaffRole.PHYSICIAN,))
    patients = [Patient(given_name="Glass", family_name=f"Test{n}") for n in range(3)]
    session.add_all(patients)
    session.flush()
    now = utcnow()
    live = BreakGlassGrant(
        staff_user_id=user.id,
        patient_id=patients[0].id,
        reason="unconscious in the ED",
        expires_at=now + timedelta(minutes=60),
    )
    session.add_all(
        [
            live,
            BreakGlassGrant(
                staff_user_id=user.id,
                patient_id=patients[1].id,
                reason="expired grant",
                expires_at=now - timedelta(minutes=1),
            ),
            BreakGlassGrant(
                staff_user_id=user.id,
                patient_id=patients[2].id,
                reason="revoked grant",
                expires_at=now + timedelta(minutes=60),
                revoked_at=now,
            ),
        ]
    )
    session.flush()
    cookie = create_session(session=session, staff_user_id=user.id).cookie_value
    principal = resolve_principal(
        session=session, settings=settings, session_cookie=cookie, authorization=None
    )
    assert principal is not None
    assert [g.patient_id for g in principal.break_glass] == [patients[0].id]
    assert principal.break_glass[0].grant_id == live.id
    assert principal.session_id is not None
    assert principal.session_id != cookie  # the cookie value never leaves the auth layer
