"""Import baselines: what each import source last sent per record, so a
re-import (a bulk upsert with a `source`) merges three ways and never undoes
work done in the CRM since (sanlun.kernel.baselines).

Revision ID: el_0006
Revises: el_0005
Create Date: 2026-12-10 01:00:00
"""

from alembic import op

from sanlun.kernel.baselines import create_baselines_table, drop_baselines_table

revision = "el_0006"
down_revision = "el_0005"
branch_labels = None
depends_on = None

SCHEMA = "employee_lifecycle"


def upgrade() -> None:
    create_baselines_table(op, SCHEMA)


def downgrade() -> None:
    drop_baselines_table(op, SCHEMA)
