import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import RecordMixin, utcnow
from services.resource_share.db import Base

KINDS = ("presales_engineer", "solution_consultant", "expert_time")
URGENCIES = ("low", "normal", "high", "critical")
STATUSES = ("open", "assigned", "fulfilled", "cancelled")


class SupportPerson(Base):
    """A member of the support pool and what they can take on each week."""

    __tablename__ = "support_people"
    __table_args__ = (
        sa.CheckConstraint("weekly_capacity_hours >= 0", name="capacity"),
        sa.Index(
            "ix_support_people_org_unit_path", "org_unit_path", postgresql_ops={"org_unit_path": "text_pattern_ops"}
        ),
        sa.Index("ix_support_people_created_at_employee_id", "created_at", "employee_id"),
        sa.Index("ix_support_people_skills", "skills", postgresql_using="gin"),
        sa.Index("ix_support_people_industries", "industries", postgresql_using="gin"),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, primary_key=True)
    org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    skills: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)))
    industries: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)))
    weekly_capacity_hours: Mapped[Decimal] = mapped_column(sa.Numeric(6, 1))
    active: Mapped[bool] = mapped_column(sa.Boolean, default=True)
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )


class SupportRequest(RecordMixin, Base):
    __tablename__ = "support_requests"
    __table_args__ = (
        sa.CheckConstraint(f"kind IN {KINDS!r}", name="kind"),
        sa.CheckConstraint(f"urgency IN {URGENCIES!r}", name="urgency"),
        sa.CheckConstraint(f"status IN {STATUSES!r}", name="status"),
        sa.CheckConstraint("hours_needed > 0", name="hours_needed"),
        sa.CheckConstraint("(deal_amount IS NULL) = (deal_currency IS NULL)", name="deal_value"),
        sa.Index("ix_support_requests_created_at_id", "created_at", "id"),
        sa.Index("ix_support_requests_open", "requested_at", postgresql_where=sa.text("status = 'open'")),
        sa.Index("ix_support_requests_requester_id", "requester_id"),
        sa.Index("ix_support_requests_assignee_id_status", "assignee_id", "status"),
        sa.Index("ix_support_requests_opportunity_id", "opportunity_id"),
        sa.Index("ix_support_requests_stage_requested_at", "requester_stage", "requested_at"),
        sa.Index(
            "ix_support_requests_requester_org_unit_path",
            "requester_org_unit_path",
            postgresql_ops={"requester_org_unit_path": "text_pattern_ops"},
        ),
    )

    opportunity_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    requester_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    requester_org_unit_path: Mapped[str] = mapped_column(sa.String(500))
    kind: Mapped[str] = mapped_column(sa.String(30))
    title: Mapped[str] = mapped_column(sa.String(200))
    skills: Mapped[list[str]] = mapped_column(ARRAY(sa.String(100)))
    industry: Mapped[str | None] = mapped_column(sa.String(100))
    urgency: Mapped[str] = mapped_column(sa.String(10))
    deal_amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    deal_currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    hours_needed: Mapped[Decimal] = mapped_column(sa.Numeric(6, 1))
    due_date: Mapped[dt.date | None] = mapped_column(sa.Date)
    status: Mapped[str] = mapped_column(sa.String(20), default="open")
    # When it was asked on the business clock (sanlun.kernel.clock): ageing and
    # waits run from here; `created_at` stays the record's real time.
    requested_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
    # The requester's stage when they asked (fairness is judged per stage at request time).
    requester_stage: Mapped[str | None] = mapped_column(sa.String(20))
    assignee_id: Mapped[uuid.UUID | None] = mapped_column(sa.Uuid)
    assigned_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    fulfilled_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    # Set when `opportunity.won` arrives for the opportunity it served.
    won: Mapped[bool] = mapped_column(sa.Boolean, default=False)
