"""Record-level rules, on top of field groups and row scope.

* Psychotherapy notes (``Sensitivity.PSYCHOTHERAPY``): only their author and the
  patient's treating therapist (an active THERAPIST member of a care team the patient
  is currently under). Not even the patient: HIPAA excludes them from the right of access.
* 42 CFR Part 2 records (``Sensitivity.PART2``): only when the patient has an active,
  permitting ``part2_disclosure`` consent whose recipients cover the caller (one of
  their care teams, their organization, one of their roles, or them by id). The patient
  always sees their own records: Part 2 restricts disclosure to others.
* Restricted records (``Sensitivity.RESTRICTED``: a VIP, a colleague as patient, a
  record a clinic chooses to wall off): only their author, staff on a care team the
  patient is currently under, and a caller holding a live break-glass grant for the
  patient. Seeing a patient by location (front desk) is not enough. The patient sees
  their own.
* Patients read their own record minus psychotherapy notes and rows a model marks
  ``visible_to_patient = false`` (internal call notes about them).
* Contact details for alumni coordinators: only channels the patient allowed for
  alumni messages (an explicit ``contact_preference`` row; no row means no).

Each rule is a pure function (for records already in memory) and an SQL filter
builder (for queries); both give the same answer, and the tests hold them to it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Integer, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal, PrincipalKind
from backend.access.scoping import break_glass_patient_ids
from backend.common.types import Sensitivity
from backend.engagement.consent import (
    Consent,
    ConsentKind,
    ConsentStatus,
    ProvisionType,
    RecipientType,
)
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.models import ContactPreference
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
)

PSYCHOTHERAPY_RULE = "psychotherapy_note"
PART2_RULE = "part2_consent"
RESTRICTED_RULE = "restricted_record"
CONTACT_CONSENT_RULE = "contact_channel_consent"
ALUMNI_ROLE = "alumni_coordinator"
ALUMNI_MESSAGES = MessageType.ALUMNI_EVENTS


class ConsentLike(Protocol):
    """The consent columns the Part 2 rule reads (a :class:`Consent` row fits)."""

    kind: ConsentKind
    status: ConsentStatus
    provision_type: ProvisionType
    recipient_type: RecipientType | None
    recipients: list[Any]
    period_start: datetime | None
    period_end: datetime | None
    revoked_at: datetime | None
    deleted_at: datetime | None


@dataclass(frozen=True, slots=True)
class PatientAccess:
    """What the record rules need to know about one (principal, patient) pair."""

    treating_therapist: bool = False
    part2_covered: bool = False
    # On a care team the patient is under, or holding a live break-glass grant for them.
    treating_team: bool = False


# ---- pure functions ----------------------------------------------------------------


def consent_in_force(consent: ConsentLike, now: datetime) -> bool:
    return (
        consent.kind is ConsentKind.PART2_DISCLOSURE
        and consent.status is ConsentStatus.ACTIVE
        and consent.provision_type is ProvisionType.PERMIT
        and consent.deleted_at is None
        and consent.revoked_at is None
        and (consent.period_start is None or consent.period_start <= now)
        and (consent.period_end is None or consent.period_end > now)
    )


def _recipient_keys(recipient: object) -> set[str]:
    if not isinstance(recipient, Mapping):
        return set()
    return {str(recipient[k]) for k in ("id", "role") if recipient.get(k)}


def consent_covers(
    consent: ConsentLike,
    *,
    principal: Principal,
    organization_ids: frozenset[uuid.UUID],
    now: datetime,
) -> bool:
    """Whether a Part 2 disclosure consent, in force at ``now``, names the caller."""
    if not consent_in_force(consent, now):
        return False
    keys: set[str] = set().union(*(_recipient_keys(r) for r in consent.recipients or ()))
    match consent.recipient_type:
        case RecipientType.CARE_TEAM:
            return bool(keys & {str(t) for t in principal.care_team_ids})
        case RecipientType.ORGANIZATION:
            return bool(keys & {str(o) for o in organization_ids})
        case RecipientType.STAFF_ROLE:
            return principal.kind is not PrincipalKind.PATIENT and bool(keys & principal.roles)
        case RecipientType.PERSON:
            return str(principal.subject_id) in keys
    return False


def record_rule(
    *,
    principal: Principal,
    sensitivity: Sensitivity | int,
    author_id: uuid.UUID | None,
    access: PatientAccess,
) -> str | None:
    """The rule that withholds a whole record from ``principal``, or None if visible."""
    flags = Sensitivity(int(sensitivity))
    staff = principal.kind is not PrincipalKind.PATIENT
    if Sensitivity.PSYCHOTHERAPY in flags:
        is_author = author_id is not None and author_id == principal.subject_id
        if not (staff and (is_author or access.treating_therapist)):
            return PSYCHOTHERAPY_RULE
    if Sensitivity.PART2 in flags and staff and not access.part2_covered:
        return PART2_RULE
    if Sensitivity.RESTRICTED in flags and staff:
        is_author = author_id is not None and author_id == principal.subject_id
        if not (is_author or access.treating_team):
            return RESTRICTED_RULE
    return None


def contact_restricted(*, policy: CompiledPolicy, principal: Principal) -> bool:
    """True when the caller sees contact details only as an alumni coordinator."""
    if ALUMNI_ROLE not in principal.roles:
        return False
    return "contact" not in policy.groups_for(principal.roles - {ALUMNI_ROLE})


def channel_allowed(channel: PreferenceChannel | None, allowed_channels: Iterable[str]) -> bool:
    return channel is not None and channel.value in set(allowed_channels)


# ---- loading what the pure functions need ------------------------------------------


def _member_active(today: date) -> ColumnElement[bool]:
    return and_(
        CareTeamMember.deleted_at.is_(None),
        or_(CareTeamMember.start_date.is_(None), CareTeamMember.start_date <= today),
        or_(CareTeamMember.end_date.is_(None), CareTeamMember.end_date >= today),
    )


def _patient_active(today: date) -> ColumnElement[bool]:
    return and_(
        CareTeamPatient.deleted_at.is_(None),
        or_(CareTeamPatient.start_date.is_(None), CareTeamPatient.start_date <= today),
        or_(CareTeamPatient.end_date.is_(None), CareTeamPatient.end_date >= today),
    )


def organization_ids_of(*, session: Session, principal: Principal) -> frozenset[uuid.UUID]:
    """The organizations the caller works for (through their location)."""
    if principal.location_id is None:
        return frozenset()
    query = select(Location.organization_id).where(Location.id == principal.location_id)
    return frozenset(session.execute(query).scalars())


def load_patient_access(
    *,
    session: Session,
    principal: Principal,
    patient_ids: Iterable[uuid.UUID],
    now: datetime,
) -> dict[uuid.UUID, PatientAccess]:
    """Two queries for any number of patients: treating-therapist links and consents."""
    ids = sorted(set(patient_ids))
    if not ids:
        return {}
    if principal.kind is PrincipalKind.PATIENT:
        return {pid: PatientAccess() for pid in ids}
    today = now.date()
    therapist_of = set(
        session.execute(
            select(CareTeamPatient.patient_id)
            .join(CareTeamMember, CareTeamMember.care_team_id == CareTeamPatient.care_team_id)
            .join(CareTeam, CareTeam.id == CareTeamPatient.care_team_id)
            .where(
                CareTeamPatient.patient_id.in_(ids),
                CareTeamMember.staff_user_id == principal.subject_id,
                CareTeamMember.role == CareTeamRole.THERAPIST,
                CareTeam.active.is_(True),
                _member_active(today),
                _patient_active(today),
            )
        ).scalars()
    )
    covered = part2_covered_patients(session=session, principal=principal, patient_ids=ids, now=now)
    teams = set(break_glass_patient_ids(principal, now))
    if principal.care_team_ids:
        teams.update(
            session.execute(
                select(CareTeamPatient.patient_id).where(
                    CareTeamPatient.patient_id.in_(ids),
                    CareTeamPatient.care_team_id.in_(sorted(principal.care_team_ids)),
                    _patient_active(today),
                )
            ).scalars()
        )
    return {
        pid: PatientAccess(
            treating_therapist=pid in therapist_of,
            part2_covered=pid in covered,
            treating_team=pid in teams,
        )
        for pid in ids
    }


def part2_covered_patients(
    *,
    session: Session,
    principal: Principal,
    patient_ids: Iterable[uuid.UUID],
    now: datetime,
) -> frozenset[uuid.UUID]:
    """Patients whose Part 2 disclosure consents cover the caller. Recipients are JSON,
    matched in Python by :func:`consent_covers` so both databases agree exactly."""
    ids = sorted(set(patient_ids))
    if not ids:
        return frozenset()
    consents = session.execute(
        select(Consent).where(
            Consent.patient_id.in_(ids),
            Consent.kind == ConsentKind.PART2_DISCLOSURE,
            Consent.status == ConsentStatus.ACTIVE,
            Consent.deleted_at.is_(None),
        )
    ).scalars()
    orgs = organization_ids_of(session=session, principal=principal)
    return frozenset(
        c.patient_id
        for c in consents
        if consent_covers(c, principal=principal, organization_ids=orgs, now=now)
    )


# ---- SQL filter builders -----------------------------------------------------------


def _flag(column: Any, flag: Sensitivity) -> ColumnElement[bool]:
    return column.op("&", return_type=Integer)(int(flag)) == 0  # type: ignore[no-any-return]


def sensitivity_filter(
    model: Any,
    *,
    principal: Principal,
    access: Mapping[uuid.UUID, PatientAccess],
) -> ColumnElement[bool]:
    """WHERE clause keeping only the rows of a :class:`PatientRecord` model that
    :func:`record_rule` would show, for rows of the patients in ``access`` (from
    :func:`load_patient_access`, decided once per request); rows of any other patient
    are treated as granting nothing.

    Plain ids rather than correlated subqueries: the per-patient facts are the same for
    every category, so the 360 query decides them once instead of building (and
    SQLAlchemy hashing) three EXISTS per category, which cost more than the rest of the
    access layer together (docs/performance.md)."""
    sensitivity = model.sensitivity
    if principal.kind is PrincipalKind.PATIENT:
        own = _flag(sensitivity, Sensitivity.PSYCHOTHERAPY)
        # Internal call notes and staff threads about a patient are not theirs to read.
        shared = getattr(model, "visible_to_patient", None)
        return own if shared is None else and_(own, shared.is_(True))
    # Rows nobody here wrote (raw resources kept by an importer) have no author column.
    author = getattr(model, "author_id", None)
    authored: list[ColumnElement[bool]] = [] if author is None else [author == principal.subject_id]

    def unless(flag: Sensitivity, by_author: bool, granted: list[uuid.UUID]) -> ColumnElement[bool]:
        # A row of a patient missing from ``access`` must not pass: name the patients
        # granted even when they are all the patients asked about.
        ids = model.patient_id.in_(sorted(granted)) if granted else false()
        return or_(_flag(sensitivity, flag), *(authored if by_author else ()), ids)

    return and_(
        unless(
            Sensitivity.PSYCHOTHERAPY, True, [p for p, a in access.items() if a.treating_therapist]
        ),
        unless(Sensitivity.PART2, False, [p for p, a in access.items() if a.part2_covered]),
        unless(Sensitivity.RESTRICTED, True, [p for p, a in access.items() if a.treating_team]),
    )


def consented_contact_filter(
    model: Any, *, policy: CompiledPolicy, principal: Principal
) -> ColumnElement[bool]:
    """WHERE clause for ContactPoint / Address / EmergencyContact rows: everything,
    unless the caller sees contacts only as an alumni coordinator, in which case only
    the channels the patient allowed for alumni messages (addresses: postal mail)."""
    if not contact_restricted(policy=policy, principal=principal):
        return true()
    name = model.__name__
    if name == "ContactPoint":
        channel: Any = model.system
    elif name == "Address":
        channel = PreferenceChannel.MAIL.value
    else:  # emergency contacts are not the patient's channels
        return false()
    return exists().where(
        ContactPreference.patient_id == model.patient_id,
        ContactPreference.channel == channel,
        ContactPreference.message_type == ALUMNI_MESSAGES,
        ContactPreference.allowed.is_(True),
        ContactPreference.deleted_at.is_(None),
    )
