"""patient_match_key: the (kind, value) index also holds patient_id (index-only lookups)

Revision ID: 7c2e91d4a0b3
Revises: 5fd4e950cde6
Create Date: 2026-11-21 22:55:00.000000
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "7c2e91d4a0b3"
down_revision: str | None = "5fd4e950cde6"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("patient_match_key", schema=None) as batch_op:
        batch_op.create_index(
            "ix_patient_match_key_lookup", ["kind", "value", "patient_id"], unique=False
        )
        batch_op.drop_index("ix_patient_match_key_kind_value")


def downgrade() -> None:
    with op.batch_alter_table("patient_match_key", schema=None) as batch_op:
        batch_op.create_index("ix_patient_match_key_kind_value", ["kind", "value"], unique=False)
        batch_op.drop_index("ix_patient_match_key_lookup")
