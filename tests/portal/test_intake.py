"""The intake over HTTP: every step, save and resume, review, one-transaction submit."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from html import escape
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.access.models import AuditAction, AuditEvent
from backend.auth.tokens import default_scopes, issue_access_token
from backend.clinical.models import Allergy, AllergyVerificationStatus, Assessment
from backend.clinical.results import SocialFactor, SocialFactorSource, SocialRisk
from backend.clinical.scoring import Instrument
from backend.db import transaction
from backend.forms.models import FormDefinition, FormResponse, ResponseStatus
from backend.journey.models import Inquiry
from backend.patients.models import Address, ContactPoint, ContactSystem, EmergencyContact
from backend.settings import Settings
from tests.portal.conftest import csrf_of, sign_in
from tests.portal.intake_steps import STEPS, complete, post_step, prefilled, start, submit
from tests.portal.world import PortalWorld

Http = Callable[..., TestClient]


def signed_in(http: Http, world: PortalWorld, who: str = "ana") -> TestClient:
    client = http()
    assert sign_in(client, world.emails[who]).status_code == 303
    return client


def _response(s: Session, rid: str) -> FormResponse:
    return s.scalars(select(FormResponse).where(FormResponse.id == uuid.UUID(rid))).one()


def _portal_rows(s: Session, model: Any, patient_id: uuid.UUID) -> list[Any]:
    return list(
        s.scalars(
            select(model).where(model.patient_id == patient_id, model.source_system == "portal")
        )
    )


def test_a_completed_intake_updates_the_record_as_patient_reported(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    complete(client, rid)
    review = client.get(f"/portal/intake/{rid}/review")
    assert review.status_code == 200
    assert "PHQ-9 (mood)" in review.text
    assert "<strong>10</strong>, Moderate" in review.text
    assert "GAD-7 (anxiety)" in review.text
    assert "<strong>14</strong>, Moderate" in review.text
    assert "988" in review.text  # item 9 was answered 2
    assert submit(client, rid).headers["location"] == f"/portal/intake/{rid}/done"
    assert "your intake is submitted" in client.get(f"/portal/intake/{rid}/done").text
    ana = world.patients["ana"]
    with transaction(portal_engine) as s:
        row = _response(s, rid)
        assert row.status is ResponseStatus.COMPLETED
        assert row.completed_at is not None
        assert row.scores == {
            "phq9": 10,
            "phq9_severity": "moderate",
            "gad7": 14,
            "gad7_severity": "moderate",
        }
        points = {p.system: p for p in _portal_rows(s, ContactPoint, ana)}
        assert points[ContactSystem.PHONE].value == "+16175550134"
        assert points[ContactSystem.PHONE].rank == 1
        assert points[ContactSystem.EMAIL].value == "ana.new@example.org"
        (address,) = _portal_rows(s, Address, ana)
        assert (address.line1, address.city, address.postal_code) == (
            "12 Elm St",
            "Somerville",
            "02143",
        )
        (contact,) = _portal_rows(s, EmergencyContact, ana)
        assert contact.is_primary
        assert contact.phone == "+16175550199"
        (allergy,) = _portal_rows(s, Allergy, ana)
        assert allergy.verification_status is AllergyVerificationStatus.UNCONFIRMED
        assert allergy.author_id is None
        assert allergy.note == "Penicillin: hives"
        social = {f.code.code: f for f in _portal_rows(s, SocialFactor, ana)}
        assert len(social) == 5
        assert social["71802-3"].risk is SocialRisk.AT_RISK
        assert {f.source for f in social.values()} == {SocialFactorSource.PATIENT_REPORTED}
        assessments = {a.instrument.value: a for a in _portal_rows(s, Assessment, ana)}
        assert assessments["phq9"].total_score == 10
        assert assessments["phq9"].suicide_risk
        assert assessments["gad7"].total_score == 14
        (inquiry,) = s.scalars(select(Inquiry).where(Inquiry.patient_id == ana))
        assert inquiry.referral_detail == "Dr. Rachel Kim"
        assert row.changes is not None
        assert row.changes["phone"] == {
            "target": "ContactPoint.value",
            "previous": None,
            "submitted": "+16175550134",
            "applied": True,
        }
        assert row.changes["preferred_name"]["applied"] is False  # demographics: for review


def test_the_next_intake_is_prefilled_with_the_emergency_contact_and_keeps_it_once(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    first = start(client)
    complete(client, first)
    assert submit(client, first).status_code == 303
    rid = start(client)
    assert rid != first
    page = client.get(f"/portal/intake/{rid}/emergency_contact").text
    shown = {n: prefilled(page, n) for n in ("ec_name", "ec_relationship", "ec_phone")}
    assert shown == {"ec_name": "Maria Tester", "ec_relationship": "Sibling",
                     "ec_phone": "+16175550199"}  # fmt: skip
    complete(client, rid)
    # Confirming what was prefilled (as the page shows it) changes nothing on submit.
    confirmed = shown | {"ec_may_share": "yes"}
    assert post_step(client, rid, "emergency_contact", confirmed).status_code == 303
    assert submit(client, rid).status_code == 303
    with transaction(portal_engine) as s:
        (contact,) = _portal_rows(s, EmergencyContact, world.patients["ana"])
        assert (contact.name, contact.relationship_to_patient) == ("Maria Tester", "sibling")
        assert contact.is_primary


def test_submitting_twice_writes_once(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    complete(client, rid)
    token = csrf_of(client.get(f"/portal/intake/{rid}/review").text)
    first = client.post(f"/portal/intake/{rid}/submit", data={"csrf_token": token})
    again = client.post(f"/portal/intake/{rid}/submit", data={"csrf_token": token})
    assert first.status_code == again.status_code == 303
    assert again.headers["location"] == f"/portal/intake/{rid}/done"
    with transaction(portal_engine) as s:
        assert len(_portal_rows(s, Assessment, world.patients["ana"])) == 2
        assert len(_portal_rows(s, Allergy, world.patients["ana"])) == 1
    # A completed intake is not edited any more: steps lead to the done page.
    token = csrf_of(client.get("/portal/intake").text)
    late = client.post(
        f"/portal/intake/{rid}/contact", data={**STEPS["contact"], "csrf_token": token}
    )
    assert late.status_code == 303
    assert late.headers["location"].endswith("/done")


def test_errors_are_inline_per_field_and_keep_what_was_typed(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    bad = {
        "given_name": "",
        "family_name": "x" * 101,
        "birth_date": "23/04/1984",
        "sex": "robot",
        "language": "en",
        "interpreter_needed": "maybe",
    }
    response = post_step(client, rid, "demographics", bad)
    assert response.status_code == 422
    page = response.text
    assert "Please correct the answers marked below." in page
    for link_id, message in {
        "given_name": "This question is required.",
        "family_name": "Use at most 100 characters.",
        "birth_date": "Enter a date as YYYY-MM-DD.",
        "sex": "Choose one of the listed options.",
        "interpreter_needed": "Answer yes or no.",
    }.items():
        assert f'<p class="error" id="q-{link_id}-error">{message}</p>' in page, link_id
    assert 'value="23/04/1984"' in page
    assert 'value="' + "x" * 101 + '"' in page
    assert page.count('aria-invalid="true"') == 5
    with transaction(portal_engine) as s:
        assert _response(s, rid).answers == {}  # nothing saved from a refused step
    many = post_step(client, rid, "reason_for_care", {"concerns": ["depression", "nonsense"],
                                                      "reason_text": "r" * 2001,
                                                      "prior_treatment": "no"})  # fmt: skip
    assert many.status_code == 422
    assert "Use at most 2000 characters." in many.text
    assert "Choose one of the listed options." in many.text
    assert 'value="depression" checked' in many.text


def test_answers_are_escaped_on_every_page(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    rid = start(client)
    script = "<script>alert('x')</script>"
    data = STEPS["reason_for_care"] | {"reason_text": script}
    assert post_step(client, rid, "reason_for_care", data).status_code == 303
    for path in (f"/portal/intake/{rid}/reason_for_care", f"/portal/intake/{rid}/review"):
        page = client.get(path).text
        assert script not in page, path
        assert "&lt;script&gt;" in page, path


def test_resume_after_signing_out(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    rid = start(client)
    page = client.get(f"/portal/intake/{rid}/demographics").text
    assert f'value="Tester{world.tag}"' in page  # prefilled from the record
    known = {"family_name": f"Tester{world.tag}", "birth_date": "1984-04-23"}
    assert post_step(client, rid, "demographics", STEPS["demographics"] | known).status_code == 303
    assert post_step(client, rid, "contact", STEPS["contact"]).status_code == 303
    token = csrf_of(client.get("/portal").text)
    client.post("/portal/sign-out", data={"csrf_token": token})
    assert client.get(f"/portal/intake/{rid}/contact").status_code == 303  # signed out
    again = signed_in(http, world)
    home = again.get("/portal/intake").text
    assert f'href="/portal/intake/{rid}/emergency_contact"' in home
    assert start(again) == rid  # starting again resumes the same draft
    contact = again.get(f"/portal/intake/{rid}/contact").text
    assert 'value="(617) 555-0134"' in contact
    assert 'value="mobile" checked' in contact


def test_htmx_swaps_the_step_block(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    rid = start(client)
    url = f"/portal/intake/{rid}/contact"
    token = csrf_of(client.get(url).text)
    hx = {"HX-Request": "true", "X-CSRF-Token": token}
    wrong = client.post(url, data={"phone": "call me"}, headers=hx)
    assert wrong.status_code == 422
    assert wrong.text.lstrip().startswith('<div id="intake"')
    assert "<html" not in wrong.text
    assert "Enter a valid phone number." in wrong.text
    right = client.post(url, data=STEPS["contact"], headers=hx)
    assert right.status_code == 200
    assert "<html" not in right.text
    assert "Emergency contact" in right.text
    assert right.headers["hx-push-url"] == f"/portal/intake/{rid}/emergency_contact"


def test_crisis_line_follows_phq9_item_9(
    http: Http, world: PortalWorld, settings: Settings
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    calm = STEPS["phq9"] | {"phq9_9": "0"}
    assert post_step(client, rid, "phq9", calm).status_code == 303
    assert escape(settings.crisis_line_text) not in client.get(f"/portal/intake/{rid}/gad7").text
    refused = post_step(client, rid, "phq9", STEPS["phq9"] | {"phq9_1": ""})
    assert refused.status_code == 422
    assert 'class="crisis-live shown"' in refused.text  # item 9 = 2 typed, not yet saved
    assert post_step(client, rid, "phq9", STEPS["phq9"]).status_code == 303
    for path in ("gad7", "review"):
        page = client.get(f"/portal/intake/{rid}/{path}").text
        assert escape(settings.crisis_line_text) in page, path
        assert 'href="tel:988"' in page, path


def test_another_patients_response_is_not_found_everywhere(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    ben = signed_in(http, world, "ben")
    ben_rid = start(ben)
    assert post_step(ben, ben_rid, "insurance", STEPS["insurance"]).status_code == 303
    ana = signed_in(http, world)
    own = start(ana)
    token = csrf_of(ana.get("/portal/intake").text)
    for rid in (ben_rid, str(uuid.uuid4()), "not-an-id"):
        for path in ("demographics", "review", "done"):
            assert ana.get(f"/portal/intake/{rid}/{path}").status_code == 404, (rid, path)
        posted = ana.post(
            f"/portal/intake/{rid}/insurance", data={"has_insurance": "yes", "csrf_token": token}
        )
        assert posted.status_code == 404
        assert (
            ana.post(f"/portal/intake/{rid}/submit", data={"csrf_token": token}).status_code == 404
        )
    # Ids in form fields are not read at all: Ana's own step saves to Ana's response.
    sneaky = STEPS["insurance"] | {"response_id": ben_rid, "patient_id": str(world.patients["ben"])}
    assert post_step(ana, own, "insurance", sneaky).status_code == 303
    with transaction(portal_engine) as s:
        assert _response(s, ben_rid).answers == {"has_insurance": False}
        assert _response(s, own).patient_id == world.patients["ana"]
        assert _response(s, own).answers == {"has_insurance": False}


def test_csrf_is_required(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    rid = start(client)
    response = client.post(f"/portal/intake/{rid}/insurance", data={"has_insurance": "no"})
    assert response.status_code == 403


def test_a_failed_write_leaves_nothing_half_written(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    complete(client, rid)
    ana = world.patients["ana"]
    with transaction(portal_engine) as s:
        # A row already holding the GAD-7 assessment's source id: the last write of the
        # submit fails on the unique constraint, after contact and allergies were added.
        s.add(
            Assessment(
                patient_id=world.patients["ben"],
                source_system="portal",
                source_id=f"intake:{rid}:gad7",
                instrument=Instrument.GAD7,
                code_system="http://loinc.org",
                code_code="70274-6",
            )
        )
    response = submit(client, rid)
    assert response.status_code in (500, 503)
    with transaction(portal_engine) as s:
        assert _response(s, rid).status is ResponseStatus.IN_PROGRESS
        for model in (ContactPoint, Address, EmergencyContact, Allergy, SocialFactor):
            assert _portal_rows(s, model, ana) == [], model
        assert _portal_rows(s, Assessment, ana) == []


def test_the_built_in_form_is_added_once(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    for who in ("ana", "ben"):
        start(signed_in(http, world, who))
    with transaction(portal_engine) as s:
        count = s.scalar(
            select(func.count()).select_from(FormDefinition).where(FormDefinition.key == "intake")
        )
        assert count == 1


CHANGES = """
query Changes($id: ID!) {
  patient(id: $id) {
    formResponses { id status changeList { field target previous submitted applied } }
    withheld { field rule }
  }
}
"""


def test_staff_see_what_the_patient_changed_as_the_policy_allows(
    http: Http, world: PortalWorld, portal_engine: Engine, settings: Settings
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    complete(client, rid)
    assert submit(client, rid).status_code == 303
    tokens = {}
    with transaction(portal_engine) as s:
        for who, role in (("nurse", "nurse"), ("front_desk", "front_desk")):
            tokens[who] = issue_access_token(
                session=s,
                settings=settings,
                staff_user_id=world.staff[who],
                scopes=default_scopes(frozenset({role})),
                lifetime=timedelta(hours=1),
            ).access_token
    api = http()
    variables = {"id": str(world.patients["ana"])}

    def ask(who: str) -> dict[str, Any]:
        answer = api.post(
            "/graphql",
            json={"query": CHANGES, "variables": variables},
            headers={"Authorization": f"Bearer {tokens[who]}"},
        )
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        assert "errors" not in body, body
        patient: dict[str, Any] = body["data"]["patient"]
        return patient

    nurse = ask("nurse")
    (response,) = [r for r in nurse["formResponses"] if r["id"] == rid]
    changes = {c["field"]: c for c in response["changeList"]}
    assert changes["phone"] == {
        "field": "phone",
        "target": "ContactPoint.value",
        "previous": None,
        "submitted": "+16175550134",
        "applied": True,
    }
    assert changes["preferred_name"]["applied"] is False  # proposed, for staff to apply
    front_desk = ask("front_desk")
    assert front_desk["formResponses"] is None
    assert {"field": "formResponses", "rule": "field_group:forms"} in front_desk["withheld"]


def test_open_choice_shows_words_and_stores_codes(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    data = STEPS["emergency_contact"] | {"ec_relationship": "Sibling"}
    assert post_step(client, rid, "emergency_contact", data).status_code == 303
    free = {
        "has_insurance": "yes",
        "insurance_payer": "Tufts Health Plan",
        "insurance_member_id": "M123",
        "subscriber_relationship": "self",
    }
    assert post_step(client, rid, "insurance", free).status_code == 303
    with transaction(portal_engine) as s:
        answers = _response(s, rid).answers
        assert answers["ec_relationship"] == "sibling"
        assert answers["insurance_payer"] == "Tufts Health Plan"
        assert "subscriber_name" not in answers  # disabled by the answer above: dropped
    page = client.get(f"/portal/intake/{rid}/emergency_contact").text
    assert 'name="ec_relationship" type="text" value="Sibling"' in page


def test_intake_reads_and_writes_are_audited_without_values(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    rid = start(client)
    assert post_step(client, rid, "contact", STEPS["contact"]).status_code == 303
    with transaction(portal_engine) as s:
        events = list(
            s.scalars(
                select(AuditEvent).where(
                    AuditEvent.patient_id == world.patients["ana"],
                    AuditEvent.actor_kind == "patient",
                )
            )
        )
    reads = [e for e in events if e.action is AuditAction.READ and "FormResponse" in e.record_types]
    writes = [e for e in events if e.action is AuditAction.UPDATE]
    assert reads
    assert writes
    assert "FormResponse.answers" in writes[0].fields
    assert not any("555" in str(e.fields) for e in events)


def test_conditional_questions_say_when_they_apply(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    rid = start(client)
    page = client.get(f"/portal/intake/{rid}/insurance").text
    assert (
        "Only if you answered \u201cYes\u201d to \u201cDo you have health insurance?\u201d." in page
    )
    assert "Only if your answer to \u201cWhose plan is it?\u201d is not \u201cMy own\u201d." in page
