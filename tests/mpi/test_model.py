"""The Fellegi-Sunter model: weights, term frequencies, JSON, EM training."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Literal, TypedDict

import pytest

from backend.mpi.compare import LEVELS
from backend.mpi.model import MatchModel, candidate_pairs, default_model, starting_model, train
from backend.mpi.normalize import MatchRecord, from_fields
from backend.mpi.score import score_pair


def test_shipped_parameters_load_and_cover_every_level() -> None:
    model = default_model()
    assert model.matcher_version
    assert 0 < model.p_review < model.p_link < 1
    for field, levels in LEVELS.items():
        assert set(model.m[field]) == set(levels)
        assert model.weight(field, "exact") > 0 > model.weight(field, "disagree")
        assert model.weight(field, "missing") == 0.0


def test_json_round_trip(tmp_path: Path) -> None:
    model = starting_model().with_term_frequencies(
        [from_fields(given="Ann", family="Lee"), from_fields(given="Bo", family="Lee")]
    )
    path = tmp_path / "params.json"
    model.save(path)
    assert MatchModel.from_json(json.loads(path.read_text())) == model


def test_a_saved_model_missing_a_level_still_loads() -> None:
    data = starting_model().to_json()
    del data["m"]["given_name"]["nickname"]
    del data["u"]["sex"]
    loaded = MatchModel.from_json(data)
    assert loaded.m["given_name"]["nickname"] == starting_model().m["given_name"]["nickname"]
    assert set(loaded.u["sex"]) == set(LEVELS["sex"])


def test_a_rare_surname_weighs_more_than_a_common_one() -> None:
    people = [from_fields(given=f"g{i}", family="smith") for i in range(50)]
    people += [from_fields(given="x", family="oyelaran")]
    people += [from_fields(given=f"h{i}", family=f"f{i}") for i in range(949)]
    model = starting_model().with_term_frequencies(people)
    common = model.weight("family_name", "exact", "smith")
    rare = model.weight("family_name", "exact", "oyelaran")
    plain = model.weight("family_name", "exact")
    assert common < plain < rare

    a, b = from_fields(given="Ann", family="Smith"), from_fields(given="Ann", family="Smith")
    c, d = from_fields(given="Ann", family="Oyelaran"), from_fields(given="Ann", family="Oyelaran")
    assert score_pair(a, b, model).total < score_pair(c, d, model).total


class _Fields(TypedDict):
    """The ``from_fields`` keywords a synthetic person is built from."""

    given: str
    family: str
    birth_date: str | None
    postcode: str
    national_id: str
    address_lines: str


_NOISY: list[Literal["given", "family", "postcode", "birth_date"]] = [
    "given",
    "family",
    "postcode",
    "birth_date",
]


def _synthetic(n: int, seed: int) -> list[MatchRecord]:
    """People and, for a third of them, a copy with one typo or one field dropped."""
    rng = random.Random(seed)
    given = ["ann", "bo", "cara", "dev", "eli", "fay", "gus", "hana", "ivo", "jun", "kai", "lena"]
    family = [f"{a}{b}son" for a in "bcdfghklmnprstvw" for b in "aeiou"]
    out = []
    for i in range(n):
        dob = f"19{rng.randint(30, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
        fields: _Fields = {
            "given": rng.choice(given),
            "family": rng.choice(family),
            "birth_date": dob,
            "postcode": f"{rng.randint(1000, 1100)}",
            "national_id": f"{rng.randint(10**8, 10**9 - 1)}",
            "address_lines": f"{rng.randint(1, 99)} {rng.choice(family)} street",
        }
        out.append(from_fields(**fields))
        if i % 3 == 0:
            noisy = fields.copy()
            key = rng.choice(_NOISY)
            if key == "birth_date":
                noisy[key] = None
            else:
                noisy[key] = noisy[key][:-1] + "x"
            out.append(from_fields(**noisy))
    return out


def test_em_learns_that_agreement_means_a_match() -> None:
    records = _synthetic(1500, seed=7)
    model = train(records, u_samples=20_000)
    for field in ("given_name", "family_name", "birth_date", "national_id", "postcode"):
        assert model.m[field]["exact"] > 0.6, field
        assert model.u[field]["exact"] < 0.1, field
        assert model.weight(field, "exact") > model.weight(field, "disagree")
    # every third record has one duplicate; the blocked pairs are mostly those duplicates
    pairs = candidate_pairs(records)
    assert model.prior == pytest.approx(500 / len(pairs), rel=0.35)


def test_training_on_nothing_returns_the_base_model() -> None:
    assert train([]) == starting_model()
