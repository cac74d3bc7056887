"""Patient.timeline over real HTTP on SQLite and PostgreSQL: order across kinds, the
kinds filter, cursor pages, masked summaries, withheld kinds, Part 2, statement count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import Engine, event
from starlette.testclient import TestClient

from tests.api.conftest import ApiWorld, operation
from tests.api.test_patient_api import _events, _last_seq, codes, gql

TIMELINE = operation("PatientTimeline")


def _timeline(
    client: TestClient, world: ApiWorld, role: str, patient: str = "jose", **variables: Any
) -> dict[str, Any]:
    body = gql(
        client, TIMELINE, {"id": str(world.patients[patient]), **variables}, world.tokens[role]
    )
    assert "errors" not in body, body
    timeline: dict[str, Any] = body["data"]["patient"]["timeline"]
    return timeline


def _nodes(timeline: dict[str, Any]) -> list[dict[str, Any]]:
    return [edge["node"] for edge in timeline["edges"]]


def _everything(client: TestClient, world: ApiWorld, role: str, page: int) -> list[Any]:
    """Every entry, page by page through the cursors."""
    seen: list[Any] = []
    after = None
    for _ in range(100):
        timeline = _timeline(client, world, role, first=page, after=after)
        seen += _nodes(timeline)
        info = timeline["pageInfo"]
        assert info["hasPreviousPage"] is (after is not None)
        if not info["hasNextPage"]:
            return seen
        after = info["endCursor"]
        assert after == timeline["edges"][-1]["cursor"]
    raise AssertionError("the timeline never ended")


def test_entries_run_newest_first_across_kinds(client: TestClient, api_world: ApiWorld) -> None:
    nodes = _nodes(_timeline(client, api_world, "physician", first=200))
    stamps = [datetime.fromisoformat(n["at"]) for n in nodes]
    assert stamps == sorted(stamps, reverse=True)
    kinds = {n["kind"] for n in nodes}
    assert {"CONDITIONS", "LABS", "NOTES", "INQUIRIES", "ADMISSIONS", "ALUMNI_CHECK_INS"} <= kinds
    assert "EMERGENCY_CONTACTS" not in kinds  # the patient has one, the physician reads it
    journey = [
        (n["kind"], n["title"])
        for n in nodes
        if n["kind"] in {"INQUIRIES", "ADMISSIONS", "DISCHARGES", "REFERRALS"}
    ]
    # Referral in April, discharge in March, admission in February, inquiry in January.
    assert journey == [
        ("REFERRALS", "Referral 0"),
        ("DISCHARGES", "completed_program"),
        ("ADMISSIONS", "Program 0"),
        ("INQUIRIES", "Inquiry 0"),
    ]


def test_the_kinds_filter_narrows_the_timeline(client: TestClient, api_world: ApiWorld) -> None:
    timeline = _timeline(
        client, api_world, "physician", kinds=["ADMISSIONS", "DISCHARGES", "CHARGES"]
    )
    assert [n["kind"] for n in _nodes(timeline)] == ["DISCHARGES", "ADMISSIONS"]
    # Charges were asked for but are billing's: withheld, not silently empty.
    assert timeline["withheld"] == [{"field": "charges", "rule": "field_group:invoices"}]
    assert _nodes(_timeline(client, api_world, "physician", kinds=[])) == []


@pytest.mark.parametrize("page", [1, 7])
def test_cursor_pages_add_up_to_the_whole_timeline(
    client: TestClient, api_world: ApiWorld, page: int
) -> None:
    whole = _nodes(_timeline(client, api_world, "physician", first=200))
    paged = _everything(client, api_world, "physician", page)
    assert paged == whole
    assert len({n["recordId"] for n in paged}) == len(paged)


def test_titles_and_summaries_use_only_readable_fields(
    client: TestClient, api_world: ApiWorld
) -> None:
    # Care coordinators read the inquiry but not its reason (journey_clinical).
    timeline = _timeline(client, api_world, "care_coordinator", kinds=["INQUIRIES", "REFERRALS"])
    nodes = {n["kind"]: n for n in _nodes(timeline)}
    assert nodes["INQUIRIES"]["title"] == "Inquiry"
    assert nodes["INQUIRIES"]["summary"] == "phone · routine · pending"
    assert nodes["REFERRALS"]["title"] == "Referral 0"
    physician = {n["kind"]: n for n in _nodes(_timeline(client, api_world, "physician"))}
    assert physician["INQUIRIES"]["title"] == "Inquiry 0"
    every = _nodes(_timeline(client, api_world, "care_coordinator", first=200))
    text = repr([(n["title"], n["summary"]) for n in every])
    for secret in ("Inquiry 0", "Low mood", "Dx 1", "Glucose", "Note 0", "Needs family"):
        assert secret not in text


def test_kinds_the_caller_may_not_read_are_absent_and_withheld(
    client: TestClient, api_world: ApiWorld
) -> None:
    timeline = _timeline(client, api_world, "front_desk", first=200)
    kinds = {n["kind"] for n in _nodes(timeline)}
    assert kinds == {"APPOINTMENTS", "ENCOUNTERS", "COVERAGE"}
    withheld = timeline["withheld"]
    assert {"field": "conditions", "rule": "field_group:diagnoses"} in withheld
    assert {"field": "notes", "rule": "field_group:notes"} in withheld
    assert not any(w["field"] in {"appointments", "encounters", "coverage"} for w in withheld)


def test_part2_records_are_absent_without_a_covering_consent(
    client: TestClient, api_world: ApiWorld
) -> None:
    nodes = _nodes(_timeline(client, api_world, "physician", kinds=["CONDITIONS"]))
    # Jose's third condition is Part 2 and no consent covers the physician.
    assert [n["title"] for n in nodes] == ["Dx 2", "Dx 1"]


def test_therapist_sees_psychotherapy_notes_others_do_not(
    client: TestClient, api_world: ApiWorld
) -> None:
    titles = {
        role: [n["title"] for n in _nodes(_timeline(client, api_world, role, kinds=["NOTES"]))]
        for role in ("therapist", "physician")
    }
    assert titles == {
        "therapist": ["Note 8", "Note 7", "Note 0"],
        "physician": ["Note 8", "Note 0"],
    }


@pytest.mark.parametrize(
    "variables",
    [
        {"first": 0},
        {"first": 201},
        {"after": "not-a-cursor"},
        {"after": "dGltZWxpbmU6"},
        # A fact about the patient, not an event: never on the timeline.
        {"kinds": ["EMERGENCY_CONTACTS"]},
    ],
)
def test_bad_page_sizes_and_cursors_are_bad_user_input(
    client: TestClient, api_world: ApiWorld, variables: dict[str, Any]
) -> None:
    body = gql(
        client,
        TIMELINE,
        {"id": str(api_world.patients["jose"]), **variables},
        api_world.tokens["physician"],
    )
    assert codes(body) == ["BAD_USER_INPUT"]


def test_a_cursor_from_another_patient_is_bad_user_input(
    client: TestClient, api_world: ApiWorld
) -> None:
    cursor = _timeline(client, api_world, "physician", patient="few", first=1)["pageInfo"][
        "endCursor"
    ]
    body = gql(
        client,
        TIMELINE,
        {"id": str(api_world.patients["jose"]), "after": cursor},
        api_world.tokens["physician"],
    )
    assert codes(body) == ["BAD_USER_INPUT"]


def test_timeline_reads_are_audited_without_values(
    client: TestClient, api_world: ApiWorld, api_engine: Engine
) -> None:
    since = _last_seq(api_engine)
    jose = api_world.patients["jose"]
    _timeline(client, api_world, "care_coordinator", kinds=["INQUIRIES", "SOCIAL_FACTORS"])
    (audit,) = _events(api_engine, since=since)
    assert (audit.patient_id, audit.action, audit.outcome) == (jose, "read", "success")
    assert {"Inquiry", "SocialFactor"} <= set(audit.record_types)
    assert "Inquiry.channel" in audit.fields
    assert "Inquiry.reason_display:field_group:journey_clinical" in audit.masked_fields
    assert "Housing 0" not in repr(audit.fields) + repr(audit.masked_fields)


@pytest.fixture
def statements() -> Iterator[list[str]]:
    seen: list[str] = []

    def listen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        seen.append(statement)

    event.listen(Engine, "before_cursor_execute", listen)
    yield seen
    event.remove(Engine, "before_cursor_execute", listen)


@pytest.mark.parametrize("role", ["physician", "billing", "alumni_coordinator"])
def test_statement_count_is_the_same_for_few_and_many_records(
    client: TestClient, api_world: ApiWorld, statements: list[str], role: str
) -> None:
    counts = {}
    for key in ("few", "many"):
        _timeline(client, api_world, role, patient="few")  # warm caches
        statements.clear()
        first = _timeline(client, api_world, role, patient=key, first=5)
        assert len(first["edges"]) == 5
        after = first["pageInfo"]["endCursor"]
        second = _timeline(client, api_world, role, patient=key, first=5, after=after)
        assert second["edges"]
        counts[key] = len(statements)
    assert counts["few"] == counts["many"], counts
