"""Tasks, goals and care-plan templates over real HTTP on SQLite and PostgreSQL, plus two
sessions racing on one task (the version-checked UPDATE decides)."""

from __future__ import annotations

import threading
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from starlette.testclient import TestClient

from backend.access.models import AuditAction
from backend.access.policy import policy_store
from backend.auth.principals import staff_principal
from backend.careplans.changes import TaskChanges, update_task
from backend.careplans.models import CarePlan, Goal, Task
from backend.common.errors import Conflict
from backend.db import transaction
from backend.settings import Settings
from tests.api.conftest import ApiWorld, operation
from tests.api.crew import Crew, audit_text, crew_fixture, error, latest_audit, ok  # noqa: F401
from tests.api.test_patient_api import gql

CREATE = operation("CreateTask")
UPDATE = operation("UpdateTask")
GOAL = operation("UpdateGoal")
APPLY = operation("ApplyCarePlanTemplate")


def _task(client: TestClient, world_patient: uuid.UUID, token: str, **extra: Any) -> dict[str, Any]:
    variables = {
        "input": {
            "patientId": str(world_patient),
            "title": "Call the pharmacy about refills",
            "dueAt": (datetime.now(UTC) + timedelta(days=2)).isoformat(),
            **extra,
        }
    }
    task: dict[str, Any] = ok(client, CREATE, variables, token)["createTask"]
    return task


def _stored(engine: Engine, model: Any, record_id: str) -> Any:
    with transaction(engine) as s:
        row = s.get(model, uuid.UUID(record_id))
        s.expunge(row)
        return row


def test_create_then_update_a_task_and_a_stale_version_conflicts(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    token = crew.tokens["care_coordinator"]
    task = _task(client, crew.patient, token, assigneeId=str(crew.ids["nurse"]), priority="urgent")
    assert (task["status"], task["priority"], task["version"]) == ("requested", "urgent", 1)
    assert task["assigneeId"] == str(crew.ids["nurse"])
    created = latest_audit(api_engine, crew.ids["care_coordinator"], AuditAction.CREATE)
    assert created.record_types == ["Task"]
    assert "Task.title" in created.fields
    assert "pharmacy" not in audit_text(created)

    done = ok(
        client,
        UPDATE,
        {"id": task["id"], "version": 1, "input": {"status": "completed"}},
        crew.tokens["nurse"],
    )["updateTask"]
    assert done["status"] == "completed"
    assert done["completedById"] == str(crew.ids["nurse"])
    assert done["completedAt"]
    assert done["version"] == 2
    updated = latest_audit(api_engine, crew.ids["nurse"], AuditAction.UPDATE)
    assert updated.record_types == ["Task"]
    assert set(updated.fields) == {"Task.status", "Task.completed_at", "Task.completed_by_id"}

    stale = gql(
        client,
        UPDATE,
        {"id": task["id"], "version": 1, "input": {"title": "Overwritten", "status": "cancelled"}},
        token,
    )
    assert error(stale)["extensions"]["code"] == "CONFLICT"
    row = _stored(api_engine, Task, task["id"])
    assert (row.title, row.status.value, row.version) == (
        "Call the pharmacy about refills",
        "completed",
        2,
    )


def test_task_refusals_forbidden_not_found_and_bad_input(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    jose = str(crew.patient)
    base = {"patientId": jose, "title": "Book a ride"}
    front = gql(client, CREATE, {"input": base}, api_world.tokens["front_desk"])
    assert error(front)["extensions"]["code"] == "FORBIDDEN"
    other = {**base, "patientId": str(api_world.patients["other"])}
    out = gql(client, CREATE, {"input": other}, api_world.tokens["physician"])
    assert error(out)["extensions"] == {"code": "NOT_FOUND"}
    bad = gql(
        client,
        CREATE,
        {"input": {**base, "title": " ", "status": "someday", "assigneeRole": "wizard"}},
        api_world.tokens["physician"],
    )
    err = error(bad)
    assert err["extensions"]["code"] == "BAD_USER_INPUT"
    assert [p["field"] for p in err["extensions"]["problems"]] == [
        "title",
        "assigneeRole",
        "status",
    ]
    stranger = gql(
        client,
        CREATE,
        {"input": {**base, "assigneeId": str(uuid.uuid4())}},
        api_world.tokens["physician"],
    )
    assert error(stranger)["extensions"]["field"] == "assigneeId"
    with transaction(api_engine) as s:
        hidden = Task(patient_id=api_world.patients["other"], title="Other team's task")
        s.add(hidden)
        s.flush()
        hidden_id = str(hidden.id)
    for task_id in (hidden_id, str(uuid.uuid4())):
        miss = gql(
            client,
            UPDATE,
            {"id": task_id, "version": 1, "input": {"status": "cancelled"}},
            api_world.tokens["physician"],
        )
        assert error(miss)["extensions"] == {"code": "NOT_FOUND"}
    assert _stored(api_engine, Task, hidden_id).status.value == "requested"
    with transaction(api_engine) as s:
        assert s.scalar(select(func.count()).where(Task.title == "Book a ride")) == 0


def test_an_assignee_is_staff_on_the_patients_care_teams_or_the_callers(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    """An assignee sees the task and is paged for it: a colleague on one of the
    patient's care teams (or the caller's) may take it, an active account on none may
    not, on create and on update alike."""
    token = api_world.tokens["physician"]
    kept = _task(client, crew.patient, token, assigneeId=str(crew.ids["therapist"]))
    assert kept["assigneeId"] == str(crew.ids["therapist"])
    for who in ("front_desk", "admin"):  # active staff, on no care team
        outsider = str(crew.ids[who])
        created = gql(
            client,
            CREATE,
            {
                "input": {
                    "patientId": str(crew.patient),
                    "title": "Outsider",
                    "assigneeId": outsider,
                }
            },
            token,
        )
        moved = gql(
            client,
            UPDATE,
            {"id": kept["id"], "version": 1, "input": {"assigneeId": outsider}},
            token,
        )
        for body in (created, moved):
            extensions = error(body)["extensions"]
            assert (extensions["code"], extensions["field"]) == ("BAD_USER_INPUT", "assigneeId")
    stored = _stored(api_engine, Task, kept["id"])
    assert (stored.assignee_id, stored.version) == (crew.ids["therapist"], 1)
    with transaction(api_engine) as s:
        assert s.scalar(select(func.count()).where(Task.title == "Outsider")) == 0


def test_update_goal_checks_progress_status_and_version(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    with transaction(api_engine) as s:
        goal = Goal(patient_id=crew.patient, title="Sleep 7 hours")
        s.add(goal)
        s.flush()
        goal_id = str(goal.id)
    token = api_world.tokens["physician"]
    for args, field in (
        ({"progress": 150}, "progress"),
        ({"status": "done-ish"}, "status"),
        ({}, "status"),
    ):
        bad = gql(client, GOAL, {"id": goal_id, "version": 1, **args}, token)
        assert error(bad)["extensions"]["field"] == field
    moved = ok(
        client,
        GOAL,
        {
            "id": goal_id,
            "version": 1,
            "status": "active",
            "progress": 60,
            "achievementStatus": "improving",
        },
        token,
    )["updateGoal"]
    assert (moved["lifecycleStatus"], moved["progressPercent"], moved["version"]) == (
        "active",
        60,
        2,
    )
    assert moved["lastReviewedAt"]
    event = latest_audit(api_engine, crew.ids["physician"], AuditAction.UPDATE)
    assert "Goal.progress_percent" in event.fields
    stale = gql(client, GOAL, {"id": goal_id, "version": 1, "progress": 10}, token)
    assert error(stale)["extensions"]["code"] == "CONFLICT"
    assert _stored(api_engine, Goal, goal_id).progress_percent == 60
    front = gql(
        client, GOAL, {"id": goal_id, "version": 2, "progress": 70}, api_world.tokens["front_desk"]
    )
    assert error(front)["extensions"]["code"] == "FORBIDDEN"


def test_applying_a_template_writes_the_whole_plan_in_one_go(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    start = date.today()
    plan = ok(
        client,
        APPLY,
        {
            "patientId": str(crew.patient),
            "templateId": str(crew.template_id),
            "startOn": start.isoformat(),
        },
        crew.tokens["care_coordinator"],
    )["applyCarePlanTemplate"]
    assert plan["templateId"] == str(crew.template_id)
    assert plan["status"] == "active"
    assert plan["periodStart"] == start.isoformat()
    assert plan["periodEnd"] == (start + timedelta(days=84)).isoformat()
    titles = {g["title"]: g for g in plan["goals"]}
    assert set(titles) == {"Reduce depressive symptoms", "PHQ-9 < 15"}
    assert titles["PHQ-9 < 15"]["parentGoalId"] == titles["Reduce depressive symptoms"]["id"]
    # The undated top goal is due with its last milestone.
    assert (
        titles["Reduce depressive symptoms"]["targetDate"]
        == (start + timedelta(days=28)).isoformat()
    )
    tasks = {t["title"]: t for t in plan["tasks"]}
    assert tasks["Safety plan review"]["assigneeId"] == str(crew.ids["therapist"])
    assert tasks["Benefits check"]["assigneeId"] is None
    event = latest_audit(api_engine, crew.ids["care_coordinator"], AuditAction.CREATE)
    assert event.record_types == ["Benefit", "CarePlan", "Goal", "Task"]


def test_template_refusals_write_nothing(
    client: TestClient, api_world: ApiWorld, api_engine: Engine, crew: Crew
) -> None:
    def count() -> int:
        with transaction(api_engine) as s:
            return int(s.scalar(select(func.count()).select_from(CarePlan)) or 0)

    before = count()
    jose = str(crew.patient)
    cases = (
        (
            crew.draft_template_id,
            jose,
            date.today(),
            crew.tokens["care_coordinator"],
            "BAD_USER_INPUT",
        ),
        (uuid.uuid4(), jose, date.today(), crew.tokens["care_coordinator"], "BAD_USER_INPUT"),
        (
            crew.template_id,
            jose,
            date.today() + timedelta(days=800),
            crew.tokens["care_coordinator"],
            "BAD_USER_INPUT",
        ),
        (
            crew.template_id,
            str(api_world.patients["other"]),
            date.today(),
            api_world.tokens["physician"],
            "NOT_FOUND",
        ),
        (crew.template_id, jose, date.today(), api_world.tokens["front_desk"], "FORBIDDEN"),
    )
    for template, patient, start, token, code in cases:
        body = gql(
            client,
            APPLY,
            {"patientId": patient, "templateId": str(template), "startOn": start.isoformat()},
            token,
        )
        assert error(body)["extensions"]["code"] == code, body
    assert count() == before


def _blocked_on_lock(engine: Engine) -> bool:
    if engine.dialect.name != "postgresql":
        return True  # SQLite: the writer waits on the database lock (busy_timeout)
    with engine.connect() as c:
        waiting = c.exec_driver_sql(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database()"
        ).scalar()
    return bool(waiting)


def test_two_sessions_racing_on_one_task_one_wins_the_other_conflicts(
    api_world: ApiWorld, api_engine: Engine, crew: Crew, api_db_url: str
) -> None:
    """Both read version 1 and pass the version check; the first commits; the second's
    UPDATE ... WHERE version = 1 then matches no row: CONFLICT, its change is lost."""
    policy = policy_store(Settings(env="test").policies_dir).current()
    with transaction(api_engine) as s:
        task = Task(patient_id=crew.patient, title="Race me")
        s.add(task)
        s.flush()
        task_id = task.id
        nurse = staff_principal(session=s, staff_user_id=crew.ids["nurse"])
        coordinator = staff_principal(session=s, staff_user_id=crew.ids["care_coordinator"])
    assert nurse is not None
    assert coordinator is not None
    first = Session(api_engine)
    first.begin()
    update_task(
        session=first,
        principal=nurse,
        policy=policy,
        task_id=task_id,
        version=1,
        data=TaskChanges(status="in_progress"),
    )  # flushed: holds the row (PostgreSQL) or the database write lock (SQLite)
    outcome: list[BaseException | None] = []

    def second() -> None:
        with Session(api_engine) as s, s.begin():
            try:
                update_task(
                    session=s,
                    principal=coordinator,
                    policy=policy,
                    task_id=task_id,
                    version=1,
                    data=TaskChanges(title="Renamed by the loser"),
                )
                outcome.append(None)
            except Exception as exc:  # handed to the main thread; the rollback follows
                outcome.append(exc)

    racer = threading.Thread(target=second)
    racer.start()
    deadline = time.monotonic() + 5
    while not _blocked_on_lock(api_engine) and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.2)
    first.commit()
    first.close()
    racer.join(timeout=10)
    assert len(outcome) == 1, outcome
    assert isinstance(outcome[0], Conflict), outcome
    row = _stored(api_engine, Task, str(task_id))
    assert (row.title, row.status.value, row.version) == ("Race me", "in_progress", 2)
