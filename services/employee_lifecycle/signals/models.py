import datetime as dt
import uuid
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import Mapped, mapped_column

from services.employee_lifecycle.db import Base

# Fact kinds. An opportunity is open for an employee while the latest of its
# opportunity facts for them is `opportunity_open`.
OPEN, RELEASED, WON, LOST, CLOSED = (
    "opportunity_open",
    "opportunity_released",
    "opportunity_won",
    "opportunity_lost",
    "opportunity_closed",
)
COVERAGE, RESOURCE_REUSED, INTRODUCTION_MADE = "coverage", "resource_reused", "introduction_made"
KINDS = (OPEN, RELEASED, WON, LOST, CLOSED, COVERAGE, RESOURCE_REUSED, INTRODUCTION_MADE)


class Fact(Base):
    """One dated fact about an employee's work, from an event or a back-fill.
    Signals for any `as_of` are aggregates over these rows."""

    __tablename__ = "facts"
    __table_args__ = (
        sa.Index("ix_facts_employee_id_occurred_on", "employee_id", "occurred_on"),
        sa.Index("ix_facts_account_ref", "account_ref", postgresql_where=sa.text("kind = 'coverage'")),
    )

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    external_id: Mapped[str] = mapped_column(sa.String(200), unique=True)
    kind: Mapped[str] = mapped_column(sa.String(32))
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid)
    occurred_on: Mapped[dt.date] = mapped_column(sa.Date)
    ends_on: Mapped[dt.date | None] = mapped_column(sa.Date)
    opportunity_ref: Mapped[str | None] = mapped_column(sa.String(200))
    account_ref: Mapped[str | None] = mapped_column(sa.String(200))
    amount: Mapped[Decimal | None] = mapped_column(sa.Numeric(18, 2))
    currency: Mapped[str | None] = mapped_column(sa.CHAR(3))
    solution_refs: Mapped[list[str]] = mapped_column(ARRAY(sa.String(200)), default=list, server_default="{}")
    cross_org: Mapped[bool] = mapped_column(sa.Boolean, default=False, server_default=sa.false())
    outcome: Mapped[str | None] = mapped_column(sa.String(40))
    source_version: Mapped[int | None] = mapped_column(sa.Integer)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), server_default=sa.func.now())
