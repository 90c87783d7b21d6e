import datetime as dt
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import utcnow
from services.employee_lifecycle.db import Base


class EmployeeStage(Base):
    """The stage state of one employee: the confirmed stage, the candidate
    holding for its dwell (scheduled days only), the provisional stage of the
    latest evaluation, any override, and the last evaluation's explanation."""

    __tablename__ = "employee_stages"
    __table_args__ = (
        sa.Index(
            "ix_employee_stages_override_expires_at",
            "override_expires_at",
            postgresql_where=sa.text("override_stage IS NOT NULL"),
        ),
    )

    employee_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("employee_lifecycle.employees.id"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(sa.String(20))
    stage_since: Mapped[dt.date] = mapped_column(sa.Date)
    candidate_stage: Mapped[str | None] = mapped_column(sa.String(20))
    candidate_since: Mapped[dt.date | None] = mapped_column(sa.Date)  # the first scheduled day of the dwell
    candidate_days: Mapped[int] = mapped_column(sa.Integer, default=0)  # distinct scheduled days counted
    last_counted_on: Mapped[dt.date | None] = mapped_column(sa.Date)  # the last scheduled day counted
    provisional_stage: Mapped[str | None] = mapped_column(sa.String(20))
    provisional_since: Mapped[dt.date | None] = mapped_column(sa.Date)
    override_stage: Mapped[str | None] = mapped_column(sa.String(20))
    override_since: Mapped[dt.date | None] = mapped_column(sa.Date)
    override_expires_at: Mapped[dt.datetime | None] = mapped_column(sa.DateTime(timezone=True))
    override_reason: Mapped[str | None] = mapped_column(sa.String(1000))
    override_by: Mapped[str | None] = mapped_column(sa.String(255))
    needs: Mapped[list[str]] = mapped_column(ARRAY(sa.String(40)), default=list)
    policy_version: Mapped[int] = mapped_column(sa.Integer)
    last_as_of: Mapped[dt.date] = mapped_column(sa.Date)
    evaluated_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True))
    explanation: Mapped[dict[str, Any]] = mapped_column(JSONB)


class StageHistory(Base):
    """Every change of the stage, with why: confirmed and provisional changes
    of the evaluated stage, overrides set, removed and expired."""

    __tablename__ = "stage_history"
    __table_args__ = (sa.Index("ix_stage_history_employee_id_id", "employee_id", "id"),)

    id: Mapped[int] = mapped_column(sa.BigInteger, sa.Identity(), primary_key=True)
    employee_id: Mapped[uuid.UUID] = mapped_column(sa.Uuid, sa.ForeignKey("employee_lifecycle.employees.id"))
    stage: Mapped[str] = mapped_column(sa.String(20))
    previous_stage: Mapped[str | None] = mapped_column(sa.String(20))
    since: Mapped[dt.date] = mapped_column(sa.Date)
    reason: Mapped[str] = mapped_column(sa.String(20))
    kind: Mapped[str] = mapped_column(sa.String(20))
    as_of: Mapped[dt.date] = mapped_column(sa.Date)
    policy_version: Mapped[int] = mapped_column(sa.Integer)
    detail: Mapped[dict[str, Any]] = mapped_column(JSONB)
    recorded_at: Mapped[dt.datetime] = mapped_column(sa.DateTime(timezone=True), default=utcnow)
