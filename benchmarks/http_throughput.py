"""A small cached GraphQL query over HTTP against a bare Starlette JSON endpoint:
``python benchmarks/http_throughput.py``.

Starts two uvicorn servers on 127.0.0.1 (random free ports, one subprocess each, the
same uvicorn settings: one worker, no access log): the real app (``create_app``,
production settings, a fresh migrated database with one physician) and a bare Starlette
app whose only route reads a JSON body and answers JSON. A bounded load generator
(httpx, async, a fixed number of requests at a fixed concurrency, loopback only) then
sends ``{ me { username } }`` with a bearer token to the first and the same body to
the second, in interleaved rounds, and prints requests per second for both and the
ratio. The generator runs on the same machine, so it competes with the server for CPU
in both measurements alike.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import httpx2 as httpx

if TYPE_CHECKING:  # the servers import Starlette in their own subprocess
    from starlette.applications import Starlette

QUERY = {"query": "query Me { me { username } }", "operationName": "Me"}
SECRET = "bench-secret-" + "s" * 40
ROOT = Path(__file__).resolve().parents[1]


# --- the servers (run in subprocesses) -----------------------------------------------


def bare_app() -> Starlette:
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    async def endpoint(request: Request) -> JSONResponse:
        body = await request.json()
        return JSONResponse({"data": {"me": {"username": "bench"}}, "echo": len(body)})

    return Starlette(routes=[Route("/graphql", endpoint, methods=["POST"])])


def serve(kind: str, port: int) -> None:
    import uvicorn

    app: str | Starlette = "backend.app:app_from_environment" if kind == "app" else bare_app()
    uvicorn.run(
        app,
        factory=kind == "app",
        host="127.0.0.1",
        port=port,
        access_log=False,
        log_level="warning",
    )


# --- the driver ------------------------------------------------------------------------


def server_cpu(pid: int) -> float:
    """CPU seconds (user + system) a server process has used so far. On a machine shared
    with other work, wall-clock throughput swings with the load; CPU per request does much
    less, so the ratio of the two servers' CPU per request is printed too (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def prepare(url: str) -> str:
    """Migrate, add one physician, and return a bearer token for them."""
    from pydantic import SecretStr

    from backend.accounts.models import StaffRole, StaffRoleAssignment, StaffUser
    from backend.auth.tokens import default_scopes, issue_access_token
    from backend.db import make_engine, transaction
    from backend.migrations import upgrade_to_head
    from backend.settings import Settings

    upgrade_to_head(url)
    settings = Settings(env="production", database_url=url, secret_key=SecretStr(SECRET))
    engine = make_engine(url)
    with transaction(engine) as s:
        user = StaffUser(id=uuid.uuid4(), username="bench-physician", display_name="Dr Bench")
        s.add(user)
        s.flush()
        s.add(StaffRoleAssignment(staff_user_id=user.id, role=StaffRole.PHYSICIAN))
        token = issue_access_token(
            session=s,
            settings=settings,
            staff_user_id=user.id,
            scopes=default_scopes(frozenset({str(StaffRole.PHYSICIAN)})),
            lifetime=timedelta(hours=1),
        ).access_token
    engine.dispose()
    return token


def start(kind: str, url: str) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {**os.environ, "P360_ENV": "production", "P360_DATABASE_URL": url}
    env["P360_SECRET_KEY"] = SECRET
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and script
        [sys.executable, __file__, "--serve", kind, "--port", str(port)], cwd=ROOT, env=env
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return process, port
        except OSError:
            if process.poll() is not None:
                raise RuntimeError(f"{kind} server exited with {process.returncode}") from None
            time.sleep(0.1)
    process.terminate()
    raise RuntimeError(f"{kind} server did not start")


async def load(port: int, token: str, requests: int, concurrency: int, expect: str) -> float:
    """Requests per second for ``requests`` POSTs at ``concurrency``; every answer is
    checked (200 and no GraphQL errors), so a failing server cannot look fast."""
    headers = {"Authorization": f"Bearer {token}"}
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    remaining = requests

    async with httpx.AsyncClient(
        base_url=f"http://127.0.0.1:{port}", headers=headers, limits=limits, timeout=30
    ) as client:

        async def worker() -> None:
            nonlocal remaining
            while remaining > 0:
                remaining -= 1
                response = await client.post("/graphql", json=QUERY)
                body = response.json()
                if response.status_code != 200 or body["data"]["me"]["username"] != expect:
                    raise RuntimeError(f"bad answer: {response.status_code} {body}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return requests / (time.perf_counter() - started)


async def load_raw(port: int, token: str, requests: int, concurrency: int, expect: str) -> float:
    """As :func:`load` with a minimal keep-alive HTTP/1.1 client on asyncio streams: httpx
    spends more CPU per request than a bare endpoint does, so with it the generator, not
    the server, can set the bare figure."""
    body = json.dumps(QUERY).encode()
    head = (
        f"POST /graphql HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Bearer {token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\n\r\n"
    ).encode()
    request = head + body
    marker = f'"username":"{expect}"'.encode()
    remaining = requests

    async def worker() -> None:
        nonlocal remaining
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while remaining > 0:
                remaining -= 1
                writer.write(request)
                status = await reader.readuntil(b"\r\n\r\n")
                length = next(
                    int(line.split(b":", 1)[1])
                    for line in status.split(b"\r\n")
                    if line.lower().startswith(b"content-length:")
                )
                answer = await reader.readexactly(length)
                if not status.startswith(b"HTTP/1.1 200") or marker not in answer.replace(
                    b" ", b""
                ):
                    raise RuntimeError(f"bad answer: {status[:12]!r} {answer[:200]!r}")
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return requests / (time.perf_counter() - started)


def measure(
    backend: str, url: str, requests: int, concurrency: int, rounds: int, client: str
) -> None:
    drive = load if client == "httpx" else load_raw
    token = prepare(url)
    servers = {kind: start(kind, url) for kind in ("app", "bare")}
    # The app names the token's user; the bare endpoint answers a constant.
    expect = {"app": "bench-physician", "bare": "bench"}
    try:
        rates: dict[str, list[float]] = {kind: [] for kind in servers}
        for kind, (_, port) in servers.items():  # warm-up: connections, caches, pools
            asyncio.run(drive(port, token, min(500, requests), concurrency, expect[kind]))
        cpu: dict[str, list[float]] = {kind: [] for kind in servers}
        for _ in range(rounds):
            for kind, (process, port) in servers.items():
                before = server_cpu(process.pid)
                rates[kind].append(
                    asyncio.run(drive(port, token, requests, concurrency, expect[kind]))
                )
                cpu[kind].append((server_cpu(process.pid) - before) / requests)
        app = statistics.median(rates["app"])
        bare = statistics.median(rates["bare"])
        for kind, label in (("app", "GraphQL me"), ("bare", "bare JSON")):
            each = ", ".join(f"{r:,.0f}" for r in rates[kind])
            print(
                f"{backend:<10} {label:<11} median {statistics.median(rates[kind]):8,.0f} req/s"
                f"   (rounds: {each})"
            )
        app_cpu, bare_cpu = (statistics.median(cpu[k]) * 1e6 for k in ("app", "bare"))
        print(
            f"{backend:<10} server CPU per request (median): GraphQL me {app_cpu:,.0f} us, "
            f"bare {bare_cpu:,.0f} us: ratio {100 * bare_cpu / app_cpu:.1f} % "
            "(what throughput would be on cores of their own)"
        )
        print(
            f"{backend:<10} GraphQL / bare: {100 * app / bare:.1f} % "
            f"({client} client, {requests:,} requests x {rounds} rounds, "
            f"concurrency {concurrency}; "
            "target >= 20 %)",
            flush=True,
        )
    finally:
        for process, _ in servers.values():
            process.terminate()
            process.wait(timeout=10)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=2000, help="per round and server")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument(
        "--client",
        choices=("httpx", "raw"),
        default="httpx",
        help="load generator: httpx.AsyncClient, or raw keep-alive HTTP/1.1 on asyncio streams",
    )
    parser.add_argument("--serve", choices=("app", "bare"), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.port)
        return
    # The driver shares database helpers with the 360 benchmark (same folder on sys.path).
    from graphql_patient360 import drop, fresh

    with tempfile.TemporaryDirectory() as tmp:
        for backend in args.backends.split(","):
            url, name = fresh(backend, Path(tmp))
            try:
                measure(backend, url, args.requests, args.concurrency, args.rounds, args.client)
            finally:
                drop(name)


if __name__ == "__main__":
    main()
