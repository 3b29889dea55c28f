"""incident labels

The labels of an incident's first signals, kept on the incident as signals join it, so an
incident change is published with its labels without reading its signals back. Null on
incidents recorded before this revision: they are read from the signals once, when the
incident next changes.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-27 08:50:00
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.add_column(sa.Column("labels", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("incidents") as batch:
        batch.drop_column("labels")
