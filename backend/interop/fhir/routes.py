"""``POST /fhir`` (import a Bundle) and ``GET /fhir/Patient/{id}/$everything`` (export).

POST needs an OAuth2 client-credentials token with scope ``fhir:import``; the answer is
a ``transaction-response`` / ``batch-response`` Bundle, or an OperationOutcome (400)
naming entry and field path of every problem. GET answers what the caller may see; an
out-of-scope patient is the same 404 OperationOutcome as a missing one.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from backend.access import audit
from backend.access.models import AuditAction, AuditOutcome
from backend.access.policy import policy_store
from backend.access.principal import PrincipalKind
from backend.api.refusals import Refusal, audit_refused
from backend.auth.routes import current_principal
from backend.interop.fhir.exporter import everything
from backend.interop.fhir.importer import import_batch
from backend.interop.fhir.reader import ReadError, bundle_from_bytes
from backend.interop.fhir.report import BatchReport
from backend.patients.identifiers import ssn_key
from backend.settings import Settings

MAX_BODY_BYTES = 20 * 1024 * 1024
"""Largest Bundle accepted on POST /fhir; bulk loads use NDJSON files and the CLI."""
FHIR_JSON = "application/fhir+json"
IMPORT_SCOPE = "fhir:import"
IMPORT_OPERATION = "Fhir.importBundle"
"""What a refused import is audited as (the trail's ``Type.operation`` form)."""


def outcome(status: int, code: str, issues: list[tuple[str, str | None]]) -> JSONResponse:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {
                "severity": "error",
                "code": code,
                "diagnostics": text,
                **({"expression": [path]} if path else {}),
            }
            for text, path in issues
        ],
    }
    return JSONResponse(body, status_code=status, media_type=FHIR_JSON)


async def _run(request: Request, work: Any) -> Any:
    factory: async_sessionmaker[AsyncSession] = request.app.state.sessions
    async with factory() as session, session.begin():
        return await session.run_sync(work)


async def _body(request: Request) -> bytes | None:
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def response_bundle(report: BatchReport) -> dict[str, Any]:
    kind = "transaction-response" if report.kind == "transaction" else "batch-response"
    status = {"created": "201 Created", "updated": "200 OK", "unchanged": "200 OK"}
    status["raw"] = "202 Accepted"
    return {
        "resourceType": "Bundle",
        "type": kind,
        "entry": [
            {
                "response": {
                    "status": status[e.outcome],
                    "location": f"{e.resource_type}/{e.source_id}",
                }
            }
            for e in sorted(report.entries, key=lambda e: e.index)
        ],
    }


async def post_bundle(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    principal = await current_principal(request)
    if principal is None:
        return outcome(401, "login", [("a bearer token is required", None)])
    if principal.kind is not PrincipalKind.CLIENT or IMPORT_SCOPE not in principal.scopes:
        # Audited like any refused change; the body is never read, so nothing of it goes in.
        await audit_refused(
            request.app.state,
            principal=principal,
            policy=policy_store(settings.policies_dir).current(),
            refusal=Refusal(
                IMPORT_OPERATION,
                AuditAction.CREATE,
                AuditOutcome.DENIED,
                (f"token_scope:{IMPORT_SCOPE}",),
            ),
            client="fhir",
        )
        return outcome(403, "forbidden", [(f"the token lacks scope {IMPORT_SCOPE}", None)])
    body = await _body(request)
    if body is None:
        return outcome(413, "too-costly", [(f"body larger than {MAX_BODY_BYTES} bytes", None)])
    try:
        batch = bundle_from_bytes(body, label="request body")
    except ReadError as exc:
        return outcome(400, "structure", [(exc.message, None)])
    key = ssn_key(settings.secret())
    default_source = f"fhir-client:{principal.username}"

    def work(session: Session) -> BatchReport:
        report = import_batch(
            session=session,
            batch=batch,
            ssn_key=key,
            principal=principal,
            source_system=None if batch.meta_source else default_source,
        )
        if not report.ok:
            audit.record(
                session=session,
                principal=principal,
                action=AuditAction.CREATE,
                outcome=AuditOutcome.ERROR,
                record_types=sorted(report.counts),
                client="fhir",
            )
        return report

    report = await _run(request, work)
    if not report.ok:
        return outcome(400, "invalid", [(str(p), p.path) for p in report.problems])
    return JSONResponse(response_bundle(report), media_type=FHIR_JSON)


async def patient_everything(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    principal = await current_principal(request)
    if principal is None:
        return outcome(401, "login", [("sign in or send a bearer token", None)])
    try:
        patient_id = uuid.UUID(request.path_params["id"])
    except ValueError:
        return outcome(404, "not-found", [("no such patient", None)])
    policy = policy_store(settings.policies_dir).current()
    request_id = uuid.uuid4().hex
    bundle = await _run(
        request,
        lambda s: everything(
            session=s,
            principal=principal,
            policy=policy,
            patient_id=patient_id,
            request_id=request_id,
        ),
    )
    if bundle is None:
        return outcome(404, "not-found", [("no such patient", None)])
    return JSONResponse(bundle, media_type=FHIR_JSON)


def fhir_routes() -> list[BaseRoute]:
    return [
        Route("/fhir", post_bundle, methods=["POST"]),
        Route("/fhir/Patient/{id}/$everything", patient_everything, methods=["GET"]),
    ]
