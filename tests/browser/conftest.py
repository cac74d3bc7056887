"""A live server (uvicorn on 127.0.0.1, random port) and Debian's Chromium via Playwright."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright

from backend.app import create_app
from backend.db import make_engine
from backend.demo.seed import seed_demo
from backend.migrations import upgrade_to_head
from backend.settings import Settings

CHROMIUM = os.environ.get("P360_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def live_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    var = tmp_path_factory.mktemp("browser-var")
    settings = Settings(env="test", var_dir=var, database_url=f"sqlite:///{var}/p360.db")
    upgrade_to_head(settings.database_url)
    engine = make_engine(settings.database_url)
    seed_demo(
        engine, patients_count=25, seed=1, today=date(2026, 11, 1), secret_key=settings.secret()
    )
    engine.dispose()
    with running_server(settings) as url:
        yield url


@contextlib.contextmanager
def running_server(settings: Settings, port: int | None = None) -> Iterator[str]:
    """The app on uvicorn in a thread on 127.0.0.1 (``port``, or a free one); yields its
    base URL."""
    port = port or _free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline:
            pytest.fail("uvicorn did not start within 20 s", pytrace=False)
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make chromium`", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--no-first-run",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


def page_errors(page: Page) -> list[str]:
    """Collect the page's script errors and CSP violations as they happen.

    Chromium logs every 4xx answer as "Failed to load resource"; refusals (401, 404,
    422) are deliberate in these tests, so those lines do not count.
    """
    found: list[str] = []
    page.on(
        "console",
        lambda m: (
            found.append(m.text)
            if m.type == "error" and not m.text.startswith("Failed to load resource")
            else None
        ),
    )
    page.on("pageerror", lambda e: found.append(str(e)))
    return found
