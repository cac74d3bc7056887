"""Contact preferences: the full matrix, defaults, all-or-nothing changes with history."""

from __future__ import annotations

import shutil
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import TypedDict

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.access import audit
from backend.access.models import AuditAction, AuditEvent, AuditOutcome
from backend.access.policy import CompiledPolicy, policy_store
from backend.access.principal import Principal
from backend.accounts.models import StaffRole
from backend.app import create_app
from backend.auth.portal_sessions import patient_principal
from backend.common.errors import NotFound
from backend.common.mixins import PatientRecord
from backend.db import transaction
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.models import ContactPreference, PreferenceChange
from backend.engagement.preferences import (
    PreferenceInputError,
    get_preferences,
    parse_update,
    update_preferences,
)
from backend.settings import Settings
from tests.api.crew import audit_text
from tests.portal.conftest import Mailbox, csrf_of, new_address, portal_settings, sign_in
from tests.portal.world import PortalWorld, build_world

Http = Callable[..., TestClient]


class _Scope(TypedDict):
    """Who reads or writes whose preferences: the arguments every call shares."""

    session: Session
    principal: Principal
    policy: CompiledPolicy
    patient_id: uuid.UUID


ALL_ON_BUT_MARKETING = {
    f"{c.value}:{m.value}"
    for c in PreferenceChannel
    for m in MessageType
    if m is not MessageType.MARKETING
}
SETTINGS = {
    "preferred_channel": "sms",
    "language": "en",
    "quiet_hours_start": "",
    "quiet_hours_end": "",
}


@pytest.fixture(scope="module")
def policy() -> CompiledPolicy:
    return policy_store(Settings().policies_dir).current()


def test_the_matrix_is_complete_and_marketing_defaults_to_off(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session)
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    assert ana is not None
    view = get_preferences(
        session=session, principal=ana, policy=policy, patient_id=world.patients["ana"]
    )
    assert view is not None
    assert len(view.cells) == len(PreferenceChannel) * len(MessageType) == 42
    assert all(c.is_default for c in view.cells)
    assert {c.allowed for c in view.cells if c.message_type == "marketing"} == {False}
    assert {c.allowed for c in view.cells if c.message_type != "marketing"} == {True}
    # Another patient's preferences answer like nobody's.
    assert (
        get_preferences(
            session=session, principal=ana, policy=policy, patient_id=world.patients["ben"]
        )
        is None
    )


def test_a_change_keeps_history_and_a_repeat_writes_nothing(
    session: Session, policy: CompiledPolicy
) -> None:
    world = build_world(session)
    ana_id = world.patients["ana"]
    ana = patient_principal(session=session, portal_account_id=world.accounts["ana"])
    assert ana is not None
    checked = (ALL_ON_BUT_MARKETING - {"sms:billing"}) | {"email:marketing"}
    update = parse_update(
        checked=checked,
        **{**SETTINGS, "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"},
    )
    args = _Scope(session=session, principal=ana, policy=policy, patient_id=ana_id)
    assert update_preferences(update=update, method_detail="test", **args) == 5
    assert update_preferences(update=update, method_detail="test", **args) == 0  # idempotent
    # Another patient's preferences are "not found" to Ana, never silently unsaved.
    others = _Scope(session=session, principal=ana, policy=policy, patient_id=world.patients["ben"])
    with pytest.raises(NotFound):
        update_preferences(update=update, method_detail="test", **others)
    view = get_preferences(**args)
    assert view is not None
    cells = {(c.channel, c.message_type): c for c in view.cells}
    assert cells[("sms", "billing")].allowed is False
    assert cells[("email", "marketing")].allowed is True
    assert not cells[("email", "marketing")].is_default
    changes = {
        (h.setting, h.channel, h.message_type, h.old_value, h.new_value) for h in view.history
    }
    assert changes == {
        ("contact_preference", "sms", "billing", "allowed", "refused"),
        ("contact_preference", "email", "marketing", "refused", "allowed"),
        ("preferred_channel", None, None, None, "sms"),
        ("quiet_hours_start", None, None, None, "21:00"),
        ("quiet_hours_end", None, None, None, "08:00"),
    }
    assert {h.changed_by for h in view.history} == {"patient_portal"}
    # Staff change it too; the history says who (kind) and how.
    front_desk = world.staff_principal("front_desk", StaffRole.FRONT_DESK)
    again = parse_update(
        checked=checked | {"sms:billing"},
        **{**SETTINGS, "quiet_hours_start": "21:00", "quiet_hours_end": "08:00"},
    )
    assert (
        update_preferences(
            session=session,
            principal=front_desk,
            policy=policy,
            patient_id=ana_id,
            update=again,
            method_detail="phone call",
        )
        == 1
    )
    latest = session.scalars(
        select(PreferenceChange)
        .where(PreferenceChange.patient_id == ana_id)
        .order_by(PreferenceChange.changed_at.desc(), PreferenceChange.recorded_at.desc())
    ).first()
    assert latest is not None
    assert (latest.changed_by, latest.staff_id, latest.method_detail) == (
        "staff",
        world.staff["front_desk"],
        "phone call",
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("language", "klingon", "Choose a language from the list."),
        ("preferred_channel", "pigeon", "Choose a channel from the list."),
        ("quiet_hours_start", "25:00", "Enter a time like 21:00."),
        ("quiet_hours_end", "", "Give both a start and an end, or neither."),
    ],
)
def test_bad_values_name_the_field(field: str, value: str, message: str) -> None:
    raw = {**SETTINGS, "quiet_hours_start": "21:00", "quiet_hours_end": "07:00", field: value}
    with pytest.raises(PreferenceInputError) as caught:
        parse_update(checked=ALL_ON_BUT_MARKETING, **raw)
    assert (caught.value.field, str(caught.value)) == (field, message)
    with pytest.raises(PreferenceInputError):
        parse_update(checked={"sms:everything"}, **SETTINGS)


def _count(engine: Engine, world: PortalWorld, model: type[PatientRecord]) -> int:
    with transaction(engine) as s:
        count = s.scalar(
            select(func.count())
            .select_from(model)
            .where(model.patient_id.in_(list(world.patients.values())))
        )
        return count or 0


def test_without_javascript_post_redirect_get(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = http()
    assert sign_in(client, world.emails["ana"]).status_code == 303
    page = client.get("/portal/preferences")
    assert 'value="sms:marketing"' in page.text
    assert 'value="sms:marketing" checked' not in page.text
    token = csrf_of(page.text)
    form = {
        "csrf_token": token,
        "allowed": sorted(ALL_ON_BUT_MARKETING - {"phone:surveys"}),
        **SETTINGS,
        # Another patient's id in a crafted field is ignored: only the principal's counts.
        "patient_id": str(world.patients["ben"]),
    }
    saved = client.post("/portal/preferences", data=form)
    assert saved.status_code == 303
    assert saved.headers["location"] == "/portal/preferences?saved=1"
    after = client.get(saved.headers["location"])
    assert "Your preferences are saved." in after.text
    assert 'value="phone:surveys" checked' not in after.text
    assert "Surveys by phone call: refused (was allowed)" in after.text
    assert "By you, in the portal · patient portal web form" in after.text
    with transaction(portal_engine) as s:
        ben_rows = s.scalar(
            select(func.count())
            .select_from(ContactPreference)
            .where(ContactPreference.patient_id == world.patients["ben"])
        )
        assert ben_rows == 0


def test_a_bad_form_writes_nothing_and_keeps_what_was_typed(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = http()
    assert sign_in(client, world.emails["ana"]).status_code == 303
    token = csrf_of(client.get("/portal/preferences").text)
    before = _count(portal_engine, world, PreferenceChange)
    form = {
        "csrf_token": token,
        "allowed": sorted((ALL_ON_BUT_MARKETING - {"sms:billing"}) | {"mail:marketing"}),
        **SETTINGS,
        "quiet_hours_start": "22:00",
        "quiet_hours_end": "lunchtime",
    }
    refused = client.post("/portal/preferences", data=form, headers={"HX-Request": "true"})
    assert refused.status_code == 422
    assert refused.text.lstrip().startswith('<div id="prefs">')
    assert "Enter a time like 21:00." in refused.text
    assert 'aria-invalid="true"' in refused.text
    assert 'value="mail:marketing" checked' in refused.text  # nothing lost
    assert 'value="22:00"' in refused.text
    assert _count(portal_engine, world, PreferenceChange) == before
    # With htmx a good form answers with the block, saved, no reload.
    form["quiet_hours_end"] = "07:00"
    ok = client.post("/portal/preferences", data=form, headers={"HX-Request": "true"})
    assert ok.status_code == 200
    assert "Your preferences are saved." in ok.text
    assert "<html" not in ok.text
    assert _count(portal_engine, world, PreferenceChange) == before + 5


def test_a_refused_save_is_audited_as_denied_and_writes_nothing(
    world: PortalWorld,
    portal_engine: Engine,
    portal_db_url: str,
    mailbox: tuple[Mailbox, int],
    tmp_path: Path,
) -> None:
    """The shipped policy lets patients change their preferences; a clinic's may not.
    Then the refusal is audited like a refused GraphQL mutation: what was asked and what
    was lacking, no id and no submitted value."""
    real = Settings()
    home = tmp_path / "home"
    home.mkdir()
    for name in ("static", "portal", "graphql"):
        (home / name).symlink_to(real.home / name)
    shutil.copytree(real.policies_dir, home / "policies")
    csv = home / "policies" / "policy.csv"
    lines = csv.read_text().splitlines(keepends=True)
    kept = [line for line in lines if line.strip() != "p, patient, contact_preferences, write"]
    assert len(kept) == len(lines) - 1
    csv.write_text("".join(kept))
    settings = portal_settings(portal_db_url, mailbox[1], home=home)
    with transaction(portal_engine) as s:
        seq = s.scalar(select(func.coalesce(func.max(AuditEvent.seq), 0)))
    before = _count(portal_engine, world, PreferenceChange)
    with TestClient(
        create_app(settings), client=(new_address(), 40000), follow_redirects=False
    ) as client:
        assert sign_in(client, world.emails["ana"]).status_code == 303
        token = csrf_of(client.get("/portal/preferences").text)
        form = {
            "csrf_token": token,
            "allowed": sorted(ALL_ON_BUT_MARKETING | {"mail:marketing"}),
            **SETTINGS,
        }
        refused = client.post("/portal/preferences", data=form)
    assert refused.status_code == 403
    assert "You cannot change these preferences." in refused.text
    assert _count(portal_engine, world, PreferenceChange) == before
    with transaction(portal_engine) as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.seq > seq)))
        s.expunge_all()
        assert audit.verify(s).ok
    (event,) = [e for e in events if e.outcome is AuditOutcome.DENIED]
    assert event.action is AuditAction.UPDATE
    assert event.client == "portal"
    assert event.record_types == ["Portal"]
    assert event.fields == ["ContactPreference.allowed", "Portal.savePreferences"]
    assert event.patient_id is None
    assert str(world.patients["ana"]) not in audit_text(event)
    assert "marketing" not in audit_text(event)
