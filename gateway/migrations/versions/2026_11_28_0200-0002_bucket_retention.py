"""Index the retention pass deletes idle rate-limit buckets by.

Revision ID: gw_0002
Revises: gw_0001
Create Date: 2026-11-28 02:00:00
"""

from alembic import op

revision = "gw_0002"
down_revision = "gw_0001"
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_index("ix_rate_limit_buckets_updated_at", "rate_limit_buckets", ["updated_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_index("ix_rate_limit_buckets_updated_at", "rate_limit_buckets", schema=SCHEMA)
