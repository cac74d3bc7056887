"""Short-lived signed access tokens (JWT) with a recorded ``jti`` so they can be revoked.

Signing is HS256 with a key derived from the application secret for this purpose only
(HMAC-SHA256 over a fixed label): the same service issues and checks the tokens, so a
shared key is enough, and it works in production from ``P360_SECRET_KEY`` without key
files to distribute. JOSE is done with joserfc, the successor of ``authlib.jose`` by the
same authors. Only HS256 is accepted when decoding: no ``alg=none``, no algorithm swap.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from sqlalchemy import update
from sqlalchemy.orm import Session

from backend.access.principal_cache import forget_after_commit
from backend.auth.models import AccessToken
from backend.common.mixins import utcnow
from backend.settings import Settings

ISSUER = "patient360"
AUDIENCE = "patient360-api"
ALGORITHM = "HS256"
MAX_LIFETIME = timedelta(hours=1)
DEFAULT_LIFETIME = timedelta(minutes=15)
CLOCK_SKEW = timedelta(seconds=30)
# What a token may be used for; the access layer treats them as a ceiling on top of roles.
KNOWN_SCOPES = frozenset(
    {"patients:read", "patients:write", "audit:read", "admin", "fhir:import", "fhir:export"}
)
_KEY_LABEL = b"patient360/access-token/HS256/v1"


# The scopes a token gets when none are asked for: what the user's roles can use, no more,
# so a nurse's script token never carries ``admin``.
_ROLE_SCOPES: dict[str, frozenset[str]] = {
    "admin": frozenset({"admin"}),
    "auditor": frozenset({"audit:read"}),
}
_CLINICAL_SCOPES = frozenset({"patients:read", "patients:write"})


def default_scopes(roles: frozenset[str]) -> tuple[str, ...]:
    """Scopes for a token asked for without ``--scope``: those the roles can exercise."""
    scopes: set[str] = set()
    for role in roles:
        scopes |= _ROLE_SCOPES.get(role, _CLINICAL_SCOPES)
    return tuple(sorted(scopes))


class InvalidTokenError(Exception):
    """The token is not acceptable. Deliberately one type with no detail for the caller."""


@dataclass(frozen=True, slots=True)
class IssuedToken:
    access_token: str
    jti: str
    expires_at: datetime
    scopes: tuple[str, ...]

    @property
    def expires_in(self) -> int:
        return max(0, int((self.expires_at - utcnow()).total_seconds()))


def signing_key(settings: Settings) -> OctKey:
    """The HS256 key: derived, so the raw application secret signs nothing directly."""
    raw = hmac.new(settings.secret().encode(), _KEY_LABEL, hashlib.sha256).digest()
    return OctKey.import_key(raw)


def normalise_scopes(scopes: str | list[str] | tuple[str, ...] | None) -> tuple[str, ...]:
    """Scopes as a sorted tuple; raises ValueError for a scope nobody defined."""
    items = scopes.split() if isinstance(scopes, str) else list(scopes or ())
    unknown = sorted(set(items) - KNOWN_SCOPES)
    if unknown:
        raise ValueError(f"unknown scope(s): {', '.join(unknown)}")
    return tuple(sorted(set(items)))


def issue_access_token(
    *,
    session: Session,
    settings: Settings,
    staff_user_id: uuid.UUID,
    scopes: tuple[str, ...],
    lifetime: timedelta = DEFAULT_LIFETIME,
    oauth_client_id: uuid.UUID | None = None,
    client_id: str | None = None,
    now: datetime | None = None,
) -> IssuedToken:
    """Sign a token for a staff user (or a client acting as one) and record its jti."""
    if lifetime <= timedelta(0) or lifetime > MAX_LIFETIME:
        raise ValueError("token lifetime must be more than 0 and at most 1 hour")
    now = (now or utcnow()).replace(microsecond=0)
    expires = now + lifetime
    jti = secrets.token_urlsafe(24)
    claims: dict[str, Any] = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "sub": str(staff_user_id),
        "jti": jti,
        "iat": int(now.timestamp()),
        "nbf": int(now.timestamp()),
        "exp": int(expires.timestamp()),
        "scope": " ".join(scopes),
    }
    if client_id is not None:
        claims["client_id"] = client_id
    token = jwt.encode({"alg": ALGORITHM, "typ": "at+jwt"}, claims, signing_key(settings))
    session.add(
        AccessToken(
            jti=jti,
            staff_user_id=staff_user_id,
            oauth_client_id=oauth_client_id,
            scopes=list(scopes),
            issued_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    return IssuedToken(access_token=token, jti=jti, expires_at=expires, scopes=scopes)


def _verified_claims(settings: Settings, token: str, now: datetime) -> dict[str, Any]:
    if not token or len(token) > 4096:
        raise InvalidTokenError
    try:
        decoded = jwt.decode(token, signing_key(settings), algorithms=[ALGORITHM])
    except (JoseError, ValueError, TypeError):
        raise InvalidTokenError from None
    claims = dict(decoded.claims)
    stamp = now.timestamp()
    skew = CLOCK_SKEW.total_seconds()
    try:
        ok = (
            decoded.header.get("alg") == ALGORITHM
            and claims.get("iss") == ISSUER
            and claims.get("aud") == AUDIENCE
            and isinstance(claims.get("jti"), str)
            and isinstance(claims.get("sub"), str)
            and float(claims["exp"]) > stamp
            and float(claims["nbf"]) <= stamp + skew
            # A token that claims to live longer than the maximum was not made by us.
            and float(claims["exp"]) - float(claims["iat"]) <= MAX_LIFETIME.total_seconds()
        )
    except (KeyError, TypeError, ValueError):
        raise InvalidTokenError from None
    if not ok:
        raise InvalidTokenError
    return claims


def decode_and_check(
    *, session: Session, settings: Settings, token: str, now: datetime | None = None
) -> dict[str, Any]:
    """The token's claims when it is genuine, current, for us and not revoked."""
    now = now or utcnow()
    claims = _verified_claims(settings, token, now)
    row = session.get(AccessToken, claims["jti"])
    if row is None or row.revoked_at is not None or str(row.staff_user_id) != claims["sub"]:
        raise InvalidTokenError
    return claims


def revoke_token(*, session: Session, jti: str, now: datetime | None = None) -> bool:
    """Revoke one token by its jti; True when it was live."""
    result = session.execute(
        update(AccessToken)
        .where(AccessToken.jti == jti, AccessToken.revoked_at.is_(None))
        .values(revoked_at=now or utcnow())
    )
    forget_after_commit(session)
    return bool(getattr(result, "rowcount", 0))


def revoke_user_tokens(
    *, session: Session, staff_user_id: uuid.UUID, now: datetime | None = None
) -> int:
    """Revoke every unexpired token issued to a staff user or their clients."""
    now = now or utcnow()
    result = session.execute(
        update(AccessToken)
        .where(
            AccessToken.staff_user_id == staff_user_id,
            AccessToken.revoked_at.is_(None),
            AccessToken.expires_at > now,
        )
        .values(revoked_at=now)
    )
    forget_after_commit(session)
    return int(getattr(result, "rowcount", 0) or 0)


def expires_at_from_claims(claims: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(float(claims["exp"]), tz=UTC)
