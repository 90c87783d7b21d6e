"""Outbox retries over a horizon instead of an attempt count: when a row first
failed (the horizon runs from there), and an index for the per-subscriber
backlog gauges, parking past the horizon and bulk replay.

Revision ID: opp_0006
Revises: opp_0005
Create Date: 2026-11-27 06:00:00
"""

from alembic import op

from sanlun.kernel.migrations import add_outbox_retry_horizon, drop_outbox_retry_horizon

revision = "opp_0006"
down_revision = "opp_0005"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    add_outbox_retry_horizon(op, SCHEMA)


def downgrade() -> None:
    drop_outbox_retry_horizon(op, SCHEMA)
