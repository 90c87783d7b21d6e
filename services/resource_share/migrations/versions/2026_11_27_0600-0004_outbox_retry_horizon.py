"""Outbox retries over a horizon instead of an attempt count: when a row first
failed (the horizon runs from there), and an index for the per-subscriber
backlog gauges, parking past the horizon and bulk replay.

Revision ID: rs_0004
Revises: rs_0003
Create Date: 2026-11-27 06:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "rs_0004"
down_revision = "rs_0003"
branch_labels = None
depends_on = None

SCHEMA = "resource_share"


def upgrade() -> None:
    op.add_column("outbox", sa.Column("first_failed_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.create_index(
        "ix_outbox_waiting",
        "outbox",
        ["subscriber", "status", "created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status IN ('pending', 'parked')"),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_waiting", "outbox", schema=SCHEMA)
    op.drop_column("outbox", "first_failed_at", schema=SCHEMA)
