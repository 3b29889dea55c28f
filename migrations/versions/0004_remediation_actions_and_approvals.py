"""remediation actions and approvals

Proposed actions (through approval, execution and verification), the decisions on them,
policies stored through the API, and the global kill switch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-27 05:20:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "remediation_actions",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column(
            "incident_id",
            sa.String(32),
            sa.ForeignKey("incidents.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("dedup_key", sa.String(32), nullable=False, unique=True),
        sa.Column("policy", sa.String(128), nullable=False),
        sa.Column("owner", sa.String(128), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("target", sa.String(512), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("risk", sa.String(8), nullable=False),
        sa.Column("incident_kind", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("requested_by", sa.String(128), nullable=False),
        sa.Column("auto_approved", sa.Boolean(), nullable=False),
        sa.Column("required_approvals", sa.Integer(), nullable=False),
        sa.Column("approvers", sa.JSON(), nullable=False),
        sa.Column("approved_by", sa.JSON(), nullable=False),
        sa.Column("ttl_s", sa.Float(), nullable=False),
        sa.Column("escalate_to", sa.String(128), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("held", sa.Boolean(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result_status", sa.String(16), nullable=True),
        sa.Column("result_detail", sa.Text(), nullable=False),
        sa.Column("result_output", sa.JSON(), nullable=False),
        sa.Column("verdict", sa.Text(), nullable=False),
    )
    op.create_index("ix_remediation_actions_incident_id", "remediation_actions", ["incident_id"])
    op.create_index(
        "ix_remediation_actions_created_at_id", "remediation_actions", ["created_at", "id"]
    )
    op.create_index(
        "ix_remediation_actions_state_expires_at", "remediation_actions", ["state", "expires_at"]
    )
    op.create_table(
        "remediation_decisions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column(
            "action_id",
            sa.String(32),
            sa.ForeignKey("remediation_actions.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("actor", sa.String(128), nullable=False),
        sa.Column("verdict", sa.String(16), nullable=False),
        sa.Column("via", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("comment", sa.Text(), nullable=False),
    )
    op.create_index("ix_remediation_decisions_action_id", "remediation_decisions", ["action_id"])
    op.create_table(
        "remediation_policies",
        sa.Column("name", sa.String(128), primary_key=True),
        sa.Column("spec", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(128), nullable=False),
    )
    op.create_table(
        "remediation_kill_switch",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("engaged", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("changed_by", sa.String(128), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    op.drop_table("remediation_kill_switch")
    op.drop_table("remediation_policies")
    op.drop_index("ix_remediation_decisions_action_id", table_name="remediation_decisions")
    op.drop_table("remediation_decisions")
    op.drop_index("ix_remediation_actions_state_expires_at", table_name="remediation_actions")
    op.drop_index("ix_remediation_actions_created_at_id", table_name="remediation_actions")
    op.drop_index("ix_remediation_actions_incident_id", table_name="remediation_actions")
    op.drop_table("remediation_actions")
