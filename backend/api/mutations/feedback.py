"""createSurveyInvitation (staff) and answerSurvey (the signed-in patient)."""

from __future__ import annotations

from datetime import datetime

import anyio.to_thread
import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext, Change
from backend.api.errors import from_invalid_input
from backend.api.mutations.common import mutation, parse_id, require_id
from backend.common.errors import InvalidInput
from backend.engagement.survey_mail import email_survey_link
from backend.engagement.surveys import (
    DEFAULT_VALID_DAYS,
    SurveyLink,
    SurveyRequest,
    answer_in_portal,
    create_survey_invitation,
    mark_sent,
    parse_answers,
    survey_email,
)
from backend.settings import Settings


@strawberry.input(description="A satisfaction survey to send after a visit or a discharge.")
class CreateSurveyInvitationInput:
    patient_id: strawberry.ID
    kind: str = strawberry.field(
        default="visit", description="visit, discharge, alumni or nps_periodic"
    )
    encounter_id: strawberry.ID | None = strawberry.field(
        default=None, description="The visit (required for kind visit)."
    )
    discharge_id: strawberry.ID | None = strawberry.field(
        default=None, description="The discharge (required for kind discharge)."
    )
    valid_days: int = strawberry.field(
        default=DEFAULT_VALID_DAYS, description="How long the link stays valid (1-90 days)."
    )
    send_email: bool = strawberry.field(
        default=False,
        description="E-mail the link, if the patient allows survey e-mail and has an address.",
    )


@strawberry.type(description="A new one-time survey link. The link is shown once, here only.")
class SurveyInvitationLink:
    id: strawberry.ID
    patient_id: strawberry.ID
    link: str
    expires_at: datetime
    emailed: bool = strawberry.field(
        description="Whether the link went out by e-mail (false: not asked, not allowed by "
        "the patient's preferences, no address, or the mail relay failed)."
    )


@strawberry.input(description="The patient's answers to one of their open surveys.")
class AnswerSurveyInput:
    invitation_id: strawberry.ID
    nps: str = strawberry.field(description="0-10: how likely to recommend us.")
    csat: str = strawberry.field(description="1-5: how satisfied.")
    comments: str = ""


@strawberry.type
class SurveyAnswerOutcome:
    answered: bool = strawberry.field(
        description="False when the survey was answered already or has expired (nothing written)."
    )


@strawberry.type
class FeedbackMutations:
    @mutation(
        "Create a one-time satisfaction survey link bound to the patient and their visit "
        "or discharge (staff with surveys write); optionally e-mail it, respecting the "
        "patient's survey contact preferences."
    )
    async def create_survey_invitation(
        self, info: Info[ApiContext, None], input: CreateSurveyInvitationInput
    ) -> SurveyInvitationLink:
        ctx = info.context
        principal = ctx.caller
        request = SurveyRequest(
            patient_id=require_id(input.patient_id, "patientId"),
            kind=input.kind,
            encounter_id=parse_id(input.encounter_id, "encounterId"),
            discharge_id=parse_id(input.discharge_id, "dischargeId"),
            valid_days=input.valid_days,
        )

        def create(c: Change) -> tuple[SurveyLink, str | None]:
            created = create_survey_invitation(
                **c,
                request=request,
            )
            address = survey_email(c["session"], created.patient_id) if input.send_email else None
            return created, address

        link, address = await ctx.change(principal, create)
        settings: Settings = ctx.request.app.state.settings
        url = settings.base_url + link.path
        emailed = False
        if address is not None:
            to = address
            emailed = await anyio.to_thread.run_sync(
                lambda: email_survey_link(
                    settings=settings, to=to, link=url, expires_at=link.expires_at
                )
            )
        if emailed:
            await ctx.run(lambda s: mark_sent(s, link.invitation_id, ctx.now))
        return SurveyInvitationLink(
            id=strawberry.ID(str(link.invitation_id)),
            patient_id=strawberry.ID(str(link.patient_id)),
            link=url,
            expires_at=link.expires_at,
            emailed=emailed,
        )

    @mutation("Answer one of the signed-in patient's own open surveys (one answer per survey).")
    async def answer_survey(
        self, info: Info[ApiContext, None], input: AnswerSurveyInput
    ) -> SurveyAnswerOutcome:
        ctx = info.context
        principal = ctx.caller
        invitation_id = require_id(input.invitation_id, "invitationId")
        try:
            answers = parse_answers(nps=input.nps, csat=input.csat, comments=input.comments)
        except InvalidInput as exc:
            raise from_invalid_input(exc) from None
        answered = await ctx.change(
            principal,
            lambda c: answer_in_portal(
                **c,
                invitation_id=invitation_id,
                answers=answers,
            ),
        )
        return SurveyAnswerOutcome(answered=answered)
