"""The write side for patients: a signed-in patient changes only their own records.

Staff writes go through :func:`backend.access.writes.require_write`, which refuses
patients. A patient's portal write names no patient (the principal's own is the only
one) and needs the role's ``write`` grant on every field it sets, like a staff write.
Records are then looked up with the principal's patient id in the WHERE clause, so
another patient's id is simply not found.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping

from backend.access.masking import denied_writes
from backend.access.policy import CompiledPolicy
from backend.access.principal import Principal, PrincipalKind
from backend.common.errors import Forbidden


def require_own_write(
    *, policy: CompiledPolicy, principal: Principal, changes: Mapping[str, Iterable[str]]
) -> uuid.UUID:
    """The patient's own id, if this patient may write every field in ``changes``."""
    if principal.kind is not PrincipalKind.PATIENT or principal.patient_id is None:
        raise Forbidden("only the patient makes this change, from the portal")
    denied = [
        f"{record_type}.{w.field}"
        for record_type, fields in changes.items()
        for w in denied_writes(
            policy=policy, principal=principal, record_type=record_type, fields=fields
        )
    ]
    if denied:
        raise Forbidden(f"your role may not change {', '.join(sorted(denied)[:5])}")
    return principal.patient_id
