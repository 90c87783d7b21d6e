"""When each request was asked on the business clock (sanlun.kernel.clock):
`requested_at` on resource requests, introductions and support requests. The
desk's ageing, its waits and fairness, and the demand window run from it;
`created_at` stays the record's real time. Existing rows take their
`created_at`. The desk's indexes on the open queue and per-stage figures move
to it.

Revision ID: rs_0005
Revises: rs_0004
Create Date: 2026-12-03 13:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "rs_0005"
down_revision = "rs_0004"
branch_labels = None
depends_on = None

SCHEMA = "resource_share"
TABLES = ("resource_requests", "introductions", "support_requests")


def upgrade() -> None:
    for table in TABLES:
        op.add_column(
            table,
            sa.Column("requested_at", sa.DateTime(timezone=True), nullable=True, server_default=sa.func.now()),
            schema=SCHEMA,
        )
        op.execute(f"UPDATE {SCHEMA}.{table} SET requested_at = created_at")  # noqa: S608 - constant names
        op.alter_column(table, "requested_at", nullable=False, schema=SCHEMA)
    op.drop_index("ix_support_requests_open", table_name="support_requests", schema=SCHEMA)
    op.drop_index("ix_support_requests_stage_created_at", table_name="support_requests", schema=SCHEMA)
    op.create_index(
        "ix_support_requests_open",
        "support_requests",
        ["requested_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_support_requests_stage_requested_at",
        "support_requests",
        ["requester_stage", "requested_at"],
        schema=SCHEMA,
    )


def downgrade() -> None:
    op.drop_index("ix_support_requests_stage_requested_at", table_name="support_requests", schema=SCHEMA)
    op.drop_index("ix_support_requests_open", table_name="support_requests", schema=SCHEMA)
    op.create_index(
        "ix_support_requests_open",
        "support_requests",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index(
        "ix_support_requests_stage_created_at", "support_requests", ["requester_stage", "created_at"], schema=SCHEMA
    )
    for table in TABLES:
        op.drop_column(table, "requested_at", schema=SCHEMA)
