"""Confirmation by time: the candidate stage holds for a dwell across
scheduled days (since, distinct days counted, last day counted), the
provisional stage of the latest evaluation, and a kind and business date on
each history row.

Candidates counted under the old rule counted every evaluation, event-triggered
ones included, so their count says nothing about days: a pending candidate
starts its dwell afresh on its last evaluated day (one day counted). The
provisional stage is the last evaluation's computed stage where it differs
from the confirmed one.

Revision ID: el_0005
Revises: el_0004
Create Date: 2026-12-01 01:00:00
"""

import sqlalchemy as sa
from alembic import op

revision = "el_0005"
down_revision = "el_0004"
branch_labels = None
depends_on = None

SCHEMA = "employee_lifecycle"


def upgrade() -> None:
    op.alter_column("employee_stages", "candidate_count", new_column_name="candidate_days", schema=SCHEMA)
    for name, type_ in (
        ("candidate_since", sa.Date),
        ("last_counted_on", sa.Date),
        ("provisional_stage", sa.String(20)),
        ("provisional_since", sa.Date),
    ):
        op.add_column("employee_stages", sa.Column(name, type_, nullable=True), schema=SCHEMA)
    # SCHEMA is this module's constant: nothing from outside reaches the SQL.
    op.execute(
        f"UPDATE {SCHEMA}.employee_stages SET candidate_days = 1, candidate_since = last_as_of, "  # noqa: S608
        "last_counted_on = last_as_of WHERE candidate_stage IS NOT NULL"
    )
    op.execute(f"UPDATE {SCHEMA}.employee_stages SET candidate_days = 0 WHERE candidate_stage IS NULL")  # noqa: S608
    op.execute(
        f"UPDATE {SCHEMA}.employee_stages SET provisional_stage = explanation->>'computed_stage', "  # noqa: S608
        "provisional_since = last_as_of "
        "WHERE explanation->>'computed_stage' IS NOT NULL AND explanation->>'computed_stage' <> stage"
    )

    op.add_column("stage_history", sa.Column("kind", sa.String(20), nullable=True), schema=SCHEMA)
    op.add_column("stage_history", sa.Column("as_of", sa.Date, nullable=True), schema=SCHEMA)
    op.execute(
        f"UPDATE {SCHEMA}.stage_history SET "  # noqa: S608
        "kind = CASE reason WHEN 'evaluation' THEN 'confirmed' ELSE reason END, "
        "as_of = CASE WHEN detail->>'as_of' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$' "
        "THEN (detail->>'as_of')::date ELSE since END"
    )
    op.alter_column("stage_history", "kind", nullable=False, schema=SCHEMA)
    op.alter_column("stage_history", "as_of", nullable=False, schema=SCHEMA)


def downgrade() -> None:
    # Provisional rows did not exist before; the old history showed effective changes only.
    op.execute(f"DELETE FROM {SCHEMA}.stage_history WHERE kind = 'provisional'")  # noqa: S608
    op.drop_column("stage_history", "as_of", schema=SCHEMA)
    op.drop_column("stage_history", "kind", schema=SCHEMA)
    for name in ("provisional_since", "provisional_stage", "last_counted_on", "candidate_since"):
        op.drop_column("employee_stages", name, schema=SCHEMA)
    op.alter_column("employee_stages", "candidate_days", new_column_name="candidate_count", schema=SCHEMA)
