"""Indexes the retention pass deletes by: delivered outbox rows by delivery
time, inbox rows by arrival.

Revision ID: opp_0005
Revises: opp_0004
Create Date: 2026-11-27 04:00:00
"""

from alembic import op

from sanlun.kernel.migrations import create_retention_indexes, drop_retention_indexes

revision = "opp_0005"
down_revision = "opp_0004"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    create_retention_indexes(op, SCHEMA)


def downgrade() -> None:
    drop_retention_indexes(op, SCHEMA)
