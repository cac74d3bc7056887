"""The patient and the facts that identify and reach them."""

from __future__ import annotations

import enum
import uuid
from datetime import date, datetime
from typing import Any

from sqlalchemy import Float, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from backend.common.mixins import PatientRecord, Tracked
from backend.db import Base


class AdministrativeSex(enum.StrEnum):
    """FHIR administrative-gender: the sex recorded for administration and billing."""

    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class PatientStatus(enum.StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    DECEASED = "deceased"
    MERGED = "merged"  # folded into another record by the patient matcher; see IdentityLink


class Patient(Tracked, Base):
    """One patient record as a source knows it. Several may belong to one person until the
    master patient index links or merges them."""

    __tablename__ = "patient"
    __extra_table_args__ = (
        Index("ix_patient_family_name_given_name", "family_name", "given_name"),
    )

    given_name: Mapped[str] = mapped_column(String(100))
    middle_name: Mapped[str | None] = mapped_column(String(100), default=None)
    family_name: Mapped[str] = mapped_column(String(100))
    name_prefix: Mapped[str | None] = mapped_column(String(20), default=None)
    name_suffix: Mapped[str | None] = mapped_column(String(20), default=None)
    preferred_name: Mapped[str | None] = mapped_column(String(100), default=None)
    birth_date: Mapped[date | None] = mapped_column(default=None, index=True)
    sex: Mapped[AdministrativeSex] = mapped_column(default=AdministrativeSex.UNKNOWN)
    gender_identity: Mapped[str | None] = mapped_column(String(64), default=None)
    pronouns: Mapped[str | None] = mapped_column(String(32), default=None)
    language: Mapped[str] = mapped_column(String(16), default="en")  # BCP 47
    interpreter_needed: Mapped[bool] = mapped_column(default=False)
    race: Mapped[str | None] = mapped_column(String(64), default=None)
    ethnicity: Mapped[str | None] = mapped_column(String(64), default=None)
    marital_status: Mapped[str | None] = mapped_column(String(32), default=None)
    # --- FHIR round-trip: elements the columns above summarise ----------------------------
    # US Core birthsex extension (valueCode M / F / UNK): not the same fact as ``sex``.
    birth_sex: Mapped[str | None] = mapped_column(String(8), default=None)
    # US Core race / ethnicity extensions in full ({"ombCategory": [Coding], "detailed":
    # [Coding], "text": str}); ``race`` / ``ethnicity`` keep the text for lists and forms.
    race_detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    ethnicity_detail: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    # Patient.multipleBirth[x]: the boolean, or the birth order when the source gave one.
    multiple_birth: Mapped[bool | None] = mapped_column(default=None)
    multiple_birth_order: Mapped[int | None] = mapped_column(default=None)
    # Patient.extension entries no column holds (mothersMaidenName, birthPlace, Synthea
    # QALY/DALY ...), as FHIR Extension JSON, so export returns them unchanged.
    extensions: Mapped[list[Any] | None] = mapped_column(default=None)
    status: Mapped[PatientStatus] = mapped_column(default=PatientStatus.ACTIVE, index=True)
    deceased_at: Mapped[datetime | None] = mapped_column(default=None)
    # The site that registered the patient: front-desk staff are scoped by location.
    home_location_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("location.id", ondelete="SET NULL"), default=None, index=True
    )

    contact_points: Mapped[list[ContactPoint]] = relationship(
        lazy="raise", back_populates="patient"
    )
    addresses: Mapped[list[Address]] = relationship(lazy="raise", back_populates="patient")
    identifiers: Mapped[list[PatientIdentifier]] = relationship(
        lazy="raise", back_populates="patient"
    )
    emergency_contacts: Mapped[list[EmergencyContact]] = relationship(
        lazy="raise", back_populates="patient"
    )


class ContactSystem(enum.StrEnum):
    PHONE = "phone"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    EMAIL = "email"


class ContactUse(enum.StrEnum):
    HOME = "home"
    WORK = "work"
    MOBILE = "mobile"
    TEMP = "temp"
    OLD = "old"


class ContactPoint(PatientRecord, Base):
    """A phone number or address to reach the patient on one channel."""

    __tablename__ = "contact_point"
    __extra_table_args__ = (Index("ix_contact_point_system_value", "system", "value"),)

    system: Mapped[ContactSystem]
    value: Mapped[str] = mapped_column(String(255))  # phones in E.164, e-mail lower-cased
    use: Mapped[ContactUse | None] = mapped_column(default=None)
    rank: Mapped[int] = mapped_column(default=1)  # 1 = preferred within its system
    verified: Mapped[bool] = mapped_column(default=False)
    verified_at: Mapped[datetime | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)

    patient: Mapped[Patient] = relationship(lazy="raise", back_populates="contact_points")


class AddressUse(enum.StrEnum):
    HOME = "home"
    WORK = "work"
    TEMP = "temp"
    OLD = "old"
    BILLING = "billing"


class Address(PatientRecord, Base):
    __tablename__ = "address"
    __extra_table_args__ = (Index("ix_address_postal_code", "postal_code"),)

    use: Mapped[AddressUse] = mapped_column(default=AddressUse.HOME)
    line1: Mapped[str] = mapped_column(String(200))
    line2: Mapped[str | None] = mapped_column(String(200), default=None)
    city: Mapped[str] = mapped_column(String(100))
    district: Mapped[str | None] = mapped_column(String(100), default=None)  # county
    state: Mapped[str | None] = mapped_column(String(64), default=None)
    postal_code: Mapped[str | None] = mapped_column(String(16), default=None)
    country: Mapped[str] = mapped_column(String(2), default="US")  # ISO 3166-1 alpha-2
    period_start: Mapped[date | None] = mapped_column(default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)  # None: still lives there
    # FHIR geolocation extension on Address (WGS84 degrees).
    latitude: Mapped[float | None] = mapped_column(Float, default=None)
    longitude: Mapped[float | None] = mapped_column(Float, default=None)

    patient: Mapped[Patient] = relationship(lazy="raise", back_populates="addresses")


class IdentifierKind(enum.StrEnum):
    MRN = "mrn"
    MEMBER_ID = "member_id"  # insurance member id
    SSN = "ssn"
    DRIVERS_LICENSE = "drivers_license"
    PASSPORT = "passport"
    CRM_ID = "crm_id"
    OTHER = "other"


class PatientIdentifier(PatientRecord, Base):
    """An identifier a source system gave the patient.

    SSNs are never stored: ``value`` stays empty and ``value_hash`` holds a keyed hash
    (see :mod:`backend.patients.identifiers`) with ``last4`` for humans to confirm.
    """

    __tablename__ = "patient_identifier"
    __extra_table_args__ = (
        Index("ix_patient_identifier_system_value", "system", "value"),
        Index("ix_patient_identifier_value_hash", "value_hash"),
    )

    kind: Mapped[IdentifierKind]
    system: Mapped[str] = mapped_column(String(255))  # URI or source-system name
    value: Mapped[str | None] = mapped_column(String(128), default=None)
    value_hash: Mapped[str | None] = mapped_column(String(64), default=None)
    last4: Mapped[str | None] = mapped_column(String(4), default=None)
    assigner: Mapped[str | None] = mapped_column(String(200), default=None)
    period_end: Mapped[date | None] = mapped_column(default=None)
    # Identifier.type as sent (v2-0203: MR, SS, DL, PPN, MB ...); ``kind`` is coarser.
    type_code: Mapped[str | None] = mapped_column(String(16), default=None)

    patient: Mapped[Patient] = relationship(lazy="raise", back_populates="identifiers")


class EmergencyContact(PatientRecord, Base):
    __tablename__ = "emergency_contact"

    name: Mapped[str] = mapped_column(String(200))
    relationship_to_patient: Mapped[str] = mapped_column(String(64))  # FHIR v2-0131 / free text
    phone: Mapped[str | None] = mapped_column(String(32), default=None)
    email: Mapped[str | None] = mapped_column(String(255), default=None)
    is_primary: Mapped[bool] = mapped_column(default=True)

    patient: Mapped[Patient] = relationship(lazy="raise", back_populates="emergency_contacts")
