"""CarePlan, Goal, Consent, Communication and QuestionnaireResponse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from backend.careplans.enums import (
    CarePlanIntent,
    CarePlanStatus,
    GoalAchievementStatus,
    GoalLifecycleStatus,
    GoalPriority,
)
from backend.careplans.models import CarePlan, Goal
from backend.engagement.consent import ConsentKind, ConsentSource, ConsentStatus
from backend.engagement.enums import CommunicationChannel, Direction
from backend.engagement.models import Communication, CommunicationStatus, Consent
from backend.forms.models import FormDefinition, FormResponse, ResponseStatus, SubmitterKind
from backend.interop.fhir.mapping.base import (
    MapContext,
    MappingError,
    Row,
    Unresolved,
    code_columns,
    display_of,
    enum_of,
    first_coding,
    notes_text,
    parse_date,
    parse_datetime,
    period,
    text_of,
)
from backend.interop.fhir.mapping.common import patient_columns

CAREPLAN_STATUS = {"entered-in-error": "revoked", "unknown": "draft", "cancelled": "revoked"}


def map_care_plan(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "CarePlan")
    start, end = period(res.get("period"), "CarePlan.period")
    categories = res.get("category") or []
    title = res.get("title") or (first_coding(categories[0]) if categories else None)
    if title is not None and not isinstance(title, str):
        title = title.display or title.code
    status = CAREPLAN_STATUS.get(res.get("status", ""), res.get("status"))
    values.update(
        title=(title or "Care plan")[:200],
        description=res.get("description"),
        status=enum_of(CarePlanStatus, status, "CarePlan.status"),
        intent=enum_of(CarePlanIntent, res.get("intent"), "CarePlan.intent"),
        period_start=start.date() if start else None,
        period_end=end.date() if end else None,
        effective_at=start or parse_datetime(res.get("created"), "CarePlan.created"),
        **code_columns("category", categories[0] if categories else None, "", required=False),
        category_concepts=categories or None,
        addressed_condition_ids=[
            str(t)
            for t in (
                ctx.optional(a, "CarePlan.addresses", "Condition") for a in res.get("addresses", [])
            )
            if t
        ],
        activities=res.get("activity") or None,
        note=notes_text(res.get("note")),
    )
    return [Row(CarePlan, ctx.source_system, res["id"], values)]


GOAL_STATUS = {"entered-in-error": "cancelled"}


def map_goal(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Goal")
    description = res.get("description") or {}
    title = description.get("text") or (first_coding(description) or None)
    if title is not None and not isinstance(title, str):
        title = title.display or title.code
    if not title:
        raise MappingError("Goal.description", "a goal needs a description")
    target = (res.get("target") or [{}])[0]
    achievement = first_coding(res.get("achievementStatus"))
    priority = first_coding(res.get("priority"))
    values.update(
        title=title[:200],
        lifecycle_status=enum_of(
            GoalLifecycleStatus,
            GOAL_STATUS.get(res.get("lifecycleStatus", ""), res.get("lifecycleStatus")),
            "Goal.lifecycleStatus",
        ),
        achievement_status=enum_of(
            GoalAchievementStatus, achievement.code, "Goal.achievementStatus"
        )
        if achievement and achievement.code
        else None,
        priority=(
            enum_of(GoalPriority, priority.code.replace("-priority", ""), "Goal.priority")
            if priority and priority.code
            else None
        ),
        start_date=parse_date(res.get("startDate"), "Goal.startDate"),
        target_date=parse_date(target.get("dueDate"), "Goal.target.dueDate"),
        effective_at=parse_datetime(res.get("startDate"), "Goal.startDate"),
        **code_columns("measure", target.get("measure"), "", required=False),
        status_reason=res.get("statusReason"),
        note=notes_text(res.get("note")),
    )
    return [Row(Goal, ctx.source_system, res["id"], values)]


CONSENT_SCOPES = {
    "research": "research",
    "treatment": "treatment",
    "patient-privacy": "release_of_information",
}


def map_consent(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Consent")
    scope = first_coding(res.get("scope"))
    kind = CONSENT_SCOPES.get(scope.code if scope and scope.code else "", "treatment")
    provision = res.get("provision") or {}
    start, end = period(provision.get("period"), "Consent.provision.period")
    status = {"draft": "proposed", "entered-in-error": "revoked"}.get(
        res.get("status", ""), res.get("status")
    )
    values.update(
        kind=ConsentKind(kind),
        status=enum_of(ConsentStatus, status, "Consent.status"),
        provision_type=provision.get("type", "permit"),
        period_start=start,
        period_end=end,
        granted_at=parse_datetime(res.get("dateTime"), "Consent.dateTime"),
        effective_at=parse_datetime(res.get("dateTime"), "Consent.dateTime") or start,
        source=ConsentSource.IMPORT,
        policy_rule=display_of(res.get("policyRule"), 255),
        recipients=[a.get("reference") for a in provision.get("actor", []) if isinstance(a, dict)],
        data_categories=[c for c in res.get("category", [])],
    )
    if provision.get("purpose"):
        values.update(code_columns("purpose_of_use", provision["purpose"][0], "", required=False))
    return [Row(Consent, ctx.source_system, res["id"], values)]


COMMUNICATION_STATUS = {
    "completed": "delivered",
    "in-progress": "sent",
    "preparation": "queued",
    "not-done": "failed",
    "stopped": "failed",
    "on-hold": "queued",
    "entered-in-error": "failed",
    "unknown": "sent",
}
MEDIUM = {"WRITTEN": "letter", "ELECTRONIC": "email", "VIDEOCONF": "video", "PHONE": "phone"}
MEDIUM |= {"SMSWRIT": "sms", "EMAILWRIT": "email", "FACE": "in_person", "MAILWRIT": "letter"}


def map_communication(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    values = patient_columns(res, ctx, "Communication")
    medium = first_coding((res.get("medium") or [None])[0])
    channel = MEDIUM.get(medium.code if medium and medium.code else "", "portal_message")
    sender = ctx.resolve(res.get("sender"), "Communication.sender")
    direction = (
        "inbound" if sender is not None and sender.resource_type == "Patient" else "outbound"
    )
    payload = [p.get("contentString") for p in res.get("payload", []) if p.get("contentString")]
    sent = parse_datetime(res.get("sent"), "Communication.sent")
    values.update(
        channel=CommunicationChannel(channel),
        direction=Direction(direction),
        status=CommunicationStatus(COMMUNICATION_STATUS.get(res.get("status", ""), "sent")),
        sent_at=sent,
        effective_at=sent,
        delivered_at=parse_datetime(res.get("received"), "Communication.received"),
        body="\n\n".join(payload) or None,
        subject=text_of((res.get("topic") or {}).get("text"), 255),
        staff_id=sender.id
        if sender is not None and sender.resource_type == "Practitioner"
        else None,
        attachments=[
            p["contentAttachment"] for p in res.get("payload", []) if "contentAttachment" in p
        ],
    )
    return [Row(Communication, ctx.source_system, res["id"], values)]


def map_questionnaire_response(res: dict[str, Any], ctx: MapContext) -> list[Row]:
    """Answers of a form we know (its Questionnaire canonical is a FormDefinition url);
    a response to a form we do not know is kept raw (Unresolved)."""
    values = patient_columns(res, ctx, "QuestionnaireResponse")
    canonical = (res.get("questionnaire") or "").split("|")[0]
    definition_id = ctx.extra.setdefault("forms", {}).get(canonical)
    if definition_id is None and canonical:
        definition_id = ctx.extra["session"].scalar(
            select(FormDefinition.id)
            .where(FormDefinition.url == canonical, FormDefinition.deleted_at.is_(None))
            .order_by(FormDefinition.form_version.desc())
            .limit(1)
        )
        ctx.extra["forms"][canonical] = definition_id
    if definition_id is None:
        raise Unresolved("QuestionnaireResponse.questionnaire")
    answers: dict[str, Any] = {}

    def walk(items: list[Any]) -> None:
        for item in items:
            found = [
                next((v for k, v in a.items() if k.startswith("value")), None)
                for a in item.get("answer", [])
            ]
            if found:
                answers[item["linkId"]] = found[0] if len(found) == 1 else found
            walk(item.get("item", []))

    walk(res.get("item", []))
    authored = parse_datetime(res.get("authored"), "QuestionnaireResponse.authored")
    status = {"stopped": "in-progress"}.get(res.get("status", ""), res.get("status"))
    values.update(
        definition_id=definition_id,
        status=enum_of(ResponseStatus, status, "QuestionnaireResponse.status"),
        answers=answers,
        completed_at=authored if res.get("status") == "completed" else None,
        effective_at=authored,
        submitted_by=SubmitterKind.IMPORT,
    )
    return [Row(FormResponse, ctx.source_system, res["id"], values)]
