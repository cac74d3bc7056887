"""Alumni pages: events and registration, check-ins, feedback, testimonials with a
separate, revocable consent to publish; other patients' ids are never found."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access.policy import policy_store
from backend.accounts.models import StaffRole
from backend.auth.portal_sessions import patient_principal
from backend.common.errors import Forbidden, NotFound
from backend.db import transaction
from backend.engagement.consent import Consent, ConsentKind, ConsentStatus
from backend.engagement.feedback import ModerationStatus, Review, ReviewKind
from backend.engagement.testimonials import (
    parse_feedback,
    revoke_testimonial_consent,
    submit_testimonial,
)
from backend.journey.models import (
    AlumniCheckIn,
    AlumniEvent,
    AlumniEventAttendance,
    AlumniEventKind,
    AlumniMembership,
    AlumniProgram,
    AttendanceStatus,
    CheckInChannel,
    MembershipStatus,
)
from backend.journey.participation import rsvp_alumni_event
from backend.settings import Settings
from tests.portal.conftest import csrf_of, sign_in
from tests.portal.world import PortalWorld

Http = Callable[..., TestClient]


@dataclass
class Alumni:
    open_event: uuid.UUID
    small_event: uuid.UUID  # capacity 1, taken by someone else
    other_program_event: uuid.UUID
    ben_review: uuid.UUID


def _alumni(engine: Engine, world: PortalWorld, *, ana_member: bool = True) -> Alumni:
    now = datetime.now(UTC)
    with transaction(engine) as s:
        programs = {
            key: AlumniProgram(id=uuid.uuid4(), name=f"{key.title()} alumni {world.tag}")
            for key in ("ana", "ben")
        }
        s.add_all(programs.values())
        s.flush()
        memberships = {}
        for key in ("ana", "ben"):
            if key == "ana" and not ana_member:
                continue
            membership = AlumniMembership(
                id=uuid.uuid4(),
                patient_id=world.patients[key],
                program_id=programs[key].id,
                status=MembershipStatus.ACTIVE,
                joined_at=now - timedelta(days=60),
                effective_at=now - timedelta(days=60),
            )
            s.add(membership)
            memberships[key] = membership
        s.flush()

        def event(key: str, title: str, **extra: object) -> uuid.UUID:
            row = AlumniEvent(
                id=uuid.uuid4(),
                program_id=programs[key].id,
                title=title,
                kind=AlumniEventKind.MEETING,
                starts_at=now + timedelta(days=10),
                **extra,
            )
            s.add(row)
            s.flush()
            return row.id

        open_event = event("ana", "Thursday <b>circle</b>")
        small = event("ana", "Small workshop", capacity=1)
        other = event("ben", "Ben's program picnic")
        event("ana", "Old reunion", cancelled_at=now)
        s.add(
            AlumniEventAttendance(
                patient_id=world.patients["ben"],
                event_id=small,
                status=AttendanceStatus.REGISTERED,
                effective_at=now,
            )
        )
        if ana_member:
            s.add(
                AlumniCheckIn(
                    patient_id=world.patients["ana"],
                    membership_id=memberships["ana"].id,
                    channel=CheckInChannel.PHONE,
                    checked_in_at=now - timedelta(days=3),
                    wellbeing_score=7,
                    notes="Staff-only note about Ana",
                    effective_at=now - timedelta(days=3),
                )
            )
        review = Review(
            id=uuid.uuid4(),
            patient_id=world.patients["ben"],
            kind=ReviewKind.TESTIMONIAL,
            body="Ben's story",
            consent_to_publish=True,
            moderation_status=ModerationStatus.APPROVED,
            effective_at=now,
        )
        s.add(review)
        return Alumni(open_event, small, other, review.id)


def _signed_in(http: Http, world: PortalWorld) -> tuple[TestClient, str]:
    client = http()
    assert sign_in(client, world.emails["ana"]).status_code == 303
    return client, csrf_of(client.get("/portal/alumni").text)


def _attendance(engine: Engine, world: PortalWorld, event: uuid.UUID) -> str | None:
    with transaction(engine) as s:
        status = s.scalar(
            select(AlumniEventAttendance.status).where(
                AlumniEventAttendance.event_id == event,
                AlumniEventAttendance.patient_id == world.patients["ana"],
            )
        )
        return str(status) if status else None


def _reviews(engine: Engine, patient: uuid.UUID) -> list[Review]:
    with transaction(engine) as s:
        rows = list(s.scalars(select(Review).where(Review.patient_id == patient)))
        s.expunge_all()
        return rows


def test_a_patient_who_is_not_an_alumnus_gets_a_clear_page(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    made = _alumni(portal_engine, world, ana_member=False)
    client, token = _signed_in(http, world)
    shown = client.get("/portal/alumni")
    assert shown.status_code == 200
    assert "You are not an alumni member" in shown.text
    assert "Ben's program picnic" not in shown.text
    posted = client.post(
        "/portal/alumni/feedback",
        data={"feedback_rating": "5", "feedback_body": "Hi", "csrf_token": token},
    )
    assert posted.status_code == 403
    assert "Only alumni members" in posted.text
    rsvp = client.post(
        f"/portal/alumni/events/{made.open_event}/rsvp", data={"attend": "yes", "csrf_token": token}
    )
    assert rsvp.status_code == 404
    assert _reviews(portal_engine, world.patients["ana"]) == []


def test_an_alumnus_sees_their_program_and_registers_for_events(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    made = _alumni(portal_engine, world)
    client, token = _signed_in(http, world)
    shown = client.get("/portal/alumni").text
    assert f"Ana alumni {world.tag}" in shown
    assert "Thursday &lt;b&gt;circle&lt;/b&gt;" in shown  # escaped
    assert "Ben's program picnic" not in shown
    assert "wellbeing 7 of 10" in shown
    assert "Staff-only note" not in shown
    path = f"/portal/alumni/events/{made.open_event}/rsvp"
    done = client.post(path, data={"attend": "yes", "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/alumni?done=registered"
    assert "You are registered." in client.get(done.headers["location"]).text
    assert _attendance(portal_engine, world, made.open_event) == "registered"
    # A double click changes nothing; with htmx the block comes back with a notice.
    again = client.post(
        path, data={"attend": "yes", "csrf_token": token}, headers={"HX-Request": "true"}
    )
    assert again.status_code == 200
    assert again.text.lstrip().startswith('<div id="alumni">')
    cancel = client.post(path, data={"attend": "no", "csrf_token": token})
    assert cancel.status_code == 303
    assert _attendance(portal_engine, world, made.open_event) == "cancelled"
    # Full, without CSRF, another program's event, no event at all: refused.
    full = client.post(
        f"/portal/alumni/events/{made.small_event}/rsvp",
        data={"attend": "yes", "csrf_token": token},
    )
    assert full.status_code == 409
    assert _attendance(portal_engine, world, made.small_event) is None
    assert client.post(path, data={"attend": "yes"}).status_code == 403
    for other in (str(made.other_program_event), str(uuid.uuid4()), "nope"):
        refused = client.post(
            f"/portal/alumni/events/{other}/rsvp", data={"attend": "yes", "csrf_token": token}
        )
        assert refused.status_code == 404
    assert _attendance(portal_engine, world, made.other_program_event) is None


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"feedback_rating": "6"}, "feedback_rating"),
        ({"feedback_rating": "abc"}, "feedback_rating"),
        ({"feedback_rating": ""}, "feedback_rating"),
        ({"feedback_body": "   "}, "feedback_body"),
        ({"feedback_body": "x" * 4001}, "feedback_body"),
    ],
)
def test_bad_feedback_is_refused_by_field(
    http: Http,
    world: PortalWorld,
    portal_engine: Engine,
    values: dict[str, str],
    field: str,
) -> None:
    _alumni(portal_engine, world)
    client, token = _signed_in(http, world)
    form = {"feedback_rating": "4", "feedback_body": "Good <script>x()</script>", **values}
    refused = client.post("/portal/alumni/feedback", data={**form, "csrf_token": token})
    assert refused.status_code == 422
    assert f'{field}-error"' in refused.text
    assert "<script>x()" not in refused.text
    assert _reviews(portal_engine, world.patients["ana"]) == []


def test_feedback_is_kept_internal(http: Http, world: PortalWorld, portal_engine: Engine) -> None:
    _alumni(portal_engine, world)
    client, token = _signed_in(http, world)
    body = "The Thursday circle <script>alert(1)</script> helps."
    done = client.post(
        "/portal/alumni/feedback",
        data={"feedback_rating": "4", "feedback_body": body, "csrf_token": token},
    )
    assert done.status_code == 303
    [row] = _reviews(portal_engine, world.patients["ana"])
    assert (row.kind, row.rating, row.body, row.consent_to_publish) == (
        ReviewKind.INTERNAL_FEEDBACK,
        4,
        body,
        False,
    )


def test_a_testimonial_with_consent_then_revoked_keeps_its_history(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    made = _alumni(portal_engine, world)
    client, token = _signed_in(http, world)
    story = "I got my life back. <img src=x onerror=alert(1)>"
    done = client.post(
        "/portal/alumni/testimonial",
        data={
            "testimonial_rating": "5",
            "testimonial_body": story,
            "testimonial_display_name": "Ana T.",
            "consent_to_publish": "yes",
            "csrf_token": token,
        },
    )
    assert done.status_code == 303
    page = client.get("/portal/alumni").text
    assert "&lt;img src=x" in page
    assert "Withdraw consent to publish" in page
    [review] = _reviews(portal_engine, world.patients["ana"])
    assert review.kind is ReviewKind.TESTIMONIAL
    assert review.consent_to_publish
    assert review.moderation_status is ModerationStatus.PENDING
    with transaction(portal_engine) as s:
        consent = s.get(Consent, review.consent_id)
        assert consent is not None
        assert consent.kind is ConsentKind.TESTIMONIAL_PUBLICATION
        assert consent.status is ConsentStatus.ACTIVE
        assert consent.purpose == "testimonial publication"
    # Someone else's testimonial, or none: not found, nothing changes.
    for other in (str(made.ben_review), str(uuid.uuid4()), "x"):
        refused = client.post(
            f"/portal/alumni/testimonials/{other}/revoke", data={"csrf_token": token}
        )
        assert refused.status_code == 404
    [ben] = _reviews(portal_engine, world.patients["ben"])
    assert ben.consent_to_publish
    assert ben.moderation_status is ModerationStatus.APPROVED
    path = f"/portal/alumni/testimonials/{review.id}/revoke"
    assert client.post(path).status_code == 403  # no CSRF token
    revoked = client.post(path, data={"csrf_token": token}, headers={"HX-Request": "true"})
    assert revoked.status_code == 200
    assert "Your consent is withdrawn" in revoked.text
    assert "You withdrew consent to publish" in revoked.text
    [after] = _reviews(portal_engine, world.patients["ana"])
    assert not after.consent_to_publish
    assert after.moderation_status is ModerationStatus.HIDDEN
    assert after.publish_consent_revoked_at is not None
    assert after.publish_consent_at == review.publish_consent_at  # history kept
    with transaction(portal_engine) as s:
        consents = list(
            s.scalars(select(Consent).where(Consent.patient_id == world.patients["ana"]))
        )
        assert [(c.status, c.revoked_at is not None) for c in consents] == [
            (ConsentStatus.REVOKED, True)
        ]
    # Revoking again is harmless.
    assert client.post(path, data={"csrf_token": token}).status_code == 303
    # Without the consent box: a testimonial that cannot be published, no consent row.
    client.post(
        "/portal/alumni/testimonial",
        data={"testimonial_rating": "4", "testimonial_body": "Quiet one", "csrf_token": token},
    )
    quiet = [r for r in _reviews(portal_engine, world.patients["ana"]) if r.body == "Quiet one"]
    assert [(r.consent_to_publish, r.consent_id) for r in quiet] == [(False, None)]


def test_alumni_writes_are_the_patients_own_and_staff_cannot_make_them(
    world: PortalWorld, portal_engine: Engine
) -> None:
    made = _alumni(portal_engine, world)
    policy = policy_store(Settings().policies_dir).current()
    data = parse_feedback(rating="5", body="Great")
    with transaction(portal_engine) as s:
        staff = world.staff_principal("coordinator", StaffRole.CARE_COORDINATOR)
        with pytest.raises(Forbidden):
            submit_testimonial(
                session=s, principal=staff, policy=policy, data=data, consent_to_publish=True
            )
        with pytest.raises(Forbidden):
            rsvp_alumni_event(
                session=s, principal=staff, policy=policy, event_id=made.open_event, attend=True
            )
        ana = patient_principal(session=s, portal_account_id=world.accounts["ana"])
        assert ana is not None
        with pytest.raises(NotFound):
            revoke_testimonial_consent(
                session=s, principal=ana, policy=policy, review_id=made.ben_review
            )
        with pytest.raises(NotFound):
            rsvp_alumni_event(
                session=s,
                principal=ana,
                policy=policy,
                event_id=made.other_program_event,
                attend=True,
            )
