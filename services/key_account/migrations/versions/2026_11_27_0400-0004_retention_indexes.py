"""Indexes the retention pass deletes by: delivered outbox rows by delivery
time, inbox rows by arrival.

Revision ID: ka_0004
Revises: ka_0003
Create Date: 2026-11-27 04:00:00
"""

from alembic import op

from sanlun.kernel.migrations import create_retention_indexes, drop_retention_indexes

revision = "ka_0004"
down_revision = "ka_0003"
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    create_retention_indexes(op, SCHEMA)


def downgrade() -> None:
    drop_retention_indexes(op, SCHEMA)
