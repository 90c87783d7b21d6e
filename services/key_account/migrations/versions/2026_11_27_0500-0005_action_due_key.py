"""Index the cross-plan action list's order: coalesce(due_on, infinity), id.

Revision ID: ka_0005
Revises: ka_0004
Create Date: 2026-11-27 05:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "ka_0005"
down_revision = "ka_0004"
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    op.create_index(
        "ix_plan_actions_due_key_id",
        "plan_actions",
        [sa.text("coalesce(due_on, DATE 'infinity')"), "id"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_plan_actions_due_key_id", "plan_actions", schema=SCHEMA)
