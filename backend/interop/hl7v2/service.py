"""The error queue for people: list HL7 messages and retry them, by capability.

Both need the ``manage_hl7`` capability (``p, role, manage_hl7, use`` in policy.csv:
integration clients and admins). The listing holds no patient data, so it is not a
patient read; a retry writes patient records as the message says and is audited per
patient it touched.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from backend.access import audit
from backend.access.models import AuditAction
from backend.access.policy import CompiledPolicy, principal_may
from backend.access.principal import Principal
from backend.common.errors import Forbidden, InvalidInput
from backend.common.mixins import utcnow
from backend.interop.hl7v2.models import Hl7Message, MessageState
from backend.interop.hl7v2.records import Hl7MessagePage, Hl7MessageView
from backend.interop.hl7v2.store import retry

CAPABILITY = "manage_hl7"
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500


class Hl7Forbidden(Forbidden):
    pass


class Hl7InputError(InvalidInput):
    pass


def _require(policy: CompiledPolicy, principal: Principal) -> None:
    if not principal_may(policy, principal, CAPABILITY):
        raise Hl7Forbidden(
            "managing HL7 messages needs the manage_hl7 capability",
            refused=[f"capability.{CAPABILITY}"],
        )


def _view(row: Hl7Message) -> Hl7MessageView:
    return Hl7MessageView(
        id=row.id,
        source=row.source,
        control_id=row.control_id,
        message_type=row.message_type,
        version=row.version,
        transport=row.transport,
        state=row.state.value,
        ack_code=row.ack_code,
        error_code=row.error_code,
        error_detail=row.error_detail,
        attempts=row.attempts,
        received_at=row.received_at,
        processed_at=row.processed_at,
    )


def encode_cursor(row: Hl7Message) -> str:
    raw = f"hl7:{row.received_at.isoformat()}|{row.id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        moment, _, ident = raw.removeprefix("hl7:").partition("|")
        if not raw.startswith("hl7:"):
            raise ValueError(cursor)
        return datetime.fromisoformat(moment), uuid.UUID(ident)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise Hl7InputError("after", "invalid cursor") from None


def list_messages(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    state: str | None = None,
    first: int = DEFAULT_PAGE_SIZE,
    after: str | None = None,
) -> Hl7MessagePage:
    """Messages oldest first, optionally in one state (``failed`` is the error queue)."""
    _require(policy, principal)
    if not 1 <= first <= MAX_PAGE_SIZE:
        raise Hl7InputError("first", f"first must be between 1 and {MAX_PAGE_SIZE}")
    query = select(Hl7Message).order_by(Hl7Message.received_at, Hl7Message.id)
    if state is not None:
        try:
            query = query.where(Hl7Message.state == MessageState(state))
        except ValueError:
            allowed = ", ".join(s.value for s in MessageState)
            raise Hl7InputError("state", f"state must be one of {allowed}") from None
    if after is not None:
        moment, ident = _decode_cursor(after)
        query = query.where(
            or_(
                Hl7Message.received_at > moment,
                and_(Hl7Message.received_at == moment, Hl7Message.id > ident),
            )
        )
    rows = list(session.scalars(query.limit(first + 1)))
    page = rows[:first]
    return Hl7MessagePage(
        messages=[_view(r) for r in page],
        cursors=[encode_cursor(r) for r in page],
        has_next_page=len(rows) > first,
    )


def retry_message(
    *,
    session: Session,
    principal: Principal,
    policy: CompiledPolicy,
    message_id: uuid.UUID,
    secret_key: str,
    request_id: str | None = None,
    now: datetime | None = None,
) -> Hl7MessageView:
    """Process a failed message again; raises LookupError if there is no such message
    and :class:`~backend.interop.hl7v2.store.RetryRefused` if it was processed."""
    _require(policy, principal)
    now = now or utcnow()
    receipt = retry(session=session, message_id=message_id, secret_key=secret_key, now=now)
    row = session.get(Hl7Message, receipt.message_id)
    assert row is not None
    for patient_id in row.patient_ids or [None]:
        audit.record(
            session=session,
            principal=principal,
            action=AuditAction.UPDATE,
            patient_id=uuid.UUID(patient_id) if patient_id else None,
            record_types=["Hl7Message"],
            fields=["Hl7Message.state"],
            purpose="hl7_retry",
            policy_version=policy.version,
            request_id=request_id,
            now=now,
        )
    return _view(row)
