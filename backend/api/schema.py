"""The staff GraphQL schema: queries, protections, and the ASGI app for ``/graphql``.

Resolvers are thin: parse arguments, call one service inside :meth:`ApiContext.run`,
convert views to types. Access is decided in the services; the schema only turns
service outcomes into error codes (once, in :meth:`ApiContext.run`).
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import orjson
import strawberry
from sqlalchemy.orm import Session
from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.extensions import MaskErrors
from strawberry.schema.config import StrawberryConfig
from strawberry.types import ExecutionContext, Info
from strawberry.types.graphql import OperationType

from backend.api.audit_writer import write_audit
from backend.api.context import ApiContext, build_context
from backend.api.errors import (
    ErrorCode,
    api_error,
    bad_input,
    not_found,
    should_mask,
)
from backend.api.mutations.careplans import CarePlanMutations
from backend.api.mutations.clinical import ClinicalMutations
from backend.api.mutations.engagement import EngagementMutations
from backend.api.mutations.feedback import FeedbackMutations
from backend.api.protections import QueryProtections, validation_rules
from backend.api.refusals import Refusal, record_refusal, refused_writes
from backend.api.types.alumni import AlumniMutations, AlumniQueries
from backend.api.types.audit import AuditQueries, BreakGlassMutations
from backend.api.types.hl7 import Hl7Mutations, Hl7Queries
from backend.api.types.identity import IdentityMutations, IdentityQueries
from backend.api.types.intake import IntakeMutations, IntakeQueries
from backend.api.types.patient import Me, Patient, PatientConnection
from backend.api.types.portal import InviteMutations, PortalQueries
from backend.patients.service import DEFAULT_PAGE_SIZE, get_patient, search_patients
from graphql import GraphQLError

logger = logging.getLogger(__name__)

MAX_DEPTH = 10  # counted from 0: today's deepest query (a search page's conditions' withheld) is 5
MAX_TOKENS = 2000
MAX_ALIASES = 15


def _patient_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError:
        raise bad_input("id", "is not a patient id") from None


@strawberry.type
class Query(AuditQueries, IdentityQueries, Hl7Queries, PortalQueries, AlumniQueries, IntakeQueries):
    @strawberry.field
    async def me(self, info: Info[ApiContext, None]) -> Me:
        ctx = info.context
        principal = ctx.caller
        return Me(
            username=principal.username,
            kind=principal.kind.value,
            roles=sorted(principal.roles),
            scopes=sorted(principal.scopes),
            policy_version=ctx.policy.version,
        )

    @strawberry.field
    async def patient(self, info: Info[ApiContext, None], id: strawberry.ID) -> Patient | None:
        ctx = info.context
        principal = ctx.caller
        patient_id = _patient_id(id)
        view = await ctx.run(
            lambda s: get_patient(
                session=s,
                principal=principal,
                policy=ctx.policy,
                patient_id=patient_id,
                now=ctx.now,
                log=ctx.reads,
            )
        )
        if view is None:
            raise not_found()
        return Patient.from_view(view)

    @strawberry.field
    async def patients(
        self,
        info: Info[ApiContext, None],
        search: str | None = None,
        first: int = DEFAULT_PAGE_SIZE,
        after: str | None = None,
    ) -> PatientConnection:
        ctx = info.context
        principal = ctx.caller
        page = await ctx.run(
            lambda s: search_patients(
                session=s,
                principal=principal,
                policy=ctx.policy,
                text=search,
                first=first,
                after=after,
                now=ctx.now,
                log=ctx.reads,
            )
        )
        return PatientConnection.from_page(page)


@strawberry.type
class Mutation(
    BreakGlassMutations,
    IdentityMutations,
    EngagementMutations,
    CarePlanMutations,
    ClinicalMutations,
    Hl7Mutations,
    InviteMutations,
    FeedbackMutations,
    AlumniMutations,
    IntakeMutations,
):
    pass


class AuditTrail(MaskErrors):
    """Writes the request's reads to the audit trail, one event per patient, and one
    event per refused change, before the response leaves. If the trail cannot be
    written, the data does not leave either.


    In production it also masks unexpected errors (Strawberry's ``MaskErrors`` rules,
    with :func:`should_mask`): one extension instead of two, as every extension costs
    every request its hook machinery. The schema has no streamed results, so only the
    operation's one result is masked.
    """

    def __init__(self, *, mask_errors: bool) -> None:
        super().__init__(should_mask_error=should_mask)
        self.mask_errors = mask_errors

    async def on_operation(self) -> AsyncIterator[None]:  # type: ignore[override]
        yield
        await self._audit()
        result = self.execution_context.result
        if self.mask_errors and result is not None and result.errors:
            result.errors = self._process_errors(list(result.errors))

    async def _audit(self) -> None:
        ctx = self.execution_context.context
        if not isinstance(ctx, ApiContext) or ctx.principal is None:
            return
        refusals: list[Refusal] = []
        if self.execution_context.operation_type is OperationType.MUTATION:
            refusals = refused_writes(self.execution_context.result)
        if not ctx.reads.entries and not refusals:
            return
        principal = ctx.principal

        def flush(session: Session) -> None:
            ctx.reads.flush(
                session=session,
                principal=principal,
                policy_version=ctx.policy.version,
                request_id=ctx.request_id,
                now=ctx.now,
            )
            for refusal in refusals:
                record_refusal(
                    session,
                    principal=principal,
                    policy=ctx.policy,
                    refusal=refusal,
                    client=None,
                    request_id=ctx.request_id,
                    now=ctx.now,
                )

        try:
            await write_audit(ctx.request.app.state, flush)
        except Exception as exc:
            logger.error("audit write failed (%s); response withheld", type(exc).__name__)
            result = self.execution_context.result
            if result is not None:
                result.data = None
                result.errors = [api_error(ErrorCode.INTERNAL, "Unexpected error.")]


class Schema(strawberry.Schema):
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        # Strawberry logs each error with its traceback; driver exceptions can quote SQL
        # parameters (patient data), so only the error's type and path are logged here.
        for error in errors:
            original = error.original_error
            if original is not None and not isinstance(original, GraphQLError):
                logger.error(
                    "unexpected %s at %s",
                    type(original).__name__,
                    ".".join(map(str, error.path or ())),
                )


def build_schema(
    *, production: bool, max_depth: int = MAX_DEPTH, query: type[Query] = Query
) -> Schema:
    """The schema with its protections; production adds error masking and hides the
    schema (no introspection, no "did you mean" suggestions)."""
    # Factories, not instances: each request gets fresh extension objects (they hold
    # the request's execution context). The limits, the parse and validation caches and
    # (in production) the introspection ban are one extension: six stock extensions
    # cost more per request than executing a small query (backend/api/protections.py).
    rules = validation_rules(
        max_depth=max_depth, max_aliases=MAX_ALIASES, introspection=not production
    )
    extensions: list[Any] = [
        lambda: QueryProtections(max_tokens=MAX_TOKENS, rules=rules),
        lambda: AuditTrail(mask_errors=production),
    ]
    return Schema(
        query=query,  # a subclass only in tests (a field that fails on purpose)
        mutation=Mutation,
        extensions=extensions,
        config=StrawberryConfig(disable_field_suggestions=production),
    )


class GraphQLApp(GraphQL[ApiContext, None]):
    async def render_graphql_ide(self, request: Request) -> Response:
        # Our own page (local assets, the app's CSP, a sign-in link) instead of
        # Strawberry's, which loads GraphiQL from a CDN with inline script.
        from backend.auth.pages import graphiql_page

        return await graphiql_page(request)

    # orjson: several times faster than the json module both ways, and the 360 query's
    # answer runs to megabytes. orjson.JSONDecodeError subclasses json.JSONDecodeError,
    # so a malformed body still gets Strawberry's 400.
    def decode_json(self, data: str | bytes) -> object:
        return orjson.loads(data)

    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> ApiContext:
        assert isinstance(request, Request)  # no subscriptions: websockets are refused
        return await build_context(request)


def graphql_app(*, development: bool, production: bool, max_depth: int = MAX_DEPTH) -> GraphQLApp:
    """The ASGI app for ``/graphql``: JSON POST only; GraphiQL in development only."""
    return GraphQLApp(
        build_schema(production=production, max_depth=max_depth),
        graphql_ide="graphiql" if development else None,
        allow_queries_via_get=False,
        subscription_protocols=(),
    )
