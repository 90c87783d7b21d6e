"""accounts.name_key: name search in one index walk, alphabetically

The name-prefix search filtered on lower(name) text_pattern_ops but listed
in (created_at, id) order, so Postgres walked the created_at index and
threw away nearly every row (p99 60-110 ms over 100k accounts). A
generated lower(name) column in collation "C" lets one btree serve both
the prefix range and the order.

Revision ID: ka_0003
Revises: ka_0002
Create Date: 2026-11-27 01:30:00
"""

import sqlalchemy as sa
from alembic import op

revision = "ka_0003"
down_revision = "ka_0002"
branch_labels = None
depends_on = None

SCHEMA = "key_account"


def upgrade() -> None:
    op.add_column(
        "accounts",
        sa.Column("name_key", sa.String(200, collation="C"), sa.Computed("lower((name)::text)", persisted=True)),
        schema=SCHEMA,
    )
    op.create_index("ix_accounts_name_key_id", "accounts", ["name_key", "id"], schema=SCHEMA)
    op.drop_index("ix_accounts_lower_name", table_name="accounts", schema=SCHEMA)


def downgrade() -> None:
    op.create_index("ix_accounts_lower_name", "accounts", [sa.text("lower(name) text_pattern_ops")], schema=SCHEMA)
    op.drop_index("ix_accounts_name_key_id", table_name="accounts", schema=SCHEMA)
    op.drop_column("accounts", "name_key", schema=SCHEMA)
