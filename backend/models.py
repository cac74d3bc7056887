"""Imports every domain's models so ``Base.metadata`` knows all tables.

Alembic, the demo seeder and the tests import this module; adding a domain means adding
its models here.
"""

from __future__ import annotations

from backend.access import models as access
from backend.accounts import models as accounts
from backend.auth import models as auth
from backend.billing import models as billing
from backend.careplans import models as careplans
from backend.clinical import models as clinical
from backend.db import Base
from backend.engagement import models as engagement
from backend.forms import models as forms
from backend.identity import models as identity
from backend.interop import models as interop
from backend.interop.hl7v2 import models as hl7v2
from backend.journey import models as journey
from backend.mpi import keys as mpi
from backend.organization import models as organization
from backend.patients import models as patients
from backend.scheduling import models as scheduling

DOMAINS = (
    accounts,
    auth,
    access,
    organization,
    patients,
    identity,
    mpi,
    journey,
    scheduling,
    clinical,
    billing,
    forms,
    engagement,
    careplans,
    interop,
    hl7v2,
)

metadata = Base.metadata

__all__ = ["DOMAINS", "Base", "metadata"]
