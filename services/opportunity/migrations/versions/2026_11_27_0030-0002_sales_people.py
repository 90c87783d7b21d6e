"""sales_people: the assignment node's view of sales people, kept from employee events

Revision ID: opp_0002
Revises: opp_0001
Create Date: 2026-11-27 00:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "opp_0002"
down_revision = "opp_0001"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    op.create_table(
        "sales_people",
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name="pk_sales_people"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_sales_people_org_unit_path",
        "sales_people",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_index("ix_sales_people_name_employee_id", "sales_people", ["name", "employee_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("sales_people", schema=SCHEMA)
