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
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.orm import Session
from starlette.requests import Request
from strawberry.dataloader import DataLoader

from backend.access.policy import CompiledPolicy, policy_store
from backend.access.principal import Principal
from backend.access.reads import ReadLog
from backend.api.errors import domain_errors, unauthenticated
from backend.auth.routes import current_principal
from backend.billing.records import CoverageView
from backend.billing.service import list_coverage
from backend.careplans.records import CarePlanView, GoalView, TaskView
from backend.careplans.service import list_care_plans, list_goals, list_tasks
from backend.clinical.records import (
    AllergyView,
    AssessmentView,
    ClinicalNoteView,
    ConditionView,
    MedicationView,
    ObservationView,
)
from backend.clinical.service import (
    list_allergies,
    list_assessments,
    list_clinical_notes,
    list_conditions,
    list_labs,
    list_medications,
)
from backend.common.mixins import utcnow
from backend.engagement.records import CommunicationView, ConsentView
from backend.engagement.service import list_communications, list_consents
from backend.scheduling.records import AppointmentView, EncounterView
from backend.scheduling.service import list_appointments, list_encounters
from backend.settings import Settings

T = TypeVar("T")
V = TypeVar("V")


@dataclass
class ApiContext:
    request: Request
    principal: Principal | None
    policy: CompiledPolicy
    now: datetime
    request_id: str
    reads: ReadLog = field(default_factory=ReadLog)
    conditions: DataLoader[uuid.UUID, list[ConditionView] | None] = field(init=False)
    appointments: DataLoader[uuid.UUID, list[AppointmentView] | None] = field(init=False)
    medications: DataLoader[uuid.UUID, list[MedicationView] | None] = field(init=False)
    allergies: DataLoader[uuid.UUID, list[AllergyView] | None] = field(init=False)
    labs: DataLoader[uuid.UUID, list[ObservationView] | None] = field(init=False)
    encounters: DataLoader[uuid.UUID, list[EncounterView] | None] = field(init=False)
    notes: DataLoader[uuid.UUID, list[ClinicalNoteView] | None] = field(init=False)
    assessments: DataLoader[uuid.UUID, list[AssessmentView] | None] = field(init=False)
    coverage: DataLoader[uuid.UUID, list[CoverageView] | None] = field(init=False)
    communications: DataLoader[uuid.UUID, list[CommunicationView] | None] = field(init=False)
    consents: DataLoader[uuid.UUID, list[ConsentView] | None] = field(init=False)
    care_plans: DataLoader[uuid.UUID, list[CarePlanView] | None] = field(init=False)
    goals: DataLoader[uuid.UUID, list[GoalView] | None] = field(init=False)
    tasks: DataLoader[uuid.UUID, list[TaskView] | None] = field(init=False)

    def __post_init__(self) -> None:
        self.conditions = DataLoader(load_fn=self._batch(list_conditions))
        self.appointments = DataLoader(load_fn=self._batch(list_appointments))
        self.medications = DataLoader(load_fn=self._batch(list_medications))
        self.allergies = DataLoader(load_fn=self._batch(list_allergies))
        self.labs = DataLoader(load_fn=self._batch(list_labs))
        self.encounters = DataLoader(load_fn=self._batch(list_encounters))
        self.notes = DataLoader(load_fn=self._batch(list_clinical_notes))
        self.assessments = DataLoader(load_fn=self._batch(list_assessments))
        self.coverage = DataLoader(load_fn=self._batch(list_coverage))
        self.communications = DataLoader(load_fn=self._batch(list_communications))
        self.consents = DataLoader(load_fn=self._batch(list_consents))
        self.care_plans = DataLoader(load_fn=self._batch(list_care_plans))
        self.goals = DataLoader(load_fn=self._batch(list_goals))
        self.tasks = DataLoader(load_fn=self._batch(list_tasks))

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


async def build_context(request: Request) -> ApiContext:
    settings: Settings = request.app.state.settings
    return ApiContext(
        request=request,
        principal=await current_principal(request),
        policy=policy_store(settings.policies_dir).current(),
        now=utcnow(),
        request_id=uuid.uuid4().hex,
    )
