"""create_app(settings): the ASGI application, its middleware, mounts and lifespan."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from sqlalchemy import func, select
from sqlalchemy.engine import make_url
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from backend.api.audit_writer import AuditWriter
from backend.api.schema import graphql_app
from backend.auth.routes import auth_routes
from backend.db import async_session_factory, make_async_engine
from backend.interop.fhir.routes import fhir_routes
from backend.migrations import pending_message
from backend.patients.models import Patient
from backend.settings import Settings, get_settings
from backend.web.headers import SecurityHeaders
from backend.web.health import healthz, readyz
from backend.web.templating import TEMPLATES
from portal import redact
from portal.routes import portal_routes


async def home(request: Request) -> Response:
    settings: Settings = request.app.state.settings
    async with request.app.state.engine.connect() as connection:
        pending = await connection.run_sync(pending_message)
        patients = (
            0 if pending else await connection.scalar(select(func.count()).select_from(Patient))
        )
    url = make_url(settings.database_url)
    return TEMPLATES.TemplateResponse(
        request,
        "home.html",
        {
            "env": settings.env,
            "database": url.get_backend_name(),
            "schema": pending or "current",
            "patients": patients or 0,
        },
    )


async def favicon(request: Request) -> Response:
    # Browsers ask for /favicon.ico on pages without a <link rel=icon> (JSON, errors).
    settings: Settings = request.app.state.settings
    return FileResponse(settings.static_dir / "img" / "favicon.svg", media_type="image/svg+xml")


def create_app(settings: Settings) -> Starlette:
    redact.install()  # one-time link tokens never reach the access log

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        engine = make_async_engine(settings.database_url, pool_pre_ping=True)
        app.state.engine = engine
        app.state.sessions = async_session_factory(engine)
        app.state.audit_writer = AuditWriter(app.state.sessions)
        try:
            yield
        finally:
            await app.state.audit_writer.close()
            await engine.dispose()

    app = Starlette(
        debug=False,  # tracebacks never reach a client, in any environment
        routes=[
            # The staff GraphQL API: JSON POST; GraphiQL on GET in development only. First:
            # routes are matched in order, and it is the busiest.
            Route(
                "/graphql",
                graphql_app(
                    development=settings.env == "development", production=settings.is_production
                ),
            ),
            Route("/", home),
            Route("/favicon.ico", favicon),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            *auth_routes(),
            *fhir_routes(),
            *portal_routes(),  # patient portal pages under /portal
            Mount("/static", StaticFiles(directory=settings.static_dir), name="static"),
        ],
        middleware=[Middleware(SecurityHeaders, hsts=settings.is_production)],
        lifespan=lifespan,
    )
    app.state.settings = settings
    return app


def app_from_environment() -> Starlette:
    """uvicorn's factory: settings from the environment."""
    return create_app(get_settings())
