"""Per-request GraphQL context: the caller, the policy in force, loaders, the read log.

Built in ``get_context`` for every request. DataLoaders live here and nowhere else: a
module-level loader would cache one caller's (masked) records and serve them to the
next request.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypedDict, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from backend.access.policy import CompiledPolicy, policy_store
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.api.errors import domain_errors, unauthenticated
from backend.auth.routes import current_principal
from backend.common.mixins import utcnow
from backend.forms.records import FormDefinitionView
from backend.forms.service import get_form_definitions
from backend.record.categories import CATEGORIES, Category, RecordKind
from backend.settings import Settings

T = TypeVar("T")
V = TypeVar("V")


class Change(TypedDict):
    """What every change service takes besides its own input, handed over as ``**change``
    by :meth:`ApiContext.change` (mypy checks the unpacking against the service)."""

    session: Session
    principal: Principal
    policy: CompiledPolicy
    request_id: str
    now: datetime


@dataclass
class ApiContext:
    request: Request
    principal: Principal | None
    policy: CompiledPolicy
    now: datetime
    request_id: str
    reads: ReadLog = field(default_factory=ReadLog)
    # One loader per category of the record (backend/record/categories.py), keyed by
    # patient id: a page of patients costs one query per category read. Made on first
    # use: most requests read a few categories, and building all 34 cost every request.
    loaders: dict[RecordKind, DataLoader[uuid.UUID, list[Any] | None]] = field(default_factory=dict)
    _form_definitions: DataLoader[uuid.UUID, FormDefinitionView | None] | None = None

    def loader(self, kind: RecordKind) -> DataLoader[uuid.UUID, list[Any] | None]:
        found = self.loaders.get(kind)
        if found is None:
            found = self.loaders[kind] = DataLoader(load_fn=self._batch(CATEGORIES[kind].list))
        return found

    @property
    def form_definitions(self) -> DataLoader[uuid.UUID, FormDefinitionView | None]:
        if self._form_definitions is None:
            self._form_definitions = DataLoader(load_fn=self._definitions)
        return self._form_definitions

    async def records(self, category: Category[V], patient_id: uuid.UUID) -> list[V] | None:
        """A patient's records of ``category`` (batched); None when it is withheld."""
        found: list[V] | None = await self.loader(category.kind).load(patient_id)
        return found

    @property
    def caller(self) -> Principal:
        """The principal, or UNAUTHENTICATED for resolvers that need one."""
        if self.principal is None:
            raise unauthenticated()
        return self.principal

    async def run(self, work: Callable[[Session], T]) -> T:
        """Run a synchronous service function in one transaction of its own.

        A domain outcome (not found, forbidden, bad input, conflict) rolls the
        transaction back and reaches the client as its error code: the one mapping
        every resolver shares (:func:`backend.api.errors.domain_errors`).
        """
        factory: async_sessionmaker[AsyncSession] = self.request.app.state.sessions
        with domain_errors():
            async with factory() as session, session.begin():
                return await session.run_sync(work)

    async def change(self, principal: Principal, work: Callable[[Change], T]) -> T:
        """Run a change service in a transaction of its own (:meth:`run`), handing it the
        request's session, policy, request id and clock with ``principal``.

        ``principal`` is the caller the resolver took from :attr:`caller` *before* it
        parsed any input: an unauthenticated call answers UNAUTHENTICATED whatever else
        is wrong with it, so that step stays first and in sight in every resolver.
        """
        return await self.run(
            lambda s: work(
                Change(
                    session=s,
                    principal=principal,
                    policy=self.policy,
                    request_id=self.request_id,
                    now=self.now,
                )
            )
        )

    def _batch(
        self, service: Callable[..., dict[uuid.UUID, list[V]] | None]
    ) -> Callable[[list[uuid.UUID]], Awaitable[Sequence[list[V] | None]]]:
        async def load(keys: list[uuid.UUID]) -> Sequence[list[V] | None]:
            principal = self.caller
            found = await self.run(
                lambda s: service(
                    session=s,
                    principal=principal,
                    policy=self.policy,
                    patient_ids=keys,
                    log=self.reads,
                    now=self.now,
                )
            )
            if found is None:  # the whole category is withheld from this caller
                return [None] * len(keys)
            return [found.get(key, []) for key in keys]

        return load

    async def _definitions(self, keys: list[uuid.UUID]) -> Sequence[FormDefinitionView | None]:
        principal = self.caller
        found = await self.run(
            lambda s: get_form_definitions(
                session=s, principal=principal, policy=self.policy, definition_ids=keys
            )
        )
        return [found.get(key) for key in keys]


async def build_context(request: Request) -> ApiContext:
    settings: Settings = request.app.state.settings
    return ApiContext(
        request=request,
        principal=await current_principal(request),
        policy=policy_store(settings.policies_dir).current(),
        now=utcnow(),
        request_id=uuid.uuid4().hex,
    )
