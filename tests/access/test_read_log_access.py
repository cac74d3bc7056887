"""The request's read log decides the record-rule facts once per patient per request."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from backend.access.reads import ReadLog
from backend.access.sensitivity import PatientAccess


def test_record_rule_facts_are_looked_up_once_per_patient_per_request() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    covered = PatientAccess(part2_covered=True)
    asked: list[list[uuid.UUID]] = []

    def lookup(ids: list[uuid.UUID]) -> Mapping[uuid.UUID, PatientAccess]:
        asked.append(ids)
        return {i: covered if i in (a, c) else PatientAccess() for i in ids}

    log = ReadLog()
    assert log.patient_access([a, b], lookup) == {a: covered, b: PatientAccess()}
    # conditions, then medications ...
    assert log.patient_access([b, a], lookup) == {a: covered, b: PatientAccess()}
    assert log.patient_access([a, c], lookup) == {a: covered, c: covered}  # only c is new
    assert asked == [sorted([a, b]), [c]]
    assert log.patient_access([], lookup) == {}
    assert len(asked) == 2
