"""The category table is complete and names only real columns and policy record types."""

from __future__ import annotations

from dataclasses import fields

import pytest

from backend.access.policy import policy_store
from backend.patients.service import CATEGORIES as PATIENT_CATEGORIES
from backend.record.categories import CATEGORIES, RecordKind
from backend.settings import Settings


def test_every_kind_has_exactly_one_category() -> None:
    assert list(CATEGORIES) == list(RecordKind)
    assert all(kind is category.kind for kind, category in CATEGORIES.items())
    assert set(PATIENT_CATEGORIES) == {k.value for k in RecordKind}


@pytest.mark.parametrize("kind", list(RecordKind), ids=lambda k: k.value)
def test_a_category_names_only_columns_of_its_model(kind: RecordKind) -> None:
    category = CATEGORIES[kind]
    columns = set(category.model.__table__.c.keys())
    view_fields = {f.name for f in fields(category.view)} - {"withheld"}
    assert view_fields <= columns, view_fields - columns
    assert {*category.title, *category.summary, *category.at} <= columns
    assert {"patient_id", "sensitivity"} <= columns


def test_no_view_carries_a_secret() -> None:
    policy = policy_store(Settings(env="test").policies_dir).current()
    for category in CATEGORIES.values():
        for field in fields(category.view):
            if field.name != "withheld":
                group = policy.group_of(category.record_type, field.name)
                assert group not in (None, "secrets"), (category.record_type, field.name)
