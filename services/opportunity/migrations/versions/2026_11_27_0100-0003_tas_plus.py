"""TAS+: team, solutions on opportunities, stage history, plans, policies,
assignment proposals and decisions, solution outcome roll-up, stages in the
sales-people view

Revision ID: opp_0003
Revises: opp_0002
Create Date: 2026-11-27 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "opp_0003"
down_revision = "opp_0002"
branch_labels = None
depends_on = None

SCHEMA = "opportunity"


def upgrade() -> None:
    for column in (
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("size_band", sa.String(50), nullable=True),
        sa.Column("solution_ids", ARRAY(sa.Uuid), nullable=False, server_default="{}"),
        sa.Column("closed_on", sa.Date, nullable=True),
        sa.Column("origin_type", sa.String(50), nullable=True),
        sa.Column("origin_id", sa.String(200), nullable=True),
    ):
        op.add_column("opportunities", column, schema=SCHEMA)
    op.create_check_constraint(
        "ck_opportunities_origin_complete",
        "opportunities",
        "(origin_type IS NULL) = (origin_id IS NULL)",
        schema=SCHEMA,
    )
    op.create_index("ix_opportunities_industry", "opportunities", ["industry"], schema=SCHEMA)
    op.create_index("ix_opportunities_amount", "opportunities", ["amount"], schema=SCHEMA)
    op.create_index("ix_opportunities_origin", "opportunities", ["origin_type", "origin_id"], schema=SCHEMA)
    op.create_index(
        "ix_opportunities_solution_ids", "opportunities", ["solution_ids"], schema=SCHEMA, postgresql_using="gin"
    )
    op.create_index("ix_opportunities_updated_at_id", "opportunities", ["updated_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_opportunities_expected_close_date_id", "opportunities", ["expected_close_date", "id"], schema=SCHEMA
    )
    op.create_index("ix_opportunities_amount_id", "opportunities", ["amount", "id"], schema=SCHEMA)
    op.create_index("ix_opportunities_name_id", "opportunities", ["name", "id"], schema=SCHEMA)
    # Open load per owner, history per owner (assignment scoring).
    op.create_index("ix_opportunities_owner_id_stage", "opportunities", ["owner_id", "stage"], schema=SCHEMA)

    op.create_table(
        "opportunity_team_members",
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("role", sa.String(40), nullable=False),
        sa.PrimaryKeyConstraint("opportunity_id", "employee_id", name="pk_opportunity_team_members"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            [f"{SCHEMA}.opportunities.id"],
            ondelete="CASCADE",
            name="fk_opportunity_team_members_opportunity_id_opportunities",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_opportunity_team_members_employee_id", "opportunity_team_members", ["employee_id"], schema=SCHEMA
    )

    op.create_table(
        "opportunity_stage_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("from_stage", sa.String(32), nullable=True),
        sa.Column("to_stage", sa.String(32), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("changed_by", sa.String(255), nullable=False),
        sa.Column("forced", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("unmet", JSONB, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_opportunity_stage_history"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            [f"{SCHEMA}.opportunities.id"],
            ondelete="CASCADE",
            name="fk_opportunity_stage_history_opportunity_id_opportunities",
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_opportunity_stage_history_opportunity_id_id",
        "opportunity_stage_history",
        ["opportunity_id", "id"],
        schema=SCHEMA,
    )

    op.create_table(
        "tas_plans",
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("sections", JSONB, nullable=False, server_default="{}"),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("opportunity_id", name="pk_tas_plans"),
        sa.ForeignKeyConstraint(
            ["opportunity_id"],
            [f"{SCHEMA}.opportunities.id"],
            ondelete="CASCADE",
            name="fk_tas_plans_opportunity_id_opportunities",
        ),
        schema=SCHEMA,
    )

    op.create_table(
        "policies",
        sa.Column("organization_path", sa.String(500), nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("updated_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("organization_path", name="pk_policies"),
        schema=SCHEMA,
    )

    op.create_table(
        "assignment_proposals",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("organization_path", sa.String(500), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("stages_source", sa.String(16), nullable=False),
        sa.Column("stages_as_of", sa.DateTime(timezone=True), nullable=True),
        sa.Column("result", JSONB, nullable=False),
        sa.Column("commit_result", JSONB, nullable=True),
        sa.Column("committed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.PrimaryKeyConstraint("id", name="pk_assignment_proposals"),
        sa.CheckConstraint("status IN ('proposed', 'committed')", name="ck_assignment_proposals_status_known"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_assignment_proposals_created_at_id", "assignment_proposals", ["created_at", "id"], schema=SCHEMA
    )
    op.create_index(
        "ix_assignment_proposals_organization_path",
        "assignment_proposals",
        ["organization_path"],
        schema=SCHEMA,
        postgresql_ops={"organization_path": "text_pattern_ops"},
    )

    op.create_table(
        "assignment_decisions",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("proposal_id", sa.Uuid, nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("previous_owner_id", sa.Uuid, nullable=True),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("score", JSONB, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_assignment_decisions"),
        sa.CheckConstraint("kind IN ('proposal', 'override')", name="ck_assignment_decisions_kind_known"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_assignment_decisions_created_at_id", "assignment_decisions", ["created_at", "id"], schema=SCHEMA
    )
    op.create_index("ix_assignment_decisions_opportunity_id", "assignment_decisions", ["opportunity_id"], schema=SCHEMA)
    op.create_index("ix_assignment_decisions_proposal_id", "assignment_decisions", ["proposal_id"], schema=SCHEMA)
    op.create_index("ix_assignment_decisions_employee_id", "assignment_decisions", ["employee_id"], schema=SCHEMA)
    op.create_index(
        "ix_assignment_decisions_org_unit_path",
        "assignment_decisions",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )

    # Won/lost counts per solution, industry, size band and close month, kept in
    # the same transaction as every close: recommendation reads this small
    # roll-up instead of scanning the history.
    op.create_table(
        "solution_outcomes",
        sa.Column("industry", sa.String(100), nullable=False),
        sa.Column("size_band", sa.String(50), nullable=False),
        sa.Column("month", sa.Date, nullable=False),
        sa.Column("solution_id", sa.Uuid, nullable=False),
        sa.Column("wins", sa.Integer, nullable=False),
        sa.Column("losses", sa.Integer, nullable=False),
        sa.Column("won_amount", sa.Numeric(20, 2), nullable=False),
        sa.PrimaryKeyConstraint("industry", "size_band", "month", "solution_id", name="pk_solution_outcomes"),
        schema=SCHEMA,
    )
    op.create_index("ix_solution_outcomes_month", "solution_outcomes", ["month"], schema=SCHEMA)

    for column in (
        sa.Column("stage", sa.String(20), nullable=True),
        sa.Column("stage_since", sa.Date, nullable=True),
        sa.Column("stage_seen_at", sa.DateTime(timezone=True), nullable=True),
    ):
        op.add_column("sales_people", column, schema=SCHEMA)


def downgrade() -> None:
    for name in ("stage_seen_at", "stage_since", "stage"):
        op.drop_column("sales_people", name, schema=SCHEMA)
    for table in (
        "solution_outcomes",
        "assignment_decisions",
        "assignment_proposals",
        "policies",
        "tas_plans",
        "opportunity_stage_history",
        "opportunity_team_members",
    ):
        op.drop_table(table, schema=SCHEMA)
    for index in (
        "ix_opportunities_owner_id_stage",
        "ix_opportunities_name_id",
        "ix_opportunities_amount_id",
        "ix_opportunities_expected_close_date_id",
        "ix_opportunities_updated_at_id",
        "ix_opportunities_solution_ids",
        "ix_opportunities_origin",
        "ix_opportunities_amount",
        "ix_opportunities_industry",
    ):
        op.drop_index(index, table_name="opportunities", schema=SCHEMA)
    op.drop_constraint("ck_opportunities_origin_complete", "opportunities", schema=SCHEMA)
    for name in ("origin_id", "origin_type", "closed_on", "solution_ids", "size_band", "industry"):
        op.drop_column("opportunities", name, schema=SCHEMA)
