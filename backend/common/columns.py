"""Helpers that declare groups of columns the same way everywhere."""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from sqlalchemy import String
from sqlalchemy.orm import Composite, composite, mapped_column

from backend.common.types import Code


def coded(prefix: str = "code", *, nullable: bool = False) -> Composite[Code]:
    """A (system, code, display) triple as one :class:`Code` attribute.

    Columns are named ``{prefix}_system``, ``{prefix}_code`` and ``{prefix}_display``, the
    same fields as a FHIR Coding, so import and export map one to one. A nullable code
    whose three columns are all NULL reads back as ``None``, not ``Code(None, None, None)``.
    """
    return composite(
        # The factory may return None; SQLAlchemy's stubs expect the class itself.
        cast("Callable[..., Code]", Code.from_columns) if nullable else Code,
        mapped_column(f"{prefix}_system", String(255), nullable=nullable),
        mapped_column(f"{prefix}_code", String(64), nullable=nullable, index=True),
        mapped_column(f"{prefix}_display", String(255), nullable=True),
    )
