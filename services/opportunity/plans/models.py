import datetime as dt
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from sanlun.kernel.db import utcnow
from services.opportunity.db import Base


class TasPlan(Base):
    """One plan per opportunity; `sections` is `domain.plan.PlanSections` as JSON."""

    __tablename__ = "tas_plans"

    opportunity_id: Mapped[uuid.UUID] = mapped_column(
        sa.Uuid, sa.ForeignKey("opportunities.id", ondelete="CASCADE"), primary_key=True
    )
    sections: Mapped[dict] = mapped_column(JSONB, default=dict, server_default="{}")
    created_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, server_default=sa.func.now()
    )
    updated_at: Mapped[dt.datetime] = mapped_column(
        sa.DateTime(timezone=True), default=utcnow, onupdate=utcnow, server_default=sa.func.now()
    )
    version: Mapped[int] = mapped_column(sa.Integer, default=1, server_default="1")

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012
