"""Invite to account and password reset over HTTP, with mail over real SMTP (aiosmtpd)."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, delete, select
from starlette.testclient import TestClient

from backend.accounts.invites import issue_invite
from backend.accounts.models import PortalAccount, PortalInvite, StaffRole
from backend.auth.models import PasswordResetToken
from backend.auth.tokens import default_scopes, issue_access_token
from backend.db import transaction
from backend.settings import Settings
from tests.portal.conftest import Mailbox, csrf_of, sign_in, text_of
from tests.portal.world import PASSWORD, PortalWorld

Http = Callable[..., TestClient]
NEW_PASSWORD = "copper kettle mountain 7"
LINK = re.compile(r"http://portal\.test(/portal/reset/[A-Za-z0-9_-]+)")


def _fresh_invite(engine: Engine, world: PortalWorld, who: str) -> str:
    with transaction(engine) as s:
        s.execute(delete(PortalAccount).where(PortalAccount.patient_id == world.patients[who]))
        return issue_invite(session=s, patient_id=world.patients[who], created_by_id=None).path


def test_accepting_an_invite_opens_the_account_and_signs_in(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    path = _fresh_invite(portal_engine, world, "ben")
    client = http()
    page = client.get(path)
    assert page.status_code == 200
    assert "Open your patient portal account" in page.text
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "birth_date": "1979-11-03",
        "email": "ben.new@example.org",
        "password": NEW_PASSWORD,
        "password_again": NEW_PASSWORD,
    }
    wrong = client.post(path, data=form)
    assert wrong.status_code == 422
    assert "The birth date does not match our records." in wrong.text
    assert 'value="ben.new@example.org"' in wrong.text  # nothing typed is lost
    short = client.post(path, data={**form, "birth_date": "1979-11-02", "password": "short"})
    assert "Use at least 12 characters." in short.text
    ok = client.post(path, data={**form, "birth_date": "1979-11-02"})
    assert ok.status_code == 303
    assert ok.headers["location"] == "/portal"
    assert "Hello, Ben" in client.get("/portal").text
    # Single use: the link is dead now, for this browser and any other.
    dead = http().get(path)
    assert dead.status_code == 404
    assert "This link does not work any more" in dead.text
    # And the new password signs in.
    assert sign_in(http(), "ben.new@example.org", NEW_PASSWORD).status_code == 303


def test_an_expired_invite_link_is_dead(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    path = _fresh_invite(portal_engine, world, "ben")
    with transaction(portal_engine) as s:
        invite = s.scalars(
            select(PortalInvite).where(
                PortalInvite.patient_id == world.patients["ben"], PortalInvite.used_at.is_(None)
            )
        ).one()
        invite.expires_at = invite.expires_at - timedelta(hours=73)
    assert http().get(path).status_code == 404


def test_password_reset_by_mail_over_smtp(
    http: Http, world: PortalWorld, mailbox: tuple[Mailbox, int], portal_engine: Engine
) -> None:
    box, _ = mailbox
    client = http()
    page = client.get("/portal/reset")
    token = csrf_of(page.text)
    unknown = client.post(
        "/portal/reset", data={"csrf_token": token, "email": "nobody@example.org"}
    )
    known = client.post(
        "/portal/reset", data={"csrf_token": token, "email": world.emails["ana"].upper()}
    )
    assert unknown.status_code == known.status_code == 200
    assert unknown.text == known.text  # the same answer whether or not an account exists
    message = box.wait_for(world.emails["ana"])
    assert message["Subject"] == "Reset your patient portal password"
    assert box.to("nobody@example.org") == []
    body = text_of(message)
    found = LINK.search(body)
    assert found, body
    path = found.group(1)
    with transaction(portal_engine) as s:
        stored = s.scalars(select(PasswordResetToken.token_hash)).all()
        assert path.rsplit("/", 1)[1] not in stored  # only the hash is kept
    # A session opened before the reset dies with it.
    before = http()
    assert sign_in(before, world.emails["ana"]).status_code == 303
    form_page = client.get(path)
    assert form_page.status_code == 200
    token = csrf_of(form_page.text)
    mismatch = client.post(
        path,
        data={"csrf_token": token, "password": NEW_PASSWORD, "password_again": "something else"},
    )
    assert mismatch.status_code == 422
    assert "The two passwords are not the same." in mismatch.text
    done = client.post(
        path,
        data={"csrf_token": token, "password": NEW_PASSWORD, "password_again": NEW_PASSWORD},
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/sign-in?notice=password_reset"
    assert before.get("/portal").status_code == 303
    assert sign_in(http(), world.emails["ana"], PASSWORD).status_code == 401
    assert sign_in(http(), world.emails["ana"], NEW_PASSWORD).status_code == 303
    assert client.get(path).status_code == 404  # used once


def test_staff_create_an_invite_through_graphql(
    http: Http, world: PortalWorld, portal_engine: Engine, settings: Settings
) -> None:
    _fresh_invite(portal_engine, world, "ana")
    tokens = {}
    with transaction(portal_engine) as s:
        for who, role in (("front_desk", StaffRole.FRONT_DESK), ("nurse", StaffRole.NURSE)):
            tokens[who] = issue_access_token(
                session=s,
                settings=settings,
                staff_user_id=world.staff[who],
                scopes=default_scopes(frozenset({role.value})),
                lifetime=timedelta(minutes=10),
            ).access_token
    document = (settings.home / "graphql" / "operations" / "CreatePortalInvite.graphql").read_text()
    client = http()

    def call(who: str, patient: str) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            json={"query": document, "variables": {"patientId": patient}},
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )
        body: dict[str, Any] = response.json()
        return body

    made = call("front_desk", str(world.patients["ana"]))
    invite = made["data"]["createPortalInvite"]
    assert invite["link"].startswith("http://portal.test/portal/invite/")
    assert http().get(invite["link"].removeprefix("http://portal.test")).status_code == 200
    nurse = call("nurse", str(world.patients["ana"]))
    assert nurse["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    other = call("front_desk", str(world.patients["ben"]))  # another location and team
    assert other["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    unknown = call("front_desk", "7b0c5f8e-2c55-4f0e-9a51-3b2a6a0f1d11")
    assert unknown["errors"][0]["message"] == other["errors"][0]["message"]
