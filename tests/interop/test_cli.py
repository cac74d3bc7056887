"""The import and hl7 commands end to end, as an operator runs them (SQLite home)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import uuid
from pathlib import Path

import pytest

from backend.db import make_engine, write_transaction
from backend.interop.hl7v2.listener import END, frame
from backend.interop.hl7v2.store import store
from tests.interop.hl7v2.conftest import FIXTURES
from tests.interop.hl7v2.test_listener import adt_a04
from tests.test_cli import BIN, run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"
SYNTHEA = Path("/work/shared/fixtures/fhir/synthea")


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    env = {"P360_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/p.db"}
    assert run("db", "upgrade", env=env).returncode == 0
    return env


def test_import_hl7_folder_errors_and_retry(home: dict[str, str]) -> None:
    result = run("import", "hl7", str(FIXTURES), env=home)
    # The A40's prior patient is known nowhere: the import says so and exits 1.
    assert result.returncode == 1, result.stderr
    assert "processed" in result.stdout
    assert "rejected" in result.stdout
    assert "ADT-A40-01.hl7 #1: AE failed content_error" in result.stdout
    again = run("import", "hl7", str(FIXTURES / "ADT-A01-01.hl7"), env=home)
    assert again.returncode == 0
    assert "duplicate" in again.stdout
    errors = run("hl7", "errors", env=home)
    assert errors.returncode == 0
    assert "ADT^A40" in errors.stdout
    assert "EVERYMAN" not in errors.stdout  # ids, types and codes only
    retried = run("hl7", "retry", "--all", env=home)
    assert retried.returncode == 1
    assert "1 failed" in retried.stdout
    assert run("hl7", "retry", env=home).returncode == 2


def test_import_csv_dry_run_then_real(home: dict[str, str]) -> None:
    args = ["import", "csv", "--mapping", str(EXAMPLES / "crm-inquiries.toml")]
    dry = run(*args, str(EXAMPLES / "crm-inquiries.csv"), "--dry-run", env=home)
    assert dry.returncode == 0, dry.stderr
    assert "nothing was written" in dry.stdout
    assert "L-1002" in dry.stdout
    real = run(*args, str(EXAMPLES / "crm-inquiries.csv"), env=home)
    assert real.returncode == 0
    assert "imported" in real.stdout
    bad = run("import", "csv", "--mapping", str(EXAMPLES / "crm-inquiries.csv"), "x.csv", env=home)
    assert bad.returncode == 2
    assert "not valid TOML" in bad.stderr


def _exporter(home: dict[str, str]) -> str:
    """An integration account on a care team with every patient: (username)."""
    from sqlalchemy import select

    from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
    from backend.db import make_engine, transaction
    from backend.organization.models import (
        CareTeam,
        CareTeamMember,
        CareTeamPatient,
        CareTeamRole,
    )
    from backend.patients.models import Patient

    engine = make_engine(home["DATABASE_URL"])
    try:
        with transaction(engine) as session:
            user = StaffUser(username="bulk-export", display_name="Bulk export", active=True)
            team = CareTeam(name="export")
            session.add_all([user, team])
            session.flush()
            session.add(StaffRoleAssignment(staff_user_id=user.id, role=StaffRole.INTEGRATION))
            session.add(
                CareTeamMember(
                    care_team_id=team.id, staff_user_id=user.id, role=CareTeamRole.BILLING
                )
            )
            for pid in session.scalars(select(Patient.id)):
                session.add(CareTeamPatient(care_team_id=team.id, patient_id=pid))
    finally:
        engine.dispose()
    return "bulk-export"


def test_export_fhir_writes_ndjson_audits_and_reimports(
    home: dict[str, str], tmp_path: Path
) -> None:
    from sqlalchemy import select

    from backend.access.models import AuditAction, AuditEvent, AuditOutcome
    from backend.db import make_engine, transaction

    assert run("import", "fhir", str(SYNTHEA), env=home).returncode == 0
    user = _exporter(home)
    out = tmp_path / "export"
    result = run("export", "fhir", "--out", str(out), "--user", user, env=home)
    assert result.returncode == 0, result.stderr
    assert "patients exported: 2" in result.stdout
    assert "Observation.ndjson" in result.stdout
    assert (out / "Patient.ndjson").read_bytes().count(b"\n") == 2
    engine = make_engine(home["DATABASE_URL"])
    try:
        with transaction(engine) as session:
            events = session.scalars(
                select(AuditEvent).where(
                    AuditEvent.action == AuditAction.EXPORT, AuditEvent.client == "fhir-bulk"
                )
            ).all()
            assert len(events) == 2  # one per patient
            assert len({e.patient_id for e in events}) == 2
            for event in events:
                row = repr({c.name: getattr(event, c.name) for c in AuditEvent.__table__.c})
                assert "Hoeger" not in row  # record type and field names, never values
                assert "Kreiger" not in row
    finally:
        engine.dispose()
    assert run("export", "fhir", "--out", str(out), "--user", user, env=home).returncode == 2
    # An unknown (or out-of-scope: the same answer) id: a clear error, exit 1, audited.
    missing = str(uuid.uuid4())
    refused = run(
        "export",
        "fhir",
        "--out",
        str(tmp_path / "none"),
        "--user",
        user,
        "--patient",
        missing,
        env=home,
    )
    assert refused.returncode == 1
    assert "1 of the 1 patient id(s) asked for were not found" in " ".join(refused.stderr.split())
    assert missing not in refused.stdout + refused.stderr
    engine = make_engine(home["DATABASE_URL"])
    try:
        with transaction(engine) as session:
            rows = session.scalars(
                select(AuditEvent).where(AuditEvent.outcome == AuditOutcome.NOT_FOUND)
            ).all()
            assert [(e.action, e.client, e.patient_id) for e in rows] == [
                (AuditAction.EXPORT, "fhir-bulk", None)
            ]
    finally:
        engine.dispose()
    assert (
        run("export", "fhir", "--out", str(tmp_path / "x"), "--user", "nobody", env=home).returncode
        == 2
    )
    other = {
        "P360_VAR_DIR": str(tmp_path / "var2"),
        "DATABASE_URL": f"sqlite:///{tmp_path}/other.db",
    }
    assert run("db", "upgrade", env=other).returncode == 0
    first = run("import", "fhir", str(out), env=other)
    assert first.returncode == 0, first.stderr
    again = run("import", "fhir", str(out), env=other)
    assert again.returncode == 0
    assert " 0 " in again.stdout  # nothing created the second time


def test_import_fhir_folder_validated_ahead_keeps_all_or_nothing_per_file(
    home: dict[str, str], tmp_path: Path
) -> None:
    """Several files: a worker reads and validates ahead; an unreadable file and an
    invalid bundle are reported by name, the good bundle is imported all the same."""
    import json

    folder = tmp_path / "in"
    folder.mkdir()
    good = next(SYNTHEA.glob("*.json"))
    (folder / "a-good.json").write_text(good.read_text())
    bad = json.loads(good.read_text())
    observation = next(e for e in bad["entry"] if "valueQuantity" in e["resource"])
    observation["resource"]["valueQuantity"]["value"] = "many"
    (folder / "b-invalid.json").write_text(json.dumps(bad))
    (folder / "c-broken.json").write_text("{not json")
    result = run("import", "fhir", str(folder), env=home)
    assert result.returncode == 1
    assert "c-broken.json: not valid JSON" in result.stderr
    assert "b-invalid.json" in result.stderr
    assert "valueQuantity.value" in result.stderr
    assert "many" not in result.stderr  # the field, never the value
    assert "patients created or changed: 1" in result.stdout  # the good file only


def test_hl7_listen_ack_after_stored_end_to_end(home: dict[str, str]) -> None:
    """``hl7 listen --ack-after stored`` as a process: AA over the socket, the message
    applied by SIGTERM's stop; ``hl7 errors --state received`` lists what waits."""
    assert run("hl7", "listen", "--ack-after", "later", env=home).returncode == 2
    in_memory = run(
        "hl7", "listen", "--ack-after", "stored", env={**home, "DATABASE_URL": "sqlite://"}
    )
    assert in_memory.returncode == 2
    assert "needs a database file or server" in in_memory.stderr
    engine = make_engine(home["DATABASE_URL"])
    try:
        with write_transaction(engine) as session:  # acknowledged, never applied
            store(session=session, text=adt_a04("CLIWAIT", "CLIWAIT", family="WAITING"))
    finally:
        engine.dispose()
    waiting = run("hl7", "errors", "--state", "received", env=home)
    assert waiting.returncode == 0
    assert "ADT^A04" in waiting.stdout
    assert "CLIWAIT" in waiting.stdout  # the control id; no patient data
    assert "WAITING" not in waiting.stdout
    port = _free_port()
    server = _listen(home, port)
    try:
        assert b"MSA|AA|CLISENT" in _send(port, adt_a04("CLISENT", "CLISENT"))
    finally:
        server.send_signal(signal.SIGTERM)
        out, _ = server.communicate(timeout=60)
    assert server.returncode == 0
    assert "stopped" in out
    assert "CLIWAIT" not in run("hl7", "errors", "--state", "received", env=home).stdout
    processed = run("hl7", "errors", "--state", "processed", env=home).stdout
    assert "CLIWAIT" in processed
    assert "CLISENT" in processed


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _listen(home: dict[str, str], port: int) -> subprocess.Popen[str]:
    """``hl7 listen --ack-after stored`` on ``port``, accepting connections."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("P360_", "DATABASE_URL"))}
    server = subprocess.Popen(
        [str(BIN), "hl7", "listen", "--port", str(port), "--ack-after", "stored"],
        env={**env, **home},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=5).close()
            return server
        except OSError:
            assert time.monotonic() < deadline, "the listener did not start"
            time.sleep(0.2)


def _send(port: int, message: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(frame(message))
        ack = b""
        while END not in ack:
            ack += sock.recv(65536)
    return ack


def _alive(pid: int) -> bool:
    """A process that exists and has not ended (a zombie nobody reaped has ended)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def test_a_killed_listener_leaves_no_process_behind(home: dict[str, str]) -> None:
    """``kill -9`` of ``hl7 listen --ack-after stored``: its applier process notices,
    applies what was acknowledged, and ends; nothing is left holding the database."""
    port = _free_port()
    server = _listen(home, port)
    children: list[int] = []
    try:
        assert b"MSA|AA|CLIKILL" in _send(port, adt_a04("CLIKILL", "CLIKILL"))
        children = [
            int(c)
            for c in Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
        ]
        assert children  # the applier (and multiprocessing's resource tracker)
        server.kill()
        server.communicate(timeout=30)
        deadline = time.monotonic() + 30
        while any(_alive(pid) for pid in children):
            assert time.monotonic() < deadline, "the applier outlived its listener"
            time.sleep(0.1)
    finally:
        for pid in children:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)
    assert "CLIKILL" in run("hl7", "errors", "--state", "processed", env=home).stdout
