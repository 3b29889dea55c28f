"""model versions and shadow runs

Model management (docs/learning.md): the newest model report of each series, numbered
detector configurations, shadow runs of a candidate beside the live version, each detect
worker's running totals of a shadow run, and the anomalies the shadow produced.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-27 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_records",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("tenant", sa.String(length=64), nullable=False),
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("model_type", sa.String(length=128), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("checkpoint_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reported_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_records")),
    )
    with op.batch_alter_table("model_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_model_records_tenant"), ["tenant"], unique=False)
        batch_op.create_index(batch_op.f("ix_model_records_service"), ["service"], unique=False)
    op.create_table(
        "detector_versions",
        sa.Column("version", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("detector", sa.String(length=32), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_detector_versions")),
    )
    with op.batch_alter_table("detector_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_detector_versions_status"), ["status"], unique=False)
    op.create_table(
        "shadow_runs",
        sa.Column("id", sa.String(length=32), nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=False),
        sa.Column("live_version", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_by", sa.String(length=128), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_by", sa.String(length=128), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["candidate_version"],
            ["detector_versions.version"],
            name=op.f("fk_shadow_runs_candidate_version_detector_versions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_runs")),
    )
    with op.batch_alter_table("shadow_runs", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_shadow_runs_candidate_version"), ["candidate_version"], unique=False
        )
        batch_op.create_index(batch_op.f("ix_shadow_runs_status"), ["status"], unique=False)
    op.create_table(
        "shadow_reports",
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("source", sa.String(length=128), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("live_firings", sa.Integer(), nullable=False),
        sa.Column("shadow_firings", sa.Integer(), nullable=False),
        sa.Column("both_firing_points", sa.Integer(), nullable=False),
        sa.Column("live_only_points", sa.Integer(), nullable=False),
        sa.Column("shadow_only_points", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["shadow_runs.id"],
            name=op.f("fk_shadow_reports_run_id_shadow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("run_id", "source", name=op.f("pk_shadow_reports")),
    )
    op.create_table(
        "shadow_anomalies",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("run_id", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("series", sa.Text(), nullable=False),
        sa.Column("service", sa.String(length=256), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.ForeignKeyConstraint(
            ["run_id"],
            ["shadow_runs.id"],
            name=op.f("fk_shadow_anomalies_run_id_shadow_runs"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_anomalies")),
    )
    with op.batch_alter_table("shadow_anomalies", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_shadow_anomalies_run_id"), ["run_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("shadow_anomalies", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_anomalies_run_id"))
    op.drop_table("shadow_anomalies")
    op.drop_table("shadow_reports")
    with op.batch_alter_table("shadow_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_shadow_runs_status"))
        batch_op.drop_index(batch_op.f("ix_shadow_runs_candidate_version"))
    op.drop_table("shadow_runs")
    with op.batch_alter_table("detector_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_detector_versions_status"))
    op.drop_table("detector_versions")
    with op.batch_alter_table("model_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_model_records_service"))
        batch_op.drop_index(batch_op.f("ix_model_records_tenant"))
    op.drop_table("model_records")
