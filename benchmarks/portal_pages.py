"""Portal page latency under concurrent patients: ``python benchmarks/portal_pages.py``.

Starts the app in a uvicorn subprocess (one worker, no access log, P360_ENV=test so the
session cookie travels over plain http; a fresh migrated SQLite database in a temporary
folder, or ``--database-url``), opens one portal account through a real invite, signs
``--users`` browsers in (each its own session), then has them all fetch a page
``--rounds`` times at once. Then each user, signed in as a patient of their own, starts
the intake and has the "How to reach you" step fetched (GET) and saved (POST, a valid
answer: 303 to the next step) ``--rounds`` times, all at once. Prints the median and p95
latency per page. Every answer is
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


INTAKE_STEP = "contact"
INTAKE_ANSWERS = {
    "phone": "(617) 555-0134",
    "phone_type": "mobile",
    "email": "bench@example.org",
    "address_line1": "12 Elm St",
    "city": "Somerville",
    "state": "MA",
    "postal_code": "02143",
}
INTAKE_KEYS = ("GET intake step", "POST intake step")


def prepare(url: str, users: int) -> tuple[str, list[str]]:
    """Migrate; one patient with an appointment and a portal account (its e-mail), and
    ``users`` more patients with accounts for the intake (their e-mails)."""
    email = _patient(url, "Bench", appointment=True)
    return email, [_patient(url, f"Intake{n}", appointment=False) for n in range(users)]


_HASH: list[str] = []


def _patient(url: str, given: str, *, appointment: bool) -> str:
    from datetime import UTC, datetime, timedelta

    from backend.accounts.invites import issue_invite, redeem_invite
    from backend.accounts.passwords import hash_password
    from backend.db import make_engine, transaction
    from backend.migrations import upgrade_to_head
    from backend.patients.models import Patient
    from backend.scheduling.models import Appointment, ServiceType

    if appointment:
        upgrade_to_head(url)
    if not _HASH:  # argon2 is slow on purpose: one hash for every benchmark account
        _HASH.append(hash_password(PASSWORD))
    engine = make_engine(url)
    email = f"bench-{uuid.uuid4().hex[:8]}@example.org"
    with transaction(engine) as s:
        patient = Patient(
            id=uuid.uuid4(), given_name=given, family_name="Patient", birth_date=date(1980, 1, 1)
        )
        s.add(patient)
        s.flush()
        start = datetime.now(UTC) + timedelta(days=3)
        if appointment:
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
            password_hash=_HASH[0],
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
    port: int, email: str, intake_emails: list[str], rounds: int
) -> tuple[dict[str, list[float]], dict[str, int]]:
    base = f"http://127.0.0.1:{port}"
    clients = [await signed_in(base, email) for _ in intake_emails]
    timings: dict[str, list[float]] = {key: [] for key in (*PAGES, *INTAKE_KEYS)}
    failures = dict.fromkeys(timings, 0)
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
    patients = [await signed_in(base, e) for e in intake_emails]
    try:
        steps = [await _start_intake(c) for c in patients]
        await asyncio.gather(
            *(
                _intake_user(c, url, rounds, timings, failures)
                for c, url in zip(patients, steps, strict=True)
            )
        )
    finally:
        for client in patients:
            await client.aclose()
    return timings, failures


async def _start_intake(client: httpx.AsyncClient) -> str:
    """Start the intake; the URL of its contact step."""
    page = await client.get("/portal/intake")
    token = CSRF.search(page.text)
    assert token, "no CSRF token"
    answer = await client.post("/portal/intake", data={"csrf_token": token[1]})
    assert answer.status_code == 303, answer.status_code
    first = answer.headers["location"]
    return first.rsplit("/", 1)[0] + "/" + INTAKE_STEP


async def _intake_user(
    client: httpx.AsyncClient,
    url: str,
    rounds: int,
    timings: dict[str, list[float]],
    failures: dict[str, int],
) -> None:
    for _ in range(rounds):
        try:
            await _intake_round(client, url, timings, failures)
        except httpx.HTTPError:  # a dropped connection counts as a refusal, not a crash
            failures["GET intake step"] += 1


async def _intake_round(
    client: httpx.AsyncClient,
    url: str,
    timings: dict[str, list[float]],
    failures: dict[str, int],
) -> None:
    started = time.perf_counter()
    page = await client.get(url)
    timings["GET intake step"].append(time.perf_counter() - started)
    token = CSRF.search(page.text)
    if page.status_code != 200 or token is None or "How to reach you" not in page.text:
        failures["GET intake step"] += 1
        return
    started = time.perf_counter()
    saved = await client.post(url, data={**INTAKE_ANSWERS, "csrf_token": token[1]})
    timings["POST intake step"].append(time.perf_counter() - started)
    if saved.status_code != 303 or not saved.headers["location"].endswith("/emergency_contact"):
        failures["POST intake step"] += 1


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
        email, intake_emails = prepare(url, args.users)
        process, port = start(url)
        try:
            timings, failures = asyncio.run(measure(port, email, intake_emails, args.rounds))
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
