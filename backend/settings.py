"""Typed settings from environment variables, with safe development defaults.

Everything path-like (policies/, static/, var/) is decided here and nowhere else.
"""

from __future__ import annotations

import os
import secrets
from functools import cache
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import make_url


def project_root() -> Path:
    """The checkout or install root: where policies/, static/ and alembic/ live."""
    override = os.environ.get("P360_HOME")
    return Path(override) if override else Path(__file__).resolve().parent.parent


class UnsafeSettingsError(RuntimeError):
    """Production was asked to start with a setting that is only fit for development."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="P360_", extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    home: Path = Field(default_factory=project_root)
    var_dir: Path | None = None
    database_url: str = Field(
        default="",
        validation_alias=AliasChoices("DATABASE_URL", "P360_DATABASE_URL"),
        description="sqlite:///path or postgresql://user:pass@host/db; default var/patient360.db",
    )
    secret_key: SecretStr | None = None
    host: str = "127.0.0.1"
    port: int = 8000
    # How long a resolved caller is reused for the same token or cookie (seconds, 0 = off).
    # Revocations made through this process apply at once; see backend/access/principal_cache.
    principal_cache_seconds: float = Field(default=5.0, ge=0, le=300)
    # Outgoing mail (portal password resets): plain SMTP to a relay, STARTTLS when offered.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    mail_from: str = "patient360 <no-reply@patient360.invalid>"
    # The address patients reach the server at, for links in e-mails; default: host/port.
    public_url: str = ""
    # Shown on every intake page once PHQ-9 item 9 (thoughts of self-harm) is above 0.
    crisis_line_text: str = (
        "If you are thinking about hurting yourself or ending your life, call or text 988 "
        "(988 Suicide & Crisis Lifeline) now, any time of day or night. If you are in "
        "immediate danger, call 911."
    )
    # Patient matcher parameters trained on this database (`patient360 mpi train`);
    # default var/mpi-model.json, and the shipped parameters while that file is absent.
    mpi_model_path: Path | None = None

    @model_validator(mode="after")
    def _defaults_and_safety(self) -> Settings:
        if self.var_dir is None:
            self.var_dir = self.home / "var"
        if not self.database_url:
            self.database_url = f"sqlite:///{self.var_dir / 'patient360.db'}"
        try:
            url = make_url(self.database_url)
        except Exception as exc:
            raise ValueError(f"DATABASE_URL is not a database URL: {exc}") from None
        if url.get_backend_name() not in {"sqlite", "postgresql", "postgres"}:
            raise ValueError("DATABASE_URL must be sqlite:///... or postgresql://...")
        if self.env == "production":
            if self.secret_key is None or len(self.secret_key.get_secret_value()) < 32:
                raise UnsafeSettingsError(
                    "production needs P360_SECRET_KEY set to at least 32 random characters"
                )
            if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
                raise UnsafeSettingsError("production refuses an in-memory SQLite database")
        return self

    @property
    def base_url(self) -> str:
        """Where links in e-mails point (no trailing slash)."""
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def var(self) -> Path:
        assert self.var_dir is not None  # set by the validator
        return self.var_dir

    @property
    def mpi_model_file(self) -> Path:
        return self.mpi_model_path or self.var / "mpi-model.json"

    @property
    def policies_dir(self) -> Path:
        return self.home / "policies"

    @property
    def static_dir(self) -> Path:
        return self.home / "static"

    @property
    def templates_dir(self) -> Path:
        return self.home / "portal" / "templates"

    def secret(self) -> str:
        """The signing secret: explicit in production, generated once into var/ otherwise."""
        if self.secret_key is not None:
            return self.secret_key.get_secret_value()
        path = self.var / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.var.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL: two processes starting together must not end up with different keys.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as handle:
            handle.write(key)
        return key


@cache
def get_settings() -> Settings:
    return Settings()
