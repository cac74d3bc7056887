"""The patient portal in Chromium against uvicorn, on SQLite and PostgreSQL.

Invite to account, sign in and out, throttling, password reset over real SMTP, consent
with and without JavaScript, the access log, keyboard-only use, axe-core (no serious or
critical violations on any page) and a 375 px viewport without sideways scrolling.
Screenshots land in test-artifacts/ (looked at by people, not asserted on).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect
from sqlalchemy import delete

from backend.accounts.invites import issue_invite
from backend.accounts.models import PortalAccount
from backend.db import make_engine, transaction
from backend.migrations import upgrade_to_head
from tests.browser.conftest import page_errors, running_server
from tests.conftest import BACKENDS
from tests.portal.conftest import Mailbox, free_port, portal_settings, text_of
from tests.portal.world import PASSWORD, PortalWorld, add_account, build_world

NEW_PASSWORD = "amber orchard lighthouse 9"
SERIOUS = {"serious", "critical"}


@dataclass
class Portal:
    url: str
    world: PortalWorld
    mailbox: Mailbox
    db_url: str


@pytest.fixture(scope="module", params=BACKENDS)
def portal(request: pytest.FixtureRequest, fresh_database_url: Any) -> Iterator[Portal]:
    db_url: str = fresh_database_url(request.param)
    upgrade_to_head(db_url)
    engine = make_engine(db_url)
    with transaction(engine) as s:
        world = build_world(s)
    engine.dispose()
    box = Mailbox()
    smtp_port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=smtp_port)
    controller.start()
    port = free_port()
    settings = portal_settings(db_url, smtp_port).model_copy(
        update={"public_url": f"http://127.0.0.1:{port}"}
    )
    with running_server(settings, port) as url:
        yield Portal(url, world, box, db_url)
    controller.stop()


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900})
    yield ctx
    ctx.close()


def sign_in(page: Page, portal: Portal, email: str, password: str = PASSWORD) -> None:
    page.goto(portal.url + "/portal/sign-in")
    page.get_by_label("E-mail address").fill(email)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_accept_an_invite_then_sign_out_and_in(portal: Portal, context: BrowserContext) -> None:
    engine = make_engine(portal.db_url)
    with transaction(engine) as s:
        s.execute(
            delete(PortalAccount).where(PortalAccount.patient_id == portal.world.patients["ben"])
        )
        path = issue_invite(
            session=s, patient_id=portal.world.patients["ben"], created_by_id=None
        ).path
    engine.dispose()
    page = context.new_page()
    errors = page_errors(page)
    page.goto(portal.url + path)
    page.get_by_label("Your birth date").fill("1979-11-03")
    page.get_by_label("E-mail address").fill("ben.browser@example.org")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Open my account").click()
    # htmx swapped the form with the error in place: no reload, nothing typed lost.
    expect(page.get_by_text("The birth date does not match our records.")).to_be_visible()
    expect(page.get_by_label("E-mail address")).to_have_value("ben.browser@example.org")
    page.get_by_label("Your birth date").fill("1979-11-02")
    page.get_by_label("New password", exact=True).fill(NEW_PASSWORD)
    page.get_by_label("New password again").fill(NEW_PASSWORD)
    page.get_by_role("button", name="Open my account").click()
    expect(page.get_by_role("heading", name="Hello, Ben")).to_be_visible()
    assert page.url == portal.url + "/portal"
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_text("You have signed out.")).to_be_visible()
    page.goto(portal.url + "/portal/care-plan")
    expect(page.get_by_text("Please sign in to continue.")).to_be_visible()
    sign_in(page, portal, "ben.browser@example.org", NEW_PASSWORD)
    expect(page.get_by_role("heading", name="Hello, Ben")).to_be_visible()
    page.goto(portal.url + path)
    expect(page.get_by_role("heading", name="This link does not work any more")).to_be_visible()
    assert errors == []


def fresh_account(portal: Portal, email: str) -> None:
    """Ben gets a new account under ``email`` (so tests that lock or reset it stand alone)."""
    engine = make_engine(portal.db_url)
    with transaction(engine) as s:
        ben = portal.world.patients["ben"]
        s.execute(delete(PortalAccount).where(PortalAccount.patient_id == ben))
        add_account(s, patient_id=ben, email=email, born=portal.world.birth_dates["ben"])
    engine.dispose()


def test_throttled_after_repeated_wrong_passwords(portal: Portal, context: BrowserContext) -> None:
    page = context.new_page()
    email = f"ben.throttled.{portal.world.tag}@example.org"
    fresh_account(portal, email)
    for _ in range(5):
        sign_in(page, portal, email, "not my password at all")
        expect(page.get_by_role("alert")).to_have_text(
            "The e-mail address or password is not right."
        )
    sign_in(page, portal, email)
    expect(page.get_by_role("alert")).to_contain_text("Too many attempts. Try again in")
    assert page.url.endswith("/portal/sign-in")


def test_password_reset_through_a_mailed_link(portal: Portal, context: BrowserContext) -> None:
    page = context.new_page()
    email = f"ben.reset.{portal.world.tag}@example.org"
    fresh_account(portal, email)
    page.goto(portal.url + "/portal/sign-in")
    page.get_by_role("link", name="Forgot your password?").click()
    page.get_by_label("E-mail address you sign in with").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    expect(page.get_by_role("status")).to_contain_text("If a portal account uses that address")
    message = portal.mailbox.wait_for(email)
    body = text_of(message)
    link = re.search(r"(http://127\.0\.0\.1:\d+/portal/reset/[A-Za-z0-9_-]+)", body)
    assert link, body
    page.goto(link.group(1))
    page.get_by_label("New password", exact=True).fill("fresh meadow river 12")
    page.get_by_label("New password again").fill("fresh meadow river 12")
    page.get_by_role("button", name="Set my new password").click()
    expect(page.get_by_text("Your password has been changed.")).to_be_visible()
    sign_in(page, portal, email, "fresh meadow river 12")
    expect(page.get_by_role("heading", name="Hello, Ben")).to_be_visible()


def test_change_consent_with_htmx_without_reload(
    portal: Portal, context: BrowserContext, artifacts: Path
) -> None:
    page = context.new_page()
    errors = page_errors(page)
    sign_in(page, portal, portal.world.emails["ana"])
    page.get_by_role("link", name="Contact preferences").click()
    page.evaluate("window.__same_document = true")
    marketing = page.locator("fieldset", has_text="Marketing").get_by_label("E-mail")
    expect(marketing).not_to_be_checked()
    marketing.check()
    page.get_by_label("Preferred channel").select_option("email")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")
    expect(page.get_by_text("Marketing by e-mail: allowed (was refused)")).to_be_visible()
    assert page.evaluate("window.__same_document") is True  # swapped in place, no reload
    page.get_by_label("Quiet from").fill("22:00")
    page.get_by_role("button", name="Save my preferences").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was saved")
    expect(page.get_by_text("Give both a start and an end, or neither.")).to_be_visible()
    assert page.evaluate("window.__same_document") is True
    page.screenshot(path=str(artifacts / "portal-preferences-desktop.png"), full_page=True)
    assert errors == []


def test_change_consent_without_javascript(portal: Portal, browser: Browser) -> None:
    ctx = browser.new_context(java_script_enabled=False)
    page = ctx.new_page()
    sign_in(page, portal, portal.world.emails["ana"])
    expect(page.get_by_role("heading", name="Hello, Ana")).to_be_visible()
    page.goto(portal.url + "/portal/preferences")
    page.locator("fieldset", has_text="Billing").get_by_label("Text message").uncheck()
    page.get_by_role("button", name="Save my preferences").click()
    assert page.url.endswith("/portal/preferences?saved=1")
    expect(page.get_by_text("Billing by text message: refused (was allowed)")).to_be_visible()
    ctx.close()


def test_the_access_log(portal: Portal, context: BrowserContext) -> None:
    page = context.new_page()
    sign_in(page, portal, portal.world.emails["ana"])
    page.get_by_role("navigation").get_by_role("link", name="Who looked at my record").click()
    expect(page.get_by_text("Viewed by a nurse")).to_be_visible()
    assert "Secretname" not in page.content()


def test_keyboard_only(portal: Portal, context: BrowserContext) -> None:
    page = context.new_page()
    page.goto(portal.url + "/portal/sign-in")
    page.keyboard.press("Tab")  # the skip link comes first
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    expect(page.get_by_label("E-mail address")).to_be_focused()
    page.keyboard.type(portal.world.emails["ana"])
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="Hello, Ana")).to_be_visible()
    link = page.get_by_role("link", name="Contact preferences")
    for _ in range(12):
        page.keyboard.press("Tab")
        if link.evaluate("el => el === document.activeElement"):
            break
    expect(link).to_be_focused()
    page.keyboard.press("Enter")
    box = page.locator("fieldset", has_text="Surveys").get_by_label("Phone call")
    box.focus()
    page.keyboard.press("Space")
    expect(box).not_to_be_checked()
    page.get_by_role("button", name="Save my preferences").focus()
    page.keyboard.press("Enter")
    expect(page.get_by_role("status")).to_have_text("Your preferences are saved.")


PUBLIC_PAGES = ("/portal/sign-in", "/portal/reset", "/portal/invite/not-a-real-link")
PRIVATE_PAGES = (
    "/portal",
    "/portal/appointments",
    "/portal/care-plan",
    "/portal/messages",
    "/portal/preferences",
    "/portal/access",
)


def _check_page(page: Page, url: str, width: int, shot: Path | None) -> list[str]:
    page.goto(url)
    problems = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > width:
        problems.append(f"{url} scrolls sideways at {width}px ({scroll}px)")
    results = Axe().run(page)
    for violation in results.response["violations"]:
        if violation["impact"] in SERIOUS:
            problems.append(f"{url}: {violation['id']} ({violation['impact']})")
    if shot is not None:
        page.screenshot(path=str(shot), full_page=True)
    return problems


def test_every_page_is_accessible_and_fits_a_phone(
    portal: Portal, browser: Browser, artifacts: Path
) -> None:
    problems: list[str] = []
    for width in (375, 1280):
        ctx = browser.new_context(viewport={"width": width, "height": 800})
        page = ctx.new_page()
        for path in PUBLIC_PAGES:
            name = path.strip("/").replace("/", "-")[:40]
            shot = artifacts / f"{name}-{width}.png" if width == 375 else None
            problems += _check_page(page, portal.url + path, width, shot)
        sign_in(page, portal, portal.world.emails["ana"])
        expect(page.get_by_role("heading", name="Hello, Ana")).to_be_visible()
        for path in PRIVATE_PAGES:
            name = path.strip("/").replace("/", "-")
            problems += _check_page(
                page, portal.url + path, width, artifacts / f"{name}-{width}.png"
            )
        ctx.close()
    assert problems == []
