"""``patient360 token``, ``client create|revoke`` and ``auth revoke|prune``: credentials
for operators.

Registered by ``backend/cli.py``; like every domain's commands it takes its shared steps
from :mod:`backend.common.commands`, never from ``backend.cli`` (a cycle).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from backend.common.commands import err, fail, settings_or_exit

client_app = typer.Typer(help="Manage OAuth2 API clients.", no_args_is_help=True)
auth_app = typer.Typer(help="Revoke credentials and prune expired ones.", no_args_is_help=True)
_out = Console(highlight=False, soft_wrap=True)


def token(
    user: Annotated[str, typer.Option("--user", help="Staff username the token acts as.")],
    scope: Annotated[
        list[str] | None,
        typer.Option(
            "--scope", help="Scope to grant; repeat for more (default: what the roles can use)."
        ),
    ] = None,
    minutes: Annotated[
        int, typer.Option("--minutes", min=1, max=60, help="Lifetime, at most 60.")
    ] = 15,
) -> None:
    """Print a short-lived bearer token for a staff user (for curl and scripts)."""
    from backend.accounts.models import StaffRoleAssignment, StaffUser
    from backend.auth.tokens import (
        KNOWN_SCOPES,
        default_scopes,
        issue_access_token,
        normalise_scopes,
    )
    from backend.db import make_engine, transaction

    settings = settings_or_exit()
    try:
        asked = normalise_scopes(scope) if scope else None
    except ValueError as exc:
        raise fail(f"{exc}; known: {', '.join(sorted(KNOWN_SCOPES))}", 2) from None
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            staff = session.scalars(
                select(StaffUser).where(StaffUser.username == user, StaffUser.deleted_at.is_(None))
            ).one_or_none()
            if staff is None or not staff.active:
                raise fail(f"no active staff user named {user!r}")
            roles = frozenset(
                str(role)
                for role in session.scalars(
                    select(StaffRoleAssignment.role).where(
                        StaffRoleAssignment.staff_user_id == staff.id
                    )
                )
            )
            scopes = asked or default_scopes(roles)
            issued = issue_access_token(
                session=session,
                settings=settings,
                staff_user_id=staff.id,
                scopes=scopes,
                lifetime=timedelta(minutes=minutes),
            )
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    # stdout carries the token alone, so `TOKEN=$(patient360 token --user nurse)` works.
    print(issued.access_token)
    err.print(f"expires {issued.expires_at.isoformat()}; scopes: {' '.join(issued.scopes)}")


@client_app.command("create")
def client_create(
    name: Annotated[str, typer.Option("--name", help="What the client is, for people.")],
    user: Annotated[str, typer.Option("--user", help="Staff user whose roles it acts with.")],
    scope: Annotated[list[str], typer.Option("--scope", help="Allowed scope; repeat for more.")],
) -> None:
    """Register an API client; its secret is printed once and cannot be shown again."""
    from backend.accounts.models import StaffUser
    from backend.auth.oauth import create_client
    from backend.auth.tokens import KNOWN_SCOPES
    from backend.db import make_engine, transaction

    settings = settings_or_exit()
    if not name.strip():
        raise fail("--name must not be empty", 2)
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            staff = session.scalars(
                select(StaffUser).where(StaffUser.username == user, StaffUser.deleted_at.is_(None))
            ).one_or_none()
            if staff is None or not staff.active:
                raise fail(f"no active staff user named {user!r}")
            try:
                new = create_client(
                    session=session, name=name, staff_user_id=staff.id, scopes=tuple(scope)
                )
            except ValueError as exc:
                raise fail(f"{exc}; known: {', '.join(sorted(KNOWN_SCOPES))}", 2) from None
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    _out.print(f"client_id     {new.client_id}")
    _out.print(f"client_secret {new.client_secret}")
    _out.print(f"scopes        {' '.join(new.scopes)}")
    err.print("The secret is not stored and cannot be shown again.")


@client_app.command("revoke")
def client_revoke(
    client_id: Annotated[str, typer.Argument(help="The client_id printed by `client create`.")],
) -> None:
    """Deactivate an API client and revoke every live token it was issued."""
    from backend.auth.maintenance import UnknownClientError, revoke_client
    from backend.db import make_engine, transaction

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            revoked = revoke_client(session=session, client_id=client_id)
    except UnknownClientError:
        raise fail(f"no client with client_id {client_id!r}") from None
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    _out.print(f"client {client_id} deactivated; {revoked} live token(s) revoked")


@auth_app.command("revoke")
def auth_revoke(
    user: Annotated[
        str | None, typer.Option("--user", help="Sign this staff user out everywhere.")
    ] = None,
    jti: Annotated[str | None, typer.Option("--jti", help="Revoke one token by its id.")] = None,
) -> None:
    """Revoke one token (--jti) or every token and session of a staff user (--user)."""
    from backend.accounts.models import StaffUser
    from backend.auth.maintenance import revoke_user_access
    from backend.auth.tokens import revoke_token
    from backend.db import make_engine, transaction

    if (user is None) == (jti is None):
        raise fail("give exactly one of --user or --jti", 2)
    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            if jti is not None:
                if not revoke_token(session=session, jti=jti):
                    raise fail("no live token with that id")
                message = "token revoked"
            else:
                staff = session.scalars(
                    select(StaffUser).where(StaffUser.username == user)
                ).one_or_none()
                if staff is None:
                    raise fail(f"no staff user named {user!r}")
                done = revoke_user_access(session=session, staff_user_id=staff.id)
                message = f"{done.tokens} token(s) and {done.sessions} session(s) revoked"
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    _out.print(message)


@auth_app.command("prune")
def auth_prune(
    days: Annotated[int, typer.Option("--days", min=0, help="Keep dead rows this many days.")] = 30,
) -> None:
    """Delete tokens, sessions and sign-in attempts dead for longer than --days."""
    from backend.auth.maintenance import prune_expired
    from backend.db import make_engine, transaction

    settings = settings_or_exit()
    engine = make_engine(settings.database_url)
    try:
        with transaction(engine) as session:
            pruned = prune_expired(session=session, keep=timedelta(days=days))
    except (OperationalError, ProgrammingError):
        raise fail("cannot use the database: is it reachable and upgraded?") from None
    finally:
        engine.dispose()
    _out.print(
        f"pruned {pruned.tokens} token(s), {pruned.sessions} session(s), "
        f"{pruned.login_attempts} sign-in attempt(s)"
    )
