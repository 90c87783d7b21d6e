"""org units, employee skills, quotas, facts, stage policies, stages and history

Revision ID: el_0002
Revises: el_0001
Create Date: 2026-11-27 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "el_0002"
down_revision = "el_0001"
branch_labels = None
depends_on = None

SCHEMA = "employee_lifecycle"


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def upgrade() -> None:
    for column in ("skills", "industries", "regions"):
        op.add_column(
            "employees", sa.Column(column, ARRAY(sa.String(100)), nullable=False, server_default="{}"), schema=SCHEMA
        )

    op.create_table(
        "org_units",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("external_id", sa.String(200), nullable=True),
        sa.Column("parent_id", sa.Uuid, nullable=True),
        sa.Column("slug", sa.String(100), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("path", sa.String(500), nullable=False),
        sa.Column("depth", sa.Integer, nullable=False),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_org_units"),
        sa.UniqueConstraint("external_id", name="uq_org_units_external_id"),
        sa.UniqueConstraint("path", name="uq_org_units_path"),
        sa.ForeignKeyConstraint(["parent_id"], [f"{SCHEMA}.org_units.id"], name="fk_org_units_parent_id_org_units"),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_org_units_path", "org_units", ["path"], schema=SCHEMA, postgresql_ops={"path": "text_pattern_ops"}
    )
    op.create_index("ix_org_units_created_at_id", "org_units", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_org_units_parent_id", "org_units", ["parent_id"], schema=SCHEMA)

    op.create_table(
        "quotas",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("period_start", sa.Date, nullable=False),
        sa.Column("amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency", sa.CHAR(3), nullable=False),
        *_record_columns(),
        sa.PrimaryKeyConstraint("id", name="pk_quotas"),
        sa.UniqueConstraint("employee_id", "period_start", name="uq_quotas_employee_id_period_start"),
        sa.ForeignKeyConstraint(["employee_id"], [f"{SCHEMA}.employees.id"], name="fk_quotas_employee_id_employees"),
        schema=SCHEMA,
    )
    op.create_index("ix_quotas_created_at_id", "quotas", ["created_at", "id"], schema=SCHEMA)

    op.create_table(
        "facts",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("external_id", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("occurred_on", sa.Date, nullable=False),
        sa.Column("ends_on", sa.Date, nullable=True),
        sa.Column("opportunity_ref", sa.String(200), nullable=True),
        sa.Column("account_ref", sa.String(200), nullable=True),
        sa.Column("amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("currency", sa.CHAR(3), nullable=True),
        sa.Column("solution_refs", ARRAY(sa.String(200)), nullable=False, server_default="{}"),
        sa.Column("cross_org", sa.Boolean, nullable=False, server_default=sa.false()),
        sa.Column("outcome", sa.String(40), nullable=True),
        sa.Column("source_version", sa.Integer, nullable=True),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_facts"),
        sa.UniqueConstraint("external_id", name="uq_facts_external_id"),
        schema=SCHEMA,
    )
    op.create_index("ix_facts_employee_id_occurred_on", "facts", ["employee_id", "occurred_on"], schema=SCHEMA)
    op.create_index(
        "ix_facts_account_ref", "facts", ["account_ref"], schema=SCHEMA, postgresql_where=sa.text("kind = 'coverage'")
    )

    op.create_table(
        "stage_policies",
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("organization_path", sa.String(500), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_stage_policies"),
        sa.UniqueConstraint("organization_path", "version", name="uq_stage_policies_organization_path_version"),
        schema=SCHEMA,
    )
    op.create_index("ix_stage_policies_created_at_id", "stage_policies", ["created_at", "id"], schema=SCHEMA)

    op.create_table(
        "employee_stages",
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("stage_since", sa.Date, nullable=False),
        sa.Column("candidate_stage", sa.String(20), nullable=True),
        sa.Column("candidate_count", sa.Integer, nullable=False, server_default="0"),
        sa.Column("override_stage", sa.String(20), nullable=True),
        sa.Column("override_since", sa.Date, nullable=True),
        sa.Column("override_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("override_reason", sa.String(1000), nullable=True),
        sa.Column("override_by", sa.String(255), nullable=True),
        sa.Column("needs", ARRAY(sa.String(40)), nullable=False, server_default="{}"),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("last_as_of", sa.Date, nullable=False),
        sa.Column("evaluated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("explanation", JSONB, nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name="pk_employee_stages"),
        sa.ForeignKeyConstraint(
            ["employee_id"], [f"{SCHEMA}.employees.id"], name="fk_employee_stages_employee_id_employees"
        ),
        schema=SCHEMA,
    )
    op.create_index(
        "ix_employee_stages_override_expires_at",
        "employee_stages",
        ["override_expires_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("override_stage IS NOT NULL"),
    )

    op.create_table(
        "stage_history",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("stage", sa.String(20), nullable=False),
        sa.Column("previous_stage", sa.String(20), nullable=True),
        sa.Column("since", sa.Date, nullable=False),
        sa.Column("reason", sa.String(20), nullable=False),
        sa.Column("policy_version", sa.Integer, nullable=False),
        sa.Column("detail", JSONB, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("id", name="pk_stage_history"),
        sa.ForeignKeyConstraint(
            ["employee_id"], [f"{SCHEMA}.employees.id"], name="fk_stage_history_employee_id_employees"
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_stage_history_employee_id_id", "stage_history", ["employee_id", "id"], schema=SCHEMA)


def downgrade() -> None:
    for table in ("stage_history", "employee_stages", "stage_policies", "facts", "quotas", "org_units"):
        op.drop_table(table, schema=SCHEMA)
    for column in ("regions", "industries", "skills"):
        op.drop_column("employees", column, schema=SCHEMA)
