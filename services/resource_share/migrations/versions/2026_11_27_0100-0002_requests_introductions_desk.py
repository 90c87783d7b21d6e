"""relationship fields and ratings on resources; people view, resource requests,
introductions, support desk (pool and requests), profiles

Revision ID: rs_0002
Revises: rs_0001
Create Date: 2026-11-27 01:00:00
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "rs_0002"
down_revision = "rs_0001"
branch_labels = None
depends_on = None

SCHEMA = "resource_share"
GRAPH_WHERE = "type = 'relationship' AND scope IN ('group', 'public')"


def _one_of(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _record_columns() -> list[sa.Column]:
    return [
        sa.Column("id", sa.Uuid, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
    ]


def _path_index(table: str, column: str) -> None:
    op.create_index(f"ix_{table}_{column}", table, [column], schema=SCHEMA, postgresql_ops={column: "text_pattern_ops"})


def upgrade() -> None:
    # -- resources: ratings and the relationship fields ------------------------
    op.add_column("resources", sa.Column("rating_count", sa.Integer, nullable=False, server_default="0"), schema=SCHEMA)
    op.add_column("resources", sa.Column("contact_id", sa.Uuid, nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("account_id", sa.Uuid, nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("strength", sa.SmallInteger, nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("disclosure", sa.String(20), nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("shared", JSONB, nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("consent_given_on", sa.Date, nullable=True), schema=SCHEMA)
    op.add_column("resources", sa.Column("consent_expires_on", sa.Date, nullable=True), schema=SCHEMA)
    op.create_check_constraint(
        "ck_resources_relationship_fields",
        "resources",
        "type <> 'relationship' OR (contact_id IS NOT NULL AND strength IS NOT NULL"
        " AND consent_expires_on IS NOT NULL AND disclosure IS NOT NULL)",
        schema=SCHEMA,
    )
    op.create_check_constraint("ck_resources_strength", "resources", "strength BETWEEN 0 AND 100", schema=SCHEMA)
    op.create_check_constraint(
        "ck_resources_disclosure",
        "resources",
        _one_of("disclosure", ("identity", "organization", "anonymous")),
        schema=SCHEMA,
    )
    # The introduction graph: covering partial indexes so a path query reads no heap.
    op.create_index(
        "ix_resources_graph_contact",
        "resources",
        ["contact_id"],
        schema=SCHEMA,
        postgresql_where=sa.text(GRAPH_WHERE),
        postgresql_include=["owner_id", "strength", "consent_expires_on", "account_id"],
    )
    op.create_index(
        "ix_resources_graph_account",
        "resources",
        ["account_id"],
        schema=SCHEMA,
        postgresql_where=sa.text(GRAPH_WHERE),
        postgresql_include=["owner_id", "strength", "consent_expires_on", "contact_id"],
    )
    op.create_index(
        "ix_resources_owner_contact",
        "resources",
        ["owner_id", "contact_id"],
        schema=SCHEMA,
        postgresql_where=sa.text("type = 'relationship'"),
    )

    # -- people: the local view kept from employee events ---------------------
    op.create_table(
        "people",
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("name", sa.String(200), nullable=True),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("manager_id", sa.Uuid, nullable=True),
        sa.Column("capacity", sa.Integer, nullable=True),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("source_version", sa.Integer, nullable=False),
        sa.Column("stage", sa.String(20), nullable=True),
        sa.Column("stage_since", sa.Date, nullable=True),
        sa.Column("stage_observed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("employee_id", name="pk_people"),
        schema=SCHEMA,
    )
    _path_index("people", "org_unit_path")
    op.create_index("ix_people_manager_id", "people", ["manager_id"], schema=SCHEMA)

    # -- resource requests ---------------------------------------------------------
    op.create_table(
        "resource_requests",
        *_record_columns(),
        sa.Column("resource_id", sa.Uuid, nullable=False),
        sa.Column("resource_type", sa.String(30), nullable=False),
        sa.Column("owner_id", sa.Uuid, nullable=False),
        sa.Column("owner_org_unit_path", sa.String(500), nullable=False),
        sa.Column("owner_disclosure", sa.String(20), nullable=False),
        sa.Column("requester_id", sa.Uuid, nullable=False),
        sa.Column("requester_org_unit_path", sa.String(500), nullable=False),
        sa.Column("opportunity_id", sa.Uuid, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.Uuid, nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_note", sa.Text, nullable=False),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rating", sa.SmallInteger, nullable=True),
        sa.Column("rating_comment", sa.Text, nullable=False),
        sa.Column("rated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("outcome", sa.String(30), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_resource_requests"),
        sa.ForeignKeyConstraint(
            ["resource_id"], [f"{SCHEMA}.resources.id"], name="fk_resource_requests_resource_id_resources"
        ),
        sa.CheckConstraint(
            _one_of("status", ("requested", "approved", "declined", "fulfilled", "rated")),
            name="ck_resource_requests_status",
        ),
        sa.CheckConstraint(
            _one_of("outcome", ("contributed_to_win", "contributed", "no_impact")), name="ck_resource_requests_outcome"
        ),
        sa.CheckConstraint("rating BETWEEN 1 AND 5", name="ck_resource_requests_rating"),
        schema=SCHEMA,
    )
    op.create_index("ix_resource_requests_created_at_id", "resource_requests", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_resource_requests_resource_id", "resource_requests", ["resource_id"], schema=SCHEMA)
    op.create_index("ix_resource_requests_requester_id", "resource_requests", ["requester_id"], schema=SCHEMA)
    op.create_index("ix_resource_requests_owner_id_status", "resource_requests", ["owner_id", "status"], schema=SCHEMA)
    op.create_index("ix_resource_requests_status", "resource_requests", ["status"], schema=SCHEMA)
    op.create_index("ix_resource_requests_opportunity_id", "resource_requests", ["opportunity_id"], schema=SCHEMA)
    _path_index("resource_requests", "requester_org_unit_path")
    _path_index("resource_requests", "owner_org_unit_path")

    # -- introductions ----------------------------------------------------------
    op.create_table(
        "introductions",
        *_record_columns(),
        sa.Column("requester_id", sa.Uuid, nullable=False),
        sa.Column("requester_org_unit_path", sa.String(500), nullable=False),
        sa.Column("connector_id", sa.Uuid, nullable=False),
        sa.Column("connector_org_unit_path", sa.String(500), nullable=False),
        sa.Column("connector_disclosure", sa.String(20), nullable=False),
        sa.Column("relationship_id", sa.Uuid, nullable=False),
        sa.Column("relationship_ids", ARRAY(sa.Uuid), nullable=False),
        sa.Column("target_contact_id", sa.Uuid, nullable=False),
        sa.Column("target_account_id", sa.Uuid, nullable=True),
        sa.Column("strength", sa.Numeric(6, 4), nullable=False),
        sa.Column("hops", sa.SmallInteger, nullable=False),
        sa.Column("opportunity_id", sa.Uuid, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("completed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("note", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_introductions"),
        sa.ForeignKeyConstraint(
            ["relationship_id"], [f"{SCHEMA}.resources.id"], name="fk_introductions_relationship_id_resources"
        ),
        sa.CheckConstraint(
            _one_of("status", ("requested", "accepted", "declined", "introduced", "failed")),
            name="ck_introductions_status",
        ),
        schema=SCHEMA,
    )
    op.create_index("ix_introductions_created_at_id", "introductions", ["created_at", "id"], schema=SCHEMA)
    op.create_index("ix_introductions_requester_id", "introductions", ["requester_id"], schema=SCHEMA)
    op.create_index("ix_introductions_connector_id_status", "introductions", ["connector_id", "status"], schema=SCHEMA)
    op.create_index("ix_introductions_status", "introductions", ["status"], schema=SCHEMA)
    op.create_index("ix_introductions_target_contact_id", "introductions", ["target_contact_id"], schema=SCHEMA)
    _path_index("introductions", "requester_org_unit_path")
    _path_index("introductions", "connector_org_unit_path")

    # -- the MCI support desk ------------------------------------------------------
    op.create_table(
        "support_people",
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("skills", ARRAY(sa.String(100)), nullable=False),
        sa.Column("industries", ARRAY(sa.String(100)), nullable=False),
        sa.Column("weekly_capacity_hours", sa.Numeric(6, 1), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.PrimaryKeyConstraint("employee_id", name="pk_support_people"),
        sa.CheckConstraint("weekly_capacity_hours >= 0", name="ck_support_people_capacity"),
        schema=SCHEMA,
    )
    _path_index("support_people", "org_unit_path")
    op.create_index(
        "ix_support_people_created_at_employee_id", "support_people", ["created_at", "employee_id"], schema=SCHEMA
    )
    op.create_index("ix_support_people_skills", "support_people", ["skills"], schema=SCHEMA, postgresql_using="gin")
    op.create_index(
        "ix_support_people_industries", "support_people", ["industries"], schema=SCHEMA, postgresql_using="gin"
    )

    op.create_table(
        "support_requests",
        *_record_columns(),
        sa.Column("opportunity_id", sa.Uuid, nullable=False),
        sa.Column("requester_id", sa.Uuid, nullable=False),
        sa.Column("requester_org_unit_path", sa.String(500), nullable=False),
        sa.Column("kind", sa.String(30), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("skills", ARRAY(sa.String(100)), nullable=False),
        sa.Column("industry", sa.String(100), nullable=True),
        sa.Column("urgency", sa.String(10), nullable=False),
        sa.Column("deal_amount", sa.Numeric(18, 2), nullable=True),
        sa.Column("deal_currency", sa.CHAR(3), nullable=True),
        sa.Column("hours_needed", sa.Numeric(6, 1), nullable=False),
        sa.Column("due_date", sa.Date, nullable=True),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("requester_stage", sa.String(20), nullable=True),
        sa.Column("assignee_id", sa.Uuid, nullable=True),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("fulfilled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("won", sa.Boolean, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_support_requests"),
        sa.CheckConstraint(
            _one_of("kind", ("presales_engineer", "solution_consultant", "expert_time")),
            name="ck_support_requests_kind",
        ),
        sa.CheckConstraint(
            _one_of("urgency", ("low", "normal", "high", "critical")), name="ck_support_requests_urgency"
        ),
        sa.CheckConstraint(
            _one_of("status", ("open", "assigned", "fulfilled", "cancelled")), name="ck_support_requests_status"
        ),
        sa.CheckConstraint("hours_needed > 0", name="ck_support_requests_hours_needed"),
        sa.CheckConstraint("(deal_amount IS NULL) = (deal_currency IS NULL)", name="ck_support_requests_deal_value"),
        schema=SCHEMA,
    )
    op.create_index("ix_support_requests_created_at_id", "support_requests", ["created_at", "id"], schema=SCHEMA)
    op.create_index(
        "ix_support_requests_open",
        "support_requests",
        ["created_at"],
        schema=SCHEMA,
        postgresql_where=sa.text("status = 'open'"),
    )
    op.create_index("ix_support_requests_requester_id", "support_requests", ["requester_id"], schema=SCHEMA)
    op.create_index(
        "ix_support_requests_assignee_id_status", "support_requests", ["assignee_id", "status"], schema=SCHEMA
    )
    op.create_index("ix_support_requests_opportunity_id", "support_requests", ["opportunity_id"], schema=SCHEMA)
    op.create_index(
        "ix_support_requests_stage_created_at", "support_requests", ["requester_stage", "created_at"], schema=SCHEMA
    )
    _path_index("support_requests", "requester_org_unit_path")

    # -- profiles -----------------------------------------------------------------
    op.create_table(
        "profiles",
        *_record_columns(),
        sa.Column("employee_id", sa.Uuid, nullable=False),
        sa.Column("org_unit_path", sa.String(500), nullable=False),
        sa.Column("public", sa.Boolean, nullable=False),
        sa.Column("headline", sa.String(200), nullable=False),
        sa.Column("expertise_areas", ARRAY(sa.String(100)), nullable=False),
        sa.Column("published_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name="pk_profiles"),
        sa.UniqueConstraint("employee_id", name="uq_profiles_employee_id"),
        schema=SCHEMA,
    )
    _path_index("profiles", "org_unit_path")


def downgrade() -> None:
    for table in ("profiles", "support_requests", "support_people", "introductions", "resource_requests", "people"):
        op.drop_table(table, schema=SCHEMA)
    for index in ("ix_resources_owner_contact", "ix_resources_graph_account", "ix_resources_graph_contact"):
        op.drop_index(index, table_name="resources", schema=SCHEMA)
    for constraint in ("ck_resources_disclosure", "ck_resources_strength", "ck_resources_relationship_fields"):
        op.drop_constraint(constraint, "resources", schema=SCHEMA)
    for column in (
        "consent_expires_on",
        "consent_given_on",
        "shared",
        "disclosure",
        "strength",
        "account_id",
        "contact_id",
        "rating_count",
    ):
        op.drop_column("resources", column, schema=SCHEMA)
