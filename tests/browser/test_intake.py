"""The intake in Chromium: with htmx and the keyboard alone at 375 px (axe-core on every
page, no sideways scrolling, a screenshot of each step), and with JavaScript off.

Screenshots land in test-artifacts/intake-*.png.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, Page, expect
from sqlalchemy import select

from backend.clinical.models import Assessment
from backend.db import make_engine, transaction
from backend.forms.models import FormResponse, ResponseStatus
from tests.browser.conftest import page_errors
from tests.browser.test_portal import (  # noqa: F401  (the module's server fixture)
    Portal,
    _check_page,
    portal,
    sign_in,
)
from tests.portal.intake_steps import STEP_IDS, STEPS

PHONE = 375


def _focused(page: Page, name: str, value: str | None = None) -> bool:
    found: bool = page.evaluate(
        "([name, value]) => { const el = document.activeElement;"
        " return !!el && el.name === name && (value === null || el.value === value); }",
        [name, value],
    )
    return found


def _tab_to(page: Page, name: str, value: str | None = None, limit: int = 80) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page, name, value):
            return
    raise AssertionError(f"Tab never reached {name}={value}")


def _checked(page: Page, name: str) -> str | None:
    found: str | None = page.evaluate(
        "name => { const el = document.querySelector(`input[name='${name}']:checked`);"
        " return el ? el.value : null; }",
        name,
    )
    return found


def keyboard_fill(page: Page, data: dict[str, Any]) -> None:
    """Answer a step with the keyboard alone, in page order (the data is in page order)."""
    for name, value in data.items():
        kind = page.locator(f"[name='{name}']").first.evaluate(
            "el => el.tagName === 'INPUT' ? el.type : el.tagName.toLowerCase()"
        )
        if kind == "checkbox":
            for code in value:
                _tab_to(page, name, code)
                page.keyboard.press("Space")
        elif kind == "radio":
            _tab_to(page, name)
            if _checked(page, name) is None:
                page.keyboard.press("Space")
            for _ in range(20):
                if _checked(page, name) == value:
                    break
                page.keyboard.press("ArrowDown")
            assert _checked(page, name) == value, name
        else:
            _tab_to(page, name)
            page.keyboard.press("Control+A")
            page.keyboard.type(value)


def _press_button(page: Page, label: str) -> None:
    for _ in range(80):
        page.keyboard.press("Tab")
        if page.evaluate("() => document.activeElement?.textContent?.trim()") == label:
            page.keyboard.press("Enter")
            return
    raise AssertionError(f"Tab never reached the {label!r} button")


def mouse_fill(page: Page, data: dict[str, Any]) -> None:
    for name, value in data.items():
        field = page.locator(f"[name='{name}']").first
        kind = field.evaluate("el => el.tagName === 'INPUT' ? el.type : 'text'")
        if kind in ("checkbox", "radio"):
            for code in value if isinstance(value, list) else [value]:
                page.locator(f"input[name='{name}'][value='{code}']").check()
        else:
            field.fill(value)


def test_intake_with_htmx_and_the_keyboard_alone_at_375px(
    portal: Portal,  # noqa: F811
    browser: Browser,
    artifacts: Path,
) -> None:
    ctx = browser.new_context(viewport={"width": PHONE, "height": 800})
    page = ctx.new_page()
    errors = page_errors(page)
    problems: list[str] = []
    sign_in(page, portal, portal.world.emails["ana"])
    expect(page.get_by_role("heading", name="Hello, Ana")).to_be_visible()
    problems += _check_page(
        page, portal.url + "/portal/intake", PHONE, artifacts / "intake-start.png"
    )
    _press_button(page, "Start my intake")
    expect(page.get_by_role("heading", name="About you")).to_be_visible()
    page.evaluate("window.__same_document = true")
    for number, step in enumerate(STEP_IDS, start=1):
        expect(page.locator("#progress-label")).to_contain_text(f"Step {number} of 12")
        keyboard_fill(page, STEPS[step])
        if step == "phq9":  # item 9 answered 2: the crisis line shows before saving
            expect(page.get_by_text("call or text 988").first).to_be_visible()
        page.screenshot(path=str(artifacts / f"intake-{number:02d}-{step}.png"), full_page=True)
        problems += _axe_and_width(page, step)
        _press_button(page, "Save and continue")
        if step != STEP_IDS[-1]:
            expect(page.locator("#progress-label")).to_contain_text(f"Step {number + 1} of 12")
        expect(page.locator("#step-heading")).to_be_focused()  # the new step, not <body>
    expect(page.get_by_role("heading", name="Check your answers")).to_be_visible()
    assert page.evaluate("window.__same_document") is True  # every step swapped in place
    assert page.url.endswith("/review")
    expect(page.get_by_text("call or text 988").first).to_be_visible()
    expect(page.get_by_text("PHQ-9 (mood)")).to_contain_text("10, Moderate")
    page.screenshot(path=str(artifacts / "intake-13-review.png"), full_page=True)
    problems += _axe_and_width(page, "review")
    _press_button(page, "Submit my intake")
    expect(page.get_by_role("heading", name="Thank you, your intake is submitted")).to_be_visible()
    page.screenshot(path=str(artifacts / "intake-14-done.png"), full_page=True)
    problems += _axe_and_width(page, "done")
    # A refused step at 375 px: inline errors, still accessible.
    assert problems == []
    assert errors == []
    ctx.close()


def _axe_and_width(page: Page, name: str) -> list[str]:
    from axe_playwright_python.sync_playwright import Axe

    found = []
    scroll = page.evaluate("document.documentElement.scrollWidth")
    if scroll > PHONE:
        found.append(f"{name} scrolls sideways ({scroll}px)")
    for violation in Axe().run(page).response["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            found.append(f"{name}: {violation['id']} ({violation['impact']})")
    return found


def test_intake_without_javascript(
    portal: Portal,  # noqa: F811
    browser: Browser,
    artifacts: Path,
) -> None:
    ctx = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 900})
    page = ctx.new_page()
    sign_in(page, portal, portal.world.emails["ben"])
    page.goto(portal.url + "/portal/intake")
    page.get_by_role("button", name="Start my intake").click()
    # A refused step first: the typed values stay, each error sits by its field.
    page.locator("[name='given_name']").fill("")
    page.locator("[name='birth_date']").fill("")
    page.get_by_role("button", name="Save and continue").click()
    expect(page.get_by_role("alert")).to_contain_text("Please correct the answers marked below.")
    expect(page.locator("#q-given_name-error")).to_have_text("This question is required.")
    page.screenshot(path=str(artifacts / "intake-errors-nojs.png"), full_page=True)
    page.locator("[name='birth_date']").fill("1979-11-02")
    for step in STEP_IDS:
        mouse_fill(page, STEPS[step])
        page.get_by_role("button", name="Save and continue").click()
        if step == "phq9":
            assert page.url.endswith("/gad7")  # a plain POST and a redirect
            expect(page.get_by_text("call or text 988")).to_be_visible()
    assert page.url.endswith("/review")
    page.get_by_role("button", name="Submit my intake").click()
    expect(page.get_by_role("heading", name="Thank you, your intake is submitted")).to_be_visible()
    # The next intake starts from the record: the emergency contact just submitted shows.
    page.goto(portal.url + "/portal/intake")
    page.get_by_role("button", name="Start my intake").click()
    page.goto(page.url.rsplit("/", 1)[0] + "/emergency_contact")
    expect(page.get_by_role("heading", name="Emergency contact")).to_be_visible()
    expect(page.get_by_label("Name")).to_have_value("Maria Tester")
    expect(page.get_by_label("Relationship to you")).to_have_value("Sibling")
    expect(page.get_by_label("Phone number")).to_have_value("+16175550199")
    page.screenshot(path=str(artifacts / "intake-prefilled-nojs.png"), full_page=True)
    ctx.close()
    engine = make_engine(portal.db_url)
    with transaction(engine) as s:
        ben = portal.world.patients["ben"]
        (response,) = s.scalars(
            select(FormResponse).where(
                FormResponse.patient_id == ben, FormResponse.status == ResponseStatus.COMPLETED
            )
        )
        assert response.status is ResponseStatus.COMPLETED
        totals = {
            a.instrument.value: a.total_score
            for a in s.scalars(select(Assessment).where(Assessment.patient_id == ben))
        }
        assert totals == {"phq9": 10, "gad7": 14}
    engine.dispose()
