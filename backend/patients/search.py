"""Search text -> SQL: accent- and case-insensitive names, dates, phones, e-mails, MRNs.

Accent folding needs no extension or extra column: PostgreSQL has ``translate`` (the
table below, then ``lower``); SQLite has neither ``translate`` nor a Unicode ``lower``
(and a chain of ``replace`` calls overflows its parser), so every SQLite connection gets
``p360_fold`` (registered in backend/db.py), the Python :func:`fold_text`.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from sqlalchemy import ColumnElement, String, and_, or_, select
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from backend.common.text import FOLD_FROM, FOLD_TO, SQLITE_FOLD, fold_text
from backend.patients.models import ContactPoint, ContactSystem, Patient, PatientIdentifier

MAX_SEARCH_CHARS = 200
_PHONE_CHARS = re.compile(r"^[+\d\s().-]+$")
_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")


class fold(FunctionElement[str]):
    """``fold(column)``: lower-case without accents, on PostgreSQL and SQLite alike."""

    type = String()
    inherit_cache = True


def _quoted(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


@compiles(fold, "postgresql")
def _fold_postgresql(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    inner = compiler.process(element.clauses, **kw)
    return f"lower(translate({inner}, {_quoted(FOLD_FROM)}, {_quoted(FOLD_TO)}))"


@compiles(fold, "sqlite")
def _fold_sqlite(element: fold, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_FOLD}({compiler.process(element.clauses, **kw)})"


def _like_escape(term: str) -> str:
    return term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _as_date(text: str) -> date | None:
    try:
        return date.fromisoformat(text)
    except ValueError:
        pass
    match = _US_DATE.match(text)
    if match:
        month, day, year = (int(g) for g in match.groups())
        try:
            return date(year, month, day)
        except ValueError:
            return None
    return None


def search_clause(text: str) -> ColumnElement[bool]:
    """WHERE clause on :class:`Patient` for one search box's text (already stripped)."""
    clauses: list[ColumnElement[bool]] = []
    tokens = [fold_text(t) for t in text.split() if t]
    if any(ch.isalpha() for ch in text):
        names = [
            fold(Patient.given_name),
            fold(Patient.family_name),
            fold(Patient.middle_name),
            fold(Patient.preferred_name),
        ]
        per_token = [
            or_(*(n.like(f"%{_like_escape(t)}%", escape="\\") for n in names)) for t in tokens
        ]
        clauses.append(and_(*per_token))
    born = _as_date(text)
    if born is not None:
        clauses.append(Patient.birth_date == born)
    if "@" in text and len(tokens) == 1:
        clauses.append(
            Patient.id.in_(
                select(ContactPoint.patient_id).where(
                    ContactPoint.system == ContactSystem.EMAIL,
                    ContactPoint.value == text.lower(),
                    ContactPoint.deleted_at.is_(None),
                )
            )
        )
    digits = re.sub(r"\D", "", text)
    if _PHONE_CHARS.match(text) and len(digits) >= 7:
        # Phones are stored in E.164; the caller may type any punctuation, with or
        # without the country code, so match on the trailing digits.
        clauses.append(
            Patient.id.in_(
                select(ContactPoint.patient_id).where(
                    ContactPoint.system.in_(
                        [ContactSystem.PHONE, ContactSystem.SMS, ContactSystem.WHATSAPP]
                    ),
                    ContactPoint.value.like(f"%{digits[-10:]}"),
                    ContactPoint.deleted_at.is_(None),
                )
            )
        )
    if len(tokens) == 1:
        clauses.append(
            Patient.id.in_(
                select(PatientIdentifier.patient_id).where(
                    PatientIdentifier.value == text,
                    PatientIdentifier.deleted_at.is_(None),
                )
            )
        )
    return or_(*clauses)
