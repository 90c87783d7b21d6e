"""When the current owner got each deal (`assigned_at`), for "newly assigned"
lists; back-filled from the last assignment decision, else the creation time.

Revision ID: opp_0004
Revises: opp_0003
Create Date: 2026-11-27 03:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "opp_0004"
down_revision = "opp_0003"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    op.add_column("opportunities", sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.execute(f"""
        UPDATE {SCHEMA}.opportunities o
        SET assigned_at = coalesce(
            (SELECT max(d.created_at) FROM {SCHEMA}.assignment_decisions d
             WHERE d.opportunity_id = o.id AND d.employee_id = o.owner_id),
            o.created_at)
        WHERE o.owner_id IS NOT NULL
    """)  # noqa: S608 - the only interpolation is SCHEMA, this module's constant schema name; no input reaches it
    op.create_index(
        "ix_opportunities_owner_id_assigned_at_id", "opportunities", ["owner_id", "assigned_at", "id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_index("ix_opportunities_owner_id_assigned_at_id", "opportunities", schema=SCHEMA)
    op.drop_column("opportunities", "assigned_at", schema=SCHEMA)
