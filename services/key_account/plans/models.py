import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin
from services.key_account.db import SCHEMA, Base
from services.key_account.domain.plans import ACTION_STATUSES, INCUBATION_STATUSES, WHITESPACE_STATUSES
from services.key_account.domain.segmentation import RELATIONSHIP_LEVELS

PLAN_FK = f"{SCHEMA}.account_plans.id"


def _money(amount: Decimal | None, currency: str | None) -> dict[str, Any] | None:
    return None if amount is None else {"amount": amount, "currency": currency}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class AccountPlan(RecordMixin, Base):
    __tablename__ = "account_plans"
    __table_args__ = (
        sa.UniqueConstraint("account_id", "period"),
        sa.CheckConstraint("ends_on >= starts_on", name="period_order"),
        sa.Index("ix_account_plans_created_at_id", "created_at", "id"),
    )

    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    period: Mapped[str] = mapped_column(sa.String(20))
    starts_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date] = mapped_column(sa.Date)
    goal: Mapped[str | None] = mapped_column(sa.Text)
    value_proposition: Mapped[str | None] = mapped_column(sa.Text)
    critical_success_factors: Mapped[list[str]] = mapped_column(JSONB, default=list)
    # The solution-guiding team: small lists edited together, kept on the plan.
    guiding_team_members: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
    guiding_team_initiatives: Mapped[list[str]] = mapped_column(JSONB, default=list)


class PlanObjective(RecordMixin, Base):
    __tablename__ = "plan_objectives"
    __table_args__ = (sa.Index("ix_plan_objectives_plan_id_created_at_id", "plan_id", "created_at", "id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)


class IncumbentContract(RecordMixin, Base):
    __tablename__ = "incumbent_contracts"
    __table_args__ = (
        sa.Index("ix_incumbent_contracts_plan_id_created_at_id", "plan_id", "created_at", "id"),
        sa.Index("ix_incumbent_contracts_expires_on", "expires_on"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    competitor: Mapped[str] = mapped_column(sa.String(200))
    business_unit: Mapped[str | None] = mapped_column(sa.String(200))
    solution: Mapped[str | None] = mapped_column(sa.String(200))
    description: Mapped[str | None] = mapped_column(sa.Text)
    expires_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    value_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    value_currency: Mapped[str | None] = mapped_column(sa.CHAR(3))

    @property
    def value(self) -> dict[str, Any] | None:
        return _money(self.value_amount, self.value_currency)


class PlanAction(RecordMixin, Base):
    """An action of an objective, or a counter-action against an incumbent contract."""

    __tablename__ = "plan_actions"
    __table_args__ = (
        sa.CheckConstraint(_in("status", ACTION_STATUSES), name="status_known"),
        sa.Index("ix_plan_actions_plan_id_created_at_id", "plan_id", "created_at", "id"),
        sa.Index("ix_plan_actions_owner_id_due_on", "owner_id", "due_on"),
        sa.Index("ix_plan_actions_objective_id", "objective_id"),
        sa.Index("ix_plan_actions_incumbent_contract_id", "incumbent_contract_id"),
        # The cross-plan work list's order: earliest due first, undated last (worklist.repository.DUE_KEY).
        sa.Index("ix_plan_actions_due_key_id", sa.text("coalesce(due_on, DATE 'infinity')"), "id"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    objective_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.plan_objectives.id", ondelete="CASCADE")
    )
    incumbent_contract_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.incumbent_contracts.id", ondelete="CASCADE")
    )
    title: Mapped[str] = mapped_column(sa.String(300))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    due_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(16), default="open")


class PlanReview(RecordMixin, Base):
    __tablename__ = "plan_reviews"
    __table_args__ = (sa.Index("ix_plan_reviews_plan_id_created_at_id", "plan_id", "created_at", "id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    reviewed_on: Mapped[dt.date] = mapped_column(sa.Date)
    reviewer_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    notes: Mapped[str | None] = mapped_column(sa.Text)
    completeness_score: Mapped[int] = mapped_column(sa.SmallInteger)
    completeness_status: Mapped[str] = mapped_column(sa.String(16))
    missing: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)


class RelationshipTarget(RecordMixin, Base):
    __tablename__ = "relationship_targets"
    __table_args__ = (
        sa.CheckConstraint(_in("target_level", RELATIONSHIP_LEVELS), name="target_level_known"),
        sa.UniqueConstraint("plan_id", "contact_id"),
        sa.Index("ix_relationship_targets_contact_id", "contact_id"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    contact_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.contacts.id", ondelete="CASCADE"))
    target_level: Mapped[str] = mapped_column(sa.String(32))
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)


class GuidingSession(RecordMixin, Base):
    """A session of the solution-guiding team with the customer, and what came of it."""

    __tablename__ = "guiding_sessions"
    __table_args__ = (sa.Index("ix_guiding_sessions_plan_id_created_at_id", "plan_id", "created_at", "id"),)

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    held_on: Mapped[dt.date] = mapped_column(sa.Date)
    topic: Mapped[str] = mapped_column(sa.String(300))
    attendee_contact_ids: Mapped[list[str]] = mapped_column(JSONB, default=list)
    outcome: Mapped[str | None] = mapped_column(sa.Text)


class WhitespaceCell(RecordMixin, Base):
    """One cell of the whitespace map: a business unit × a solution, and who holds it."""

    __tablename__ = "whitespace_cells"
    __table_args__ = (
        sa.CheckConstraint(_in("status", WHITESPACE_STATUSES), name="status_known"),
        sa.CheckConstraint("competitor_strength BETWEEN 0 AND 100", name="competitor_strength_range"),
        sa.UniqueConstraint("plan_id", "business_unit", "solution"),
        sa.Index("ix_whitespace_cells_plan_id_created_at_id", "plan_id", "created_at", "id"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    business_unit: Mapped[str] = mapped_column(sa.String(200))
    solution: Mapped[str] = mapped_column(sa.String(200))
    status: Mapped[str] = mapped_column(sa.String(16))
    competitor: Mapped[str | None] = mapped_column(sa.String(200))
    competitor_strength: Mapped[int | None] = mapped_column(sa.SmallInteger)
    potential_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    potential_currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    notes: Mapped[str | None] = mapped_column(sa.Text)

    @property
    def potential(self) -> dict[str, Any] | None:
        return _money(self.potential_amount, self.potential_currency)


class IncubationItem(RecordMixin, Base):
    __tablename__ = "incubation_items"
    __table_args__ = (
        sa.CheckConstraint(_in("status", INCUBATION_STATUSES), name="status_known"),
        sa.UniqueConstraint("opportunity_id"),
        sa.Index("ix_incubation_items_plan_id_created_at_id", "plan_id", "created_at", "id"),
        sa.Index("ix_incubation_items_account_id_status", "account_id", "status"),
    )

    plan_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(PLAN_FK, ondelete="CASCADE"))
    account_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey(f"{SCHEMA}.accounts.id", ondelete="CASCADE"))
    whitespace_cell_id: Mapped[uuid.UUID | None] = mapped_column(
        sa.Uuid, sa.ForeignKey(f"{SCHEMA}.whitespace_cells.id", ondelete="SET NULL")
    )
    title: Mapped[str] = mapped_column(sa.String(300))
    description: Mapped[str | None] = mapped_column(sa.Text)
    status: Mapped[str] = mapped_column(sa.String(16), default="idea")
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    expected_close_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    validated_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    qualified_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    promoted_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    dropped_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Lineage: the TAS+ opportunity made from this item; the opportunity carries `origin` back.
    opportunity_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    opportunity_stage: Mapped[str | None] = mapped_column(sa.String(32))

    @property
    def money(self) -> dict[str, Any] | None:
        return _money(self.amount, self.currency)
