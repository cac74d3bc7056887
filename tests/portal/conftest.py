"""Portal fixtures: a committed clinic per database, a real SMTP server, an HTTP client.

The app under test has its own connections, so HTTP tests use a committed world in a
database of their own (counting tests elsewhere never see it). Mail goes over real SMTP
to an aiosmtpd server on 127.0.0.1 that keeps every message it receives.
"""

from __future__ import annotations

import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from email import message_from_bytes
from email.message import Message
from typing import Any

import httpx2
import pytest
from aiosmtpd.controller import Controller
from pydantic import SecretStr
from sqlalchemy import Engine
from starlette.testclient import TestClient

from backend.app import create_app
from backend.db import make_engine, transaction
from backend.migrations import upgrade_to_head
from backend.models import metadata
from backend.settings import Settings
from tests.conftest import BACKENDS
from tests.portal.world import PASSWORD, PortalWorld, build_world

SECRET = "portal-tests-secret-" + "k" * 40
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')


class Mailbox:
    """An aiosmtpd handler that keeps what it receives."""

    def __init__(self) -> None:
        self.messages: list[Message] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(message_from_bytes(envelope.original_content or envelope.content))
        return "250 Message accepted for delivery"

    def wait_for(self, to: str, timeout: float = 10.0) -> Message:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for message in self.messages:
                if message["To"] == to:
                    return message
            time.sleep(0.05)
        raise AssertionError(f"no mail to {to} within {timeout} s")

    def to(self, address: str) -> list[Message]:
        return [m for m in self.messages if m["To"] == address]


def text_of(message: Message) -> str:
    """The decoded body of a single-part message (every mail the portal sends is one)."""
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes), "expected a single-part message"
    return payload.decode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    port = free_port()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    yield box, port
    controller.stop()


def portal_settings(db_url: str, smtp_port: int, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "database_url": db_url,
        "secret_key": SecretStr(SECRET),
        "smtp_host": "127.0.0.1",
        "smtp_port": smtp_port,
        "public_url": "http://portal.test",
        **extra,
    }
    return Settings(**values)


@pytest.fixture(scope="session", params=BACKENDS)
def portal_db_url(request: pytest.FixtureRequest, fresh_database_url: Any) -> str:
    url: str = fresh_database_url(request.param)
    if os.environ.get("P360_TEST_SCHEMA") == "metadata" and not os.environ.get("CI"):
        engine = make_engine(url)
        metadata.create_all(engine)
        engine.dispose()
    else:
        upgrade_to_head(url)
    return url


@pytest.fixture(scope="session")
def portal_engine(portal_db_url: str) -> Iterator[Engine]:
    engine = make_engine(portal_db_url)
    yield engine
    engine.dispose()


@pytest.fixture
def world(portal_engine: Engine) -> PortalWorld:
    """A fresh committed world per test: sign-in throttles and histories never leak."""
    with transaction(portal_engine) as s:
        return build_world(s)


@pytest.fixture
def settings(portal_db_url: str, mailbox: tuple[Mailbox, int]) -> Settings:
    return portal_settings(portal_db_url, mailbox[1])


def new_address() -> str:
    n = uuid.uuid4().int
    return f"10.{n % 250}.{(n >> 8) % 250}.{(n >> 16) % 250}"


@pytest.fixture
def http(settings: Settings) -> Iterator[Callable[..., TestClient]]:
    """``http(address=None)``: a client from its own address, closed after the test."""
    opened: list[TestClient] = []

    def make(address: str | None = None) -> TestClient:
        client = TestClient(
            create_app(settings),
            client=(address or new_address(), 40000),
            follow_redirects=False,
        )
        client.__enter__()
        opened.append(client)
        return client

    yield make
    for client in opened:
        client.__exit__(None, None, None)


def csrf_of(html: str) -> str:
    match = CSRF.search(html)
    assert match, "no CSRF token on the page"
    return match.group(1)


def sign_in(client: TestClient, email: str, password: str = PASSWORD) -> httpx2.Response:
    token = csrf_of(client.get("/portal/sign-in").text)
    return client.post(
        "/portal/sign-in", data={"email": email, "password": password, "csrf_token": token}
    )
