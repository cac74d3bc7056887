"""Comparison levels per field."""

from __future__ import annotations

from typing import Any

import pytest

from backend.mpi.compare import AGREEMENT, LEVELS, compare
from backend.mpi.normalize import from_fields


def level(field: str, a: dict[str, Any], b: dict[str, Any]) -> str:
    return compare(from_fields(**a), from_fields(**b)).levels[field]


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("William", "william", "exact"),
        ("William", "Bill", "nickname"),
        ("Margaret", "Peggy", "nickname"),
        ("Jimmy", "Jim", "nickname"),
        ("Liz", "Beth", "nickname"),
        ("Bill", "Bob", "disagree"),
        ("Ngozi", "Ngozie", "similar"),
        ("W", "William", "initial"),
        ("W.", "Margaret", "disagree"),
        ("William", "Margaret", "disagree"),
        ("Mary Ann", "Ann", "similar"),
        ("Mary Ann", "Rose Ann", "similar"),
        ("Mary Ann", "Rose Lee", "disagree"),
        ("", "William", "missing"),
    ],
)
def test_given_name_levels(a: str, b: str, expected: str) -> None:
    assert level("given_name", {"given": a}, {"given": b}) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Müller", "MULLER", "exact"),
        ("van der Berg", "Berg", "exact"),
        ("Garcia-Lopez", "Garcia", "token"),
        ("Garcia Lopez", "Lopez", "token"),
        ("Thompson", "Thomson", "similar"),
        ("Smith", "Jones", "disagree"),
        (None, "Jones", "missing"),
    ],
)
def test_family_name_levels(a: str | None, b: str, expected: str) -> None:
    assert level("family_name", {"family": a}, {"family": b}) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1980-03-04", "1980-03-04", "exact"),
        ("1980-03-04", "1980-04-03", "transposed"),
        ("1980-03-04", "1980-03-05", "typo"),
        ("1980-03-04", "1908-03-04", "typo"),  # adjacent digits swapped
        ("1980-03-04", "1980-11-20", "same_year"),
        ("1980-03-04", "1955-07-19", "disagree"),
        ("1980-03-04", None, "missing"),
    ],
)
def test_birth_date_levels(a: str, b: str | None, expected: str) -> None:
    assert level("birth_date", {"birth_date": a}, {"birth_date": b}) == expected


def test_contact_address_and_id_levels() -> None:
    a = from_fields(
        phones=["617-555-0101", "617-555-0199"],
        emails="A@x.org",
        address_lines="14 Elm Street",
        postcode="02139",
        national_id="123456789",
        sex="F",
    )
    b = from_fields(
        phones="+16175550199",
        emails="a@X.ORG",
        address_lines="14 elm st.",
        postcode="02193",
        national_id="123456780",
        sex="male",
    )
    levels = compare(a, b).levels
    assert levels["phone"] == "exact"
    assert levels["email"] == "exact"
    assert levels["address"] == "exact"
    assert levels["postcode"] == "typo"
    assert levels["national_id"] == "typo"
    assert levels["sex"] == "disagree"
    assert levels["locality"] == "missing"


def test_given_and_family_swapped() -> None:
    levels = compare(
        from_fields(given="Wei", family="Zhang"), from_fields(given="Zhang", family="Wei")
    ).levels
    assert levels["given_name"] == levels["family_name"] == "swapped"


def test_every_level_has_a_reviewer_reading() -> None:
    for levels in LEVELS.values():
        for lv in (*levels, "missing"):
            assert AGREEMENT[lv] in {"exact", "partial", "disagree", "missing"}
