"""Every role against every field group of a full record, over real HTTP, both databases.

One request per role asks a seeded patient for every category and every field the schema
has (the query is built from the schema, so a new field or category is covered without
editing this file). What each role may read is worked out *here*, from
``policies/policy.csv`` by the small reader below, and never by asking
``backend.access``: when the code and the policy file disagree, this test fails.

* an allowed field carries the value stored in the database;
* a denied field is null and listed in its object's ``withheld`` with the rule
  ``field_group:<group>`` (or ``token_scope`` when the role may but the token may not);
* a category the role may read nothing of is null and listed in the patient's
  ``withheld`` with the group of its ``id``;
* roles with no patient rows (admin, auditor) get NOT_FOUND.

Staff call ``POST /graphql`` with bearer tokens issued as ``patient360 token`` does. A
patient has no credential for ``/graphql`` (the portal runs the same schema in-process,
portal/operations.py), so the patient row runs the same query through that path.
"""

from __future__ import annotations

import csv
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from starlette.requests import Request
from starlette.testclient import TestClient
from strawberry.types.base import StrawberryObjectDefinition
from strawberry.utils.str_converters import to_camel_case, to_snake_case

from backend.accounts.models import PortalAccount, StaffRole, StaffRoleAssignment, StaffUser
from backend.api.context import ApiContext
from backend.api.schema import build_schema
from backend.auth.portal_sessions import patient_principal
from backend.auth.tokens import default_scopes, issue_access_token
from backend.common.mixins import utcnow
from backend.db import Base, transaction
from backend.organization.models import (
    CareTeam,
    CareTeamMember,
    CareTeamPatient,
    CareTeamRole,
    Location,
    Organization,
    OrganizationKind,
)
from backend.patients.models import (
    Address,
    ContactPoint,
    ContactSystem,
    IdentifierKind,
    Patient,
    PatientIdentifier,
)
from backend.record.categories import CATEGORIES
from backend.record.timeline import MAX_TIMELINE_PAGE
from graphql import GraphQLObjectType, get_named_type, is_leaf_type
from tests.api.conftest import (
    ApiWorld,
    _appointment,
    _chart,
    _condition,
    settings_for,
)
from tests.api.journey_records import shared_rows
from tests.api.test_patient_api import gql

POLICY_CSV = Path(__file__).resolve().parents[2] / "policies" / "policy.csv"
PATIENT_ROLE = "patient"
# policies/README.md, "Rules that are not field groups": these roles have no patient rows.
NO_PATIENT_ROWS = {"admin", "auditor"}
# policies/README.md: alumni coordinators see contact details only on channels the patient
# allowed for alumni messages (a row rule); this patient allowed none, so none come back.
# Emergency contacts are not the patient's channels: alumni coordinators never get them.
ROW_RULES = {
    ("alumni_coordinator", "contactPoints"),
    ("alumni_coordinator", "addresses"),
    ("alumni_coordinator", "emergencyContacts"),
}
SCHEMA = build_schema(production=False)


# ---- an independent reader of policies/policy.csv -----------------------------------


@dataclass
class PolicyFile:
    groups: dict[tuple[str, str], str] = field(default_factory=dict)  # (Type, field) -> group
    grants: dict[str, set[tuple[str, str]]] = field(default_factory=dict)  # sub -> {(obj, act)}
    parents: dict[str, set[str]] = field(default_factory=dict)  # role -> bundles (g lines)

    def inherited(self, subject: str) -> set[str]:
        seen, todo = set(), [subject]
        while todo:
            sub = todo.pop()
            if sub not in seen:
                seen.add(sub)
                todo += self.parents.get(sub, ())
        return seen

    def reads(self, subjects: set[str]) -> set[str]:
        return {
            obj
            for sub in subjects
            for anc in self.inherited(sub)
            for obj, act in self.grants.get(anc, ())
            if act == "read"
        }

    @property
    def roles(self) -> set[str]:
        """Subjects of p lines that are roles: not bundles (g targets), not scopes."""
        bundles = {b for bs in self.parents.values() for b in bs}
        subjects = set(self.grants) | set(self.parents)
        return {s for s in subjects if s not in bundles and not s.startswith("scope:")}


def read_policy_file(path: Path = POLICY_CSV) -> PolicyFile:
    out = PolicyFile()
    with path.open(newline="") as handle:
        for raw in csv.reader(handle, skipinitialspace=True):
            if not raw or raw[0].lstrip().startswith("#"):
                continue
            kind, *rest = (cell.strip() for cell in raw)
            if kind == "g2":
                record_type, _, name = rest[0].partition(".")
                out.groups[(record_type, name)] = rest[1]
            elif kind == "g":
                out.parents.setdefault(rest[0], set()).add(rest[1])
            elif kind == "p":
                out.grants.setdefault(rest[0], set()).add((rest[1], rest[2]))
    return out


POLICY = read_policy_file()


@dataclass(frozen=True)
class Expectation:
    """What one role may read: by its roles, and within its token's scopes."""

    by_role: frozenset[str]
    by_scope: frozenset[str] | None  # None: no token (the patient's portal session)

    def rule(self, group: str | None) -> str | None:
        """None when the group is readable, else the rule the API must report."""
        if group is None or group not in self.by_role:
            return f"field_group:{group or 'unassigned'}"
        if self.by_scope is not None and group not in self.by_scope:
            return "token_scope"
        return None


def expectation(role: str) -> Expectation:
    by_role = frozenset(POLICY.reads({role}))
    if role == PATIENT_ROLE:
        return Expectation(by_role, None)
    scopes = {f"scope:{s}" for s in default_scopes(frozenset({role}))}
    return Expectation(by_role, frozenset(POLICY.reads(scopes)))


# ---- the query: every category and every field, from the schema ---------------------


def _record_type(type_name: str) -> str:
    definition = SCHEMA.get_type_by_name(type_name)
    assert isinstance(definition, StrawberryObjectDefinition)
    return str(getattr(definition.origin, "policy_record_type", definition.name))


def _policy_field(type_name: str, graphql_name: str) -> str:
    definition = SCHEMA.get_type_by_name(type_name)
    assert isinstance(definition, StrawberryObjectDefinition)
    python = next(
        f.python_name
        for f in definition.fields
        if (f.graphql_name or to_camel_case(f.python_name)) == graphql_name
    )
    derived: dict[str, str] = getattr(definition.origin, "policy_fields", {})
    return derived.get(python, python)


def _selection(type_: GraphQLObjectType, depth: int) -> str:
    parts = []
    for name, f in type_.fields.items():
        named = get_named_type(f.type)
        if name == "withheld":
            parts.append("withheld { field rule }")
        elif is_leaf_type(named) and not f.args:
            parts.append(name)
        elif isinstance(named, GraphQLObjectType) and depth > 0 and name != "timeline":
            parts.append(f"{name} {{ {_selection(named, depth - 1)} }}")
    return " ".join(parts)


PATIENT_TYPE = SCHEMA._schema.type_map["Patient"]
assert isinstance(PATIENT_TYPE, GraphQLObjectType)
# Patient -> categories -> their nested objects (a care plan's goals, a form's answers).
# The timeline: every kind, one page large enough for the whole (small) record.
TIMELINE = (
    f"timeline(first: {MAX_TIMELINE_PAGE}) {{ edges {{ node {{ kind recordId title summary }} }} "
    "pageInfo { hasNextPage } withheld { field rule } }"
)
MATRIX_QUERY = (
    f"query Matrix($id: ID!) {{ patient(id: $id) {{ {_selection(PATIENT_TYPE, 2)} {TIMELINE} }} }}"
)
CATEGORY_FIELDS = {
    name: get_named_type(f.type).name
    for name, f in PATIENT_TYPE.fields.items()
    if isinstance(get_named_type(f.type), GraphQLObjectType)
    and name not in ("withheld", "timeline")
}


# ---- the seeded patient: a record in every category -----------------------------------


@dataclass
class Matrix:
    patient_id: uuid.UUID
    portal_account_id: uuid.UUID
    tokens: dict[str, str] = field(default_factory=dict)


@pytest.fixture(scope="module")
def matrix(api_world: ApiWorld, api_engine: Engine, api_db_url: str) -> Matrix:
    tag = uuid.uuid4().hex[:8]
    patient_id = uuid.uuid4()
    account_id = uuid.uuid4()
    out = Matrix(patient_id, account_id)
    with transaction(api_engine) as s:
        org = Organization(id=uuid.uuid4(), name=f"Matrix {tag}", kind=OrganizationKind.PROVIDER)
        s.add(org)
        s.flush()
        site = Location(id=uuid.uuid4(), organization_id=org.id, name=f"Matrix {tag}")
        s.add(site)
        s.flush()
        team = CareTeam(id=uuid.uuid4(), name=f"Matrix {tag}", location_id=site.id)
        s.add(team)
        s.add(
            Patient(
                id=patient_id,
                given_name="Mat",
                middle_name="Rix",
                family_name=f"Matrix{tag}",
                preferred_name="Mo",
                birth_date=date(1984, 4, 4),
                pronouns="they/them",
                language="en",
                home_location_id=site.id,
            )
        )
        s.flush()
        s.add(CareTeamPatient(care_team_id=team.id, patient_id=patient_id))
        s.add(ContactPoint(patient_id=patient_id, system=ContactSystem.PHONE, value="+15550001"))
        s.add(Address(patient_id=patient_id, line1="1 Matrix Way", city="Springfield"))
        s.add(
            PatientIdentifier(
                patient_id=patient_id, kind=IdentifierKind.MRN, system="local", value=f"MX-{tag}"
            )
        )
        shared, reference = shared_rows(tag)
        s.add_all(reference)
        s.flush()
        s.add_all([_condition(patient_id, 1), _appointment(patient_id, 1)])
        s.add_all(_chart(patient_id, 1, org.id, shared))
        s.add(
            PortalAccount(
                id=account_id,
                patient_id=patient_id,
                login_email=f"matrix-{tag}@example.org",
                password_hash="not-used-here",
            )
        )
        for role in StaffRole:
            user = StaffUser(
                id=uuid.uuid4(),
                username=f"mx-{role.value}-{tag}",
                display_name=role.value,
                location_id=site.id if role is StaffRole.FRONT_DESK else None,
            )
            s.add(user)
            s.flush()
            s.add(StaffRoleAssignment(staff_user_id=user.id, role=role))
            if role not in (StaffRole.FRONT_DESK, StaffRole.ADMIN, StaffRole.AUDITOR):
                team_role = CareTeamRole.__members__.get(role.name, CareTeamRole.PHYSICIAN)
                s.add(CareTeamMember(care_team_id=team.id, staff_user_id=user.id, role=team_role))
            out.tokens[role.value] = issue_access_token(
                session=s,
                settings=settings_for(api_db_url),
                staff_user_id=user.id,
                scopes=default_scopes(frozenset({role.value})),
                lifetime=timedelta(hours=1),
            ).access_token
    return out


def _stored_rows(engine: Engine, patient_id: uuid.UUID) -> dict[str, dict[str, Any]]:
    """Every stored row of the patient, by id: what an allowed field must return."""
    found: dict[str, dict[str, Any]] = {}
    models = {m.class_.__name__: m.class_ for m in Base.registry.mappers}
    with transaction(engine) as s:
        for record_type in {_record_type(t) for t in CATEGORY_FIELDS.values()} | {"Patient"}:
            model = models[record_type]
            table = model.__table__
            owner = table.c.id if record_type == "Patient" else table.c.patient_id
            for row in s.execute(select(table).where(owner == patient_id)).mappings():
                found[str(row["id"])] = dict(row)
    return found


# ---- comparing an answer with the policy file and the database -------------------------


def _same(stored: Any, answered: Any) -> bool:
    if isinstance(stored, Enum):
        stored = stored.value
    if isinstance(stored, datetime):
        got = datetime.fromisoformat(str(answered))
        aware = stored if stored.tzinfo else stored.replace(tzinfo=UTC)
        return got == aware
    if isinstance(stored, date):
        return bool(str(answered) == stored.isoformat())
    if isinstance(stored, Decimal):
        return Decimal(str(answered)) == stored
    if isinstance(stored, uuid.UUID):
        return bool(str(answered) == str(stored))
    if isinstance(stored, (dict, list)):
        return bool(json.dumps(stored, sort_keys=True) == json.dumps(answered, sort_keys=True))
    return bool(stored == answered)


def check_object(
    obj: dict[str, Any],
    type_name: str,
    expect: Expectation,
    stored: dict[str, dict[str, Any]],
    problems: list[str],
    where: str,
) -> set[str]:
    """Check one answered object field by field; returns the groups seen readable."""
    record_type = _record_type(type_name)
    withheld = {w["field"]: w["rule"] for w in obj.get("withheld") or []}
    row = stored.get(str(obj.get("id")))
    readable: set[str] = set()
    graphql_type = SCHEMA._schema.type_map[type_name]
    assert isinstance(graphql_type, GraphQLObjectType)
    for name in set(withheld) - set(graphql_type.fields):
        problems.append(f"{where}: withheld names {name!r}, which {type_name} does not have")
    for name, value in obj.items():
        if name in ("id", "withheld", "__typename"):
            continue
        nested = get_named_type(graphql_type.fields[name].type)
        if isinstance(nested, GraphQLObjectType):
            children = value if isinstance(value, list) else [value] if value else []
            for child in children:
                readable |= check_object(
                    child, nested.name, expect, stored, problems, f"{where}.{name}"
                )
            continue
        column = _policy_field(type_name, name)
        group = POLICY.groups.get((record_type, column))
        rule = expect.rule(group)
        if rule is None:
            readable.add(str(group))
            if name in withheld:
                problems.append(f"{where}.{name}: readable ({group}) but withheld {withheld[name]}")
            elif (
                row is not None
                and column == to_snake_case(name)
                and row.get(column) is not None
                and not _same(row[column], value)
            ):
                problems.append(f"{where}.{name}: {value!r} is not the stored value")
        else:
            if value is not None and value != []:
                problems.append(f"{where}.{name}: denied ({rule}) but a value came back")
            if withheld.get(name) != rule:
                problems.append(f"{where}.{name}: withheld as {withheld.get(name)}, not {rule}")
    return readable


def check_patient(
    patient: dict[str, Any], role: str, stored: dict[str, dict[str, Any]]
) -> list[str]:
    expect = expectation(role)
    problems: list[str] = []
    top = {w["field"]: w["rule"] for w in patient["withheld"]}
    scalars = {k: v for k, v in patient.items() if k not in CATEGORY_FIELDS and k != "timeline"}
    check_object(scalars, "Patient", expect, stored, problems, "patient")
    for name, type_name in CATEGORY_FIELDS.items():
        value = patient[name]
        record_type = _record_type(type_name)
        id_rule = expect.rule(POLICY.groups.get((record_type, "id")))
        readable_any = any(
            expect.rule(g) is None for (t, _), g in POLICY.groups.items() if t == record_type
        )
        if not readable_any:
            if value is not None:
                problems.append(f"{name}: no field readable but the category came back")
            if top.get(name) != id_rule and name not in ("contactPoints", "addresses"):
                problems.append(f"{name}: withheld as {top.get(name)}, not {id_rule}")
            continue
        if name in top:
            problems.append(f"{name}: readable but listed as withheld ({top[name]})")
        if not value and (role, name) not in ROW_RULES:
            problems.append(f"{name}: readable but no record came back (the patient has one)")
            continue
        for record in value:
            check_object(record, type_name, expect, stored, problems, name)
    problems += check_timeline(patient, expect, stored)
    return problems


def _text(value: Any) -> str:
    return str(value.value if isinstance(value, Enum) else value)


def check_timeline(
    patient: dict[str, Any], expect: Expectation, stored: dict[str, dict[str, Any]]
) -> list[str]:
    """Each kind the timeline carries is on it exactly when the role may read some field
    of its record type and every field that dates it; then its entries are the records the
    category itself answered, titled and summarized only from readable fields. Any other
    kind is absent and withheld with the rule of the group it lacks."""
    timeline = patient["timeline"]
    problems: list[str] = []
    withheld = {w["field"]: w["rule"] for w in timeline["withheld"]}
    entries: dict[str, list[dict[str, Any]]] = {}
    for edge in timeline["edges"]:
        entries.setdefault(edge["node"]["kind"], []).append(edge["node"])
    if timeline["pageInfo"]["hasNextPage"]:
        problems.append("timeline: the whole record did not fit on one page")
    for kind, category in CATEGORIES.items():
        name = to_camel_case(kind.value)
        where = f"timeline.{name}"
        groups = {c: g for (t, c), g in POLICY.groups.items() if t == category.record_type}

        def readable(column: str, groups: dict[str, str] = groups) -> bool:
            return expect.rule(groups.get(column)) is None

        shown = entries.get(kind.name, [])
        if not category.on_timeline:  # a fact about the patient, not an event
            if shown or name in withheld:
                problems.append(f"{where}: kept off the timeline, yet it is there")
            continue
        if not any(readable(c) for c in groups):
            rule = expect.rule(groups.get("id"))
        else:
            dates = (*category.at, "recorded_at")
            rule = next((expect.rule(groups.get(c)) for c in dates if not readable(c)), None)
        if rule is not None:
            if shown:
                problems.append(f"{where}: withheld ({rule}) but entries came back")
            if withheld.get(name) != rule:
                problems.append(f"{where}: withheld as {withheld.get(name)}, not {rule}")
            continue
        if name in withheld:
            problems.append(f"{where}: readable but listed as withheld ({withheld[name]})")
        listed = {str(r["id"]) for r in patient[name] or []}
        if not listed:
            problems.append(f"{where}: readable but the category answered no record")
        if {n["recordId"] for n in shown} != listed:
            problems.append(f"{where}: entries are not the category's records")
        for node in shown:
            row = stored[node["recordId"]]
            present = [c for c in category.title if readable(c) and row.get(c) is not None]
            title = _text(row[present[0]]) if present else category.label
            parts = [
                _text(row[c]) for c in category.summary if readable(c) and row.get(c) is not None
            ]
            if node["title"] != title:
                problems.append(f"{where}: title {node['title']!r}, not {title!r}")
            if node["summary"] != (" · ".join(parts) or None):
                problems.append(f"{where}: summary {node['summary']!r} uses other fields")
    return problems


# ---- the matrix -------------------------------------------------------------------------

STAFF_ROLES = sorted(r.value for r in StaffRole)


def test_every_role_in_the_policy_file_is_in_the_matrix() -> None:
    assert POLICY.roles == set(STAFF_ROLES) | {PATIENT_ROLE}


def test_the_query_asks_for_every_category_and_is_one_request() -> None:
    # Every category of the unified record, contact details and care plans.
    wanted = {"conditions", "notes", "invoices", "reviews", "contactPoints", "carePlans"}
    assert wanted | {"emergencyContacts"} <= set(CATEGORY_FIELDS)
    assert len(CATEGORY_FIELDS) >= 37


@pytest.mark.parametrize("role", STAFF_ROLES)
def test_role_reads_exactly_what_the_policy_file_grants(
    role: str, client: TestClient, matrix: Matrix, api_engine: Engine
) -> None:
    body = gql(client, MATRIX_QUERY, {"id": str(matrix.patient_id)}, matrix.tokens[role])
    expect = expectation(role)
    if role in NO_PATIENT_ROWS:
        assert body["data"]["patient"] is None
        assert [e["extensions"]["code"] for e in body["errors"]] == ["NOT_FOUND"]
        # Consistent with the policy: no patient-data group is readable at all.
        patient_groups = {g for (t, _), g in POLICY.groups.items() if t == "Patient"}
        assert all(expect.rule(g) is not None for g in patient_groups)
        return
    assert "errors" not in body, body["errors"][:3]
    stored = _stored_rows(api_engine, matrix.patient_id)
    assert check_patient(body["data"]["patient"], role, stored) == []


def test_the_check_fails_when_the_answer_and_the_policy_file_disagree(
    client: TestClient, matrix: Matrix, api_engine: Engine
) -> None:
    """Billing's answer judged as a physician's: the chart it may not read is reported."""
    body = gql(client, MATRIX_QUERY, {"id": str(matrix.patient_id)}, matrix.tokens["billing"])
    stored = _stored_rows(api_engine, matrix.patient_id)
    problems = check_patient(body["data"]["patient"], "physician", stored)
    assert "notes: readable but no record came back (the patient has one)" in problems
    assert any(p.startswith("appointments.reasonText: readable") for p in problems)
    assert "timeline.notes: readable but listed as withheld (field_group:notes)" in (problems)


def test_patient_reads_exactly_what_the_policy_file_grants(
    client: TestClient, matrix: Matrix, api_engine: Engine
) -> None:
    import asyncio

    with transaction(api_engine) as s:
        principal = patient_principal(session=s, portal_account_id=matrix.portal_account_id)
    assert principal is not None
    app: Any = client.app
    request = Request({"type": "http", "app": app, "headers": [], "method": "POST"})
    context = ApiContext(
        request=request,
        principal=principal,
        policy=_policy_in_force(app),
        now=utcnow(),
        request_id=uuid.uuid4().hex,
    )
    result = asyncio.run(
        SCHEMA.execute(
            MATRIX_QUERY, variable_values={"id": str(matrix.patient_id)}, context_value=context
        )
    )
    assert result.errors is None, result.errors
    assert result.data is not None
    stored = _stored_rows(api_engine, matrix.patient_id)
    assert check_patient(result.data["patient"], PATIENT_ROLE, stored) == []


def _policy_in_force(app: Any) -> Any:
    from backend.access.policy import policy_store

    return policy_store(app.state.settings.policies_dir).current()
