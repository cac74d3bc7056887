"""The patient360 command as an operator meets it: real processes, real databases."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent / "patient360"


def run(
    *args: str,
    env: dict[str, str] | None = None,
    timeout: float = 120,
    command: tuple[str, ...] = (str(BIN),),
) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("P360_", "DATABASE_URL"))}
    full_env.update(env or {})
    full_env["COLUMNS"] = "200"
    return subprocess.run(
        [*command, *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """A private var/ so the developer's own database is never touched."""
    return {"P360_VAR_DIR": str(tmp_path / "var"), "DATABASE_URL": f"sqlite:///{tmp_path}/var/p.db"}


def test_help_lists_the_commands() -> None:
    result = run("--help")
    assert result.returncode == 0
    for command in ("db", "demo", "serve"):
        assert command in result.stdout


def test_python_dash_m_runs_the_same_command() -> None:
    # Domain commands import their helpers from backend.common.commands, never from
    # backend.cli: run as __main__, that module would load twice and import itself back.
    result = run("--help", command=(sys.executable, "-m", "backend.cli"))
    assert result.returncode == 0, result.stderr
    for command in ("db", "demo", "serve", "import", "hl7", "mpi", "survey"):
        assert command in result.stdout


def test_bad_arguments_exit_2_with_a_message() -> None:
    result = run("demo", "--patients", "many")
    assert result.returncode == 2
    assert "--patients" in result.stderr
    assert "integer" in result.stderr.lower()
    assert run("no-such-command").returncode == 2


def test_bad_date_exits_2(home: dict[str, str]) -> None:
    result = run("demo", "--today", "yesterday", env=home)
    assert result.returncode == 2
    assert "YYYY-MM-DD" in result.stderr


def test_unreachable_database_is_one_clear_line() -> None:
    result = run(
        "db", "upgrade", env={"DATABASE_URL": "postgresql://nobody:secretpw@127.0.0.1:1/x"}
    )
    assert result.returncode == 1
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "cannot use the database at postgresql://nobody:***@127.0.0.1:1/x" in lines[0]
    assert "secretpw" not in result.stderr
    assert "Traceback" not in result.stderr


def test_unmigrated_database_names_the_command(home: dict[str, str]) -> None:
    for command in (("serve",), ("demo",)):
        result = run(*command, env=home)
        assert result.returncode == 1
        assert "run `patient360 db upgrade`" in result.stderr
        assert "Traceback" not in result.stderr


def test_production_configuration_error_is_clear() -> None:
    result = run(
        "db", "upgrade", env={"P360_ENV": "production", "DATABASE_URL": "postgresql://h/db"}
    )
    assert result.returncode == 2
    assert "P360_SECRET_KEY" in result.stderr
    assert "Traceback" not in result.stderr


def test_upgrade_demo_and_if_empty(home: dict[str, str]) -> None:
    assert run("db", "upgrade", env=home).returncode == 0
    current = run("db", "current", env=home)
    assert current.returncode == 0, current.stderr
    seeded = run("demo", "--patients", "30", "--seed", "7", env=home)
    assert seeded.returncode == 0, seeded.stderr
    assert "wrote 30 patients" in seeded.stdout
    for role in ("front_desk", "physician", "auditor"):
        assert role in seeded.stdout
    again = run("demo", "--patients", "30", env=home)
    assert again.returncode == 1
    assert "--reset" in again.stderr
    skipped = run("demo", "--if-empty", env=home)
    assert skipped.returncode == 0
    assert "already has data" in skipped.stdout
    logins = Path(home["P360_VAR_DIR"]) / "demo-logins.txt"
    assert oct(logins.stat().st_mode & 0o777) == "0o600"
