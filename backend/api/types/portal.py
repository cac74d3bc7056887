"""Portal-facing reads (contact preferences, record access) and the staff invite mutation.

The portal runs these as named operations in-process with the signed-in patient as the
principal, so the ``patient`` role's policy decides exactly as it would over HTTP.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from backend.access.access_log import record_access
from backend.accounts.invites import create_invite
from backend.api.context import ApiContext
from backend.api.errors import not_found
from backend.api.types.audit import _uuid
from backend.api.types.common import WithheldField, from_view, withheld_fields
from backend.engagement.preferences import get_preferences

F = TypeVar("F", bound=Callable[..., Any])


def _field(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.field(description=description))


def _mutation(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.mutation(description=description))


@strawberry.type(
    description="One channel x message-type cell: allowed or not (the clinic default "
    "where the patient made no choice)."
)
class PreferenceCell:
    policy_record_type = "ContactPreference"
    channel: str
    message_type: str
    allowed: bool


@strawberry.type
class CommunicationSettings:
    id: strawberry.ID
    preferred_channel: str | None
    language: str | None
    quiet_hours_start: time | None
    quiet_hours_end: time | None
    timezone: str | None
    do_not_contact: bool | None
    version: int | None
    withheld: list[WithheldField]


@strawberry.type(description="One change of a preference: who (kind), when, how, old and new.")
class PreferenceChange:
    id: strawberry.ID
    setting: str | None
    channel: str | None
    message_type: str | None
    old_value: str | None
    new_value: str | None
    changed_by: str | None
    method_detail: str | None
    changed_at: datetime | None
    withheld: list[WithheldField]


@strawberry.type(description="How a patient wants to be reached, with the change history.")
class ContactPreferences:
    policy_record_type = "ContactPreference"
    patient_id: strawberry.ID
    cells: list[PreferenceCell]
    settings: CommunicationSettings | None
    history: list[PreferenceChange]
    withheld: list[WithheldField]


@strawberry.type(
    description="A look at or change to a patient's record, from the audit trail: when, in "
    "which role, whether by break-glass; the actor's name only with see_record_access_names."
)
class RecordAccess:
    policy_record_type = "AuditEvent"
    occurred_at: datetime
    roles: list[str]
    actor_kind: str
    action: str
    record_types: list[str]
    break_glass: bool
    actor_username: str | None


@strawberry.type(description="A portal invite just made; the link is shown once and works once.")
class PortalInviteLink:
    id: strawberry.ID
    patient_id: strawberry.ID
    link: str
    expires_at: datetime


@strawberry.type
class PortalQueries:
    @_field("A patient's contact preferences matrix, settings and change history.")
    async def contact_preferences(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID
    ) -> ContactPreferences:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        view = await ctx.run(
            lambda s: get_preferences(
                session=s,
                principal=principal,
                policy=ctx.policy,
                patient_id=patient,
                log=ctx.reads,
                now=ctx.now,
            )
        )
        if view is None:
            raise not_found()
        return ContactPreferences(
            patient_id=strawberry.ID(str(view.patient_id)),
            cells=[
                PreferenceCell(
                    channel=c.channel,
                    message_type=c.message_type,
                    allowed=c.allowed,
                )
                for c in view.cells
            ],
            settings=None
            if view.settings is None
            else from_view(CommunicationSettings, view.settings),
            history=[from_view(PreferenceChange, h) for h in view.history],
            withheld=withheld_fields(view.withheld),
        )

    @_field("When a patient's record was read or changed, and in which role; newest first.")
    async def record_access(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID, first: int = 50
    ) -> list[RecordAccess]:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        views = await ctx.run(
            lambda s: record_access(
                session=s,
                principal=principal,
                policy=ctx.policy,
                patient_id=patient,
                first=first,
                log=ctx.reads,
                now=ctx.now,
            )
        )
        if views is None:
            raise not_found()
        return [
            RecordAccess(
                occurred_at=v.occurred_at,
                roles=list(v.roles),
                actor_kind=v.actor_kind,
                action=v.action,
                record_types=list(v.record_types),
                break_glass=v.emergency,
                actor_username=v.actor_name,
            )
            for v in views
        ]


@strawberry.type
class InviteMutations:
    @_mutation(
        "Invite a patient to the portal: a one-time link valid 72 hours (front desk and "
        "care coordinators). A newer invite revokes the patient's older ones."
    )
    async def create_portal_invite(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID
    ) -> PortalInviteLink:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        invite = await ctx.run(
            lambda s: create_invite(
                session=s,
                principal=principal,
                policy=ctx.policy,
                patient_id=patient,
                now=ctx.now,
            )
        )
        if invite is None:
            raise not_found()
        settings = ctx.request.app.state.settings
        return PortalInviteLink(
            id=strawberry.ID(str(invite.invite_id)),
            patient_id=strawberry.ID(str(invite.patient_id)),
            link=settings.base_url + invite.path,
            expires_at=invite.expires_at,
        )
