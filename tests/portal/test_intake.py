"""The intake over HTTP: every step, save and resume, review, one-transaction submit."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from sqlalchemy import Engine, select
from starlette.testclient import TestClient

from backend.db import transaction
from backend.forms.models import FormResponse, ResponseStatus
from tests.portal.conftest import sign_in
from tests.portal.intake_steps import complete, start, submit
from tests.portal.world import PortalWorld

Http = Callable[..., TestClient]


def signed_in(http: Http, world: PortalWorld, who: str = "ana") -> TestClient:
    client = http()
    assert sign_in(client, world.emails[who]).status_code == 303
    return client


def test_complete_intake_and_submit(http: Http, world: PortalWorld, portal_engine: Engine) -> None:
    client = signed_in(http, world)
    rid = start(client)
    complete(client, rid)
    review = client.get(f"/portal/intake/{rid}/review")
    assert review.status_code == 200, review.text
    assert "Submit my intake" in review.text
    response = submit(client, rid)
    assert response.status_code == 303, response.text
    done = client.get(f"/portal/intake/{rid}/done")
    assert "988" in done.text
    with transaction(portal_engine) as s:
        row = s.scalars(select(FormResponse).where(FormResponse.id == uuid.UUID(rid))).one()
        assert row.status is ResponseStatus.COMPLETED
