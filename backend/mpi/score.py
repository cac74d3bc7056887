"""Score a pair of patients: Bayes-factor total, probability, outcome, evidence, rule.

The outcome comes from the model's thresholds, then two kinds of rule:

- deterministic: the same identifier from the same source system (the same MRN) is the
  same person, unless the birth dates flatly contradict each other (then: review);
- safety caps, because a wrong merge mixes two people's records: a pair never links
  automatically on names alone or names plus a shared address (family members); on
  thin evidence (a birth date missing or absurd, a name empty or one letter); when
  Jr/Sr, sex or birth dates contradict; when one name differs and fewer than two
  identifiers (birth date, phone, e-mail, national id) agree; or when the given names
  agree only inexactly without a personal identifier (twins share everything else).
  Capped pairs go to review at most; ``rule`` names the cap.

and one floor on the review band: a pair that agrees on one field only (sex aside) is
separate whatever its score. A birth date alone weighs enough to clear the review
threshold, but a register of a million people holds dozens per date: reviewers would
see every stranger born the same day (``rule`` is then ``single_field``).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any

from backend.mpi.compare import AGREEMENT, DISAGREE, MISSING, compare
from backend.mpi.model import MatchModel
from backend.mpi.normalize import MatchRecord


class Outcome(enum.StrEnum):
    LINK = "link"
    REVIEW = "review"
    SEPARATE = "separate"


# Levels that identify a person beyond a name and a place; at least one must agree for
# an automatic link.
_IDENTIFYING: dict[str, frozenset[str]] = {
    "birth_date": frozenset({"exact", "transposed", "typo"}),
    "phone": frozenset({"exact"}),
    "email": frozenset({"exact"}),
    "national_id": frozenset({"exact", "typo"}),
}
_NAME_AGREES = frozenset({"exact", "swapped", "nickname", "similar", "token"})
# Half of any two people share a sex: it does not count as a field that agrees.
_NOT_EVIDENCE = frozenset({"sex"})


@dataclass(frozen=True, slots=True)
class MatchScore:
    total: float  # sum of field weights, log2 Bayes factor (prior not included)
    probability: float
    outcome: Outcome
    evidence: dict[str, Any]
    rule: str | None = None


def _thin(rec: MatchRecord) -> bool:
    first, family = rec.first_given, rec.family_joined
    return rec.birth_date is None or not first or len(first) < 2 or not family or len(family) < 2


def _cap_reason(a: MatchRecord, b: MatchRecord, levels: dict[str, str]) -> str | None:
    """Why this pair must not link automatically, or None."""
    if _thin(a) or _thin(b):
        return "thin_evidence"
    if a.suffix != b.suffix and (a.suffix is not None or b.suffix is not None):
        return "suffix_differs"
    if levels["birth_date"] in {DISAGREE, "same_year"}:
        return "birth_date_contradicts"
    if levels["sex"] == DISAGREE:
        return "sex_differs"
    identifying = sum(levels[f] in ok for f, ok in _IDENTIFYING.items())
    if identifying == 0:
        return "name_and_address_only"
    names_agree = sum(levels[f] in _NAME_AGREES for f in ("given_name", "family_name"))
    # One name wrong is a typo or a marriage only when two identifiers vouch for it.
    if names_agree == 0 or (names_agree == 1 and identifying < 2):
        return "names_differ"
    # Twins share a birth date, a family name, an address and often a phone; only their
    # given names tell them apart, so an inexact given name needs a personal identifier.
    if levels["given_name"] not in {"exact", "swapped"} and levels["national_id"] not in {
        "exact",
        "typo",
    }:
        return "possible_twin"
    return None


def _agreeing_fields(levels: dict[str, str]) -> int:
    return sum(
        1
        for name, level in levels.items()
        if name not in _NOT_EVIDENCE and level not in {DISAGREE, MISSING}
    )


def _shared_identifier(a: MatchRecord, b: MatchRecord) -> bool:
    return bool(a.identifiers & b.identifiers)


def score_pair(a: MatchRecord, b: MatchRecord, model: MatchModel) -> MatchScore:
    comparison = compare(a, b)
    levels = comparison.levels
    evidence: dict[str, Any] = {}
    total = 0.0
    for field_name, level in levels.items():
        shared = None
        if field_name == "given_name":
            shared = comparison.shared_given
        elif field_name == "family_name":
            shared = comparison.shared_family
        weight = model.weight(field_name, level, shared)
        total += weight
        evidence[field_name] = {
            "agreement": AGREEMENT[level],
            "level": level,
            "weight": round(weight, 3),
        }
    total = round(total, 3)
    evidence["_total"] = total
    probability = model.probability(total)

    if _shared_identifier(a, b):
        if levels["birth_date"] == DISAGREE:
            return MatchScore(total, probability, Outcome.REVIEW, evidence,
                              "same_source_identifier_birth_date_contradicts")  # fmt: skip
        return MatchScore(total, probability, Outcome.LINK, evidence, "same_source_identifier")

    if probability >= model.p_link:
        outcome = Outcome.LINK
    elif probability >= model.p_review:
        outcome = Outcome.REVIEW
    else:
        outcome = Outcome.SEPARATE
    rule = None
    if outcome is not Outcome.SEPARATE and _agreeing_fields(levels) < 2:
        return MatchScore(total, probability, Outcome.SEPARATE, evidence, "single_field")
    if outcome is Outcome.LINK:
        rule = _cap_reason(a, b, levels)
        if rule is not None:
            outcome = Outcome.REVIEW
    return MatchScore(total, probability, outcome, evidence, rule)
