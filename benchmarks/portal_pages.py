"""Portal page latency under concurrent patients: ``python benchmarks/portal_pages.py``.

Starts the app in a uvicorn subprocess (one worker, no access log, P360_ENV=test so the
session cookie travels over plain http; a fresh migrated SQLite database in a temporary
folder, or ``--database-url``), opens one portal account through a real invite, signs
``--users`` browsers in (each its own session), then has them all fetch a page
``--rounds`` times at once. Prints the median and p95 latency per page. Every answer is
checked (200 and the page's own heading) and refusals are counted, so a failing server
cannot look fast.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date
from pathlib import Path

import httpx2 as httpx

SECRET = "bench-secret-" + "s" * 40
PASSWORD = "bench portal password 1"  # noqa: S105 - a throwaway benchmark account
ROOT = Path(__file__).resolve().parents[1]
CSRF = re.compile(r'name="csrf_token" value="([0-9a-f]{64})"')
PAGES = {"/portal": "Hello, Bench", "/portal/preferences": "How we may contact you"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(url: str) -> str:
    """Migrate; one patient with an appointment and a portal account; its e-mail."""
    from datetime import UTC, datetime, timedelta

    from backend.accounts.invites import issue_invite, redeem_invite
    from backend.accounts.passwords import hash_password
    from backend.db import make_engine, transaction
    from backend.migrations import upgrade_to_head
    from backend.patients.models import Patient
    from backend.scheduling.models import Appointment, ServiceType

    upgrade_to_head(url)
    engine = make_engine(url)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    with transaction(engine) as s:
        patient = Patient(
            id=uuid.uuid4(), given_name="Bench", family_name="Patient", birth_date=date(1980, 1, 1)
        )
        s.add(patient)
        s.flush()
        start = datetime.now(UTC) + timedelta(days=3)
        s.add(
            Appointment(
                patient_id=patient.id,
                service_type=ServiceType.PSYCHIATRY,
                start_at=start,
                end_at=start + timedelta(minutes=50),
            )
        )
        invite = issue_invite(session=s, patient_id=patient.id, created_by_id=None)
        outcome = redeem_invite(
            session=s,
            token=invite.token,
            birth_date=date(1980, 1, 1),
            email=email,
            password_hash=hash_password(PASSWORD),
            address="127.0.0.1",
        )
        assert outcome.account_id is not None
    engine.dispose()
    return email


def serve(port: int) -> None:
    import uvicorn

    uvicorn.run(
        "backend.app:app_from_environment",
        factory=True,
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
    )


def start(url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "P360_ENV": "test", "P360_DATABASE_URL": url, "P360_SECRET_KEY": SECRET}
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--serve", "--port", str(port)], cwd=ROOT, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"server exited with {process.returncode}") from None
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError("server did not start")


async def signed_in(base: str, email: str) -> httpx.AsyncClient:
    client = httpx.AsyncClient(base_url=base, timeout=60)
    page = await client.get("/portal/sign-in")
    token = CSRF.search(page.text)
    assert token, "no CSRF token"
    answer = await client.post(
        "/portal/sign-in", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}
    )
    assert answer.status_code == 303, answer.status_code
    return client


async def measure(
    port: int, email: str, users: int, rounds: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    base = f"http://127.0.0.1:{port}"
    clients = [await signed_in(base, email) for _ in range(users)]
    timings: dict[str, list[float]] = {path: [] for path in PAGES}
    failures = dict.fromkeys(PAGES, 0)
    try:
        for path, heading in PAGES.items():

            async def user(
                client: httpx.AsyncClient, path: str = path, heading: str = heading
            ) -> None:
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = await client.get(path)
                    timings[path].append(time.perf_counter() - started)
                    if response.status_code != 200 or heading not in response.text:
                        failures[path] += 1

            await asyncio.gather(*(user(c) for c in clients))
    finally:
        for client in clients:
            await client.aclose()
    return timings, failures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--database-url")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.port)
        return
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        email = prepare(url)
        process, port = start(url)
        try:
            timings, failures = asyncio.run(measure(port, email, args.users, args.rounds))
        finally:
            process.terminate()
            process.wait(timeout=10)
        checked, chain_ok = verify_chain(url)
    print(f"{args.users} signed-in patients x {args.rounds} requests per page, one worker")
    for path, values in timings.items():
        values.sort()
        p95 = values[int(len(values) * 0.95) - 1]
        print(
            f"{path:24} median {statistics.median(values) * 1000:7.1f} ms   "
            f"p95 {p95 * 1000:7.1f} ms   ({len(values)} requests, {failures[path]} refused)"
        )

    print(f"audit chain: {checked} events, {'intact' if chain_ok else 'BROKEN'}")


def verify_chain(url: str) -> tuple[int, bool]:
    """``patient360 audit verify`` on the benchmark's database: concurrent appends must
    leave the hash chain intact."""
    from backend.access.audit import verify
    from backend.db import make_engine, transaction

    engine = make_engine(url)
    try:
        with transaction(engine) as session:
            result = verify(session)
    finally:
        engine.dispose()
    return result.checked, result.ok


if __name__ == "__main__":
    main()
