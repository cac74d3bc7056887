"""Sign-in attempts, browser sessions, OAuth2 clients and issued access tokens.

Secrets are never stored: session ids, client secrets and attempted usernames are kept
as SHA-256 digests. They are high-entropy random values (or, for usernames, only needed
for equality), so a fast hash is enough and keeps every request's lookup cheap; staff
passwords, which are low-entropy, stay with argon2id in ``backend.accounts``.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime
from typing import Any

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from backend.common.mixins import Tracked, UUIDPrimaryKey, utcnow
from backend.db import Base


class LoginOutcomeKind(enum.StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"  # wrong password, unknown or inactive account: one outcome on purpose
    THROTTLED = "throttled"  # refused before the password was checked; not counted again


class LoginAttempt(UUIDPrimaryKey, Base):
    """One staff sign-in attempt: the throttle's memory, shared by every server process."""

    __tablename__ = "login_attempt"
    __table_args__ = (
        Index("ix_login_attempt_account_key_occurred_at", "account_key", "occurred_at"),
        Index("ix_login_attempt_address_occurred_at", "address", "occurred_at"),
    )

    occurred_at: Mapped[datetime] = mapped_column(default=utcnow)
    # SHA-256 of the normalised username as typed: unknown names are throttled exactly
    # like real ones (so the throttle reveals nothing), and a password typed into the
    # username box is not kept in clear.
    account_key: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[LoginOutcomeKind]
    # Set only for a successful attempt, so an account's history can be shown to it.
    staff_user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("staff_user.id", ondelete="SET NULL"), default=None
    )


class StaffSession(UUIDPrimaryKey, Base):
    """A browser session. The cookie holds a random id; only its hash is stored here."""

    __tablename__ = "staff_session"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]  # absolute limit, whatever the activity
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)


class OAuthClient(Tracked, Base):
    """An API client (integration) using the client-credentials grant.

    It acts with the roles of ``staff_user``, normally a dedicated integration user, and
    never beyond ``scopes``.
    """

    __tablename__ = "oauth_client"

    client_id: Mapped[str] = mapped_column(String(64), unique=True)
    secret_hash: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    scopes: Mapped[list[Any]] = mapped_column(default=list)  # allowed scope strings
    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="RESTRICT"), index=True
    )
    active: Mapped[bool] = mapped_column(default=True)


class AccessToken(Base):
    """Every issued JWT by its ``jti``: a token not found here, or revoked, is refused."""

    __tablename__ = "access_token"

    jti: Mapped[str] = mapped_column(String(64), primary_key=True)
    staff_user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("staff_user.id", ondelete="CASCADE"), index=True
    )
    oauth_client_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("oauth_client.id", ondelete="CASCADE"), default=None, index=True
    )
    scopes: Mapped[list[Any]] = mapped_column(default=list)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class PortalSession(UUIDPrimaryKey, Base):
    """A patient's portal browser session; the same rules as :class:`StaffSession`.

    Kept apart from staff sessions so a portal cookie can never resolve to a staff
    principal (and the reverse), whatever the cookie name.
    """

    __tablename__ = "portal_session"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    portal_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portal_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)


class PasswordResetToken(UUIDPrimaryKey, Base):
    """A one-time password-reset link for a portal account; only the token's hash is kept."""

    __tablename__ = "password_reset_token"

    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    portal_account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("portal_account.id", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    address: Mapped[str | None] = mapped_column(String(64), default=None)
