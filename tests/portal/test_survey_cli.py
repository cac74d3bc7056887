"""``patient360 survey invite`` through the real command, mail over real SMTP."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from backend.access.models import AuditEvent, AuditOutcome
from backend.cli import app
from backend.db import transaction
from backend.engagement.feedback import SurveyInvitation
from backend.settings import get_settings
from tests.portal.conftest import SECRET, Mailbox, text_of
from tests.portal.world import add_visits, build_world


@pytest.fixture
def cli_env(
    portal_db_url: str, mailbox: tuple[Mailbox, int], monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    monkeypatch.setenv("DATABASE_URL", portal_db_url)
    monkeypatch.setenv("P360_SECRET_KEY", SECRET)
    monkeypatch.setenv("P360_PUBLIC_URL", "https://portal.example.org/")
    monkeypatch.setenv("P360_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("P360_SMTP_PORT", str(mailbox[1]))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def _invitations(engine: Engine, patient_id: uuid.UUID) -> list[SurveyInvitation]:
    with transaction(engine) as s:
        rows = s.scalars(
            select(SurveyInvitation).where(SurveyInvitation.patient_id == patient_id)
        ).all()
        s.expunge_all()
        return list(rows)


@pytest.mark.usefixtures("cli_env")
def test_invite_prints_a_link_mails_it_and_audits(
    portal_engine: Engine, mailbox: tuple[Mailbox, int]
) -> None:
    with transaction(portal_engine) as s:
        world = build_world(s, accounts=False)
    address = f"ana.cli.{world.tag}@example.org"
    visits = add_visits(portal_engine, world, address)
    ana = world.patients["ana"]
    result = CliRunner().invoke(
        app,
        [
            "survey", "invite", str(ana),
            "--user", f"coordinator-{world.tag}",
            "--encounter", str(visits["ana"]),
            "--email",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    link = result.stdout.strip()
    assert link.startswith("https://portal.example.org/portal/survey/")
    assert "e-mailed to the patient" in result.stderr
    message = mailbox[0].wait_for(address)
    assert link in text_of(message)
    [row] = _invitations(portal_engine, ana)
    assert row.token_hash == hashlib.sha256(link.rsplit("/", 1)[1].encode()).hexdigest()
    assert row.encounter_id == visits["ana"]
    assert row.author_id == world.staff["coordinator"]
    assert row.sent_at is not None
    with transaction(portal_engine) as s:
        audited = s.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.patient_id == ana, AuditEvent.actor_id == world.staff["coordinator"])
        )
    assert audited == 1


@pytest.mark.usefixtures("cli_env")
def test_refusals_and_bad_input_write_nothing(portal_engine: Engine) -> None:
    with transaction(portal_engine) as s:
        world = build_world(s, accounts=False)
    visits = add_visits(portal_engine, world, f"ana.cli2.{world.tag}@example.org")
    ana, ben = str(world.patients["ana"]), str(world.patients["ben"])
    coordinator = f"coordinator-{world.tag}"
    runner = CliRunner()

    def refused(code: int, words: tuple[str, ...], *args: str) -> None:
        result = runner.invoke(app, ["survey", "invite", *args])
        assert result.exit_code == code, result.output
        assert result.stdout == "", "no link may be printed"
        for word in words:
            assert word in result.stderr

    visit, other = str(visits["ana"]), str(visits["ben"])
    # A role without surveys write.
    refused(1, ("may not",), ana, "--user", f"nurse-{world.tag}", "--encounter", visit)
    # A patient out of the user's scope, and another patient's visit: both "no such".
    refused(1, ("no such patient",), ben, "--user", coordinator, "--encounter", other)
    refused(1, ("no such patient",), ana, "--user", coordinator, "--encounter", other)
    # Input the service refuses names the field; a bad id or unknown user exits 2.
    refused(2, ("encounterId", "validDays"), ana, "--user", coordinator, "--valid-days", "400")
    refused(2, ("kind",), ana, "--user", coordinator, "--kind", "weekly")
    refused(2, ("PATIENT_ID",), "not-a-uuid", "--user", coordinator)
    refused(2, ("no active staff user",), ana, "--user", "nobody-at-all", "--encounter", visit)
    for key in ("ana", "ben"):
        assert _invitations(portal_engine, world.patients[key]) == []
    # The three refusals are in the trail as the API writes them: no id, no value.
    with transaction(portal_engine) as s:
        rows = s.scalars(
            select(AuditEvent)
            .where(AuditEvent.client == "cli", AuditEvent.outcome != AuditOutcome.SUCCESS)
            .where(AuditEvent.actor_username.in_([f"nurse-{world.tag}", coordinator]))
            .order_by(AuditEvent.seq)
        ).all()
        assert [(r.actor_username, r.outcome) for r in rows] == [
            (f"nurse-{world.tag}", AuditOutcome.DENIED),
            (coordinator, AuditOutcome.NOT_FOUND),
            (coordinator, AuditOutcome.NOT_FOUND),
        ]
        assert all(r.patient_id is None for r in rows)
        assert all(r.fields[0] == "Mutation.createSurveyInvitation" for r in rows)
        assert any(f.startswith("capability.") or "." in f for f in rows[0].fields[1:])
