"""Who is asking: the identity every service call receives, whatever the transport."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass, field
from datetime import datetime


class PrincipalKind(enum.StrEnum):
    STAFF = "staff"  # a person signed in with a staff account (browser session or token)
    PATIENT = "patient"  # a patient signed in to the portal: sees only their own record
    CLIENT = "client"  # an integration using OAuth2 client credentials


@dataclass(frozen=True, slots=True)
class BreakGlassGrant:
    """Time-boxed emergency access to one patient outside the caller's care teams."""

    patient_id: uuid.UUID
    expires_at: datetime
    grant_id: uuid.UUID


@dataclass(frozen=True, slots=True)
class Principal:
    """An authenticated caller. Built once per request by the authentication layer.

    ``roles`` are policy subjects (``StaffRole`` values, ``"patient"``, ``"integration"``);
    ``care_team_ids`` and ``location_id`` decide row scope; ``scopes`` are OAuth2 scopes
    for clients and tokens (empty for browser sessions, which carry no scope limits).
    Nothing here is patient data, so a principal may be logged and audited as it is.
    """

    kind: PrincipalKind
    subject_id: uuid.UUID  # staff_user.id, portal_account.id, or the client's staff_user.id
    username: str
    roles: frozenset[str]
    care_team_ids: frozenset[uuid.UUID] = frozenset()
    location_id: uuid.UUID | None = None
    patient_id: uuid.UUID | None = None  # set for PATIENT principals only
    scopes: frozenset[str] = frozenset()
    break_glass: tuple[BreakGlassGrant, ...] = ()
    session_id: str | None = None  # opaque; never the cookie value itself
    token_id: str | None = None  # the JWT's jti, for revocation and the audit trail
    # When the credential (token or session) stops being valid; bounds any caching.
    credential_expires_at: datetime | None = None
    client_address: str | None = field(default=None, compare=False)

    @property
    def token_scoped(self) -> bool:
        """Whether OAuth2 scopes cap what this caller may use: true for bearer tokens
        (staff scripts and integration clients), false for browser and portal sessions."""
        return self.token_id is not None

    def has_role(self, role: str) -> bool:
        return role in self.roles

    def break_glass_for(self, patient_id: uuid.UUID, now: datetime) -> BreakGlassGrant | None:
        for grant in self.break_glass:
            if grant.patient_id == patient_id and grant.expires_at > now:
                return grant
        return None
