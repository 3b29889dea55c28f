"""predictions and forecasts

Predictions from the learning loop (load forecasts, exhaustion forecasts, failure risks) and
the kind of an incident ("predicted" when a failure prediction opened it).

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-27 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "predictions",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("series", sa.Text(), nullable=True),
        sa.Column("probability", sa.Float(), nullable=False),
        sa.Column("lead_time_s", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_predictions")),
    )
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.create_index("ix_predictions_at_id", ["at", "id"], unique=False)
        batch_op.create_index(
            "ix_predictions_tenant_service_kind_at",
            ["tenant", "service", "kind", "at"],
            unique=False,
        )
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("kind", sa.String(length=16), server_default="detected", nullable=False)
        )


def downgrade() -> None:
    with op.batch_alter_table("incidents", schema=None) as batch_op:
        batch_op.drop_column("kind")
    with op.batch_alter_table("predictions", schema=None) as batch_op:
        batch_op.drop_index("ix_predictions_tenant_service_kind_at")
        batch_op.drop_index("ix_predictions_at_id")
    op.drop_table("predictions")
