import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, composite, mapped_column, object_session

from sanlun.kernel.clock import session_clock
from sanlun.kernel.db import RecordMixin, utcnow
from sanlun.kernel.types import MoneyValue
from services.opportunity.db import Base
from services.opportunity.domain.stages import Stage

STAGE_VALUES = ", ".join(f"'{s.value}'" for s in Stage)


class Opportunity(RecordMixin, Base):
    __tablename__ = "opportunities"
    __table_args__ = (
        # A plain string column, not a Postgres enum: new stages stay a one-line migration.
        sa.CheckConstraint(f"stage IN ({STAGE_VALUES})", name="stage_known"),
        sa.CheckConstraint("(amount IS NULL) = (currency IS NULL)", name="amount_has_currency"),
        sa.CheckConstraint("amount >= 0", name="amount_not_negative"),
        sa.CheckConstraint("win_probability BETWEEN 0 AND 1", name="win_probability_range"),
        sa.Index(
            "ix_opportunities_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}
        ),
        sa.Index("ix_opportunities_created_at_id", "created_at", "id"),
        sa.Index("ix_opportunities_owner_id", "owner_id"),
        sa.Index("ix_opportunities_account_id", "account_id"),
        sa.Index("ix_opportunities_stage", "stage"),
        sa.Index("ix_opportunities_expected_close_date", "expected_close_date"),
        sa.CheckConstraint("(origin_type IS NULL) = (origin_id IS NULL)", name="origin_complete"),
        sa.Index("ix_opportunities_industry", "industry"),
        sa.Index("ix_opportunities_amount", "amount"),
        sa.Index("ix_opportunities_origin", "origin_type", "origin_id"),
        sa.Index("ix_opportunities_solution_ids", "solution_ids", postgresql_using="gin"),
        sa.Index("ix_opportunities_updated_at_id", "updated_at", "id"),
        sa.Index("ix_opportunities_expected_close_date_id", "expected_close_date", "id"),
        sa.Index("ix_opportunities_amount_id", "amount", "id"),
        sa.Index("ix_opportunities_name_id", "name", "id"),
        sa.Index("ix_opportunities_owner_id_stage", "owner_id", "stage"),
        # "What did I get lately": the workspace's newly assigned deals, newest first.
        sa.Index("ix_opportunities_owner_id_assigned_at_id", "owner_id", "assigned_at", "id"),
        # Deals closed in a period (`closed_from`/`closed_to`, the pipeline's close months).
        sa.Index("ix_opportunities_closed_on_id", "closed_on", "id"),
    )

    external_id: Mapped[str | None] = mapped_column(sa.String(200), unique=True)
    # Accounts live in the key_account service: a reference, never a foreign key.
    account_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    name: Mapped[str] = mapped_column(sa.String(300))
    amount_value: Mapped[Decimal | None] = mapped_column("amount", sa.Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    # The class comes from the annotation, so a row with both columns null reads as None.
    amount: Mapped[MoneyValue | None] = composite("amount_value", "currency")
    expected_close_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    # When the current owner got the deal; kept by `_owner_changed` below.
    assigned_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    source: Mapped[str | None] = mapped_column(sa.String(100))
    compelling_event: Mapped[str | None] = mapped_column(sa.Text)
    stage: Mapped[str] = mapped_column(sa.String(32), default=Stage.LEAD.value)
    win_probability: Mapped[Decimal | None] = mapped_column(sa.Numeric(5, 4))
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    size_band: Mapped[str | None] = mapped_column(sa.String(50))
    # Solutions live in this service's catalogue; an array keeps the roll-up
    # and the history queries to one row per deal.
    solution_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(sa.Uuid), default=list, server_default="{}")
    closed_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    origin_type: Mapped[str | None] = mapped_column(sa.String(50))
    origin_id: Mapped[str | None] = mapped_column(sa.String(200))


@event.listens_for(Opportunity.owner_id, "set", active_history=True)
def _owner_changed(target: Opportunity, value: uuid.UUID | None, old: object, _initiator: object) -> None:
    """Every way a deal changes hands (create, PATCH, import, proposal commit,
    override) sets `owner_id` on the object, so `assigned_at` follows it here
    rather than in each of them."""
    if value != old:
        # Business time when the deal is in a session (create and import set it again once added).
        session = object_session(target)
        now = session_clock(session).now() if session is not None else utcnow()  # type: ignore[arg-type]
        target.assigned_at = now if value is not None else None


class TeamMember(Base):
    __tablename__ = "opportunity_team_members"
    __table_args__ = (sa.Index("ix_opportunity_team_members_employee_id", "employee_id"),)

    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    role: Mapped[str] = mapped_column(sa.String(40))


class StageChange(Base):
    __tablename__ = "opportunity_stage_history"
    __table_args__ = (sa.Index("ix_opportunity_stage_history_opportunity_id_id", "opportunity_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    opportunity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("opportunities.id", ondelete="CASCADE"))
    from_stage: Mapped[str | None] = mapped_column(sa.String(32))
    to_stage: Mapped[str] = mapped_column(sa.String(32))
    changed_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    changed_by: Mapped[str] = mapped_column(sa.String(255))
    forced: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    reason: Mapped[str | None] = mapped_column(sa.Text)
    unmet: Mapped[list | None] = mapped_column(JSONB)
