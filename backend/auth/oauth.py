"""OAuth2 client credentials for API clients, on authlib's authorization server.

authlib ships server integrations for Flask and Django only, so this module supplies the
framework half (request and response adapters) for a transport-neutral token endpoint:
the route hands over method, headers and form fields and gets back status, body and
headers. Client authentication, grant dispatch and RFC 6749 error responses are
authlib's; the access tokens are our signed JWTs (:mod:`backend.auth.tokens`).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from authlib.oauth2.rfc6749 import (
    AuthorizationServer,
    InvalidScopeError,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.grants import ClientCredentialsGrant
from sqlalchemy import select
from sqlalchemy.orm import Session

from backend.accounts.models import StaffUser
from backend.auth.models import OAuthClient
from backend.auth.tokens import issue_access_token, normalise_scopes
from backend.settings import Settings

ENDPOINT_URI = "https://patient360/oauth/token"


def hash_client_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class NewClient:
    """A created client; ``client_secret`` is shown once and never stored."""

    id: uuid.UUID
    client_id: str
    client_secret: str
    scopes: tuple[str, ...]


def create_client(
    *, session: Session, name: str, staff_user_id: uuid.UUID, scopes: tuple[str, ...]
) -> NewClient:
    """Register an API client acting as ``staff_user_id`` within ``scopes``."""
    allowed = normalise_scopes(scopes)
    if not allowed:
        raise ValueError("a client needs at least one scope")
    secret = secrets.token_urlsafe(32)
    row = OAuthClient(
        id=uuid.uuid4(),
        client_id="p360_" + secrets.token_hex(12),
        secret_hash=hash_client_secret(secret),
        name=name.strip()[:200],
        scopes=list(allowed),
        staff_user_id=staff_user_id,
    )
    session.add(row)
    session.flush()
    return NewClient(id=row.id, client_id=row.client_id, client_secret=secret, scopes=allowed)


class _Client:
    """authlib's ClientMixin protocol over an :class:`OAuthClient` row (duck-typed)."""

    def __init__(self, row: OAuthClient) -> None:
        self.row = row

    def get_client_id(self) -> str:
        return self.row.client_id

    def get_default_redirect_uri(self) -> None:
        return None

    def get_allowed_scope(self, scope: str) -> str:
        return " ".join(s for s in scope.split() if s in self.row.scopes)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        return False

    def check_client_secret(self, client_secret: str) -> bool:
        return hmac.compare_digest(self.row.secret_hash, hash_client_secret(client_secret))

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        return endpoint == "token" and method in ("client_secret_basic", "client_secret_post")

    def check_response_type(self, response_type: str) -> bool:
        return False

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type == "client_credentials"


class _Payload(OAuth2Payload):  # type: ignore[misc]  # authlib is untyped
    def __init__(self, form: list[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for key, value in form:
            self._datalist[key].append(value)

    @property
    def data(self) -> dict[str, str]:
        return {key: values[0] for key, values in self._datalist.items()}

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


class _Request(OAuth2Request):  # type: ignore[misc]
    def __init__(
        self, method: str, headers: Mapping[str, str], form: list[tuple[str, str]]
    ) -> None:
        # authlib refuses non-https URIs; TLS is terminated in front of the app (the app
        # itself only ever sees plain http), so the check would only see the inner hop.
        super().__init__(method=method, uri=ENDPOINT_URI, headers=headers)
        self.payload = _Payload(form)
        self._form = dict(form)

    @property
    def args(self) -> dict[str, str]:
        return {}

    @property
    def form(self) -> dict[str, str]:
        return self._form


class _ClientCredentials(ClientCredentialsGrant):  # type: ignore[misc]
    TOKEN_ENDPOINT_AUTH_METHODS = ["client_secret_basic", "client_secret_post"]


@dataclass(frozen=True, slots=True)
class TokenResponse:
    status: int
    body: dict[str, Any]
    headers: list[tuple[str, str]]


class _Server(AuthorizationServer):  # type: ignore[misc]
    """One per request: it holds that request's database session."""

    def __init__(self, session: Session, settings: Settings) -> None:
        super().__init__()
        self.session = session
        self.settings = settings
        self.register_grant(_ClientCredentials)
        self.register_token_generator("default", self._generate)

    def query_client(self, client_id: str) -> _Client | None:
        if not client_id or len(client_id) > 64:
            return None
        row = self.session.scalars(
            select(OAuthClient)
            .join(StaffUser, StaffUser.id == OAuthClient.staff_user_id)
            .where(
                OAuthClient.client_id == client_id,
                OAuthClient.active.is_(True),
                OAuthClient.deleted_at.is_(None),
                StaffUser.active.is_(True),
            )
        ).one_or_none()
        return _Client(row) if row is not None else None

    def _generate(
        self,
        grant_type: str,
        client: _Client,
        user: Any = None,
        scope: str | None = None,
        expires_in: int | None = None,
        include_refresh_token: bool = True,
    ) -> dict[str, Any]:
        requested = tuple(scope.split()) if scope else tuple(client.row.scopes)
        if not set(requested) <= set(client.row.scopes):
            raise InvalidScopeError()
        issued = issue_access_token(
            session=self.session,
            settings=self.settings,
            staff_user_id=client.row.staff_user_id,
            scopes=tuple(sorted(set(requested))),
            oauth_client_id=client.row.id,
            client_id=client.row.client_id,
        )
        return {
            "token_type": "Bearer",
            "access_token": issued.access_token,
            "expires_in": issued.expires_in,
            "scope": " ".join(issued.scopes),
        }

    def save_token(self, token: dict[str, Any], request: Any) -> None:
        return None  # recorded by issue_access_token, jti and all

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        return None

    def create_oauth2_request(self, request: Any) -> Any:
        return request

    def handle_response(
        self, status: int, body: dict[str, Any], headers: list[tuple[str, str]]
    ) -> TokenResponse:
        body = dict(body)
        if body.get("error") == "invalid_client":
            # authlib says "does not exist" for an unknown client_id and something else for
            # a wrong secret: one answer for both, so client ids cannot be probed.
            body["error_description"] = "Client authentication failed."
            headers = [
                (name, value)
                if name.lower() != "www-authenticate"
                else (name, 'Basic error="invalid_client"')
                for name, value in headers
            ]
        return TokenResponse(status=status, body=body, headers=list(headers))


def token_endpoint(
    *,
    session: Session,
    settings: Settings,
    method: str,
    headers: Mapping[str, str],
    form: list[tuple[str, str]],
) -> TokenResponse:
    """Answer one request to ``/oauth/token`` (RFC 6749 section 4.4)."""
    server = _Server(session, settings)
    response: TokenResponse = server.create_token_response(_Request(method, headers, form))
    return response
