"""HL7 v2 test helpers: fixture files, a listener on a real socket, an MLLP client."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import pytest
from sqlalchemy import Engine

from backend.db import make_engine
from backend.interop.hl7v2.listener import END, START, Listener, frame
from backend.interop.hl7v2.parse import split_messages
from backend.migrations import upgrade_to_head
from tests.conftest import BACKENDS

FIXTURES = Path(__file__).resolve().parents[3].parent / "shared" / "fixtures" / "hl7v2"
if not FIXTURES.exists():  # a worktree checkout sits one level deeper than /work/main
    FIXTURES = Path("/work/shared/fixtures/hl7v2")
T = TypeVar("T")
SECRET = "hl7-tests-secret-" + "s" * 40


def fixture_messages() -> list[tuple[str, int, str]]:
    """(file name, index in file, message) for every message of every fixture file."""
    found = []
    for path in sorted(FIXTURES.glob("*.hl7")):
        for n, message in enumerate(split_messages(path.read_text(encoding="utf-8")), start=1):
            found.append((path.name, n, message))
    return found


def fixture_text(name: str) -> str:
    return split_messages((FIXTURES / name).read_text(encoding="utf-8"))[0]


class MllpClient:
    """A sender: writes frames, reads ACK frames, over one TCP connection."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    async def send(self, message: str) -> str:
        self.writer.write(frame(message))
        await self.writer.drain()
        return await self.read_ack()

    async def read_ack(self) -> str:
        data = await asyncio.wait_for(self.reader.readuntil(END), 30)
        assert data.startswith(START), "an ACK frame starts with 0x0B"
        return data[1:-2].decode()

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


@pytest.fixture(scope="package", params=BACKENDS)
def feed_engine(
    request: pytest.FixtureRequest, fresh_database_url: Callable[[str], str]
) -> Iterator[Engine]:
    """A database of its own on each backend: what the listener commits stays here and
    cannot disturb the counts other test packages make on the shared database."""
    url = fresh_database_url(request.param)
    upgrade_to_head(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


def in_thread(scenario: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run an async scenario on a fresh event loop in a thread of its own.

    Not pytest-asyncio: the browser tests' session-wide Playwright (sync API) keeps an
    event loop marked running on the main thread, so no other loop may run there.
    """
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, scenario()).result(timeout=300)


@asynccontextmanager
async def serving(engine: Engine) -> AsyncIterator[tuple[Listener, MllpClient]]:
    """A listener on a free loopback port and one connected sender."""
    server = Listener(engine=engine, secret_key=SECRET, port=0)
    await server.start()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    sender = MllpClient(reader, writer)
    try:
        yield server, sender
    finally:
        await sender.close()
        await server.stop()


def msa(ack: str) -> list[str]:
    """MSA fields of an ACK: [MSA, code, control id, text?]."""
    line = next(s for s in ack.split("\r") if s.startswith("MSA|"))
    return line.split("|")


def err_segment(ack: str) -> str | None:
    return next((s for s in ack.split("\r") if s.startswith("ERR|")), None)
