"""Demo identity links: open "possible duplicate" suggestions for the near-duplicate
patients the seeder creates on purpose, as the matcher (built later) would score them.

``patient_rows`` writes nothing: duplicates are made by the patients generator, which
knows which records it copied, and the seeder hands the pairs to :func:`duplicate_links`.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from backend.demo.context import DemoContext, PatientSeed, between
from backend.demo.sink import RowSink
from backend.identity.models import IdentityLink, LinkKind, LinkMethod, LinkStatus

DOMAIN = "identity"
MATCHER_VERSION = "demo-fs-1"
# Fellegi-Sunter style weights, log2(m/u), for agreement and disagreement of each field.
FIELD_WEIGHTS: dict[str, tuple[float, float]] = {
    "given_name": (3.2, -2.1),
    "family_name": (4.6, -3.0),
    "birth_date": (5.1, -4.2),
    "sex": (0.9, -3.5),
    "phone": (6.3, -0.8),
    "email": (7.1, -0.5),
    "postal_code": (2.4, -1.2),
    "address_line1": (4.0, -0.9),
}
# What each demo duplicate reason does to the fields: "fuzzy" is a partial agreement
# (nickname, one-letter typo, transposed date), "disagree" a plain mismatch.
REASON_EFFECTS: dict[str, dict[str, str]] = {
    "nickname": {"given_name": "fuzzy"},
    "typo in family name": {"family_name": "fuzzy"},
    "moved house": {"postal_code": "disagree", "address_line1": "disagree"},
    "day and month of birth swapped": {"birth_date": "fuzzy"},
    "hyphenated family name": {"family_name": "fuzzy", "email": "missing"},
}


def setup(ctx: DemoContext, sink: RowSink) -> None:
    """No reference data."""


def patient_rows(ctx: DemoContext, patient: PatientSeed, sink: RowSink) -> None:
    """Nothing per patient: see :func:`duplicate_links`."""


def duplicate_links(
    ctx: DemoContext,
    pairs: Iterable[tuple[uuid.UUID, uuid.UUID, str]],
    sink: RowSink,
) -> list[uuid.UUID]:
    """Write one open ``possible_duplicate`` link per (original, duplicate, reason) pair;
    return the link ids. A pair given twice is written once."""
    ids: list[uuid.UUID] = []
    seen: set[tuple[uuid.UUID, uuid.UUID]] = set()
    for a_id, b_id, reason in pairs:
        if a_id == b_id or (a_id, b_id) in seen:
            continue
        seen.add((a_id, b_id))
        rng = ctx.rng(None, f"{DOMAIN}:{a_id}:{b_id}")
        evidence, score = _evidence(REASON_EFFECTS.get(reason, {}), rng.random)
        found = between(rng, ctx.now - timedelta(days=30), ctx.now)
        ids.append(
            sink.add(
                IdentityLink,
                patient_a_id=a_id,
                patient_b_id=b_id,
                kind=LinkKind.POSSIBLE_DUPLICATE,
                status=LinkStatus.OPEN,
                score=score,
                match_evidence=evidence,
                reason=f"Suspected second registration: {reason}",
                method=LinkMethod.AUTOMATIC,
                matcher_version=MATCHER_VERSION,
                recorded_at=found,
                updated_at=found,
            )
        )
    return ids


def _evidence(effects: dict[str, str], draw: Callable[[], float]) -> tuple[dict[str, Any], float]:
    """Per-field agreement and weight, and a 0..1 score: the logistic of the weight sum
    (scaled so a perfect match of every field scores just under 1)."""
    evidence: dict[str, Any] = {}
    total = 0.0
    for name, (agree, disagree) in FIELD_WEIGHTS.items():
        outcome = effects.get(name, "exact")
        if outcome == "exact" and name in {"phone", "email"} and draw() < 0.3:
            outcome = "missing"  # not every registration captured it
        weight = {
            "exact": agree,
            "fuzzy": round(agree * (0.4 + 0.3 * draw()), 2),
            "disagree": disagree,
            "missing": 0.0,
        }[outcome]
        evidence[name] = {"agreement": outcome, "weight": weight}
        total += weight
    score = 1 / (1 + math.exp(-(total - 14) / 4))
    return evidence, round(score, 4)
