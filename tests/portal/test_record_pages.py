"""My record over HTTP, read through GraphQL as the patient; never anyone else's record."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.access.models import AuditEvent
from backend.db import transaction
from tests.portal.conftest import csrf_of, sign_in
from tests.portal.world import PortalWorld

Http = Callable[..., TestClient]
PAGES = (
    "/portal",
    "/portal/appointments",
    "/portal/care-plan",
    "/portal/messages",
    "/portal/access",
    "/portal/preferences",
)


def signed_in(http: Http, world: PortalWorld, who: str = "ana") -> TestClient:
    client = http()
    assert sign_in(client, world.emails[who]).status_code == 303
    return client


def test_every_page_needs_a_session(http: Http, world: PortalWorld) -> None:
    client = http()
    for path in PAGES:
        response = client.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/portal/sign-in?notice=expired"
    hx = client.get("/portal/messages", headers={"HX-Request": "true"})
    assert hx.status_code == 204
    assert hx.headers["hx-redirect"] == "/portal/sign-in?notice=expired"


def test_pages_show_only_the_patients_own_record(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    pages = {path: client.get(path) for path in PAGES}
    assert all(r.status_code == 200 for r in pages.values())
    text = "".join(r.text for r in pages.values())
    assert "Ben" not in text
    assert "Psychiatry" in pages["/portal/appointments"].text
    assert "Upcoming" in pages["/portal/appointments"].text
    assert "Ana sleeps seven hours" in pages["/portal/care-plan"].text
    assert 'value="40"' in pages["/portal/care-plan"].text
    messages = pages["/portal/messages"].text
    assert "Ana reminder" in messages
    assert "From the clinic · Text message" in messages
    assert "internal call note" not in messages  # not visible to the patient
    assert "<script>alert" not in messages  # escaped on output
    assert "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in messages


def test_other_ids_in_urls_and_fields_change_nothing(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    ben = str(world.patients["ben"])
    for path in PAGES:
        for query in (f"?id={ben}", f"?patient_id={ben}", f"?patientId={ben}"):
            response = client.get(path + query)
            assert response.status_code == 200
            assert "Ben" not in response.text, path + query
    # The URL space has no patient ids at all: guessing one is a plain 404.
    assert client.get(f"/portal/patients/{ben}").status_code == 404
    assert client.get(f"/portal/{ben}").status_code == 404
    # The portal cookie is no key to the staff API.
    answer = client.post(
        "/graphql",
        json={
            "query": "query($id: ID!) { patient(id: $id) { givenName } }",
            "variables": {"id": ben},
        },
    )
    assert answer.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_reads_are_audited_as_the_patient(
    http: Http, world: PortalWorld, portal_engine: Engine
) -> None:
    client = signed_in(http, world)
    assert client.get("/portal/care-plan").status_code == 200
    with transaction(portal_engine) as s:
        event = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.patient_id == world.patients["ana"], AuditEvent.action == "read")
            .order_by(AuditEvent.seq.desc())
        ).first()
        assert event is not None
        assert event.actor_kind == "patient"
        assert event.roles == ["patient"]
        assert event.actor_username == f"portal:{world.accounts['ana'].hex}"
        assert "CarePlan" in event.record_types
        assert world.emails["ana"] not in str(event.actor_username)


def test_the_access_log_shows_when_and_which_role_never_names(
    http: Http, world: PortalWorld
) -> None:
    client = signed_in(http, world)
    client.get("/portal/care-plan")  # the patient's own visits are not listed
    page = client.get("/portal/access")
    assert page.status_code == 200
    assert "Viewed by a nurse" in page.text
    assert "Secretname" not in page.text
    assert f"nurse-{world.tag}" not in page.text
    assert page.text.count("<li>") - page.text.count("<li><a") == 1  # only the nurse's read
    partial = client.get("/portal/access?first=500", headers={"HX-Request": "true"})
    assert partial.text.lstrip().startswith('<div id="access">')
    assert "<html" not in partial.text
    ben = signed_in(http, world, "ben").get("/portal/access")
    assert "Nobody at the clinic has looked at your record yet." in ben.text


def test_sign_out_needs_the_token_when_signed_in(http: Http, world: PortalWorld) -> None:
    client = signed_in(http, world)
    assert client.post("/portal/sign-out").status_code == 403
    token = csrf_of(client.get("/portal").text)
    assert client.post("/portal/sign-out", data={"csrf_token": token}).status_code == 303
