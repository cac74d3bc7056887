"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Integer
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

# JSONB on PostgreSQL so later issues can index and query inside answers and raw resources.
JSONType = JSON().with_variant(JSONB(), "postgresql")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes, stored as UTC.

    SQLite has no timezone type and hands back naive values; normalising here means the
    rest of the code only ever sees aware UTC datetimes, whichever database is behind it.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; patient360 stores aware UTC datetimes only")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class LevelOfCare(enum.StrEnum):
    """Behavioural-health levels of care (ASAM/LOCUS style), in ASAM order plus extras.

    One enum for inquiries, admissions, discharges, encounters and prior authorizations,
    so a step-down or a length-of-stay report compares like with like. Stored by value in
    VARCHAR(32) columns without CHECK constraints: adding a value needs no migration.
    """

    EARLY_INTERVENTION = "early_intervention"  # ASAM 0.5
    OUTPATIENT = "outpatient"  # ASAM 1
    INTENSIVE_OUTPATIENT = "intensive_outpatient"  # ASAM 2.1
    PARTIAL_HOSPITALIZATION = "partial_hospitalization"  # ASAM 2.5
    RESIDENTIAL = "residential"  # ASAM 3.x
    INPATIENT = "inpatient"  # ASAM 4, medically managed
    WITHDRAWAL_MANAGEMENT = "withdrawal_management"  # detox, any ASAM WM level
    AFTERCARE = "aftercare"  # after discharge: check-ins, alumni support
    UNKNOWN = "unknown"


class Sensitivity(enum.IntFlag):
    """Sensitivity labels a record can carry; access rules read these (issue: access layer).

    A bit set rather than a label table: it filters in SQL on both databases with one
    bitwise AND and costs no join on every read path.
    """

    NONE = 0
    PART2 = 1  # substance-use-disorder record under 42 CFR Part 2
    PSYCHOTHERAPY = 2  # psychotherapy notes (HIPAA's separately protected class)
    RESTRICTED = 4  # anything else a clinic marks restricted (VIP, staff-as-patient ...)

    @property
    def labels(self) -> list[str]:
        return [flag.name.lower() for flag in Sensitivity if flag and flag in self and flag.name]


class SensitivityType(TypeDecorator[Sensitivity]):
    """Stores :class:`Sensitivity` as an integer bit set."""

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Sensitivity | int | None, dialect: Dialect) -> int:
        return int(value or 0)

    def process_result_value(self, value: int | None, dialect: Dialect) -> Sensitivity:
        return Sensitivity(value or 0)


@dataclass(frozen=True, slots=True)
class Code:
    """A coded concept as FHIR's Coding has it, so export loses nothing.

    system is a URI: http://loinc.org, http://snomed.info/sct, http://hl7.org/fhir/sid/icd-10-cm,
    http://www.nlm.nih.gov/research/umls/rxnorm, or a local system of the source.
    """

    system: str | None
    code: str | None
    display: str | None = None

    def __composite_values__(self) -> tuple[Any, ...]:
        return (self.system, self.code, self.display)

    @classmethod
    def from_columns(cls, system: str | None, code: str | None, display: str | None) -> Code | None:
        """Build from the three columns; all NULL means there is no code at all."""
        if system is None and code is None and display is None:
            return None
        return cls(system, code, display)


class CodeSystem:
    """The code systems the demo data and importers use, in one place."""

    LOINC = "http://loinc.org"
    SNOMED = "http://snomed.info/sct"
    ICD10 = "http://hl7.org/fhir/sid/icd-10-cm"
    RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
    CPT = "http://www.ama-assn.org/go/cpt"
    CVX = "http://hl7.org/fhir/sid/cvx"
    HCPCS = "http://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets"
    DICOM_DCM = "http://dicom.nema.org/resources/ontology/DCM"
    UCUM = "http://unitsofmeasure.org"
    NUCC = "http://nucc.org/provider-taxonomy"
