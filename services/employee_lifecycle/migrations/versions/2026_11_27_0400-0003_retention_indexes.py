"""Indexes the retention pass deletes by: delivered outbox rows by delivery
time, inbox rows by arrival.

Revision ID: el_0003
Revises: el_0002
Create Date: 2026-11-27 04:00:00
"""

from alembic import op

from sanlun.kernel.migrations import create_retention_indexes, drop_retention_indexes

revision = "el_0003"
down_revision = "el_0002"
branch_labels = None
depends_on = None

SCHEMA = "employee_lifecycle"


def upgrade() -> None:
    create_retention_indexes(op, SCHEMA)


def downgrade() -> None:
    drop_retention_indexes(op, SCHEMA)
