"""Staff in a real browser: the sign-in page, then GraphiQL (development only) running a
query with the session cookie, on SQLite and PostgreSQL. Local assets only: any CSP
violation or script error fails the test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, expect
from pydantic import SecretStr

from backend.db import make_engine
from backend.migrations import upgrade_to_head
from backend.settings import Settings
from tests.auth.conftest import PASSWORD, SECRET, committed_staff
from tests.browser.conftest import page_errors, running_server
from tests.conftest import BACKENDS

SERIOUS = {"serious", "critical"}


@pytest.fixture(scope="module", params=BACKENDS)
def site(
    request: pytest.FixtureRequest,
    fresh_database_url: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[str, str]]:
    db_url: str = fresh_database_url(request.param)
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    _, username = committed_staff(engine)
    engine.dispose()
    settings = Settings(
        env="development",
        var_dir=tmp_path_factory.mktemp("staff-var"),
        database_url=db_url,
        secret_key=SecretStr(SECRET),
    )
    with running_server(settings) as url:
        yield url, username


def test_sign_in_then_query_in_graphiql_then_sign_out(
    site: tuple[str, str], browser: Browser, artifacts: Path
) -> None:
    url, username = site
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    errors = page_errors(page)
    page.goto(url + "/")
    page.get_by_role("link", name="Staff sign-in").click()
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill("not the password")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_have_text("Invalid username or password.")
    expect(page.get_by_label("Username")).to_have_value(username)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(url + "/graphql")
    expect(page.get_by_text(f"signed in as {username}")).to_be_visible()
    page.locator(".graphiql-execute-button").click()
    result = page.locator(".result-window")
    expect(result).to_contain_text(f'"username": "{username}"', timeout=15_000)
    page.screenshot(path=str(artifacts / "staff-graphiql.png"))
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(url + "/auth/sign-in")
    expect(page.get_by_role("heading", name="Staff sign-in")).to_be_visible()
    page.goto(url + "/graphql")
    expect(page.get_by_role("link", name="Sign in")).to_be_visible()
    assert errors == []
    page.close()


def test_sign_in_page_is_accessible_and_fits_a_phone(
    site: tuple[str, str], browser: Browser, artifacts: Path
) -> None:
    url, _ = site
    for width in (375, 1280):
        page = browser.new_page(viewport={"width": width, "height": 800})
        page.goto(url + "/auth/sign-in")
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        violations = [
            v["id"] for v in Axe().run(page).response["violations"] if v["impact"] in SERIOUS
        ]
        assert violations == []
        page.screenshot(path=str(artifacts / f"staff-sign-in-{width}.png"))
        page.close()
