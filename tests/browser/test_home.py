"""The landing page in a real browser: renders, is styled, fits a phone, no console errors."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Browser, ConsoleMessage, Page


def test_home_page_in_chromium(live_server: str, browser: Browser, artifacts: Path) -> None:
    for width, name in ((1280, "home-desktop.png"), (375, "home-phone.png")):
        page = browser.new_page(viewport={"width": width, "height": 800})
        errors = _console_errors(page)
        response = page.goto(live_server + "/")
        assert response is not None
        assert response.status == 200
        assert page.title() == "patient360"
        assert page.get_by_role("heading", name="patient360").is_visible()
        patients = page.locator(".facts dd").nth(3).inner_text()
        assert int(patients.replace(",", "")) >= 25  # the demo patients and near-duplicates
        # The stylesheet loaded through the CSP: the heading takes the accent colour.
        colour = page.eval_on_selector("h1", "el => getComputedStyle(el).color")
        assert colour == "rgb(11, 110, 105)"
        scroll_width = page.evaluate("document.documentElement.scrollWidth")
        assert scroll_width <= width, "the page scrolls sideways"
        page.get_by_role("link", name="/readyz").click()
        assert '"ready"' in page.content()
        page.go_back()
        page.screenshot(path=str(artifacts / name), full_page=True)
        assert errors == []
        page.close()


def _console_errors(page: Page) -> list[str]:
    """A list that fills with the text of each console error the page logs from now on."""
    errors: list[str] = []

    def collect(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(message.text)

    page.on("console", collect)
    return errors
