"""Field masks: a record as the caller may see it, and which fields were withheld why.

A withheld field becomes ``None`` *and* is listed as :class:`Withheld` (field, rule), so a
transport can tell "masked" from "empty" (Medplum users asked for this for years:
medplum/medplum#2444). Work per record is one dict comprehension; everything that
depends only on (roles, record type) is decided once in :class:`MaskPlan`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from backend.access.policy import READ, UNASSIGNED, CompiledPolicy, scope_subjects
from backend.access.principal import Principal

GROUP_RULE_PREFIX = "field_group:"
TOKEN_SCOPE_RULE = "token_scope"  # noqa: S105 (a rule name): the role may, the token may not
"""Rule names for field masks are ``field_group:<group>``: the group the caller lacks."""


@dataclass(frozen=True, slots=True)
class Withheld:
    """A field the caller may not see, and the rule that withheld it."""

    field: str
    rule: str


@dataclass(frozen=True, slots=True)
class MaskedRecord:
    values: dict[str, Any]
    withheld: tuple[Withheld, ...]

    @property
    def withheld_fields(self) -> frozenset[str]:
        return frozenset(w.field for w in self.withheld)


@dataclass(frozen=True, slots=True)
class MaskPlan:
    """What one principal may see of one record type, decided once per request."""

    record_type: str
    allowed: frozenset[str]
    rules: Mapping[str, str]  # a withheld field -> its rule, for every known denied field
    policy_version: str

    @property
    def sees_nothing(self) -> bool:
        return not self.allowed

    def rule_for(self, field: str) -> str:
        return self.rules.get(field, GROUP_RULE_PREFIX + UNASSIGNED)

    def mask(self, record: Mapping[str, Any], *, record_rule: str | None = None) -> MaskedRecord:
        """Mask one record. ``record_rule`` (from :mod:`.sensitivity`) withholds every
        field but ``id`` when a record-level rule denies the whole record."""
        if record_rule is not None:
            values = {k: (v if k == "id" else None) for k, v in record.items()}
            return MaskedRecord(
                values, tuple(Withheld(k, record_rule) for k in record if k != "id")
            )
        allowed = self.allowed
        values = {k: (v if k in allowed else None) for k, v in record.items()}
        if len(values) <= len(allowed) and all(k in allowed for k in values):
            return MaskedRecord(values, ())
        return MaskedRecord(
            values, tuple(Withheld(k, self.rule_for(k)) for k in values if k not in allowed)
        )

    def mask_all(
        self,
        records: Iterable[Mapping[str, Any]],
        *,
        record_rules: Sequence[str | None] | None = None,
    ) -> list[MaskedRecord]:
        if record_rules is None:
            return [self.mask(r) for r in records]
        return [
            self.mask(r, record_rule=rule) for r, rule in zip(records, record_rules, strict=True)
        ]


def mask_plan(
    *, policy: CompiledPolicy, principal: Principal, record_type: str, action: str = READ
) -> MaskPlan:
    """The plan for ``principal`` on ``record_type``: the union of its roles' fields,
    capped, for a bearer token, by the union of its scopes' fields."""
    allowed = policy.allowed_fields(principal.roles, record_type, action)
    known = policy.field_groups.get(record_type, {})
    rules = {f: GROUP_RULE_PREFIX + g for f, g in known.items() if f not in allowed}
    if principal.token_scoped:
        ceiling = policy.allowed_fields(scope_subjects(principal.scopes), record_type, action)
        rules.update(dict.fromkeys(allowed - ceiling, TOKEN_SCOPE_RULE))
        allowed = allowed & ceiling
    return MaskPlan(record_type, allowed, rules, policy.version)


def mask_record(
    *,
    policy: CompiledPolicy,
    principal: Principal,
    record_type: str,
    record: Mapping[str, Any],
    record_rule: str | None = None,
) -> MaskedRecord:
    """Mask one record (for many records of a type, build one :func:`mask_plan`)."""
    plan = mask_plan(policy=policy, principal=principal, record_type=record_type)
    return plan.mask(record, record_rule=record_rule)


def denied_writes(
    *, policy: CompiledPolicy, principal: Principal, record_type: str, fields: Iterable[str]
) -> list[Withheld]:
    """Fields of an update the caller may not change (empty list: the write may proceed)."""
    plan = mask_plan(policy=policy, principal=principal, record_type=record_type, action="write")
    return [Withheld(f, plan.rule_for(f)) for f in fields if f not in plan.allowed]
