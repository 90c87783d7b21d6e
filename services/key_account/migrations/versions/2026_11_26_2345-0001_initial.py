"""accounts, idempotency keys

Revision ID: ka_0001
Revises:
Create Date: 2026-11-26 23:45:00
"""

import sqlalchemy as sa
from alembic import op

from sanlun.kernel.migrations import create_kernel_tables, drop_kernel_tables

revision = "ka_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    create_kernel_tables(op, SCHEMA)
    op.create_table(
        "accounts",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("annual_revenue_amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("annual_revenue_currency", sa.CHAR(3), nullable=True),
        sa.Column("employees", sa.Integer, nullable=True),
        sa.Column("headquarters", sa.String(200), nullable=True),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_accounts"),
        sa.UniqueConstraint("external_id", name="uq_accounts_external_id"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{SCHEMA}.accounts.id"], name="fk_accounts_parent_id_accounts"),
        sa.CheckConstraint("employees >= 0", name="ck_accounts_employees_non_negative"),
        sa.CheckConstraint(
            "(annual_revenue_amount IS NULL) = (annual_revenue_currency IS NULL)",
            name="ck_accounts_annual_revenue_pair",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_accounts_org_unit_path",
        "accounts",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_index("ix_accounts_created_at_id", "accounts", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_accounts_owner_id", "accounts", ["owner_id"], schema=SCHEMA)
    op.create_index("ix_accounts_parent_id", "accounts", ["parent_id"], schema=SCHEMA)
    op.create_index("ix_accounts_industry", "accounts", ["industry"], schema=SCHEMA)
    op.create_index("ix_accounts_lower_name", "accounts", [sa.text("lower(name) text_pattern_ops")], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("accounts", schema=SCHEMA)
    drop_kernel_tables(op, SCHEMA)
