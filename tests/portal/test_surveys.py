"""Satisfaction surveys: one-time links answered without signing in, and in the portal."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx2
import pytest
from sqlalchemy import Engine, func, select
from starlette.testclient import TestClient

from backend.access.models import AuditEvent
from backend.access.policy import policy_store
from backend.accounts.models import StaffRole
from backend.auth.portal_sessions import patient_principal
from backend.auth.tokens import default_scopes, issue_access_token
from backend.common.errors import Forbidden
from backend.db import transaction
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.feedback import SurveyInvitation, SurveyKind, SurveyResponse, SurveyVia
from backend.engagement.models import ContactPreference
from backend.engagement.surveys import (
    MAX_COMMENT,
    SurveyLink,
    SurveyRequest,
    answer_by_link,
    create_survey_invitation,
    issue_survey_link,
    parse_answers,
)
from backend.settings import Settings
from portal.redact import RedactOneTimeLinks, redact_path
from tests.portal.conftest import Mailbox, csrf_of, sign_in, text_of
from tests.portal.world import PortalWorld, add_visits

Http = Callable[..., TestClient]
CLOSED = "This survey cannot be answered"
GOOD = {"nps": "9", "csat": "4", "comments": "Kind staff."}


def _link(
    engine: Engine, world: PortalWorld, key: str = "ana", *, valid: timedelta | None = None
) -> SurveyLink:
    with transaction(engine) as s:
        return issue_survey_link(
            s,
            patient_id=world.patients[key],
            kind=SurveyKind.DISCHARGE,
            valid_for=valid or timedelta(days=14),
        )


def _responses(engine: Engine, invitation_id: uuid.UUID) -> list[SurveyResponse]:
    with transaction(engine) as s:
        rows = s.scalars(
            select(SurveyResponse).where(SurveyResponse.invitation_id == invitation_id)
        ).all()
        s.expunge_all()
        return list(rows)


def _answer(client: TestClient, path: str, **values: str) -> httpx2.Response:
    return client.post(path, data={**GOOD, **values}, headers={"Origin": "http://testserver"})


def test_a_link_is_answered_once_without_signing_in(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    link = _link(portal_engine, world)
    client = http()
    form = client.get(link.path)
    assert form.status_code == 200
    assert "How likely are you to recommend us" in form.text
    assert form.headers["referrer-policy"] == "same-origin"
    done = _answer(client, link.path)
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/survey/thanks"
    assert "Thank you" in client.get("/portal/survey/thanks").text
    [row] = _responses(portal_engine, link.invitation_id)
    assert (row.nps, row.csat, row.comments, row.via) == (9, 4, "Kind staff.", SurveyVia.LINK)
    # A second submission (a double click, a reload, the link forwarded): nothing new.
    again = _answer(client, link.path, nps="0")
    assert again.status_code == 410
    assert CLOSED in again.text
    assert client.get(link.path).status_code == 410
    assert [r.nps for r in _responses(portal_engine, link.invitation_id)] == [9]
    with transaction(portal_engine) as s:
        used = s.get(SurveyInvitation, link.invitation_id)
        assert used is not None
        assert used.used_at is not None
        events = s.scalars(
            select(AuditEvent).where(AuditEvent.patient_id == world.patients["ana"])
        ).all()
        written = [e for e in events if "SurveyResponse" in (e.record_types or [])]
        assert len(written) == 1
        assert written[0].actor_username == "survey-link"
        # The token is in no audit column.
        for event in events:
            assert link.token not in " ".join(str(v) for v in vars(event).values())


def test_expired_unknown_and_used_links_answer_alike(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    expired = _link(portal_engine, world, valid=timedelta(seconds=-1))
    used = _link(portal_engine, world)
    client = http()
    assert _answer(client, used.path).status_code == 303
    pages = [
        client.get(path)
        for path in (expired.path, used.path, "/portal/survey/" + "A" * 43, "/portal/survey/x")
    ]
    assert {p.status_code for p in pages} == {410}
    assert len({p.text for p in pages}) == 1  # nothing tells them apart
    assert CLOSED in pages[0].text
    posted = _answer(client, expired.path)
    assert posted.status_code == 410
    assert _responses(portal_engine, expired.invitation_id) == []


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"nps": "11"}, "nps"),
        ({"nps": "abc"}, "nps"),
        ({"nps": "-1"}, "nps"),
        ({"nps": ""}, "nps"),
        ({"csat": "0"}, "csat"),
        ({"csat": "٣"}, "csat"),  # a non-ASCII digit is no answer either
        ({"comments": "x" * (MAX_COMMENT + 1)}, "comments"),
    ],
)
def test_bad_answers_are_refused_by_field_and_nothing_is_written(
    http: Http, world: PortalWorld, portal_engine: Engine, values: dict[str, str], field: str
) -> None:
    link = _link(portal_engine, world)
    client = http()
    refused = _answer(client, link.path, **values)
    assert refused.status_code == 422
    assert f'id="{field}-error"' in refused.text or f'id="f-{field}-error"' in refused.text
    assert _responses(portal_engine, link.invitation_id) == []
    assert _answer(client, link.path).status_code == 303


def test_script_in_a_comment_is_kept_as_text_and_escaped_on_output(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    link = _link(portal_engine, world)
    client = http()
    script = "<script>alert('x')</script>"
    refused = _answer(client, link.path, nps="", comments=script)
    assert refused.status_code == 422
    assert script not in refused.text
    assert "&lt;script&gt;" in refused.text
    assert _answer(client, link.path, comments=script).status_code == 303
    [row] = _responses(portal_engine, link.invitation_id)
    assert row.comments == script


def test_a_cross_site_post_is_refused_even_with_the_link(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    link = _link(portal_engine, world)
    client = http()
    forged = client.post(link.path, data=GOOD, headers={"Origin": "https://evil.example"})
    assert forged.status_code == 403
    assert _responses(portal_engine, link.invitation_id) == []
    # htmx posts get a client-side redirect instead of a 303.
    done = client.post(
        link.path, data=GOOD, headers={"Origin": "http://testserver", "HX-Request": "true"}
    )
    assert done.status_code == 204
    assert done.headers["HX-Redirect"] == "/portal/survey/thanks"


def test_two_answers_racing_for_one_link_count_once(
    world: PortalWorld, portal_engine: Engine
) -> None:
    link = _link(portal_engine, world)
    answers = parse_answers(nps="7", csat="3", comments="")
    with transaction(portal_engine) as s:
        assert answer_by_link(session=s, token=link.token, answers=answers)
    with transaction(portal_engine) as s:
        assert not answer_by_link(session=s, token=link.token, answers=answers)
    assert len(_responses(portal_engine, link.invitation_id)) == 1


def test_signed_in_patient_answers_their_own_open_survey_only(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    mine = _link(portal_engine, world, "ana")
    theirs = _link(portal_engine, world, "ben")
    client = http()
    assert sign_in(client, world.emails["ana"]).status_code == 303
    listing = client.get("/portal/surveys")
    assert listing.status_code == 200
    assert f"/portal/surveys/{mine.invitation_id}" in listing.text
    assert str(theirs.invitation_id) not in listing.text
    token = csrf_of(listing.text)
    # Another patient's survey, or no survey at all, in the URL: not found, nothing written.
    for other in (str(theirs.invitation_id), str(uuid.uuid4()), "not-an-id"):
        assert client.get(f"/portal/surveys/{other}").status_code == 404
        posted = client.post(f"/portal/surveys/{other}", data={**GOOD, "csrf_token": token})
        assert posted.status_code == 404
    assert _responses(portal_engine, theirs.invitation_id) == []
    # No CSRF token: refused.
    assert client.post(f"/portal/surveys/{mine.invitation_id}", data=GOOD).status_code == 403
    path = f"/portal/surveys/{mine.invitation_id}"
    assert client.get(path).status_code == 200
    bad = client.post(path, data={**GOOD, "nps": "11", "csrf_token": token})
    assert bad.status_code == 422
    done = client.post(path, data={**GOOD, "csrf_token": token})
    assert done.status_code == 303
    assert done.headers["location"] == "/portal/surveys?answered=1"
    assert "Thank you" in client.get(done.headers["location"]).text
    again = client.post(path, data={**GOOD, "csrf_token": token})
    assert again.status_code == 409
    [row] = _responses(portal_engine, mine.invitation_id)
    assert row.via == SurveyVia.PORTAL
    # Answered in the portal, the link is spent too.
    assert http().get(mine.path).status_code == 410
    assert str(mine.invitation_id) not in client.get("/portal/surveys").text


def _token(
    engine: Engine, settings: Settings, world: PortalWorld, who: str, role: StaffRole
) -> str:
    with transaction(engine) as s:
        return issue_access_token(
            session=s,
            settings=settings,
            staff_user_id=world.staff[who],
            scopes=default_scopes(frozenset({role.value})),
            lifetime=timedelta(minutes=10),
        ).access_token


def test_staff_create_a_survey_for_a_visit_and_mail_honours_preferences(
    http: Http,
    world: PortalWorld,
    portal_engine: Engine,
    settings: Settings,
    mailbox: tuple[Mailbox, int],
) -> None:
    now = datetime.now(UTC)
    address = f"ana.survey.{world.tag}@example.org"
    visits = add_visits(portal_engine, world, address)
    coordinator = _token(portal_engine, settings, world, "coordinator", StaffRole.CARE_COORDINATOR)
    nurse = _token(portal_engine, settings, world, "nurse", StaffRole.NURSE)
    document = (
        settings.home / "graphql" / "operations" / "CreateSurveyInvitation.graphql"
    ).read_text()
    client = http()

    def call(token: str, **values: object) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            json={"query": document, "variables": {"input": values}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        return body

    ana, ben = str(world.patients["ana"]), str(world.patients["ben"])
    made = call(coordinator, patientId=ana, encounterId=str(visits["ana"]), sendEmail=True)
    created = made["data"]["createSurveyInvitation"]
    assert created["emailed"] is True
    assert created["link"].startswith("http://portal.test/portal/survey/")
    message = mailbox[0].wait_for(address)
    assert created["link"] in text_of(message)
    path = created["link"].removeprefix("http://portal.test")
    assert http().get(path).status_code == 200
    with transaction(portal_engine) as s:
        row = s.get(SurveyInvitation, uuid.UUID(created["id"]))
        assert row is not None
        assert row.encounter_id == visits["ana"]
        assert row.sent_at is not None
        assert path.rsplit("/", 1)[1] not in row.token_hash
    # The patient said no to survey e-mail: the link is made, no mail goes out.
    with transaction(portal_engine) as s:
        s.add(
            ContactPreference(
                patient_id=world.patients["ana"],
                channel=PreferenceChannel.EMAIL,
                message_type=MessageType.SURVEYS,
                allowed=False,
                effective_at=now,
            )
        )
    before = len(mailbox[0].to(address))
    quiet = call(coordinator, patientId=ana, encounterId=str(visits["ana"]), sendEmail=True)
    assert quiet["data"]["createSurveyInvitation"]["emailed"] is False
    assert len(mailbox[0].to(address)) == before
    # Another patient's visit, a patient out of scope, a role without surveys write, bad input.
    wrong_visit = call(coordinator, patientId=ana, encounterId=str(visits["ben"]))
    assert wrong_visit["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    out_of_scope = call(coordinator, patientId=ben, encounterId=str(visits["ben"]))
    assert out_of_scope["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    refused = call(nurse, patientId=ana, encounterId=str(visits["ana"]))
    assert refused["errors"][0]["extensions"]["code"] == "FORBIDDEN"
    no_visit = call(coordinator, patientId=ana, kind="visit", validDays=400)
    assert no_visit["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    with transaction(portal_engine) as s:
        count = s.scalar(
            select(func.count())
            .select_from(SurveyInvitation)
            .where(SurveyInvitation.patient_id == world.patients["ben"])
        )
        assert count == 0


def test_one_time_link_tokens_never_reach_the_access_log() -> None:
    token = "Zq3" + "x" * 40
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "POST", f"/portal/survey/{token}?a=1", "1.1", 303),
        None,
    )
    assert RedactOneTimeLinks().filter(record)
    assert token not in record.getMessage()
    assert "/portal/survey/[redacted]?a=1" in record.getMessage()
    assert redact_path(f"/portal/invite/{token}") == "/portal/invite/[redacted]"
    assert redact_path(f"/portal/reset/{token}") == "/portal/reset/[redacted]"
    assert redact_path("/portal/survey/thanks") == "/portal/survey/thanks"
    assert redact_path("/portal/surveys/abc") == "/portal/surveys/abc"


def test_staff_read_responses_through_graphql_and_patients_cannot_send_surveys(
    http: Http, world: PortalWorld, portal_engine: Engine, settings: Settings
) -> None:
    link = _link(portal_engine, world)
    client = http()
    script = "<script>alert(1)</script>"
    assert _answer(client, link.path, comments=script).status_code == 303
    coordinator = _token(portal_engine, settings, world, "coordinator", StaffRole.CARE_COORDINATOR)
    front_desk = _token(portal_engine, settings, world, "front_desk", StaffRole.FRONT_DESK)
    query = (
        "query($id: ID!) { patient(id: $id) { surveyResponses { nps csat comments via } "
        "surveyInvitations { id usedAt } } }"
    )

    def read(token: str) -> dict[str, Any]:
        response = client.post(
            "/graphql",
            json={"query": query, "variables": {"id": str(world.patients["ana"])}},
            headers={"Authorization": f"Bearer {token}"},
        )
        body: dict[str, Any] = response.json()
        return body

    patient = read(coordinator)["data"]["patient"]
    assert patient["surveyResponses"] == [{"nps": 9, "csat": 4, "comments": script, "via": "link"}]
    assert patient["surveyInvitations"][0]["usedAt"] is not None
    # The front desk has no surveys grant: the category is withheld, not leaked.
    hidden = read(front_desk)["data"]["patient"]
    assert hidden["surveyResponses"] is None
    # A signed-in patient cannot create survey links (staff only).
    with transaction(portal_engine) as s:
        ana = patient_principal(session=s, portal_account_id=world.accounts["ana"])
        assert ana is not None
        with pytest.raises(Forbidden):
            create_survey_invitation(
                session=s,
                principal=ana,
                policy=policy_store(settings.policies_dir).current(),
                request=SurveyRequest(patient_id=world.patients["ana"], kind="nps_periodic"),
            )
