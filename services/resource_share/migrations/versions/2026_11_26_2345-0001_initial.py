"""resources, idempotency keys

Revision ID: rs_0001
Revises:
Create Date: 2026-11-26 23:45:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, TSVECTOR

from sanlun.kernel.migrations import create_kernel_tables, drop_kernel_tables

revision = "rs_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "resource_share"
TYPES = ("solution_asset", "reference_case", "expert", "relationship", "event_slot")
SCOPES = ("private", "team", "organization", "group", "public")


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def upgrade() -> None:
    create_kernel_tables(op, SCHEMA)
    op.create_table(
        "resources",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("type", sa.String(30), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("summary", sa.Text, nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("scope", sa.String(20), nullable=False),
        sa.Column("industries", ARRAY(sa.String(100)), nullable=False),
        sa.Column("solutions", ARRAY(sa.String(100)), nullable=False),
        sa.Column("usage_count", sa.Integer, nullable=False),
        sa.Column("rating_avg", sa.Numeric(3, 2), nullable=True),
        sa.Column(
            "search",
            TSVECTOR,
            sa.Computed("to_tsvector('simple', title || ' ' || summary)", persisted=True),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_resources"),
        sa.CheckConstraint(_one_of("type", TYPES), name="ck_resources_type"),
        sa.CheckConstraint(_one_of("scope", SCOPES), name="ck_resources_scope"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_resources_org_unit_path",
        "resources",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_index("ix_resources_created_at_id", "resources", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_resources_owner_id", "resources", ["owner_id"], schema=SCHEMA)
    op.create_index("ix_resources_type", "resources", ["type"], schema=SCHEMA)
    op.create_index("ix_resources_scope", "resources", ["scope"], schema=SCHEMA)
    op.create_index("ix_resources_industries", "resources", ["industries"], schema=SCHEMA, postgresql_using="gin")
    op.create_index("ix_resources_solutions", "resources", ["solutions"], schema=SCHEMA, postgresql_using="gin")
    op.create_index("ix_resources_search", "resources", ["search"], schema=SCHEMA, postgresql_using="gin")


def downgrade() -> None:
    op.drop_table("resources", schema=SCHEMA)
    drop_kernel_tables(op, SCHEMA)
