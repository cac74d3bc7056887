"""Alumni in the portal: their programs and upcoming events (reads), and the alumnus's
own writes: register for an event, give feedback, submit or withdraw a testimonial.

The writes take no patient id: the signed-in patient is the only one they can touch.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar, cast

import strawberry
from strawberry.types import Info

from backend.api.context import ApiContext, Change
from backend.api.errors import from_invalid_input, not_found
from backend.api.mutations.common import mutation, require_id
from backend.api.types.audit import _uuid
from backend.api.types.common import WithheldField, from_view
from backend.common.errors import InvalidInput
from backend.engagement.testimonials import (
    FeedbackInput,
    parse_feedback,
    revoke_testimonial_consent,
    submit_feedback,
    submit_testimonial,
)
from backend.journey.participation import (
    alumni_programs,
    rsvp_alumni_event,
    upcoming_alumni_events,
)

F = TypeVar("F", bound=Callable[..., Any])


@strawberry.type(description="An alumni program the patient is an active member of.")
class AlumniProgram:
    id: strawberry.ID
    name: str | None
    description: str | None
    contact_email: str | None
    withheld: list[WithheldField]


@strawberry.type(description="A dated event of an alumni program.")
class AlumniEvent:
    id: strawberry.ID
    program_id: strawberry.ID | None
    title: str | None
    description: str | None
    kind: str | None
    starts_at: datetime | None
    ends_at: datetime | None
    venue: str | None
    online_url: str | None
    capacity: int | None
    cancelled_at: datetime | None
    withheld: list[WithheldField]


@strawberry.type(description="The caller's own change: the record and its new status.")
class AlumniOutcome:
    id: strawberry.ID
    status: str


@strawberry.input(description="A rating (1-5) and a comment; a name to show is optional.")
class AlumniFeedbackInput:
    rating: str
    body: str
    display_name: str = ""


def _field(description: str) -> Callable[[F], F]:
    return cast("Callable[[F], F]", strawberry.field(description=description))


def _parse(input: AlumniFeedbackInput) -> FeedbackInput:
    try:
        return parse_feedback(rating=input.rating, body=input.body, display_name=input.display_name)
    except InvalidInput as exc:
        raise from_invalid_input(exc) from None


@strawberry.type
class AlumniQueries:
    @_field("The alumni programs the patient is an active member of.")
    async def alumni_programs(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID
    ) -> list[AlumniProgram]:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        views = await ctx.run(
            lambda s: alumni_programs(
                session=s, principal=principal, policy=ctx.policy, patient_id=patient, now=ctx.now
            )
        )
        if views is None:
            raise not_found()
        return [from_view(AlumniProgram, v) for v in views]

    @_field("Upcoming events (next 120 days) of the patient's alumni programs.")
    async def alumni_events(
        self, info: Info[ApiContext, None], patient_id: strawberry.ID
    ) -> list[AlumniEvent]:
        ctx = info.context
        principal = ctx.caller
        patient = _uuid(patient_id, "patientId")
        views = await ctx.run(
            lambda s: upcoming_alumni_events(
                session=s, principal=principal, policy=ctx.policy, patient_id=patient, now=ctx.now
            )
        )
        if views is None:
            raise not_found()
        return [from_view(AlumniEvent, v) for v in views]


@strawberry.type
class AlumniMutations:
    @mutation("The signed-in alumnus registers for (attend true) or cancels an event.")
    async def rsvp_alumni_event(
        self, info: Info[ApiContext, None], event_id: strawberry.ID, attend: bool
    ) -> AlumniOutcome:
        ctx = info.context
        principal = ctx.caller
        event = require_id(event_id, "eventId")
        status = await ctx.change(
            principal,
            lambda c: rsvp_alumni_event(
                **c,
                event_id=event,
                attend=attend,
            ),
        )
        return AlumniOutcome(id=strawberry.ID(str(event)), status=status.value)

    @mutation("The signed-in alumnus gives feedback (internal, never published).")
    async def submit_alumni_feedback(
        self, info: Info[ApiContext, None], input: AlumniFeedbackInput
    ) -> AlumniOutcome:
        ctx = info.context
        principal = ctx.caller
        data = _parse(input)

        def work(c: Change) -> AlumniOutcome:
            row = submit_feedback(
                **c,
                data=data,
            )
            return AlumniOutcome(id=strawberry.ID(str(row.id)), status=row.moderation_status)

        return await ctx.change(principal, work)

    @mutation(
        "The signed-in alumnus submits a testimonial; consentToPublish records a separate, "
        "revocable consent to publish it."
    )
    async def submit_testimonial(
        self, info: Info[ApiContext, None], input: AlumniFeedbackInput, consent_to_publish: bool
    ) -> AlumniOutcome:
        ctx = info.context
        principal = ctx.caller
        data = _parse(input)

        def work(c: Change) -> AlumniOutcome:
            row = submit_testimonial(
                **c,
                data=data,
                consent_to_publish=consent_to_publish,
            )
            return AlumniOutcome(id=strawberry.ID(str(row.id)), status=row.moderation_status)

        return await ctx.change(principal, work)

    @mutation(
        "The signed-in patient withdraws consent to publish their testimonial: it leaves "
        "publication, the consent and the review keep their history."
    )
    async def revoke_testimonial_consent(
        self, info: Info[ApiContext, None], review_id: strawberry.ID
    ) -> AlumniOutcome:
        ctx = info.context
        principal = ctx.caller
        review = require_id(review_id, "reviewId")

        def work(c: Change) -> AlumniOutcome:
            row = revoke_testimonial_consent(
                **c,
                review_id=review,
            )
            return AlumniOutcome(id=strawberry.ID(str(row.id)), status=row.moderation_status)

        return await ctx.change(principal, work)
