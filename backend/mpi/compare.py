"""Per-field comparison levels for a pair of ``MatchRecord``s.

Each field grades a pair into one level, best first; ``missing`` (either side empty) is
neutral and carries no weight. ``LEVELS`` is the single list of fields and levels the
model's m/u tables are keyed by, and ``AGREEMENT`` says how a reviewer reads each level.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from rapidfuzz.distance import DamerauLevenshtein, JaroWinkler
from rapidfuzz.fuzz import token_set_ratio

from backend.mpi.nicknames import nickname_equal
from backend.mpi.normalize import MatchRecord

MISSING = "missing"
DISAGREE = "disagree"
NAME_SIMILAR = 0.92  # Jaro-Winkler; at 0.92 "jon"/"john" agree, "john"/"joan" do not

LEVELS: dict[str, tuple[str, ...]] = {
    "given_name": ("exact", "swapped", "nickname", "similar", "initial", DISAGREE),
    "family_name": ("exact", "swapped", "token", "similar", DISAGREE),
    "birth_date": ("exact", "transposed", "typo", "same_year", DISAGREE),
    "sex": ("exact", DISAGREE),
    "phone": ("exact", DISAGREE),
    "email": ("exact", DISAGREE),
    "address": ("exact", "similar", "partial", DISAGREE),
    "locality": ("exact", "similar", DISAGREE),
    "postcode": ("exact", "typo", DISAGREE),
    "national_id": ("exact", "typo", DISAGREE),
}

AGREEMENT: dict[str, str] = {
    "exact": "exact",
    "swapped": "partial",
    "nickname": "partial",
    "similar": "partial",
    "initial": "partial",
    "token": "partial",
    "transposed": "partial",
    "typo": "partial",
    "same_year": "partial",
    "partial": "partial",
    DISAGREE: "disagree",
    MISSING: "missing",
}


@dataclass(frozen=True, slots=True)
class Comparison:
    """The level of every field in ``LEVELS``, plus which names were equal for the
    term-frequency adjustment (the rarer a shared name, the more it weighs)."""

    levels: dict[str, str]
    shared_given: str | None
    shared_family: str | None


def _jw(a: str, b: str) -> float:
    return float(JaroWinkler.similarity(a, b))


def _given_level(a: MatchRecord, b: MatchRecord) -> str:
    fa, fb = a.first_given, b.first_given
    if not fa or not fb:
        return MISSING
    if fa == fb and len(fa) > 1:
        return "exact"
    if len(fa) == 1 or len(fb) == 1:
        return "initial" if fa[0] == fb[0] else DISAGREE
    if nickname_equal(fa, fb):
        return "nickname"
    if _jw(fa, fb) >= NAME_SIMILAR:
        return "similar"
    # A second given name written first ("Mary Ann" / "Ann") still agrees, partly.
    if fa in b.given or fb in a.given or (set(a.given[1:]) & set(b.given[1:])):
        return "similar"
    return DISAGREE


def _family_level(a: MatchRecord, b: MatchRecord) -> str:
    if not a.family or not b.family:
        return MISSING
    if a.family == b.family or a.family_joined == b.family_joined:
        return "exact"
    if set(a.family) & set(b.family):
        return "token"  # one half of a double surname, e.g. after marriage
    ja, jb = a.family_joined or "", b.family_joined or ""
    if _jw(ja, jb) >= NAME_SIMILAR:
        return "similar"
    return DISAGREE


def _names_swapped(a: MatchRecord, b: MatchRecord) -> bool:
    fa, fb = a.first_given, b.first_given
    ja, jb = a.family_joined, b.family_joined
    if not fa or not fb or not ja or not jb or len(fa) < 2 or len(fb) < 2:
        return False
    return _jw(fa, jb) >= NAME_SIMILAR and _jw(ja, fb) >= NAME_SIMILAR


def _digits(d: date) -> str:
    return f"{d.year:04d}{d.month:02d}{d.day:02d}"


def _dob_level(a: date | None, b: date | None) -> str:
    if a is None or b is None:
        return MISSING
    if a == b:
        return "exact"
    if a.year == b.year and a.month == b.day and a.day == b.month:
        return "transposed"
    if DamerauLevenshtein.distance(_digits(a), _digits(b)) <= 1:
        return "typo"  # one digit wrong, or two adjacent digits swapped
    if a.year == b.year:
        return "same_year"
    return DISAGREE


def _set_level(a: frozenset[str], b: frozenset[str]) -> str:
    if not a or not b:
        return MISSING
    return "exact" if a & b else DISAGREE


def _address_level(a: tuple[str, ...], b: tuple[str, ...]) -> str:
    if not a or not b:
        return MISSING
    if a == b:
        return "exact"
    ratio = token_set_ratio(" ".join(a), " ".join(b))
    if ratio >= 90:
        return "similar"
    if ratio >= 70:
        return "partial"
    return DISAGREE


def _string_level(a: str | None, b: str | None, *, similar: str) -> str:
    if not a or not b:
        return MISSING
    if a == b:
        return "exact"
    if similar == "typo":
        return "typo" if DamerauLevenshtein.distance(a, b) <= 1 else DISAGREE
    return "similar" if _jw(a, b) >= NAME_SIMILAR else DISAGREE


def compare(a: MatchRecord, b: MatchRecord) -> Comparison:
    given = _given_level(a, b)
    family = _family_level(a, b)
    both_inexact = given not in {"exact", MISSING} and family not in {"exact", MISSING}
    if both_inexact and _names_swapped(a, b):
        given = family = "swapped"
    sex = MISSING if a.sex is None or b.sex is None else ("exact" if a.sex == b.sex else DISAGREE)
    levels = {
        "given_name": given,
        "family_name": family,
        "birth_date": _dob_level(a.birth_date, b.birth_date),
        "sex": sex,
        "phone": _set_level(a.phones, b.phones),
        "email": _set_level(a.emails, b.emails),
        "address": _address_level(a.address, b.address),
        "locality": _string_level(a.locality, b.locality, similar="similar"),
        "postcode": _string_level(a.postcode, b.postcode, similar="typo"),
        "national_id": _string_level(a.national_id, b.national_id, similar="typo"),
    }
    return Comparison(
        levels=levels,
        shared_given=a.first_given if given == "exact" else None,
        shared_family=a.family_joined if family == "exact" else None,
    )
