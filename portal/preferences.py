"""Contact preferences: the channel x message-type matrix, settings, and their history.

Reads through the ``PortalPreferences`` operation; the change goes through the domain
service with the same principal. Nothing in the form names a patient: any ``patient_id``
a crafted request adds is ignored, the principal's own patient is the only one.
"""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from backend.access.models import AuditAction
from backend.access.policy import policy_store
from backend.access.principal import Principal
from backend.api.refusals import Refusal, audit_refused
from backend.common.errors import NotFound
from backend.engagement.enums import MessageType, PreferenceChannel
from backend.engagement.preferences import (
    LANGUAGES,
    PreferenceInputError,
    PreferenceWriteForbidden,
    parse_update,
    update_preferences,
)
from portal.operations import run_operation
from portal.record import signed_in
from portal.web import (
    Portal,
    csrf_ok,
    forbidden_form,
    in_transaction,
    page,
    read_form,
    redirect,
    text,
)

SAVED = "Your preferences are saved."
SAVE_OPERATION = "Portal.savePreferences"
"""What a refused save is audited as (the trail's ``Type.operation`` form)."""


async def _render(
    portal: Portal,
    principal: Principal,
    *,
    notice: str | None = None,
    error: str | None = None,
    errors: dict[str, str] | None = None,
    submitted: dict[str, Any] | None = None,
    status: int = 200,
) -> Response:
    data = await run_operation(
        portal.request, principal, "PortalPreferences", {"id": portal.patient_id}
    )
    prefs = data["contactPreferences"]
    settings = prefs.get("settings") or {}
    shown = {
        "preferred_channel": settings.get("preferredChannel") or "",
        "language": settings.get("language") or "en",
        "quiet_hours_start": (settings.get("quietHoursStart") or "")[:5],
        "quiet_hours_end": (settings.get("quietHoursEnd") or "")[:5],
    }
    allowed = {f"{c['channel']}:{c['messageType']}": c["allowed"] for c in prefs["cells"]}
    if submitted is not None:  # a refused form shows what was typed, not what is stored
        shown.update(submitted["settings"])
        allowed = {key: key in submitted["checked"] for key in allowed}
    context = {
        "channels": [c.value for c in PreferenceChannel],
        "message_types": [m.value for m in MessageType],
        "allowed": allowed,
        "settings": shown,
        "languages": LANGUAGES,
        "history": prefs.get("history") or [],
        "notice": notice,
        "error": error,
        "errors": errors or {},
    }
    return page(portal, "preferences.html", context, block="prefs", status=status)


@signed_in
async def preferences_page(portal: Portal, principal: Principal) -> Response:
    saved = portal.request.query_params.get("saved") == "1"
    return await _render(portal, principal, notice=SAVED if saved else None)


@signed_in
async def save_preferences(portal: Portal, principal: Principal) -> Response:
    form = await read_form(portal.request)
    if form is None or not csrf_ok(portal, form):
        return forbidden_form(portal)
    checked = {v for v in form.getlist("allowed") if isinstance(v, str)}
    raw = {
        name: text(form, name, 16)
        for name in ("preferred_channel", "language", "quiet_hours_start", "quiet_hours_end")
    }
    try:
        update = parse_update(checked=checked, **raw)
    except PreferenceInputError as exc:
        return await _render(
            portal,
            principal,
            error="Nothing was saved. Please correct the field marked below.",
            errors={exc.field: str(exc)},
            submitted={"checked": checked, "settings": raw},
            status=422,
        )
    policy = policy_store(portal.settings.policies_dir).current()
    assert principal.patient_id is not None
    patient_id = principal.patient_id
    try:
        await in_transaction(
            portal.request,
            lambda s: update_preferences(
                session=s,
                principal=principal,
                policy=policy,
                patient_id=patient_id,
                update=update,
                method_detail="patient portal web form",
            ),
        )
    except PreferenceWriteForbidden as refused:
        await audit_refused(
            portal.request.app.state,
            principal=principal,
            policy=policy,
            refusal=Refusal.denied(SAVE_OPERATION, AuditAction.UPDATE, refused),
            client="portal",
        )
        return await _render(
            portal, principal, error="You cannot change these preferences.", status=403
        )
    except NotFound:
        # Only a patient whose own record was removed while signed in gets here.
        await audit_refused(
            portal.request.app.state,
            principal=principal,
            policy=policy,
            refusal=Refusal.not_found(SAVE_OPERATION, AuditAction.UPDATE),
            client="portal",
        )
        return await _render(
            portal, principal, error="Nothing was saved: your record was not found.", status=404
        )
    if portal.htmx:
        return await _render(portal, principal, notice=SAVED)
    return redirect(portal, "/portal/preferences?saved=1")
