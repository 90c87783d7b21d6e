"""employees, idempotency keys

Revision ID: el_0001
Revises:
Create Date: 2026-11-26 23:30:00
"""

import sqlalchemy as sa
from alembic import op

from sanlun.kernel.migrations import create_kernel_tables, drop_kernel_tables

revision = "el_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "employee_lifecycle"


def upgrade() -> None:
    create_kernel_tables(op, SCHEMA)
    op.create_table(
        "employees",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("email", sa.String(320), nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("manager_id", sa.Uuid, nullable=True),
        sa.Column("hire_date", sa.Date, nullable=True),
        sa.Column("entered_sales_on", sa.Date, nullable=True),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_employees"),
        sa.UniqueConstraint("external_id", name="uq_employees_external_id"),
        sa.UniqueConstraint("email", name="uq_employees_email"),
        sa.ForeignKeyConstraint(["manager_id"], [f"{SCHEMA}.employees.id"], name="fk_employees_manager_id_employees"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_employees_org_unit_path",
        "employees",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_index("ix_employees_created_at_id", "employees", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_employees_manager_id", "employees", ["manager_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("employees", schema=SCHEMA)
    drop_kernel_tables(op, SCHEMA)
