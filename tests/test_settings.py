"""Settings: safe development defaults, and production refusing unsafe ones."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from pydantic import ValidationError

from backend.settings import Settings, UnsafeSettingsError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DATABASE_URL", "P360_DATABASE_URL", "P360_SECRET_KEY", "P360_ENV"):
        monkeypatch.delenv(name, raising=False)


def test_development_defaults_to_sqlite_under_var(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.env == "development"
    assert settings.database_url == f"sqlite:///{tmp_path / 'var' / 'patient360.db'}"
    assert settings.policies_dir == tmp_path / "policies"


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://u:p@db.example/p360")
    assert Settings(home=tmp_path).database_url == "postgresql://u:p@db.example/p360"


def test_development_secret_is_generated_once_and_private(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    first = settings.secret()
    assert len(first) >= 32
    assert Settings(home=tmp_path).secret() == first
    mode = stat.S_IMODE((tmp_path / "var" / "secret_key").stat().st_mode)
    assert mode == 0o600


def test_production_refuses_to_start_without_secret(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="P360_SECRET_KEY"):
        Settings(home=tmp_path, env="production", database_url="postgresql://h/db")


def test_production_refuses_short_secret(tmp_path: Path) -> None:
    with pytest.raises(UnsafeSettingsError, match="32"):
        Settings(
            home=tmp_path, env="production", secret_key="short", database_url="postgresql://h/d"
        )


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///:memory:"])
def test_production_refuses_in_memory_sqlite(tmp_path: Path, url: str) -> None:
    with pytest.raises(UnsafeSettingsError, match="in-memory"):
        Settings(home=tmp_path, env="production", secret_key="x" * 40, database_url=url)


def test_production_accepts_explicit_safe_settings(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path, env="production", secret_key="k" * 40, database_url="postgresql://h/db"
    )
    assert settings.is_production
    assert settings.secret() == "k" * 40
    assert not (tmp_path / "var" / "secret_key").exists()


@pytest.mark.parametrize("url", ["mysql://h/db", "not a url"])
def test_unsupported_database_url_is_a_clear_error(tmp_path: Path, url: str) -> None:
    with pytest.raises(ValidationError, match="DATABASE_URL"):
        Settings(home=tmp_path, database_url=url)
