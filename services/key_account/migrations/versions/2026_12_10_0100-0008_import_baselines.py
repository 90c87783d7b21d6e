"""Import baselines: what each import source last sent per record, so a
re-import (a bulk upsert with a `source`) merges three ways and never undoes
work done in the CRM since (sanlun.kernel.baselines).

Revision ID: ka_0008
Revises: ka_0007
Create Date: 2026-12-10 01:00:00
"""

from alembic import op

from sanlun.kernel.baselines import create_baselines_table, drop_baselines_table

revision = "ka_0008"
down_revision = "ka_0007"
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    create_baselines_table(op, SCHEMA)


def downgrade() -> None:
    drop_baselines_table(op, SCHEMA)
