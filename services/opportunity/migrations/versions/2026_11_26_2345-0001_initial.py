"""opportunities, solutions, idempotency keys

Revision ID: opp_0001
Revises:
Create Date: 2026-11-26 23:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

from sanlun.kernel.migrations import create_kernel_tables, drop_kernel_tables

revision = "opp_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "opportunity"
STAGES = ("lead", "qualified", "solution_design", "proposal", "negotiation", "won", "lost", "abandoned")


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def upgrade() -> None:
    create_kernel_tables(op, SCHEMA)
    op.create_table(
        "opportunities",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("account_id", sa.Uuid, nullable=True),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("expected_close_date", sa.Date, nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("source", sa.String(100), nullable=True),
        sa.Column("compelling_event", sa.Text, nullable=True),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("win_probability", sa.Numeric(5, 4), nullable=True),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_opportunities"),
        sa.UniqueConstraint("external_id", name="uq_opportunities_external_id"),
        sa.CheckConstraint(
            "stage IN (" + ", ".join(f"'{s}'" for s in STAGES) + ")", name="ck_opportunities_stage_known"
        ),
        sa.CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="ck_opportunities_amount_has_currency"),
        sa.CheckConstraint("amount >= 0", name="ck_opportunities_amount_not_negative"),
        sa.CheckConstraint("win_probability BETWEEN 0 AND 1", name="ck_opportunities_win_probability_range"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_opportunities_org_unit_path",
        "opportunities",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_index("ix_opportunities_created_at_id", "opportunities", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_opportunities_owner_id", "opportunities", ["owner_id"], schema=SCHEMA)
    op.create_index("ix_opportunities_account_id", "opportunities", ["account_id"], schema=SCHEMA)
    op.create_index("ix_opportunities_stage", "opportunities", ["stage"], schema=SCHEMA)
    op.create_index("ix_opportunities_expected_close_date", "opportunities", ["expected_close_date"], schema=SCHEMA)

    op.create_table(
        "solutions",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("family", sa.String(100), nullable=True),
        sa.Column("industries", ARRAY(sa.String(100)), nullable=False),
        sa.Column("size_bands", ARRAY(sa.String(50)), nullable=False),
        sa.Column("list_price", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("presales_support_usual", sa.Boolean, nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_solutions"),
        sa.UniqueConstraint("name", name="uq_solutions_name"),
        sa.CheckConstraint("(list_price IS NULL) = (currency IS NULL)", name="ck_solutions_list_price_has_currency"),
        sa.CheckConstraint("list_price >= 0", name="ck_solutions_list_price_not_negative"),
        schema=SCHEMA,
    )
    op.create_index("ix_solutions_created_at_id", "solutions", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_solutions_family", "solutions", ["family"], schema=SCHEMA)
    op.create_index("ix_solutions_active", "solutions", ["active"], schema=SCHEMA)
    op.create_index("ix_solutions_industries", "solutions", ["industries"], schema=SCHEMA, postgresql_using="gin")
    op.create_index("ix_solutions_size_bands", "solutions", ["size_bands"], schema=SCHEMA, postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("solutions", schema=SCHEMA)
    op.drop_table("opportunities", schema=SCHEMA)
    drop_kernel_tables(op, SCHEMA)
