"""api keys, rate-limit buckets, idempotency keys

Revision ID: gw_0001
Revises:
Create Date: 2026-11-28 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "gw_0001"
down_revision = None
branch_labels = None
depends_on = None

SCHEMA = "gateway"


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("prefix", sa.String(16), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("roles", ARRAY(sa.String(32)), nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rate_limit_per_second", sa.Float, nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_api_keys"),
        sa.UniqueConstraint("key_hash", name="uq_api_keys_key_hash"),
        schema=SCHEMA,
    )
    op.create_index("ix_api_keys_created_at_id", "api_keys", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_api_keys_org_unit_path",
        "api_keys",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )
    op.create_table(
        "rate_limit_buckets",
        sa.Column("key", sa.String(300), nullable=False),
        sa.Column("tokens", sa.Float, nullable=False),
        sa.Column("granted", sa.Integer, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", name="pk_rate_limit_buckets"),
        schema=SCHEMA,
    )
    op.create_table(
        "idempotency_keys",
        sa.Column("principal", sa.String(255), nullable=False),
        sa.Column("key", sa.String(255), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer, nullable=True),
        sa.Column("headers", JSONB, nullable=True),
        sa.Column("body", sa.LargeBinary, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("principal", "key", name="pk_idempotency_keys"),
        schema=SCHEMA,
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"], schema=SCHEMA)


def downgrade() -> None:
    op.drop_table("idempotency_keys", schema=SCHEMA)
    op.drop_table("rate_limit_buckets", schema=SCHEMA)
    op.drop_table("api_keys", schema=SCHEMA)
