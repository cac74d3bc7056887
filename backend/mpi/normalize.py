"""The normalised view of one patient (``MatchRecord``) and its blocking keys.

Everything here takes untrusted values: garbage, empty strings, absurd dates. Nothing
raises; what cannot be used is dropped, and a record with little left simply scores with
less confidence (see ``score``'s thin-evidence rule).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

import jellyfish
import phonenumbers

from backend.mpi.nicknames import canonical_forms

DEFAULT_REGION = "US"
# A blocking key shared by more patients than this says too little to look it up: a
# lookup skips it (the other keys still find the real duplicates).
MAX_BLOCK = 50
# Birth dates outside this window are data-entry errors, not people.
EARLIEST_BIRTH_YEAR = 1880

# Family-name particles: "van der Berg" and "Berg" are the same family name for matching.
_PARTICLES = frozenset(
    {"van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "la", "le", "dos",
     "das", "ter", "ten", "y", "e", "bin", "ibn", "al", "el", "st"}
)  # fmt: skip
_SUFFIXES = {"jr": "jr", "junior": "jr", "sr": "sr", "senior": "sr", "ii": "ii",
             "iii": "iii", "iv": "iv", "2nd": "ii", "3rd": "iii"}  # fmt: skip
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "dr", "prof", "rev", "mx"})
# Street words spelled several ways; one spelling each so address tokens compare.
_STREET_WORDS = {
    "street": "st", "str": "st", "road": "rd", "avenue": "ave", "av": "ave",
    "drive": "dr", "court": "ct", "place": "pl", "lane": "ln", "crescent": "cres",
    "boulevard": "blvd", "terrace": "tce", "circuit": "cct", "highway": "hwy",
    "parade": "pde", "close": "cl", "square": "sq", "apartment": "apt", "unit": "apt",
    "north": "n", "south": "s", "east": "e", "west": "w",
}  # fmt: skip
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z0-9-]{2,}$")
_DIGITS = re.compile(r"\d+")


@dataclass(frozen=True, slots=True)
class MatchRecord:
    """One patient as the matcher sees it. Every field may be empty."""

    given: tuple[str, ...] = ()  # folded tokens, first name first
    given_canonical: frozenset[str] = frozenset()  # first given name + its formal names
    family: tuple[str, ...] = ()  # folded tokens, particles dropped, hyphens split
    suffix: str | None = None  # jr | sr | ii | iii | iv
    birth_date: date | None = None
    sex: str | None = None  # "m" | "f" | "o"
    phones: frozenset[str] = frozenset()  # E.164
    emails: frozenset[str] = frozenset()
    address: tuple[str, ...] = ()  # folded tokens of the street lines
    locality: str | None = None  # city / suburb, folded
    postcode: str | None = None
    national_id: str | None = None  # e.g. a social security number: compared, not a rule
    identifiers: frozenset[tuple[str, str]] = frozenset()  # (source system, value)

    @property
    def first_given(self) -> str | None:
        return self.given[0] if self.given else None

    @property
    def family_joined(self) -> str | None:
        return "".join(self.family) or None


def fold(value: object) -> str:
    """Lower-case ASCII words separated by single spaces; accents and punctuation gone."""
    if not isinstance(value, str):
        return ""
    decomposed = unicodedata.normalize("NFKD", value.casefold())
    ascii_only = "".join(c for c in decomposed if not unicodedata.combining(c))
    return _NON_ALNUM.sub(" ", ascii_only.replace("ß", "ss")).strip()


def _given_tokens(raw: object) -> tuple[tuple[str, ...], str | None]:
    tokens = [t for t in fold(raw).split() if t not in _TITLES and not t.isdigit()]
    suffix = None
    if tokens and tokens[-1] in _SUFFIXES and len(tokens) > 1:
        suffix = _SUFFIXES[tokens.pop()]
    return tuple(tokens), suffix


def _family_tokens(raw: object) -> tuple[tuple[str, ...], str | None]:
    tokens = [t for t in fold(raw).split() if not t.isdigit()]
    suffix = None
    if tokens and tokens[-1] in _SUFFIXES and len(tokens) > 1:
        suffix = _SUFFIXES[tokens.pop()]
    kept = [t for t in tokens if t not in _PARTICLES]
    return tuple(kept or tokens), suffix


def parse_birth_date(value: object, *, today: date | None = None) -> date | None:
    """A plausible birth date from a date, ISO ``YYYY-MM-DD``, ``YYYYMMDD`` or None."""
    today = today or date.today()
    parsed: date | None = None
    if isinstance(value, datetime):
        parsed = value.date()
    elif isinstance(value, date):
        parsed = value
    elif isinstance(value, int | str):
        digits = "".join(_DIGITS.findall(str(value)))
        if len(digits) == 8:
            try:
                parsed = date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
            except ValueError:
                parsed = None
    if parsed is None or parsed.year < EARLIEST_BIRTH_YEAR or parsed > today:
        return None
    return parsed


def _sex(value: object) -> str | None:
    text = fold(getattr(value, "value", value))
    if text in {"m", "male", "man"}:
        return "m"
    if text in {"f", "female", "woman"}:
        return "f"
    if text in {"o", "other", "x", "nonbinary", "non binary"}:
        return "o"
    return None


def _as_list(value: object) -> list[object]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        return [value]
    if isinstance(value, Iterable):
        return list(value)
    return [value]


def _phone(value: object, region: str) -> str | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_possible_number(number):
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _email(value: object) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip().lower()
    return text if _EMAIL.match(text) else None


def _address_tokens(lines: Iterable[object]) -> tuple[str, ...]:
    tokens: list[str] = []
    for line in lines:
        tokens.extend(_STREET_WORDS.get(t, t) for t in fold(line).split())
    return tuple(tokens)


def _identifier(pair: object) -> tuple[str, str] | None:
    if not isinstance(pair, tuple | list) or len(pair) != 2:
        return None
    system, value = pair
    if not isinstance(system, str) or not isinstance(value, str):
        return None
    system, value = system.strip(), value.strip()
    return (system, value) if system and value else None


def from_fields(
    *,
    given: object = None,
    family: object = None,
    middle: object = None,
    suffix: object = None,
    birth_date: object = None,
    sex: object = None,
    phones: object = None,
    emails: object = None,
    address_lines: object = None,
    locality: object = None,
    postcode: object = None,
    national_id: object = None,
    identifiers: object = None,
    region: str = DEFAULT_REGION,
    today: date | None = None,
) -> MatchRecord:
    """Build a ``MatchRecord`` from plain values; unusable values are dropped, never raised.

    ``phones``, ``emails``, ``address_lines`` and ``identifiers`` take one value or an
    iterable; identifiers are ``(system, value)`` pairs. ``region`` is the default
    country for phone numbers written without one.
    """
    given_tokens, given_suffix = _given_tokens(given)
    middle_tokens, _ = _given_tokens(middle)
    family_tokens, family_suffix = _family_tokens(family)
    suffix_norm = _SUFFIXES.get(fold(suffix)) or family_suffix or given_suffix
    all_given = given_tokens + middle_tokens
    phone_set = {p for p in (_phone(v, region) for v in _as_list(phones)) if p}
    email_set = {e for e in (_email(v) for v in _as_list(emails)) if e}
    id_set = {i for i in (_identifier(v) for v in _as_list(identifiers)) if i}
    # Spreadsheets and CSV readers hand over numeric postcodes and ids as numbers.
    if isinstance(postcode, int) and not isinstance(postcode, bool):
        postcode = str(postcode)
    if isinstance(national_id, int) and not isinstance(national_id, bool):
        national_id = str(national_id)
    post = fold(postcode).replace(" ", "") or None
    nid = "".join(_DIGITS.findall(fold(national_id))) if isinstance(national_id, str) else ""
    return MatchRecord(
        given=all_given,
        given_canonical=canonical_forms(all_given[0]) if all_given else frozenset(),
        family=family_tokens,
        suffix=suffix_norm,
        birth_date=parse_birth_date(birth_date, today=today),
        sex=_sex(sex),
        phones=frozenset(phone_set),
        emails=frozenset(email_set),
        address=_address_tokens(_as_list(address_lines)),
        locality=fold(locality) or None,
        postcode=post,
        national_id=nid if len(nid) >= 4 else None,
        identifiers=frozenset(id_set),
    )


def phonetic(token: str) -> str:
    """Soundex of a folded token (the code phonetic blocking keys are made of)."""
    return jellyfish.soundex(token) if token else ""


def _street_key(address: tuple[str, ...]) -> str | None:
    """House number and the street name's Soundex ("18 Aspinall St" -> "18|A215")."""
    number = next((t for t in address if t.isdigit()), None)
    if number is None:
        return None
    after = address[address.index(number) + 1 :]
    name = next((t for t in after if len(t) > 2 and t.isalpha()), None)
    return f"{number}|{phonetic(name)}" if name else None


def blocking_keys(rec: MatchRecord) -> set[tuple[str, str]]:
    """(kind, value) keys; two records are candidates when they share one.

    Each key is selective on its own (dozens of patients at a million, never a bare
    birth year or surname). Together they survive an error in any one field: typos in
    names (``dob``, ``dob_md``, ``phone``, ``email``, ``id``, ``nid``), a wrong birth
    date (``names_pc``, ``names_loc``), day and month swapped (``dob_md``), given and
    family names swapped (the ``names_*`` keys are symmetric in the two names), a
    wrong name and birth date in one household (``sx_pc``, ``addr_pc``).
    """
    keys: set[tuple[str, str]] = set()
    dob = rec.birth_date
    first = rec.first_given
    fam_codes = sorted({phonetic(t) for t in rec.family if len(t) > 1})
    if dob is not None:
        keys.add(("dob", dob.isoformat()))
        # No surname sound + birth year key: at 100,000 patients it brought two thirds
        # of the scan's candidate pairs, all strangers, and on FEBRL1-4 it found one true
        # link (of 13,972) that no other key did.
        low, high = sorted((dob.month, dob.day))
        keys.add(("dob_md", f"{dob.year:04d}-{low:02d}-{high:02d}"))
        if first and len(first) > 1:
            keys.add(("given_dob", f"{phonetic(first)}|{dob.isoformat()}"))
    if first and len(first) > 1 and fam_codes:
        pair = "|".join(sorted((phonetic(first), fam_codes[0])))
        if dob is not None:
            keys.add(("names_by", f"{pair}|{dob.year}"))
        if rec.postcode:
            keys.add(("names_pc", f"{pair}|{rec.postcode}"))
        if rec.locality:
            keys.add(("names_loc", f"{pair}|{rec.locality}"))
    if rec.postcode:
        # A household: the same family name or the same street address in one postcode.
        for code in fam_codes:
            keys.add(("sx_pc", f"{code}|{rec.postcode}"))
        street = _street_key(rec.address)
        if street:
            keys.add(("addr_pc", f"{street}|{rec.postcode}"))
    for phone in rec.phones:
        keys.add(("phone", phone))
    for email in rec.emails:
        keys.add(("email", email))
    for system, value in rec.identifiers:
        keys.add(("id", f"{system}|{value}"))
    if rec.national_id:
        keys.add(("nid", rec.national_id))
    return keys
