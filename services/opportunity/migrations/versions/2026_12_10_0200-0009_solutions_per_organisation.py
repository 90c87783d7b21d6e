"""Solutions per organisation (issue 18): each organisation keeps its own
catalogue and list prices, unique by (organisation, name), with an optional
import key unique in the organisation; an import for one organisation never
changes another's.

The catalogue was group-wide: its rows become the group's entries (the root
of the org tree, `/group` unless the deals say otherwise), which every
organisation still lists and only a group admin changes.

Revision ID: opp_0009
Revises: opp_0008
Create Date: 2026-12-10 02:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "opp_0009"
down_revision = "opp_0008"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    op.add_column("solutions", sa.Column("organization_path", sa.String(500), nullable=True), schema=SCHEMA)
    op.add_column("solutions", sa.Column("external_id", sa.String(200), nullable=True), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.solutions SET organization_path = COALESCE("  # noqa: S608 - the migration's own schema
        f"(SELECT '/' || split_part(org_unit_path, '/', 2) FROM {SCHEMA}.opportunities LIMIT 1), '/group')"
    )
    op.alter_column("solutions", "organization_path", nullable=False, schema=SCHEMA)
    op.drop_constraint("uq_solutions_name", "solutions", schema=SCHEMA)
    op.create_unique_constraint(
        "uq_solutions_organization_path_name", "solutions", ["organization_path", "name"], schema=SCHEMA
    )
    op.create_unique_constraint(
        "uq_solutions_organization_path_external_id", "solutions", ["organization_path", "external_id"], schema=SCHEMA
    )


def downgrade() -> None:
    op.drop_constraint("uq_solutions_organization_path_external_id", "solutions", schema=SCHEMA)
    op.drop_constraint("uq_solutions_organization_path_name", "solutions", schema=SCHEMA)
    op.create_unique_constraint("uq_solutions_name", "solutions", ["name"], schema=SCHEMA)
    op.drop_column("solutions", "external_id", schema=SCHEMA)
    op.drop_column("solutions", "organization_path", schema=SCHEMA)
