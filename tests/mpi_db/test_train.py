"""``patient360 mpi train`` on both databases: a real EM run over a small register."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.orm import Session

from backend.db import make_engine
from backend.migrations import upgrade_to_head
from backend.mpi.model import default_model
from backend.mpi.model_file import load_model
from tests.conftest import BACKENDS
from tests.mpi_db.factory import patient, surname
from tests.test_cli import run

GIVEN = ("Ada", "Bola", "Chen", "Dara", "Emeka", "Farah", "Gita", "Hugo", "Ines", "Jomo")


@pytest.fixture(params=BACKENDS)
def own_url(request: pytest.FixtureRequest, fresh_database_url: Any) -> str:
    """A database of its own: the command runs in a subprocess and must see commits."""
    url: str = fresh_database_url(request.param)
    upgrade_to_head(url)
    return url


def _register(url: str) -> list[str]:
    """30 people, every third of them registered twice; returns the family names."""
    families = [surname() for _ in range(6)]
    engine = make_engine(url)
    with Session(engine) as session:
        for i in range(30):
            person: dict[str, Any] = {
                "given": GIVEN[i % len(GIVEN)],
                "family": families[i % len(families)],
                "birth": date(1940 + i, 1 + i % 12, 1 + i % 28),
                "phone": f"+1312555{i:04d}",
            }
            patient(session, **person)
            if i % 3 == 0:
                patient(session, **person)
        session.commit()
    engine.dispose()
    return families


def test_train_estimates_the_model_from_this_database(own_url: str, tmp_path: Path) -> None:
    families = _register(own_url)
    out = tmp_path / "model.json"
    env = {"DATABASE_URL": own_url, "P360_VAR_DIR": str(tmp_path / "var")}
    done = run("mpi", "train", "--out", str(out), env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "trained on 40 patients" in done.stdout
    model = load_model(out)
    # Term frequencies are this register's: six family names over 40 records.
    assert set(model.tf_family) == {f.lower() for f in families}
    assert sum(model.tf_family.values()) == pytest.approx(1.0)
    # EM moved the prior and the phone's m/u away from the shipped values: duplicates
    # share their phone, random pairs almost never do.
    assert model.prior != pytest.approx(default_model().prior)
    assert model.u["phone"]["exact"] < 0.05
    assert model.m["phone"]["exact"] > 0.5
    for field in ("given_name", "family_name", "birth_date", "phone"):
        assert sum(model.m[field].values()) == pytest.approx(1.0)
        assert sum(model.u[field].values()) == pytest.approx(1.0)


def test_train_on_fewer_than_two_patients_writes_nothing(own_url: str, tmp_path: Path) -> None:
    out = tmp_path / "model.json"
    env = {"DATABASE_URL": own_url, "P360_VAR_DIR": str(tmp_path / "var")}
    done = run("mpi", "train", "--out", str(out), env=env)
    assert done.returncode == 1
    assert "training needs at least two patients" in done.stderr
    assert not out.exists()
