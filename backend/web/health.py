"""/healthz (the process answers) and /readyz (database reachable, schema current)."""

from __future__ import annotations

from sqlalchemy.exc import SQLAlchemyError
from starlette.requests import Request
from starlette.responses import JSONResponse

from backend.migrations import pending_message


async def healthz(request: Request) -> JSONResponse:
    return JSONResponse({"status": "alive"})


async def readyz(request: Request) -> JSONResponse:
    engine = request.app.state.engine
    try:
        async with engine.connect() as connection:
            pending = await connection.run_sync(pending_message)
    except (SQLAlchemyError, OSError):
        # Never echo the driver's message: it can carry host names and user names.
        return JSONResponse({"status": "not ready", "reason": "database unreachable"}, 503)
    if pending:
        return JSONResponse({"status": "not ready", "reason": pending}, 503)
    return JSONResponse({"status": "ready"})
