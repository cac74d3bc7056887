"""``patient360 portal invite PATIENT_ID`` through the real command."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from backend.accounts.models import PortalInvite
from backend.cli import app
from backend.db import transaction
from backend.settings import get_settings
from tests.portal.conftest import SECRET
from tests.portal.world import build_world


@pytest.fixture
def cli_env(portal_db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", portal_db_url)
    monkeypatch.setenv("P360_SECRET_KEY", SECRET)
    monkeypatch.setenv("P360_PUBLIC_URL", "https://portal.example.org/")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.mark.usefixtures("cli_env")
def test_invite_prints_a_one_time_link(portal_engine: Engine) -> None:
    with transaction(portal_engine) as s:
        world = build_world(s, accounts=False)
    patient = world.patients["ana"]
    result = CliRunner().invoke(app, ["portal", "invite", str(patient)])
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://portal.example.org/portal/invite/")
    token = link.rsplit("/", 1)[1]
    with transaction(portal_engine) as s:
        row = s.scalars(
            select(PortalInvite).where(
                PortalInvite.patient_id == patient, PortalInvite.revoked_at.is_(None)
            )
        ).one()
        assert row.token_hash == hashlib.sha256(token.encode()).hexdigest()


@pytest.mark.usefixtures("cli_env")
def test_bad_ids_exit_with_a_message() -> None:
    runner = CliRunner()
    bad = runner.invoke(app, ["portal", "invite", "not-a-uuid"])
    assert bad.exit_code == 2
    assert "PATIENT_ID is not a patient id" in bad.output
    missing = runner.invoke(app, ["portal", "invite", str(uuid.uuid4())])
    assert missing.exit_code == 1
    assert "no such patient" in missing.output
