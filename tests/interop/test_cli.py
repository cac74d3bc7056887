"""The import and hl7 commands end to end, as an operator runs them (SQLite home)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.interop.hl7v2.conftest import FIXTURES
from tests.test_cli import run

EXAMPLES = Path(__file__).resolve().parents[2] / "docs" / "examples"


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
