"""Health and readiness over real HTTP handling, on both databases."""

from __future__ import annotations

from collections.abc import Callable

from starlette.testclient import TestClient

from backend.app import create_app
from backend.settings import Settings


def client_for(url: str) -> TestClient:
    return TestClient(create_app(Settings(env="test", database_url=url)))


def test_healthz_and_readyz_on_a_migrated_database(db_url: str) -> None:
    with client_for(db_url) as client:
        assert client.get("/healthz").json() == {"status": "alive"}
        ready = client.get("/readyz")
        assert ready.status_code == 200
        assert ready.json() == {"status": "ready"}


def test_readyz_on_an_unmigrated_database_names_the_command(
    fresh_database_url: Callable[[str], str],
) -> None:
    for backend in ("sqlite", "postgresql"):
        with client_for(fresh_database_url(backend)) as client:
            response = client.get("/readyz")
            assert response.status_code == 503
            assert "patient360 db upgrade" in response.json()["reason"]
            assert client.get("/").status_code == 200  # the home page still explains


def test_readyz_when_the_database_is_unreachable_leaks_nothing() -> None:
    with client_for("postgresql://someone:hunter2@127.0.0.1:1/nowhere") as client:
        response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json() == {"status": "not ready", "reason": "database unreachable"}


def test_security_headers_on_every_response(db_url: str) -> None:
    with client_for(db_url) as client:
        for path in ("/", "/healthz", "/no-such-page"):
            headers = client.get(path).headers
            assert headers["x-content-type-options"] == "nosniff"
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert "strict-transport-security" not in headers  # only in production


def test_unknown_path_is_a_plain_404(db_url: str) -> None:
    with client_for(db_url) as client:
        response = client.get("/../../etc/passwd")
    assert response.status_code == 404
    assert "Traceback" not in response.text
