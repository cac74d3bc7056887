"""The request's read log decides Part 2 coverage once per patient per request."""

from __future__ import annotations

import uuid

from backend.access.reads import ReadLog


def test_coverage_is_looked_up_once_per_patient_per_request() -> None:
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    asked: list[list[uuid.UUID]] = []

    def lookup(ids: list[uuid.UUID]) -> frozenset[uuid.UUID]:
        asked.append(ids)
        return frozenset({a, c}) & frozenset(ids)

    log = ReadLog()
    assert log.part2_covered([a, b], lookup) == {a}
    assert log.part2_covered([b, a], lookup) == {a}  # conditions, then medications ...
    assert log.part2_covered([a, c], lookup) == {a, c}  # only c is new
    assert asked == [sorted([a, b]), [c]]
    assert log.part2_covered([], lookup) == frozenset()
    assert len(asked) == 2
