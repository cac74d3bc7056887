"""Surveys and alumni pages in Chromium against uvicorn, on SQLite and PostgreSQL.

A survey answered from a one-time link with and without JavaScript, a testimonial
submitted and its publication consent revoked, axe-core (no serious or critical
violations) and a 375 px viewport without sideways scrolling on every new page.
Screenshots land in test-artifacts/.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, expect

from backend.db import make_engine, transaction
from backend.engagement.feedback import SurveyKind
from backend.engagement.surveys import SurveyLink, issue_survey_link
from tests.browser import test_portal as base
from tests.browser.conftest import page_errors
from tests.browser.test_portal import Portal
from tests.portal.test_alumni import Alumni, _alumni

# The portal server (per database) and browser context of the portal's browser tests.
portal = base.portal
context = base.context


def _link(portal: Portal, key: str = "ana") -> SurveyLink:
    engine = make_engine(portal.db_url)
    try:
        with transaction(engine) as s:
            return issue_survey_link(
                s,
                patient_id=portal.world.patients[key],
                kind=SurveyKind.VISIT,
                valid_for=timedelta(days=14),
            )
    finally:
        engine.dispose()


@pytest.fixture(scope="module")
def alumni(portal: Portal) -> Alumni:
    engine = make_engine(portal.db_url)
    made = _alumni(engine, portal.world)
    engine.dispose()
    return made


def _answer(page: Page) -> None:
    page.get_by_role("group", name="How likely are you to recommend us").get_by_label(
        "9", exact=True
    ).check()
    page.get_by_label("Satisfied", exact=True).check()
    page.get_by_label("Anything else you want to tell us?").fill("Kind <b>staff</b>.")
    page.get_by_role("button", name="Send my answers").click()


def test_answer_a_survey_from_a_link_with_javascript(
    portal: Portal, context: BrowserContext, artifacts: Path
) -> None:
    link = _link(portal)
    page = context.new_page()
    errors = page_errors(page)
    page.goto(portal.url + link.path)
    page.evaluate("window.__same_document = true")
    # Nothing chosen: inline errors swapped in place.
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_role("alert")).to_contain_text("Nothing was sent yet")
    expect(page.get_by_text("Please choose an answer.").first).to_be_visible()
    assert page.evaluate("window.__same_document") is True
    page.screenshot(path=str(artifacts / "survey-errors-desktop.png"), full_page=True)
    _answer(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    assert page.url.endswith("/portal/survey/thanks")
    page.goto(portal.url + link.path)
    expect(page.get_by_role("heading", name="This survey cannot be answered")).to_be_visible()
    assert errors == []


def test_answer_a_survey_from_a_link_without_javascript(portal: Portal, browser: Browser) -> None:
    link = _link(portal)
    ctx = browser.new_context(java_script_enabled=False)
    page, stale = ctx.new_page(), ctx.new_page()
    stale.goto(portal.url + link.path)  # the same link open in a second tab
    page.goto(portal.url + link.path)
    page.get_by_role("button", name="Send my answers").click()
    expect(page.get_by_text("Please choose an answer.").first).to_be_visible()
    _answer(page)
    expect(page.get_by_role("heading", name="Thank you")).to_be_visible()
    # The second tab sends its answers too: nothing is written twice.
    _answer(stale)
    expect(stale.get_by_role("heading", name="This survey cannot be answered")).to_be_visible()
    ctx.close()


def test_submit_and_revoke_a_testimonial(
    portal: Portal, context: BrowserContext, alumni: Alumni, artifacts: Path
) -> None:
    page = context.new_page()
    errors = page_errors(page)
    base.sign_in(page, portal, portal.world.emails["ana"])
    page.get_by_role("navigation").get_by_role("link", name="Alumni").click()
    expect(page.get_by_role("heading", name="Upcoming events")).to_be_visible()
    page.evaluate("window.__same_document = true")
    page.get_by_role("button", name="Register for Thursday <b>circle</b>").click()
    expect(page.get_by_role("status")).to_have_text("You are registered. See you there!")
    story = page.get_by_role("region", name="Share your story")
    story.get_by_label("5", exact=True).check()
    story.get_by_label("Your testimonial").fill("The alumni circle kept me going.")
    story.get_by_label("Name to show with it (optional)").fill("Ana T.")
    story.get_by_label("I agree that the clinic may publish").check()
    story.get_by_role("button", name="Submit testimonial").click()
    expect(page.get_by_role("status")).to_contain_text("Thank you for your testimonial")
    expect(page.get_by_text("You agreed to publication on")).to_be_visible()
    page.get_by_role("button", name="Withdraw consent to publish").first.click()
    expect(page.get_by_role("status")).to_contain_text("Your consent is withdrawn")
    expect(page.get_by_text("You withdrew consent to publish on")).to_be_visible()
    assert page.evaluate("window.__same_document") is True
    assert errors == []
    # After the check: Playwright's screenshot styles trip the CSP and log errors.
    page.screenshot(path=str(artifacts / "alumni-desktop.png"), full_page=True)


def test_every_new_page_is_accessible_and_fits_a_phone(
    portal: Portal, browser: Browser, alumni: Alumni, artifacts: Path
) -> None:
    problems: list[str] = []
    for width in (375, 1280):
        open_link, in_portal = _link(portal), _link(portal)
        ctx = browser.new_context(viewport={"width": width, "height": 800})
        page = ctx.new_page()
        public = {
            "survey-link": open_link.path,
            "survey-thanks": "/portal/survey/thanks",
            "survey-closed": "/portal/survey/not-a-real-link",
        }
        for name, path in public.items():
            shot = artifacts / f"{name}-{width}.png"
            problems += base._check_page(page, portal.url + path, width, shot)
        # The errors state of the link form.
        page.goto(portal.url + open_link.path)
        page.get_by_role("button", name="Send my answers").click()
        expect(page.get_by_text("Please choose an answer.").first).to_be_visible()
        for violation in Axe().run(page).response["violations"]:
            if violation["impact"] in base.SERIOUS:
                problems.append(f"survey errors: {violation['id']} ({violation['impact']})")
        page.screenshot(path=str(artifacts / f"survey-errors-{width}.png"), full_page=True)
        base.sign_in(page, portal, portal.world.emails["ana"])
        expect(page.get_by_role("heading", name="Hello, Ana")).to_be_visible()
        private = {
            "surveys": "/portal/surveys",
            "survey-in-portal": f"/portal/surveys/{in_portal.invitation_id}",
            "alumni": "/portal/alumni",
        }
        for name, path in private.items():
            shot = artifacts / f"{name}-{width}.png"
            problems += base._check_page(page, portal.url + path, width, shot)
        ctx.close()
    assert problems == []
