"""Pair scoring: evidence format, the deterministic rule and the safety caps."""

from __future__ import annotations

import random
from typing import Any

import pytest

from backend.mpi.model import MatchModel, default_model
from backend.mpi.normalize import MatchRecord, from_fields
from backend.mpi.score import Outcome, score_pair


@pytest.fixture(scope="module")
def model() -> MatchModel:
    return default_model()


def person(**overrides: Any) -> MatchRecord:
    fields: dict[str, Any] = {
        "given": "Margaret",
        "family": "Oyelaran",
        "birth_date": "1971-06-02",
        "sex": "female",
        "phones": "+1 617 555 0101",
        "emails": "m.oyelaran@example.org",
        "address_lines": "14 Elm Street",
        "locality": "Boston",
        "postcode": "02139",
    }
    fields.update(overrides)
    return from_fields(**fields)


def test_same_person_with_small_differences_links(model: MatchModel) -> None:
    a = person(national_id="012-34-5678")
    b = person(
        given="Peggy",
        birth_date="1971-02-06",
        phones="(617) 555-0101",
        emails=None,
        national_id="012345687",
    )
    result = score_pair(a, b, model)
    assert result.outcome is Outcome.LINK
    assert result.rule is None
    assert result.evidence["given_name"]["level"] == "nickname"
    assert result.evidence["birth_date"]["level"] == "transposed"
    assert result.evidence["national_id"]["level"] == "typo"


def test_married_name_links_on_two_identifiers(model: MatchModel) -> None:
    result = score_pair(person(), person(family="Adeyemi"), model)
    assert result.evidence["family_name"]["agreement"] == "disagree"
    assert result.outcome is Outcome.LINK


def test_evidence_has_the_review_format(model: MatchModel) -> None:
    result = score_pair(person(), person(emails="other@example.org"), model)
    assert result.evidence["_total"] == pytest.approx(result.total)
    fields = {k: v for k, v in result.evidence.items() if not k.startswith("_")}
    assert set(fields) >= {"given_name", "family_name", "birth_date", "phone", "email"}
    for item in fields.values():
        assert item["agreement"] in {"exact", "partial", "disagree", "missing"}
        assert isinstance(item["level"], str)
        assert isinstance(item["weight"], float)
    assert result.evidence["email"]["agreement"] == "disagree"
    assert result.evidence["email"]["weight"] < 0
    assert sum(v["weight"] for v in fields.values()) == pytest.approx(result.total, abs=0.01)


def test_different_people_stay_separate(model: MatchModel) -> None:
    other = from_fields(given="Tomasz", family="Kowalczyk", birth_date="1990-11-23", sex="m")
    result = score_pair(person(), other, model)
    assert result.outcome is Outcome.SEPARATE
    assert 0.0 <= result.probability < 0.01


def test_same_source_identifier_links_by_rule(model: MatchModel) -> None:
    a = person(identifiers=[("urn:ehr:mrn", "A-1")], phones=None, emails=None)
    b = from_fields(given="M", family="Oyelaran", identifiers=[("urn:ehr:mrn", "A-1")])
    result = score_pair(a, b, model)
    assert (result.outcome, result.rule) == (Outcome.LINK, "same_source_identifier")


def test_same_identifier_with_contradicting_birth_dates_goes_to_review(model: MatchModel) -> None:
    a = person(identifiers=[("urn:ehr:mrn", "A-1")])
    b = person(identifiers=[("urn:ehr:mrn", "A-1")], birth_date="1948-12-30")
    assert score_pair(a, b, model).outcome is Outcome.REVIEW


def test_same_value_in_another_system_is_not_the_rule(model: MatchModel) -> None:
    a = person(identifiers=[("urn:ehr:mrn", "A-1")])
    b = from_fields(given="Jon", family="Smith", identifiers=[("urn:crm:id", "A-1")])
    result = score_pair(a, b, model)
    assert result.outcome is Outcome.SEPARATE
    assert result.rule is None


def test_name_alone_never_links(model: MatchModel) -> None:
    a = from_fields(given="Margaret", family="Oyelaran")
    result = score_pair(a, a, model)
    assert result.outcome is not Outcome.LINK


def test_strangers_born_the_same_day_are_not_suggested(model: MatchModel) -> None:
    """A birth date alone outweighs two different names, but a million-patient register
    holds dozens of people per date: one agreeing field is no review suggestion."""
    a = from_fields(given="James", family="Anber", birth_date="1970-03-04", sex="m")
    b = from_fields(given="Mary", family="Torsal", birth_date="1970-03-04", sex="m")
    result = score_pair(a, b, model)
    assert result.probability >= model.p_review  # the score alone would ask for review
    assert result.outcome is Outcome.SEPARATE
    assert result.rule == "single_field"
    # One name agreeing as well is two fields: a possible married-name change, reviewed.
    married = from_fields(given="James", family="Torsal", birth_date="1970-03-04", sex="m")
    assert score_pair(a, married, model).outcome is Outcome.REVIEW


def test_name_plus_shared_address_never_links(model: MatchModel) -> None:
    a = person(birth_date=None, phones=None, emails=None)
    b = person(birth_date=None, phones=None, emails=None)
    assert score_pair(a, b, model).outcome is not Outcome.LINK


def test_twins_at_the_same_address_do_not_link(model: MatchModel) -> None:
    a = person(given="Margaret")
    b = person(given="Marguerite", emails=None)
    result = score_pair(a, b, model)
    assert result.outcome is Outcome.REVIEW
    assert result.rule == "possible_twin"
    c = person(given="Tunde", sex="m", emails=None)
    assert score_pair(a, c, model).outcome is not Outcome.LINK


def test_junior_and_senior_do_not_link(model: MatchModel) -> None:
    senior = person(given="Robert", family="Oyelaran Sr", sex="m", birth_date="1950-01-01")
    junior = person(given="Robert", family="Oyelaran Jr", sex="m", birth_date="1950-01-01")
    result = score_pair(senior, junior, model)
    assert result.outcome is not Outcome.LINK
    assert result.rule == "suffix_differs"


@pytest.mark.parametrize(
    "thin",
    [
        {"birth_date": None},
        {"birth_date": "1871-01-01"},  # absurd: dropped, so missing
        {"given": "M"},
        {"given": ""},
        {"family": "  "},
        {"given": "#@!", "family": "\x00"},
    ],
)
def test_thin_evidence_never_links(model: MatchModel, thin: dict[str, Any]) -> None:
    result = score_pair(person(), person(**thin), model)
    assert result.outcome is not Outcome.LINK
    assert result.rule == "thin_evidence"


def test_contradicting_birth_dates_never_link(model: MatchModel) -> None:
    result = score_pair(person(), person(birth_date="1972-09-17"), model)
    assert result.outcome is not Outcome.LINK


def test_given_and_family_swapped_is_detected(model: MatchModel) -> None:
    result = score_pair(person(), person(given="Oyelaran", family="Margaret"), model)
    assert result.evidence["given_name"]["level"] == "swapped"
    assert result.evidence["family_name"]["level"] == "swapped"
    assert result.outcome is not Outcome.SEPARATE


def test_garbage_in_never_raises_and_never_links(model: MatchModel) -> None:
    rng = random.Random(4)
    alphabet = "aZ09 -'.,@+#\x00\u00e9\u4e2d\u0301\U0001f600/\\\t"

    def junk() -> str:
        return "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 12)))

    for _ in range(300):
        a = from_fields(
            given=junk(),
            family=junk(),
            birth_date=junk(),
            sex=junk(),
            phones=[junk()],
            emails=[junk()],
            address_lines=[junk()],
            postcode=junk(),
            national_id=junk(),
        )
        result = score_pair(a, person(given=junk(), birth_date=junk()), model)
        assert result.outcome is not Outcome.LINK
        assert 0.0 <= result.probability <= 1.0
