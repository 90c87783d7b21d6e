"""Who, coverage, contacts and relationship map, account plans and incubation

Revision ID: ka_0002
Revises: ka_0001
Create Date: 2026-11-27 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "ka_0002"
down_revision = "ka_0001"
branch_labels = None
depends_on = None

SCHEMA = "key_account"
RELATIONSHIP_LEVELS = "'vendor', 'credible_source', 'problem_solver', 'trusted_advisor'"


def _record() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def _fk(table: str, column: str, target: str, ondelete: str = "CASCADE") -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{SCHEMA}.{target}.id"], name=f"fk_{table}_{column}_{target}", ondelete=ondelete
    )


def _plan_fk(table: str) -> sa.ForeignKeyConstraint:
    return _fk(table, "plan_id", "account_plans")


def _index(table: str, *columns: str) -> None:
    op.create_index(f"ix_{table}_{'_'.join(columns)}", table, list(columns), schema=SCHEMA)


def upgrade() -> None:
    for name in ("potential", "strategic_value", "solution_fit"):
        op.add_column("accounts", sa.Column(name, sa.SmallInteger, nullable=True), schema=SCHEMA)
        op.create_check_constraint(f"ck_accounts_{name}_range", "accounts", f"{name} BETWEEN 0 AND 100", schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier", sa.String(16), nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("computed_tier", sa.String(16), nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_score", sa.Numeric(5, 2), nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_reasons", JSONB, nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_policy_version", sa.Integer, nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_evaluated_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_override", sa.String(16), nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_override_reason", sa.Text, nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_overridden_by", sa.Uuid, nullable=True), schema=SCHEMA)
    op.add_column("accounts", sa.Column("tier_overridden_at", sa.DateTime(timezone=True), nullable=True), schema=SCHEMA)
    op.add_column(
        "accounts", sa.Column("coverage_version", sa.Integer, nullable=False, server_default="0"), schema=SCHEMA
    )
    op.create_index("ix_accounts_tier", "accounts", ["tier"], schema=SCHEMA)

    op.create_table(
        "segmentation_policies",
        sa.Column("org_path", sa.String(500), primary_key=True),
        sa.Column("policy", JSONB, nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("updated_by", sa.Uuid, nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("org_path", name="pk_segmentation_policies"),
        schema=SCHEMA,
    )

    op.create_table(
        "coverage_members",
        *_record(),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("role", sa.String(32), nullable=False),
        sa.Column("valid_from", sa.Date, nullable=False),
        sa.Column("valid_to", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_coverage_members"),
        _fk("coverage_members", "account_id", "accounts"),
        sa.UniqueConstraint(
            "account_id",
            "employee_id",
            "role",
            "valid_from",
            name="uq_coverage_members_account_id_employee_id_role_valid_from",
        ),
        sa.CheckConstraint(
            "role IN ('account_owner', 'solution_consultant', 'delivery', 'executive_sponsor', 'partner', 'overlay')",
            name="ck_coverage_members_role_known",
        ),
        sa.CheckConstraint("valid_to IS NULL OR valid_to >= valid_from", name="ck_coverage_members_validity_order"),
        schema=SCHEMA,
    )
    _index("coverage_members", "account_id")
    _index("coverage_members", "employee_id")
    op.create_index(
        "ix_coverage_members_org_unit_path",
        "coverage_members",
        ["org_unit_path"],
        schema=SCHEMA,
        postgresql_ops={"org_unit_path": "text_pattern_ops"},
    )

    op.create_table(
        "contacts",
        *_record(),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("title", sa.String(200), nullable=True),
        sa.Column("business_unit", sa.String(200), nullable=True),
        sa.Column("email", sa.String(320), nullable=True),
        sa.Column("reports_to_id", sa.Uuid, nullable=True),
        sa.Column("buying_role", sa.String(32), nullable=True),
        sa.Column("political_status", sa.String(32), nullable=True),
        sa.Column("decision_orientation", sa.String(100), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_contacts"),
        _fk("contacts", "account_id", "accounts"),
        _fk("contacts", "reports_to_id", "contacts", "SET NULL"),
        sa.CheckConstraint(
            "buying_role IN ('approver', 'decision_maker', 'evaluator', 'influencer', 'user')",
            name="ck_contacts_buying_role_known",
        ),
        sa.CheckConstraint(
            "political_status IN ('outside', 'political_structure', 'inner_circle')",
            name="ck_contacts_political_status_known",
        ),
        schema=SCHEMA,
    )
    _index("contacts", "account_id", "created_at", "id")
    _index("contacts", "reports_to_id")

    op.create_table(
        "relationships",
        *_record(),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("level", sa.String(32), nullable=False),
        sa.Column("strength", sa.SmallInteger, nullable=False),
        sa.Column("last_interaction_on", sa.Date, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_relationships"),
        _fk("relationships", "account_id", "accounts"),
        _fk("relationships", "contact_id", "contacts"),
        sa.UniqueConstraint("contact_id", "employee_id", name="uq_relationships_contact_id_employee_id"),
        sa.CheckConstraint(f"level IN ({RELATIONSHIP_LEVELS})", name="ck_relationships_level_known"),
        sa.CheckConstraint("strength BETWEEN 0 AND 100", name="ck_relationships_strength_range"),
        schema=SCHEMA,
    )
    _index("relationships", "account_id")
    _index("relationships", "employee_id")

    op.create_table(
        "influence_lines",
        *_record(),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("from_contact_id", sa.Uuid, nullable=False),
        sa.Column("to_contact_id", sa.Uuid, nullable=False),
        sa.Column("strength", sa.SmallInteger, nullable=False),
        sa.Column("note", sa.String(1000), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_influence_lines"),
        _fk("influence_lines", "account_id", "accounts"),
        _fk("influence_lines", "from_contact_id", "contacts"),
        _fk("influence_lines", "to_contact_id", "contacts"),
        sa.UniqueConstraint(
            "from_contact_id", "to_contact_id", name="uq_influence_lines_from_contact_id_to_contact_id"
        ),
        sa.CheckConstraint("strength BETWEEN 0 AND 100", name="ck_influence_lines_strength_range"),
        sa.CheckConstraint("from_contact_id <> to_contact_id", name="ck_influence_lines_not_self"),
        schema=SCHEMA,
    )
    _index("influence_lines", "account_id")
    _index("influence_lines", "to_contact_id")

    op.create_table(
        "account_plans",
        *_record(),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("period", sa.String(20), nullable=False),
        sa.Column("starts_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=False),
        sa.Column("goal", sa.Text, nullable=True),
        sa.Column("value_proposition", sa.Text, nullable=True),
        sa.Column("critical_success_factors", JSONB, nullable=False, server_default="[]"),
        sa.Column("guiding_team_members", JSONB, nullable=False, server_default="[]"),
        sa.Column("guiding_team_initiatives", JSONB, nullable=False, server_default="[]"),
        sa.PrimaryKeyConstraint("id", name="pk_account_plans"),
        _fk("account_plans", "account_id", "accounts"),
        sa.UniqueConstraint("account_id", "period", name="uq_account_plans_account_id_period"),
        sa.CheckConstraint("ends_on >= starts_on", name="ck_account_plans_period_order"),
        schema=SCHEMA,
    )
    _index("account_plans", "created_at", "id")

    op.create_table(
        "plan_objectives",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_plan_objectives"),
        _plan_fk("plan_objectives"),
        schema=SCHEMA,
    )
    _index("plan_objectives", "plan_id", "created_at", "id")

    op.create_table(
        "incumbent_contracts",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("competitor", sa.String(200), nullable=False),
        sa.Column("business_unit", sa.String(200), nullable=True),
        sa.Column("solution", sa.String(200), nullable=True),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("expires_on", sa.Date, nullable=True),
        sa.Column("value_amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("value_currency", sa.CHAR(3), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incumbent_contracts"),
        _plan_fk("incumbent_contracts"),
        schema=SCHEMA,
    )
    _index("incumbent_contracts", "plan_id", "created_at", "id")
    _index("incumbent_contracts", "expires_on")

    op.create_table(
        "plan_actions",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("objective_id", sa.Uuid, nullable=True),
        sa.Column("incumbent_contract_id", sa.Uuid, nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("due_on", sa.Date, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_actions"),
        _plan_fk("plan_actions"),
        _fk("plan_actions", "objective_id", "plan_objectives"),
        _fk("plan_actions", "incumbent_contract_id", "incumbent_contracts"),
        sa.CheckConstraint(
            "status IN ('open', 'in_progress', 'done', 'cancelled')", name="ck_plan_actions_status_known"
        ),
        schema=SCHEMA,
    )
    _index("plan_actions", "plan_id", "created_at", "id")
    _index("plan_actions", "owner_id", "due_on")
    _index("plan_actions", "objective_id")
    _index("plan_actions", "incumbent_contract_id")

    op.create_table(
        "plan_reviews",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("reviewed_on", sa.Date, nullable=False),
        sa.Column("reviewer_id", sa.Uuid, nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.Column("completeness_score", sa.SmallInteger, nullable=False),
        sa.Column("completeness_status", sa.String(16), nullable=False),
        sa.Column("missing", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_plan_reviews"),
        _plan_fk("plan_reviews"),
        schema=SCHEMA,
    )
    _index("plan_reviews", "plan_id", "created_at", "id")

    op.create_table(
        "relationship_targets",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("contact_id", sa.Uuid, nullable=False),
        sa.Column("target_level", sa.String(32), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_relationship_targets"),
        _plan_fk("relationship_targets"),
        _fk("relationship_targets", "contact_id", "contacts"),
        sa.UniqueConstraint("plan_id", "contact_id", name="uq_relationship_targets_plan_id_contact_id"),
        sa.CheckConstraint(
            f"target_level IN ({RELATIONSHIP_LEVELS})", name="ck_relationship_targets_target_level_known"
        ),
        schema=SCHEMA,
    )
    _index("relationship_targets", "contact_id")

    op.create_table(
        "guiding_sessions",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("held_on", sa.Date, nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("attendee_contact_ids", JSONB, nullable=False, server_default="[]"),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_guiding_sessions"),
        _plan_fk("guiding_sessions"),
        schema=SCHEMA,
    )
    _index("guiding_sessions", "plan_id", "created_at", "id")

    op.create_table(
        "whitespace_cells",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("business_unit", sa.String(200), nullable=False),
        sa.Column("solution", sa.String(200), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("competitor", sa.String(200), nullable=True),
        sa.Column("competitor_strength", sa.SmallInteger, nullable=True),
        sa.Column("potential_amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("potential_currency", sa.CHAR(3), nullable=True),
        sa.Column("notes", sa.Text, nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_whitespace_cells"),
        _plan_fk("whitespace_cells"),
        sa.UniqueConstraint(
            "plan_id", "business_unit", "solution", name="uq_whitespace_cells_plan_id_business_unit_solution"
        ),
        sa.CheckConstraint(
            "status IN ('ours', 'competitor', 'open', 'blocked')", name="ck_whitespace_cells_status_known"
        ),
        sa.CheckConstraint(
            "competitor_strength BETWEEN 0 AND 100", name="ck_whitespace_cells_competitor_strength_range"
        ),
        schema=SCHEMA,
    )
    _index("whitespace_cells", "plan_id", "created_at", "id")

    op.create_table(
        "incubation_items",
        *_record(),
        sa.Column("plan_id", sa.Uuid, nullable=False),
        sa.Column("account_id", sa.Uuid, nullable=False),
        sa.Column("whitespace_cell_id", sa.Uuid, nullable=True),
        sa.Column("title", sa.String(300), nullable=False),
        sa.Column("description", sa.Text, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("expected_close_date", sa.Date, nullable=True),
        sa.Column("owner_id", sa.Uuid, nullable=True),
        sa.Column("validated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("qualified_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("promoted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dropped_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("opportunity_id", sa.Uuid, nullable=True),
        sa.Column("opportunity_stage", sa.String(32), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_incubation_items"),
        _plan_fk("incubation_items"),
        _fk("incubation_items", "account_id", "accounts"),
        _fk("incubation_items", "whitespace_cell_id", "whitespace_cells", "SET NULL"),
        sa.UniqueConstraint("opportunity_id", name="uq_incubation_items_opportunity_id"),
        sa.CheckConstraint(
            "status IN ('idea', 'validated', 'qualified', 'promoted', 'dropped')",
            name="ck_incubation_items_status_known",
        ),
        schema=SCHEMA,
    )
    _index("incubation_items", "plan_id", "created_at", "id")
    _index("incubation_items", "account_id", "status")


def downgrade() -> None:
    for table in (
        "incubation_items",
        "whitespace_cells",
        "guiding_sessions",
        "relationship_targets",
        "plan_reviews",
        "plan_actions",
        "incumbent_contracts",
        "plan_objectives",
        "account_plans",
        "influence_lines",
        "relationships",
        "contacts",
        "coverage_members",
        "segmentation_policies",
    ):
        op.drop_table(table, schema=SCHEMA)
    op.drop_index("ix_accounts_tier", "accounts", schema=SCHEMA)
    for name in (
        "coverage_version",
        "tier_overridden_at",
        "tier_overridden_by",
        "tier_override_reason",
        "tier_override",
        "tier_evaluated_at",
        "tier_policy_version",
        "tier_reasons",
        "tier_score",
        "computed_tier",
        "tier",
        "solution_fit",
        "strategic_value",
        "potential",
    ):
        op.drop_column("accounts", name, schema=SCHEMA)
