"""The Fellegi-Sunter model: m and u per comparison level, term frequencies, thresholds.

m = P(level | same person), u = P(level | two different people). A level's weight is
log2(m/u); a pair's total is the sum over fields plus the prior's log odds, and its
match probability follows from that. ``train`` estimates u from random pairs (almost all
of them are different people) and m by expectation-maximisation over blocked candidate
pairs, with u held fixed, so no labelled pairs are needed. Exact name agreement is
adjusted by how common the name is: sharing "smith" says less than sharing "oyelaran".

The shipped parameters (``params.json``) are ``train``'s output on the FEBRL1 and FEBRL2
data sets (``benchmarks/mpi_accuracy.py --write-params``); fields those data sets lack
(sex, phone, e-mail) keep the starting values below. Term-frequency tables are not
shipped: they describe the patients a site actually has, so ``with_term_frequencies``
builds them from the live records.
"""

from __future__ import annotations

import json
import math
import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

from backend.mpi.compare import DISAGREE, LEVELS, MISSING, compare
from backend.mpi.normalize import MAX_BLOCK, MatchRecord, blocking_keys

MATCHER_VERSION = "fs-1"
PARAMS_PATH = Path(__file__).with_name("params.json")
# Term-frequency adjustment moves an exact-name weight by at most this many bits.
TF_MAX_SHIFT = 4.0
_PROB_FLOOR = 1e-6

# Starting m/u per level: EM's first guess, and the value for fields the training data
# does not hold. From published linkage studies of patient registers, rounded.
STARTING_M: dict[str, dict[str, float]] = {
    "given_name": {"exact": 0.84, "swapped": 0.005, "nickname": 0.02, "similar": 0.08,
                   "initial": 0.02, DISAGREE: 0.035},
    "family_name": {"exact": 0.85, "swapped": 0.005, "token": 0.02, "similar": 0.08,
                    DISAGREE: 0.045},
    "birth_date": {"exact": 0.9, "transposed": 0.01, "typo": 0.05, "same_year": 0.01,
                   DISAGREE: 0.03},
    "sex": {"exact": 0.97, DISAGREE: 0.03},
    "phone": {"exact": 0.7, DISAGREE: 0.3},
    "email": {"exact": 0.8, DISAGREE: 0.2},
    "address": {"exact": 0.7, "similar": 0.1, "partial": 0.05, DISAGREE: 0.15},
    "locality": {"exact": 0.85, "similar": 0.05, DISAGREE: 0.1},
    "postcode": {"exact": 0.85, "typo": 0.05, DISAGREE: 0.1},
    "national_id": {"exact": 0.9, "typo": 0.05, DISAGREE: 0.05},
}  # fmt: skip
STARTING_U: dict[str, dict[str, float]] = {
    "given_name": {"exact": 0.01, "swapped": 0.0001, "nickname": 0.002, "similar": 0.01,
                   "initial": 0.04, DISAGREE: 0.9379},
    "family_name": {"exact": 0.005, "swapped": 0.0001, "token": 0.0005, "similar": 0.01,
                    DISAGREE: 0.9844},
    "birth_date": {"exact": 0.00004, "transposed": 0.00001, "typo": 0.0005,
                   "same_year": 0.012, DISAGREE: 0.98745},
    "sex": {"exact": 0.5, DISAGREE: 0.5},
    "phone": {"exact": 0.0001, DISAGREE: 0.9999},
    "email": {"exact": 0.00005, DISAGREE: 0.99995},
    "address": {"exact": 0.0005, "similar": 0.001, "partial": 0.01, DISAGREE: 0.9885},
    "locality": {"exact": 0.02, "similar": 0.01, DISAGREE: 0.97},
    "postcode": {"exact": 0.005, "typo": 0.02, DISAGREE: 0.975},
    "national_id": {"exact": 0.00001, "typo": 0.0001, DISAGREE: 0.99989},
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MatchModel:
    m: dict[str, dict[str, float]]
    u: dict[str, dict[str, float]]
    prior: float  # P(same person) for a blocked candidate pair
    p_link: float = 0.9999
    p_review: float = 0.5
    tf_given: dict[str, float] = field(default_factory=dict)
    tf_family: dict[str, float] = field(default_factory=dict)
    matcher_version: str = MATCHER_VERSION
    # log2(m/u) per field and level, worked out once: scoring reads it for every pair.
    _weights: dict[str, dict[str, float]] = field(
        init=False, repr=False, compare=False, default_factory=dict
    )

    def __post_init__(self) -> None:
        for name, levels in self.m.items():
            self._weights[name] = {
                lv: 0.0
                if lv == MISSING
                else math.log2(max(m, _PROB_FLOOR) / max(self.u[name][lv], _PROB_FLOOR))
                for lv, m in levels.items()
            }
            self._weights[name][MISSING] = 0.0

    @property
    def prior_weight(self) -> float:
        return math.log2(self.prior / (1.0 - self.prior))

    def weight(self, field_name: str, level: str, value: str | None = None) -> float:
        """log2(m/u) of one level; ``value`` is the shared name for the tf adjustment."""
        base = self._weights[field_name][level]
        if value is not None and level == "exact":
            m = max(self.m[field_name][level], _PROB_FLOOR)
            table = self.tf_given if field_name == "given_name" else self.tf_family
            freq = table.get(value)
            if freq is not None:
                adjusted = math.log2(m / max(freq, _PROB_FLOOR))
                return min(max(adjusted, base - TF_MAX_SHIFT), base + TF_MAX_SHIFT)
        return base

    def probability(self, total: float) -> float:
        """Posterior P(same person) from a pair's summed field weights."""
        logit = self.prior_weight + total
        if logit > 60:
            return 1.0
        if logit < -60:
            return 0.0
        return 1.0 / (1.0 + math.pow(2.0, -logit))

    def with_thresholds(self, *, p_link: float, p_review: float) -> MatchModel:
        return replace(self, p_link=p_link, p_review=p_review)

    def with_term_frequencies(self, records: Iterable[MatchRecord]) -> MatchModel:
        given: Counter[str] = Counter()
        family: Counter[str] = Counter()
        total = 0
        for rec in records:
            total += 1
            if rec.first_given and len(rec.first_given) > 1:
                given[rec.first_given] += 1
            if rec.family_joined:
                family[rec.family_joined] += 1
        if total == 0:
            return self
        return replace(
            self,
            tf_given={k: v / total for k, v in given.items()},
            tf_family={k: v / total for k, v in family.items()},
        )

    def to_json(self) -> dict[str, Any]:
        return {
            "matcher_version": self.matcher_version,
            "prior": self.prior,
            "p_link": self.p_link,
            "p_review": self.p_review,
            "m": self.m,
            "u": self.u,
            "tf_given": self.tf_given,
            "tf_family": self.tf_family,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MatchModel:
        m, u = _complete(data.get("m", {}), STARTING_M), _complete(data.get("u", {}), STARTING_U)
        return cls(
            m=m,
            u=u,
            prior=float(data["prior"]),
            p_link=float(data["p_link"]),
            p_review=float(data["p_review"]),
            tf_given={str(k): float(v) for k, v in data.get("tf_given", {}).items()},
            tf_family={str(k): float(v) for k, v in data.get("tf_family", {}).items()},
            matcher_version=str(data["matcher_version"]),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")


def _complete(
    given: dict[str, dict[str, float]], fallback: dict[str, dict[str, float]]
) -> dict[str, dict[str, float]]:
    """Every field and level of ``LEVELS``, taking what ``given`` has and ``fallback``
    for the rest, so a model saved before a level existed still loads."""
    out: dict[str, dict[str, float]] = {}
    for name, levels in LEVELS.items():
        have = given.get(name, {})
        out[name] = {lv: float(have.get(lv, fallback[name][lv])) for lv in levels}
    return out


def starting_model() -> MatchModel:
    return MatchModel(m=_complete({}, STARTING_M), u=_complete({}, STARTING_U), prior=0.01)


@lru_cache(maxsize=1)
def default_model() -> MatchModel:
    """The shipped parameters (params.json), or the starting values if it is absent."""
    if not PARAMS_PATH.exists():
        return starting_model()
    return MatchModel.from_json(json.loads(PARAMS_PATH.read_text()))


def candidate_pairs(
    records: Sequence[MatchRecord], *, max_block: int = MAX_BLOCK
) -> set[tuple[int, int]]:
    """Index pairs sharing a blocking key; keys held by more than ``max_block`` records
    are skipped, as a database lookup skips them."""
    blocks: dict[tuple[str, str], list[int]] = {}
    for i, rec in enumerate(records):
        for key in blocking_keys(rec):
            blocks.setdefault(key, []).append(i)
    pairs: set[tuple[int, int]] = set()
    for members in blocks.values():
        if len(members) < 2 or len(members) > max_block:
            continue
        for x, i in enumerate(members):
            for j in members[x + 1 :]:
                pairs.add((i, j) if i < j else (j, i))
    return pairs


Pattern = tuple[str, ...]
_FIELDS = tuple(LEVELS)


def _pattern(a: MatchRecord, b: MatchRecord) -> Pattern:
    levels = compare(a, b).levels
    return tuple(levels[f] for f in _FIELDS)


def _level_shares(
    patterns: Counter[Pattern], weights: dict[Pattern, float]
) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    for k, name in enumerate(_FIELDS):
        counts = dict.fromkeys(LEVELS[name], 0.0)
        for pattern, n in patterns.items():
            level = pattern[k]
            if level != MISSING:
                counts[level] += n * weights.get(pattern, 1.0)
        total = sum(counts.values())
        if total > 0:
            # add-half smoothing: a level never seen still gets a small probability
            out[name] = {lv: (c + 0.5) / (total + 0.5 * len(counts)) for lv, c in counts.items()}
    return out


def train(
    records: Iterable[MatchRecord],
    pairs: Iterable[tuple[int, int]] | None = None,
    *,
    base: MatchModel | None = None,
    u_samples: int = 200_000,
    iterations: int = 40,
    seed: int = 1,
) -> MatchModel:
    """Estimate u from random pairs (every pair if there are no more than ``u_samples``)
    and m (and the prior) by EM on candidate pairs.

    ``pairs`` are index pairs into ``records`` to run EM on (default: the blocked
    candidate pairs). Thresholds come from ``base``; term frequencies from ``records``.
    """
    recs = list(records)
    base = base or starting_model()
    if len(recs) < 2:
        return base
    rng = random.Random(seed)  # noqa: S311 - sampling pairs, not secrets; seeded to repeat
    random_patterns: Counter[Pattern] = Counter()
    n = len(recs)
    if n * (n - 1) // 2 <= u_samples:
        # A small register has fewer pairs than the sample would draw: take each once.
        for i in range(n):
            for j in range(i + 1, n):
                random_patterns[_pattern(recs[i], recs[j])] += 1
    else:
        for _ in range(u_samples):
            i, j = rng.randrange(n), rng.randrange(n)
            if i != j:
                random_patterns[_pattern(recs[i], recs[j])] += 1
    u = _complete(_level_shares(random_patterns, {}), base.u)

    cand = candidate_pairs(recs) if pairs is None else set(pairs)
    patterns: Counter[Pattern] = Counter(_pattern(recs[i], recs[j]) for i, j in cand)
    m, prior = dict(base.m), base.prior
    for _ in range(iterations):
        posterior: dict[Pattern, float] = {}
        for pattern in patterns:
            pm, pu = prior, 1.0 - prior
            for k, name in enumerate(_FIELDS):
                level = pattern[k]
                if level != MISSING:
                    pm *= max(m[name][level], _PROB_FLOOR)
                    pu *= max(u[name][level], _PROB_FLOOR)
            posterior[pattern] = pm / (pm + pu) if pm + pu > 0 else 0.0
        m = _complete(_level_shares(patterns, posterior), m)
        matched = sum(n * posterior[p] for p, n in patterns.items())
        prior = min(max(matched / max(sum(patterns.values()), 1), 1e-4), 0.99)
    model = replace(base, m=m, u=u, prior=prior)
    return model.with_term_frequencies(recs)
