"""Indexes for dates done right: lists filtered by the close date of closed
deals (`closed_from`/`closed_to`, sorted by id within the day) and the
pipeline's close months, which read `closed_on` for closed deals.

Revision ID: opp_0007
Revises: opp_0006
Create Date: 2026-12-03 13:00:00
"""

from alembic import op

revision = "opp_0007"
down_revision = "opp_0006"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    op.create_index("ix_opportunities_closed_on_id", "opportunities", ["closed_on", "id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_opportunities_closed_on_id", "opportunities", schema=SCHEMA)
