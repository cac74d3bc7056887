"""Production protections around the API: masked unexpected errors, no introspection or
field suggestions, token and alias limits; domain errors keep their codes."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import strawberry
from starlette.testclient import TestClient

from backend.api.schema import MAX_ALIASES, MAX_TOKENS, Query, build_schema
from backend.app import create_app
from tests.api.conftest import ApiWorld, operation, settings_for
from tests.api.test_patient_api import codes, gql

PHI = "Jose Alvarez, DOB 1980-05-17"


@pytest.fixture
def production(api_db_url: str) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(api_db_url, env="production"))) as http:
        yield http


@strawberry.type
class FailingQuery(Query):
    @strawberry.field
    def boom(self) -> str:
        raise RuntimeError(f"driver said: {PHI}")


@pytest.mark.parametrize("production_mode", [True, False])
async def test_unexpected_errors_are_masked_in_production_only(production_mode: bool) -> None:
    schema = build_schema(production=production_mode, query=FailingQuery)
    result = await schema.execute("{ boom }")
    assert result.errors
    message = result.errors[0].message
    if production_mode:
        assert message == "Unexpected error."
        assert PHI not in str(result.errors[0].formatted)
        assert "Traceback" not in str(result.errors[0].formatted)
    else:
        assert PHI in message


def test_production_keeps_domain_codes_and_hides_the_schema(
    production: TestClient, api_world: ApiWorld
) -> None:
    token = api_world.tokens["physician"]
    missing = gql(production, operation("Patient360"), {"id": str(uuid.uuid4())}, token)
    assert codes(missing) == ["NOT_FOUND"]
    bad = gql(
        production,
        operation("LogCommunication"),
        {
            "input": {
                "patientId": str(api_world.patients["jose"]),
                "channel": "pigeon",
                "direction": "inbound",
                "occurredAt": "2025-01-01T09:00:00Z",
                "body": "x",
            }
        },
        token,
    )
    assert codes(bad) == ["BAD_USER_INPUT"]
    assert bad["errors"][0]["extensions"]["field"] == "channel"
    introspection = gql(production, "{ __schema { types { name } } }", token=token)
    assert introspection.get("data") is None
    assert "introspection" in introspection["errors"][0]["message"].lower()
    typo = gql(production, "{ me { usernme } }", token=token)
    assert "Did you mean" not in typo["errors"][0]["message"]


def test_development_suggests_fields(client: TestClient, api_world: ApiWorld) -> None:
    typo = gql(client, "{ me { usernme } }", token=api_world.tokens["physician"])
    assert "Did you mean" in typo["errors"][0]["message"]


def test_token_and_alias_limits(client: TestClient, api_world: ApiWorld) -> None:
    token = api_world.tokens["physician"]
    many_tokens = "{ " + " ".join(["me { username }"] * (MAX_TOKENS // 3)) + " }"
    too_long = gql(client, many_tokens, token=token)
    assert too_long.get("data") is None
    assert "token" in too_long["errors"][0]["message"].lower()
    aliases = "{ " + " ".join(f"a{n}: me {{ username }}" for n in range(MAX_ALIASES + 1)) + " }"
    too_many = gql(client, aliases, token=token)
    assert too_many.get("data") is None
    assert "alias" in too_many["errors"][0]["message"].lower()
    within = "{ " + " ".join(f"a{n}: me {{ username }}" for n in range(MAX_ALIASES)) + " }"
    assert "errors" not in gql(client, within, token=token)


def test_page_size_is_capped(client: TestClient, api_world: ApiWorld) -> None:
    body = gql(
        client,
        operation("SearchPatients"),
        {"search": "a", "first": 10_000},
        api_world.tokens["physician"],
    )
    assert codes(body) == ["BAD_USER_INPUT"]
    assert body["errors"][0]["extensions"]["field"] == "first"
