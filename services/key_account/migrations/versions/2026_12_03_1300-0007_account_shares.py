"""Implicit sharing: the owners and team members of opportunities read the
opportunity's account and its contacts. One row per opportunity with the
last version seen, one row per (opportunity, employee, owner|team).

Revision ID: ka_0007
Revises: ka_0006
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "ka_0007"
down_revision = "ka_0006"
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    op.create_table(
        "shared_opportunities",
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("org_unit_path", sa.String(500), nullable=True),
        sa.Column("stage", sa.String(32), nullable=True),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("deleted", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("opportunity_id", name="pk_shared_opportunities"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_shared_opportunities_account_id_owner_id",
        "shared_opportunities",
        ["account_id", "owner_id"],
        schema=SCHEMA,
    )
    op.create_index(
        "ix_shared_opportunities_org_unit_path",
        "shared_opportunities",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_table(
        "account_shares",
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("role", sa.String(64), nullable=True),
        sa.Column("account_id", sa.Uuid, nullable=True),
        sa.Column("since", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("opportunity_id", "employee_id", "source", name="pk_account_shares"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            [f"{SCHEMA}.shared_opportunities.opportunity_id"],
            name="fk_account_shares_opportunity_id_shared_opportunities",
            ondelete="CASCADE",
        ),
        sa.CheckConstraint("source IN ('owner', 'team')", name="ck_account_shares_source_known"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_account_shares_employee_id_account_id", "account_shares", ["employee_id", "account_id"], schema=SCHEMA
    )
    op.create_index("ix_account_shares_account_id", "account_shares", ["account_id"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("account_shares", schema=SCHEMA)
    op.drop_table("shared_opportunities", schema=SCHEMA)
